// Copyright 2026 the mpreg authors. MIT license.
/**
 * A node's metrics: counters, gauges and latency histograms, rendered in the
 * Prometheus text format for `GET /metrics` and as JSON for `GET /stats`.
 *
 * @module
 */

/** Upper bounds of the latency buckets, in seconds. */
const BUCKETS = [
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

/** What is counted for one function. */
interface FunctionRecord {
  inFlight: number;
  /** Finished calls by outcome. */
  readonly outcomes: Map<string, number>;
  readonly latency: Histogram;
}

class Histogram {
  readonly counts = new Array<number>(BUCKETS.length + 1).fill(0);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }

  /** The q-quantile, interpolated inside its bucket (Prometheus's histogram_quantile). */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i]!;
      if (seen + c >= rank && c > 0) {
        const lower = i === 0 ? 0 : BUCKETS[i - 1]!;
        const upper = i < BUCKETS.length ? BUCKETS[i]! : lower * 2;
        return lower + (upper - lower) * ((rank - seen) / c);
      }
      seen += c;
    }
    return BUCKETS[BUCKETS.length - 1]!;
  }
}

/**
 * Per-function figures, as `GET /stats` returns them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type FunctionStats, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).register("one", () => 1).start();
 * await using client = new Client(server.url);
 * await client.call("one");
 * const one: FunctionStats | undefined = server.stats().functions.one;
 * assert.equal(one?.calls, 1);
 * assert.deepEqual(one?.outcomes, { ok: 1 });
 * ```
 */
export interface FunctionStats {
  /** Calls that ended, by outcome (`ok` or an error name). */
  outcomes: Record<string, number>;
  /** Calls that ended. */
  calls: number;
  /** Calls running now. */
  inFlight: number;
  /** Latency percentiles in milliseconds. */
  p50Ms: number;
  /** The 90th percentile in milliseconds. */
  p90Ms: number;
  /** The 99th percentile in milliseconds. */
  p99Ms: number;
}

/**
 * The event loop's lag, as `GET /stats` returns it (under `eventLoop`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type EventLoopStats, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * const loop: EventLoopStats = server.stats().eventLoop;
 * assert.ok(loop.maxLagMs >= loop.lagMs);
 * assert.ok(loop.p99Ms >= 0);
 * ```
 */
export interface EventLoopStats {
  /** The latest sample, in milliseconds: how late a timer due now fired. */
  lagMs: number;
  /** The largest sample of the last minute, in milliseconds. */
  maxLagMs: number;
  /** The 99th percentile of every sample, in milliseconds. */
  p99Ms: number;
  /** Samples taken. */
  samples: number;
}

/**
 * Options of {@linkcode Metrics}.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * const slow: string[] = [];
 * const metrics = new Metrics({ slowCallMs: 0, onSlowCall: (fun) => slow.push(fun) });
 * metrics.callStarted("add")("ok");
 * console.log(slow); // [ "add" ]
 * ```
 */
export interface MetricsOptions {
  /**
   * A synchronous call that holds the event loop longer than this, in
   * milliseconds, is reported to `onSlowCall`.
   *
   * @default {Infinity (never)}
   */
  slowCallMs?: number;
  /**
   * Called with the function and the milliseconds of each synchronous call
   * longer than `slowCallMs` (its clock reads are the ones that time it).
   *
   * @default {undefined}
   */
  onSlowCall?: (fun: string, ms: number) => void;
}

/** A gauge or counter read at scrape time. */
export interface Sample {
  /** The metric's name. */
  name: string;
  /** `counter` or `gauge`. */
  type: "counter" | "gauge";
  /** What it measures. */
  help: string;
  /** Its values by label set. */
  values: Array<{ labels?: Record<string, string>; value: number }>;
}

