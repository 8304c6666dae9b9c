// Copyright 2026 the mpreg authors. MIT license.
/**
 * The registry of a node's functions.
 *
 * @module
 */
export * from "./registry.ts";

export * from "./router.ts";
