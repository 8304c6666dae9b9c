// Copyright 2026 the mpreg authors. MIT license.
/**
 * The options and the counters of a `WorkerPool`.
 *
 * @module
 */

/**
 * Options of a {@linkcode WorkerPool}.
 *
 * @example
 * ```ts ignore
 * import type { WorkerPoolOptions } from "@mpreg/mpreg";
 * const options: WorkerPoolOptions = { maxWorkers: 2, maxInFlight: 256, memoryMb: 256 };
 * console.log(options);
 * ```
 */
export interface WorkerPoolOptions {
  /**
   * The most processes the pool runs.
   *
   * @default {navigator.hardwareConcurrency}
   */
  maxWorkers?: number;
  /**
   * Calls in flight on a process before calls go to another process. A
   * stream counts until it ends, but a process whose only calls are
   * streams still takes calls.
   *
   * @default {256}
   */
  perWorker?: number;
  /**
   * A process with calls in flight that has answered none for this long
   * (milliseconds) is busy: new calls go to another process, started if
   * needed.
   *
   * @default {2}
   */
  stallMs?: number;
  /**
   * Calls in flight on the whole pool; beyond it calls fail at once with an
   * {@linkcode OverloadedError}. A streamed call holds its slot until its
   * stream ends, fails or is cancelled.
   *
   * @default {1024}
   */
  maxInFlight?: number;
  /**
   * How long a cancelled call may keep running before its process is
   * killed and replaced (failing the process's other calls). `Infinity`
   * never kills.
   *
   * @default {10_000}
   */
  cancelGraceMs?: number;
  /**
   * The memory cap of each process, in MiB: its V8 heap limit, and the most
   * resident memory it may hold (checked every 100 ms where `/proc` can be
   * read). A process over it is killed; its calls fail with a
   * {@linkcode LimitExceededError} and it is replaced.
   *
   * @default {512}
   */
  memoryMb?: number;
  /**
   * The largest frame a process may send (its batch of answers); a larger
   * answer fails its own call, and a process that sends a larger frame
   * anyway is killed.
   *
   * @default {64 MiB}
   */
  maxFrameBytes?: number;
  /**
   * Include the function's stack in {@linkcode FunctionError} details.
   *
   * @default {false}
   */
  debug?: boolean;
  /**
   * The Deno executable the processes run.
   *
   * @default {the running Deno}
   */
  deno?: string;
  /**
   * The Deno config file the processes (and the module graph checks) use,
   * or `null` for none: the one that applies to the pool's modules (see
   * `configFor()`), so their bare specifiers resolve as under `deno run`.
   *
   * @default {null}
   */
  config?: string | null;
}

/**
 * Counters of a {@linkcode WorkerPool}, for metrics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, Server, type WorkerPoolStats } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 })
 *   .register("one", () => 1, { sandbox: true, memoryMb: 128 })
 *   .start();
 * await using client = new Client(server.url);
 * await client.call("one");
 * const pool: WorkerPoolStats | undefined = server.stats().sandbox?.profiles[0];
 * assert.equal(pool?.memoryMb, 128);
 * assert.equal(pool?.calls, 1);
 * assert.equal(pool?.crashes, 0);
 * ```
 */
export interface WorkerPoolStats {
  /** The pool's {@linkcode profileKey}. */
  profile: string;
  /** The memory cap of each process, in MiB. */
  memoryMb: number;
  /** Live processes, including retiring ones. */
  workers: number;
  /** Calls sent to a process and not answered yet (cancelled ones included until they stop). */
  inFlight: number;
  /** Calls accepted since the pool started. */
  calls: number;
  /** Calls that failed with a permission denial. */
  denials: number;
  /** Calls refused with an {@linkcode OverloadedError}. */
  overloaded: number;
  /** Processes that exited, crashed, broke the protocol or were killed (stuck, over their memory cap), and were replaced. */
  crashes: number;
  /** Milliseconds from starting the last process to its first message, or `null` before one is up. */
  coldStartMs: number | null;
  /** Resident memory of the live processes, in bytes (0 where it cannot be read). */
  residentBytes: number;
}
