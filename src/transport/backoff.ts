// Copyright 2026 the mpreg authors. MIT license.
// Capped exponential backoff with full jitter (AWS Architecture Blog, 2015).

/**
 * Settings of the reconnect schedule: the delay before retry `n` (0-based)
 * is uniform in `[0, min(maxMs, initialMs * factor ** n)]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type BackoffOptions, Client } from "@mpreg/mpreg";
 * const backoff: BackoffOptions = { initialMs: 50, maxMs: 2_000, factor: 2 };
 * await using client = new Client("ws://127.0.0.1:9", { backoff });
 * assert.equal(client.connected, false); // nothing connects before the first call
 * ```
 */
export interface BackoffOptions {
  /**
   * The first delay's ceiling, in milliseconds.
   *
   * @default {100}
   */
  initialMs: number;
  /**
   * The largest delay, in milliseconds.
   *
   * @default {5000}
   */
  maxMs: number;
  /**
   * Growth per attempt.
   *
   * @default {2}
   */
  factor: number;
}

/** The default schedule: 100 ms, doubling, capped at 5 s. */
export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  initialMs: 100,
  maxMs: 5_000,
  factor: 2,
});

/**
 * The delay before retry number `attempt` (0-based): uniform in
 * `[0, min(maxMs, initialMs * factor^attempt)]`.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * options.factor ** attempt);
  return Math.round(random() * ceiling);
}