function labels(set: Record<string, string> | undefined): string {
  if (set === undefined) return "";
  const parts = Object.entries(set).map(([k, v]) =>
    `${k}="${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`
  );
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/**
 * Counts calls and requests of one node.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * const metrics = new Metrics();
 * const done = metrics.callStarted("add");
 * done("ok");
 * console.log(metrics.stats().add?.calls); // 1
 * ```
 */
export class Metrics {
  /** One record per function, found once per call. */
  readonly #functions = new Map<string, FunctionRecord>();
  readonly #requests = new Map<string, number>();
  #requestsInFlight = 0;
  readonly #slowCallMs: number;
  readonly #onSlowCall: (fun: string, ms: number) => void;
  readonly #loopLag = new Histogram();
  #lastLagMs = 0;
  /** The largest lag of each 10-second slot, the last six: `[slot, ms]`. */
  readonly #lagSlots: Array<[number, number]> = [];

  /**
   * Creates the metrics of one node.
   *
   * @param options When to report a slow synchronous call, and to whom.
   */
  constructor(options: MetricsOptions = {}) {
    this.#slowCallMs = options.slowCallMs ?? Infinity;
    this.#onSlowCall = options.onSlowCall ?? (() => {});
  }

  /**
   * Records the start of a function call on this node.
   *
   * A synchronous call is timed with a clock read at each end. An
   * asynchronous one may be timed with the clock of its turn (see
   * `shared`): many calls start, or end, in one turn when many are in
   * flight, and a clock read costs more than the rest of the bookkeeping.
   *
   * @param fun The function.
   * @param shared Read the start from the turn's clock (for a call known to
   *   be asynchronous, such as a sandboxed one).
   * @returns Call it with the outcome (`ok` or an error name) when the call
   *   ends, and `shared` true when it ends asynchronously.
   */
  callStarted(fun: string, shared = false): (outcome: string, shared?: boolean) => void {
    const start = shared ? this.#turnNow() : performance.now();
    let record = this.#functions.get(fun);
    if (record === undefined) {
      record = { inFlight: 0, outcomes: new Map(), latency: new Histogram() };
      this.#functions.set(fun, record);
    }
    record.inFlight++;
    const calls = record;
    return (outcome, shared = false) => {
      calls.inFlight--;
      calls.outcomes.set(outcome, (calls.outcomes.get(outcome) ?? 0) + 1);
      const end = shared ? this.#turnNow() : performance.now();
      calls.latency.observe((end - start) / 1000);
      // Ended in the turn it started: the event loop was held all along.
      if (!shared && end - start > this.#slowCallMs) this.#onSlowCall(fun, end - start);
    };
  }

  /** The clock read first in this turn: valid until the turn's microtasks ran. */
  #turnClock = -1;

  #turnNow(): number {
    if (this.#turnClock < 0) {
      this.#turnClock = performance.now();
      // Queued behind every microtask already queued (the answers that
      // arrived with this one), so they all share the read.
      queueMicrotask(this.#endTurn);
    }
    return this.#turnClock;
  }

  readonly #endTurn = (): void => {
    this.#turnClock = -1;
  };

  /**
   * Records a sample of the event loop's lag.
   *
   * @param ms How late a timer fired, in milliseconds.
   * @param now The time of the sample, in milliseconds since the epoch.
   */
  observeLoopLag(ms: number, now: number = Date.now()): void {
    this.#loopLag.observe(ms / 1000);
    this.#lastLagMs = ms;
    const slot = Math.floor(now / 10_000);
    const last = this.#lagSlots.at(-1);
    if (last !== undefined && last[0] === slot) last[1] = Math.max(last[1], ms);
    else {
      this.#lagSlots.push([slot, ms]);
      if (this.#lagSlots.length > 6) this.#lagSlots.shift();
    }
  }

  /**
   * The event loop's lag: the latest sample, the largest of the last
   * minute, the 99th percentile.
   *
   * @param now The current time, in milliseconds since the epoch.
   * @returns The figures.
   */
  loopLag(now: number = Date.now()): EventLoopStats {
    const since = Math.floor(now / 10_000) - 5;
    let max = 0;
    for (const [slot, ms] of this.#lagSlots) if (slot >= since) max = Math.max(max, ms);
    return {
      lagMs: this.#lastLagMs,
      maxLagMs: max,
      p99Ms: this.#loopLag.quantile(0.99) * 1000,
      samples: this.#loopLag.count,
    };
  }

  /** Records the start of a client request; call the result with its outcome. */
  requestStarted(): (outcome: string) => void {
    this.#requestsInFlight++;
    return (outcome) => {
      this.#requestsInFlight--;
      this.#requests.set(outcome, (this.#requests.get(outcome) ?? 0) + 1);
    };
  }

  /**
   * Per-function figures.
   *
   * @returns Function name → figures.
   */
  stats(): Record<string, FunctionStats> {
    const out: Record<string, FunctionStats> = {};
    for (const [fun, record] of this.#functions) {
      const histogram = record.latency;
      out[fun] = {
        outcomes: Object.fromEntries(record.outcomes),
        calls: histogram.count,
        inFlight: record.inFlight,
        p50Ms: histogram.quantile(0.5) * 1000,
        p90Ms: histogram.quantile(0.9) * 1000,
        p99Ms: histogram.quantile(0.99) * 1000,
      };
    }
    return out;
  }

  /**
   * The Prometheus text exposition of these metrics plus `extra` samples.
   *
   * @param extra Gauges and counters read from other parts of the node.
   * @returns The text, ending with a newline.
   */
  render(extra: Sample[] = []): string {
    const lines: string[] = [];
    const head = (name: string, type: string, help: string) =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    head(
      "mpreg_calls_total",
      "counter",
      "Function calls run on this node, by function and outcome.",
    );
    for (const [fun, { outcomes }] of this.#functions) {
      for (const [outcome, n] of outcomes) {
        lines.push(`mpreg_calls_total${labels({ function: fun, outcome })} ${n}`);
      }
    }
    const histogram = (name: string, h: Histogram, set: Record<string, string>) => {
      let cumulative = 0;
      for (let i = 0; i < BUCKETS.length; i++) {
        cumulative += h.counts[i]!;
        lines.push(`${name}_bucket${labels({ ...set, le: String(BUCKETS[i]) })} ${cumulative}`);
      }
      lines.push(
        `${name}_bucket${labels({ ...set, le: "+Inf" })} ${h.count}`,
        `${name}_sum${labels(set)} ${h.sum}`,
        `${name}_count${labels(set)} ${h.count}`,
      );
    };
    head("mpreg_call_duration_seconds", "histogram", "Duration of function calls on this node.");
    for (const [fun, { latency: h }] of this.#functions) {
      if (h.count > 0) histogram("mpreg_call_duration_seconds", h, { function: fun });
    }
    head("mpreg_calls_in_flight", "gauge", "Function calls running on this node.");
    for (const [fun, { inFlight }] of this.#functions) {
      lines.push(`mpreg_calls_in_flight${labels({ function: fun })} ${inFlight}`);
    }
    head("mpreg_requests_total", "counter", "Client requests answered, by outcome.");
    for (const [outcome, n] of this.#requests) {
      lines.push(`mpreg_requests_total${labels({ outcome })} ${n}`);
    }
    head("mpreg_requests_in_flight", "gauge", "Client requests in flight.");
    lines.push(`mpreg_requests_in_flight ${this.#requestsInFlight}`);
    head(
      "mpreg_event_loop_lag_seconds",
      "histogram",
      "How late a timer due every 100 ms fired: how long the event loop was busy.",
    );
    histogram("mpreg_event_loop_lag_seconds", this.#loopLag, {});
    head(
      "mpreg_event_loop_lag_max_seconds",
      "gauge",
      "The largest event loop lag of the last minute.",
    );
    lines.push(`mpreg_event_loop_lag_max_seconds ${this.loopLag().maxLagMs / 1000}`);
    for (const sample of extra) {
      head(sample.name, sample.type, sample.help);
      for (const { labels: set, value } of sample.values) {
        lines.push(`${sample.name}${labels(set)} ${value}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}
