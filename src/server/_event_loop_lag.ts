// Copyright 2026 the mpreg authors. MIT license.
/**
 * The event loop's lag: a timer due every `periodMs` fires late by as long as
 * the loop was busy (a long synchronous call, a long garbage collection), and
 * each firing reports how late it was.
 *
 * @module
 */

/**
 * Samples the event loop's lag with a timer's drift.
 *
 * @example
 * ```ts ignore
 * const lag = new EventLoopLag(100, (ms) => console.log(`${ms} ms late`));
 * lag.start();
 * lag.stop();
 * ```
 */
export class EventLoopLag {
  readonly #periodMs: number;
  readonly #onSample: (lagMs: number) => void;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #due = 0;

  /**
   * @param periodMs How often to sample, in milliseconds.
   * @param onSample Called with each sample: how late the timer fired, in milliseconds.
   */
  constructor(periodMs: number, onSample: (lagMs: number) => void) {
    this.#periodMs = periodMs;
    this.#onSample = onSample;
  }

  /** Starts sampling (again, after a stop). */
  start(): void {
    if (this.#timer !== null) return;
    this.#arm();
  }

  /** Stops sampling. */
  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #arm(): void {
    this.#due = performance.now() + this.#periodMs;
    this.#timer = setTimeout(this.#fire, this.#periodMs);
    // Never what keeps a process alive.
    (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(
      this.#timer as unknown as number,
    );
  }

  readonly #fire = (): void => {
    const lag = Math.max(0, performance.now() - this.#due);
    this.#arm();
    this.#onSample(lag);
  };
}
