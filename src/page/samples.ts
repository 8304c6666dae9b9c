// Copyright 2026 the mpreg authors. MIT license.
/**
 * The last few seconds of `/stats` samples, from which the page derives
 * calls per second and the node's clock.
 *
 * @module
 */
import type { StatsView } from "./types.ts";

/** One `/stats` answer and when the page got it. */
export interface Sample {
  /** The page's clock when the answer arrived. */
  at: number;
  /** The answer. */
  stats: StatsView;
}

/** The samples of the last `windowMs` (at least two kept). */
export class Samples {
  #samples: Sample[] = [];
  readonly #windowMs: number;

  /** @param windowMs How far back rates look, in milliseconds. */
  constructor(windowMs = 5000) {
    this.#windowMs = windowMs;
  }

  /** How many samples are kept. */
  get length(): number {
    return this.#samples.length;
  }

  /** The newest sample, or `null`. */
  latest(): Sample | null {
    return this.#samples.at(-1) ?? null;
  }

  /**
   * Adds an answer; a different node or a clock gone back starts afresh.
   *
   * @param stats The answer.
   * @param now The page's clock.
   */
  record(stats: StatsView, now: number = Date.now()): void {
    const last = this.latest();
    if (last !== null && (last.stats.node !== stats.node || stats.time < last.stats.time)) {
      this.#samples = [];
    }
    this.#samples.push({ at: now, stats });
    while (
      this.#samples.length > 2 && this.#samples[1]!.stats.time <= stats.time - this.#windowMs
    ) {
      this.#samples.shift();
    }
  }

  /**
   * The node's clock now, from the newest sample.
   *
   * @param now The page's clock.
   * @returns Milliseconds since the epoch.
   */
  serverNow(now: number = Date.now()): number {
    const last = this.latest();
    return last === null ? now : last.stats.time + (now - last.at);
  }

  /** @returns Calls per second of each function over the window (empty before two samples). */
  rates(): Record<string, number> {
    const out: Record<string, number> = {};
    const last = this.latest();
    const first = this.#samples[0];
    if (last === null || first === undefined || this.#samples.length < 2) return out;
    const seconds = (last.stats.time - first.stats.time) / 1000;
    if (seconds < 0.5) return out;
    for (const [fun, figures] of Object.entries(last.stats.functions ?? {})) {
      const before = first.stats.functions?.[fun]?.calls ?? 0;
      out[fun] = Math.max(0, figures.calls - before) / seconds;
    }
    return out;
  }
}
