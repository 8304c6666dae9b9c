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
 * import type { Step } from "./step.ts";
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

/**
 * Object keys a node refuses anywhere in a message (it closes the
 * connection), so decoded data can never reach or shadow a prototype.
 */
export const FORBIDDEN_KEYS: readonly string[] = ["__proto__", "constructor", "prototype"];

/**
 * Finds a {@linkcode FORBIDDEN_KEYS} key anywhere inside a value, so a
 * client can refuse such arguments itself instead of losing its connection.
 *
 * @param value Arguments about to be sent.
 * @returns The first forbidden key found, or `null`.
 *
 * @example
 * ```ts
 * import { findForbiddenKey } from "./step.ts";
 * console.log(findForbiddenKey([{ a: { constructor: 1 } }])); // constructor
 * ```
 */
export function findForbiddenKey(value: unknown): string | null {
  if (value === null || typeof value !== "object" || ArrayBuffer.isView(value)) return null;
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findForbiddenKey(item);
      if (found !== null) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.includes(key)) return key;
    const found = findForbiddenKey((value as Record<string, unknown>)[key]);
    if (found !== null) return found;
  }
  return null;
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
 * import assert from "node:assert/strict";
 * import { Client, literal, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * await using client = new Client(server.url);
 * assert.deepEqual(literal("total"), { $literal: "total" });
 * const out = await client.request([
 *   { name: "total", fun: "echo", args: [3] },
 *   { name: "label", fun: "echos", args: [literal("total"), "total"] },
 * ]);
 * assert.deepEqual(out, { label: ["total", 3] });
 * ```
 */
export function literal<T>(value: T): { $literal: T } {
  return { $literal: value };
}
