// Copyright 2026 the mpreg authors. MIT license.
/**
 * Closed-loop load runners. Each runs a warm-up phase (results discarded),
 * then a measured phase of fixed duration, and reports operations per second
 * and latency percentiles.
 *
 * "Closed loop" means a new operation starts only when one finishes: with
 * `n` workers there are exactly `n` operations outstanding until the measured
 * phase ends, then the last ones drain and are counted (the elapsed time runs
 * until the last one finished, so the rate stays exact).
 *
 * @module
 */

/** One measured phase. */
export interface Measurement {
  /** Operations completed in the measured phase. */
  ops: number;
  /** The measured phase's wall time, in milliseconds. */
  elapsedMs: number;
  /** Operations per second. */
  opsPerSec: number;
  /** Median latency of one operation, in microseconds. */
  p50Us: number;
  /** 99th percentile latency, in microseconds. */
  p99Us: number;
  /** Operations kept outstanding. */
  inFlight: number;
}

/** An operation to repeat; it must settle (a rejection aborts the run). */
export type Operation = () => Promise<unknown>;

/** Durations of a run. */
export interface Phases {
  /** Warm-up time in milliseconds, not measured. */
  warmupMs: number;
  /** Measured time in milliseconds. */
  measureMs: number;
}

/**
 * The nearest-rank percentile of sorted samples.
 *
 * @param sorted Samples in ascending order.
 * @param p The percentile, 0 to 100.
 * @returns The sample at that rank, or 0 with no samples.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Latency samples in milliseconds, in a growable typed array. */
class Samples {
  #data = new Float64Array(1 << 16);
  #length = 0;

  push(value: number): void {
    if (this.#length === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#length++] = value;
  }

  sorted(): Float64Array {
    return this.#data.slice(0, this.#length).sort();
  }
}

async function loop(
  n: number,
  makeOp: (worker: number) => Operation,
  ms: number,
  samples: Samples | null,
) {
  const start = performance.now();
  const end = start + ms;
  let ops = 0;
  const worker = async (fn: Operation) => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await fn();
      const t1 = performance.now();
      ops++;
      samples?.push(t1 - t0);
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < n; i++) workers.push(worker(makeOp(i)));
  await Promise.all(workers);
  return { ops, elapsedMs: performance.now() - start };
}

/**
 * Keeps `n` operations outstanding: `n` workers, worker `i` awaiting the
 * operation `makeOp(i)` in a loop (so each worker can use its own
 * connection).
 *
 * @param n How many operations to keep outstanding.
 * @param makeOp The operation of each worker, by index `0 … n - 1`.
 * @param phases Warm-up and measured durations.
 * @returns The measured phase.
 */
export async function inFlightEach(
  n: number,
  makeOp: (worker: number) => Operation,
  phases: Phases,
): Promise<Measurement> {
  if (phases.warmupMs > 0) await loop(n, makeOp, phases.warmupMs, null);
  const samples = new Samples();
  const { ops, elapsedMs } = await loop(n, makeOp, phases.measureMs, samples);
  const sorted = samples.sorted();
  return {
    ops,
    elapsedMs,
    opsPerSec: ops / (elapsedMs / 1000),
    p50Us: percentile(sorted, 50) * 1000,
    p99Us: percentile(sorted, 99) * 1000,
    inFlight: n,
  };
}

/**
 * Keeps `n` operations outstanding: `n` workers, each awaiting `fn()` in a
 * loop.
 *
 * @param n How many operations to keep outstanding.
 * @param fn The operation.
 * @param phases Warm-up and measured durations.
 * @returns The measured phase.
 */
export function inFlight(n: number, fn: Operation, phases: Phases): Promise<Measurement> {
  return inFlightEach(n, () => fn, phases);
}

/**
 * Runs one operation at a time: start, await, repeat.
 *
 * @param fn The operation.
 * @param phases Warm-up and measured durations.
 * @returns The measured phase.
 */
export function oneAtATime(fn: Operation, phases: Phases): Promise<Measurement> {
  return inFlight(1, fn, phases);
}
