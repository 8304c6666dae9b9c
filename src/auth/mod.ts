// Copyright 2026 the mpreg authors. MIT license.
/**
 * Authentication and grants: who may call what, exercising which permissions.
 *
 * @module
 */
export * from "./authenticator.ts";
export * from "./glob.ts";
