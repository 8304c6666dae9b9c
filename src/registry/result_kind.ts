// Copyright 2026 the mpreg authors. MIT license.
/**
 * Results mpreg cannot send yet: a generator, an async generator (or any
 * iterator that is not a collection), and a `ReadableStream`. msgpack would
 * encode them as an empty map (`{}`), a silent wrong answer; the call fails
 * with a clear error instead until streaming results exist.
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
 * The message for an unsupported result. With `streamable` (a function
 * that runs inline, so `client.stream()` can read it), it says so.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unsupportedResultMessage } from "./result_kind.ts";
 * assert.match(unsupportedResultMessage("async iterator"), /not supported yet/);
 * assert.match(unsupportedResultMessage("async iterator", true), /client\.stream\(\)/);
 * ```
 *
 * @param kind What {@linkcode unsupportedResult} returned.
 * @param streamable Whether the caller could read it with `client.stream()`.
 * @param why Why this step of a request may not stream (from its graph).
 * @returns A sentence for the error.
 */
export function unsupportedResultMessage(kind: string, streamable = false, why?: string): string {
  const what = `returned ${kind === "ReadableStream" ? "a" : "an"} ${kind}`;
  if (streamable) {
    return `${what}: a streamed result is read with client.stream(), not call() or request(), ` +
      "or passed whole to the one step of a request that takes it as an argument" +
      (why === undefined ? "" : ` (here ${why})`) +
      "; return an array or another value to answer call()";
  }
  return `${what}: streaming results are not supported yet; return an array or another value instead`;
}
