// Copyright 2026 the mpreg authors. MIT license.
/**
 * The functions every node offers: `echo` and `echos`.
 *
 * @module
 */

/**
 * Returns its one argument unchanged.
 *
 * @param args Exactly one argument.
 * @returns The argument.
 * @throws {TypeError} when called with zero or several arguments.
 *
 * @example
 * ```ts
 * import { echo } from "./builtins.ts";
 * console.log(echo("hi")); // hi
 * ```
 */
export function echo(...args: unknown[]): unknown {
  if (args.length !== 1) {
    throw new TypeError(`echo takes exactly one argument, got ${args.length}`);
  }
  return args[0];
}

/**
 * Returns all its arguments as an array.
 *
 * @param args Any arguments.
 * @returns The arguments.
 *
 * @example
 * ```ts
 * import { echos } from "./builtins.ts";
 * console.log(echos("a", "b")); // [ "a", "b" ]
 * ```
 */
export function echos(...args: unknown[]): unknown[] {
  return args;
}
