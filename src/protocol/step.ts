// Copyright 2026 the mpreg authors. MIT license.
/**
 * The step, one named call in a request, and the literal wrapper.
 *
 * @module
 */

/**
 * One named call in a request. Another step may use this step's result by
 * writing its `name` (or `name.key.0.key`) as an argument.
 *
 * @example A two-step request
 * ```ts
 * import type { Step } from "@mpreg/mpreg";
 * const steps: Step[] = [
 *   { name: "sum", fun: "add", args: [1, 2], kwargs: {}, locs: [] },
 *   { name: "out", fun: "echo", args: ["sum"], kwargs: {}, locs: [] },
 * ];
 * console.log(steps.length);
 * ```
 */
export interface Step {
  /** The name the result is stored and returned under; unique in a request. */
  name: string;
  /** The registered function to call. */
  fun: string;
  /** Positional arguments; strings naming other steps are references. */
  args: unknown[];
  /** Keyword arguments, passed as one trailing object when not empty. */
  kwargs: Record<string, unknown>;
  /** Resources the executing node must offer for this function. */
  locs: string[];
}

/** The key of a literal wrapper: `{ "$literal": value }`. */
export const LITERAL_KEY = "$literal";

/**
 * Wraps a value so it is passed to the function verbatim: strings inside it
 * are never read as references to other steps.
 *
 * @typeParam T The value's type.
 * @param value The value to pass as it is.
 * @returns `{ "$literal": value }`.
 *
 * @example Pass the string "total" even though a step is named "total"
 * ```ts
 * import { literal } from "@mpreg/mpreg";
 * console.log(literal("total")); // { "$literal": "total" }
 * ```
 */
export function literal<T>(value: T): { $literal: T } {
  return { $literal: value };
}
