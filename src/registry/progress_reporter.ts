// Copyright 2026 the mpreg authors. MIT license.
/**
 * Coalesces a step's progress reports (`this.progress(value)`) so that a
 * function reporting in a tight loop cannot flood a link: at most one report
 * leaves per {@linkcode PROGRESS_INTERVAL_MS}, the latest value wins, and
 * the last one is sent when the step ends, before its answer.
 *
 * @module
 */
import { isPromise, type MaybePromise } from "../_util/maybe_promise.ts";

/**
 * The least time between two progress reports of one step that leave a
 * node, in milliseconds. Reports in between are coalesced: the latest wins.
 *
 * @example
 * ```ts
 * import { PROGRESS_INTERVAL_MS } from "./progress_reporter.ts";
 * console.log(PROGRESS_INTERVAL_MS); // 50
 * ```
 */
export const PROGRESS_INTERVAL_MS = 50;

/**
 * One step's progress: `report()` takes every value the function reports,
 * `emit` gets at most one per interval (the first at once), and `end()`
 * sends the one still held, then ignores any later report.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProgressReporter } from "./progress_reporter.ts";
 * const sent: unknown[] = [];
 * const reporter = new ProgressReporter((value) => sent.push(value));
 * for (let i = 1; i <= 1000; i++) reporter.report(i / 1000);
 * reporter.end();
 * reporter.report(2);
 * assert.deepEqual(sent, [0.001, 1]);
 * ```
 */
export class ProgressReporter {
  readonly #emit: (value: unknown) => void;
  readonly #intervalMs: number;
  /** When the last report left, in milliseconds since the epoch. */
  #last = -Infinity;
  #held = false;
  #value: unknown = undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ended = false;

  /**
   * @param emit Sends one report.
   * @param intervalMs The least time between two reports sent.
   */
  constructor(emit: (value: unknown) => void, intervalMs: number = PROGRESS_INTERVAL_MS) {
    this.#emit = emit;
    this.#intervalMs = intervalMs;
  }

  /** Whether the step ended (later reports are ignored). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Takes a report: sent at once when none left in the last interval, else
   * held (replacing any value held) until the interval is over. A function
   * or a symbol is no report (no encoding carries it) and is dropped;
   * `undefined` is sent as `null`.
   *
   * @param value The progress.
   */
  report(value: unknown): void {
    if (this.#ended || typeof value === "function" || typeof value === "symbol") return;
    if (value === undefined) value = null;
    const now = Date.now();
    const wait = this.#last + this.#intervalMs - now;
    if (wait <= 0 && this.#timer === undefined) {
      this.#last = now;
      this.#send(value);
      return;
    }
    this.#held = true;
    this.#value = value;
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, Math.max(0, wait));
    }
  }

  /** Ends the step: the report still held is sent now; later ones are ignored. */
  end(): void {
    if (this.#ended) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flush();
    this.#ended = true;
  }

  /**
   * Ends the step when `value` settles, before it is handed on: its last
   * report precedes its answer.
   *
   * @param value The step's value, or a promise of it.
   * @returns The same value, or a promise of it.
   */
  endWith<T>(value: MaybePromise<T>): MaybePromise<T> {
    if (!isPromise(value)) {
      this.end();
      return value;
    }
    return value.then((v) => {
      this.end();
      return v;
    }, (err: unknown) => {
      this.end();
      throw err;
    });
  }

  #flush(): void {
    if (!this.#held) return;
    const value = this.#value;
    this.#held = false;
    this.#value = undefined;
    this.#last = Date.now();
    this.#send(value);
  }

  #send(value: unknown): void {
    try {
      this.#emit(value);
    } catch {
      // A report that cannot be sent is dropped; the step goes on.
    }
  }
}

/**
 * The `progress` of a call whose caller did not ask for reports.
 *
 * @example
 * ```ts
 * import { ignoreProgress } from "./progress_reporter.ts";
 * ignoreProgress(0.5);
 * ```
 */
export function ignoreProgress(_value: unknown): void {}
