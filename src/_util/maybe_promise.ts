// Copyright 2026 the mpreg authors. MIT license.
/**
 * The value-or-promise fast path, in one place.
 *
 * A node answers a request of synchronous steps in the turn it arrived:
 * functions, steps and request runs return their value itself when they
 * have it, and a promise only when they must wait. `bench/micro/
 * maybe_sync_bench.ts` measures what that saves against awaiting every
 * value. Callers branch with {@linkcode isPromise}, or chain with
 * {@linkcode thenMaybe}, which stays synchronous for a value.
 *
 * @module
 */

/** A value, or a promise of it when it is not ready in this turn. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Whether a maybe-synchronous result must be waited for.
 *
 * @example
 * ```ts
 * import { isPromise, type MaybePromise } from "./maybe_promise.ts";
 * import assert from "node:assert/strict";
 * const now: MaybePromise<number> = 1;
 * assert.equal(isPromise(now), false);
 * assert.equal(isPromise(Promise.resolve(1)), true);
 * ```
 *
 * @param value The result.
 * @returns True for a promise (a native one: thenables are values here).
 */
export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return value instanceof Promise;
}

/**
 * Applies `onValue` to a maybe-synchronous result: at once for a value (a
 * throw propagates), after it settles for a promise.
 *
 * @example
 * ```ts
 * import { thenMaybe } from "./maybe_promise.ts";
 * import assert from "node:assert/strict";
 * assert.equal(thenMaybe(2, (n) => n * 21), 42);
 * assert.equal(await thenMaybe(Promise.resolve(2), (n) => n * 21), 42);
 * ```
 *
 * @param value The result.
 * @param onValue What to do with its value.
 * @returns `onValue`'s result, or a promise of it.
 */
export function thenMaybe<T, U>(
  value: MaybePromise<T>,
  onValue: (value: T) => MaybePromise<U>,
): MaybePromise<U> {
  return value instanceof Promise ? value.then(onValue) : onValue(value);
}
