// Copyright 2026 the mpreg authors. MIT license.
// Capped exponential backoff with full jitter (AWS Architecture Blog, 2015).

/** Settings of a backoff schedule. */
export interface BackoffOptions {
  /** First delay's ceiling, in milliseconds. */
  initialMs: number;
  /** Largest delay, in milliseconds. */
  maxMs: number;
  /** Growth per attempt. */
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
