// Copyright 2026 the mpreg authors. MIT license.
/**
 * The mpreg node, its config and its program.
 *
 * @module
 */
export * from "./builtins.ts";
export * from "./cli_args.ts";
export * from "./config.ts";
export * from "./main.ts";
export * from "./options.ts";
export * from "./server.ts";
