// Copyright 2026 the mpreg authors. MIT license.
/**
 * The browser-safe mpreg client.
 *
 * @module
 */
export * from "./client.ts";
