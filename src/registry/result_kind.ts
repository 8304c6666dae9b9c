// Copyright 2026 the mpreg authors. MIT license.
/**
 * Results a plain call cannot send: a generator, an async generator (or any
 * iterator that is not a collection), and a `ReadableStream`. msgpack would
 * encode them as an empty map (`{}`), a silent wrong answer; `call()` and
 * `request()` fail with a clear error instead, which says to read such a
 * result with `client.stream()` (inline and sandboxed functions alike).
 *
 * @module
 */

/**
 * What kind of unsupported result `value` is (`"async iterator"`,
 * `"iterator"`, `"ReadableStream"`), or `undefined` for a result that can be
 * sent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unsupportedResult } from "./result_kind.ts";
 * async function* ticks() {
 *   yield 1;
 * }
 * assert.equal(unsupportedResult(ticks()), "async iterator");
 * assert.equal(unsupportedResult([1, 2]), undefined);
 * assert.equal(unsupportedResult(new Map()), undefined);
 * ```
 *
 * @param value A function's result.
 * @returns The kind of unsupported result, or `undefined`.
 */
export function unsupportedResult(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  if (typeof ReadableStream !== "undefined" && value instanceof ReadableStream) {
    return "ReadableStream";
  }
  // Arrays, maps, sets and typed arrays are iterable but are not iterators
  // (no `next`); an iterator object is what a generator returns.
  if (typeof (value as { next?: unknown }).next !== "function") return undefined;
  if (Symbol.asyncIterator in value) return "async iterator";
  if (Symbol.iterator in value) return "iterator";
  return undefined;
}

/**
 * The message for a stream result of a plain call: it says to read it with
 * `client.stream()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unsupportedResultMessage } from "./result_kind.ts";
 * assert.match(unsupportedResultMessage("async iterator"), /client\.stream\(\)/);
 * ```
 *
 * @param kind What {@linkcode unsupportedResult} returned.
 * @param why Why this step of a request may not stream (from its graph):
 *   the message then says a stream may also go to another step.
 * @returns A sentence for the error.
 */
export function unsupportedResultMessage(kind: string, why?: string): string {
  const what = `returned ${kind === "ReadableStream" ? "a" : "an"} ${kind}`;
  if (why !== undefined) {
    return `${what}: a streamed result is read with client.stream(), not call() or request(), ` +
      "or passed whole to the one step of a request that takes it as an argument " +
      `(here ${why}); return an array or another value to answer call()`;
  }
  return `${what}: a streamed result is read with client.stream(), not call() or request(); ` +
    `return an array or another value to answer call()`;
}
