// Copyright 2026 the mpreg authors. MIT license.
/**
 * The registry of a node's functions.
 *
 * @module
 */
export * from "./arity.ts";
export * from "./registry.ts";
export * from "./result_kind.ts";

export * from "./router.ts";
