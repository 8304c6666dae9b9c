// Copyright 2026 the mpreg authors. MIT license.
/**
 * Races a promise against an abort signal (the part of `@std/async`'s
 * `abortable` mpreg needs).
 *
 * @module
 */

/**
 * Settles like `promise`, or rejects with `signal.reason` as soon as the
 * signal aborts, whichever comes first.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
