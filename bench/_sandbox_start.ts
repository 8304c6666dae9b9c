// Copyright 2026 the mpreg authors. MIT license.
/**
 * What a sandbox process costs to start and to keep, each against a bare
 * `deno run` of a module that does nothing (the floor of any child Deno
 * process on this machine), measured in the same run:
 *
 * - cold start: from starting a {@linkcode WorkerPool} to the moment its
 *   first process is ready (the runtime loaded, its first message read),
 *   against spawning a bare `deno run` until its first byte on stdout;
 * - idle memory: the resident memory of a ready, idle sandbox process
 *   against that of a bare one.
 *
 * @module
 */
import { WorkerPool } from "../src/sandbox/pool.ts";
import { type Measurement, percentile, type Phases } from "./_measure.ts";

/** A module that prints one byte, then waits for its stdin to close. */
const BARE_MAIN = `data:application/javascript,${
  encodeURIComponent(
    "Deno.stdout.writeSync(new Uint8Array([10]));\n" +
      "for await (const _ of Deno.stdin.readable);\n",
  )
}`;

/** How long both sides idle before their memory is read, in milliseconds. */
const SETTLE_MS = 300;

function residentBytes(pid: number): number {
  const statm = Deno.readTextFileSync(`/proc/${pid}/statm`);
  return Number(statm.split(" ")[1]) * 4096;
}

/** A bare `deno run` process, ready once it printed its byte. */
async function bareDeno(): Promise<{ pid: number; stop(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", "--no-config", "--no-lock", BARE_MAIN],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    clearEnv: true,
    env: { NO_COLOR: "1", HOME: Deno.env.get("HOME") ?? "/" },
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  return {
    pid: child.pid,
    async stop() {
      await child.stdin.close();
      await child.stdout.cancel();
      await child.status;
    },
  };
}

/** Starts a pool with no permissions and waits until its process is ready. */
async function sandbox(): Promise<WorkerPool> {
  const pool = new WorkerPool({}, { maxWorkers: 1 });
  await pool.ready();
  return pool;
}

/**
 * Starts one thing after another for a phase, timing each start until it is
 * ready, then stopping it outside the timed part (`opsPerSec` counts whole
 * start-and-stop cycles).
 */
async function starts(start: () => Promise<() => Promise<void>>, ms: number) {
  const samples: number[] = [];
  const began = performance.now();
  const end = began + ms;
  while (samples.length === 0 || performance.now() < end) {
    const t0 = performance.now();
    const stop = await start();
    samples.push(performance.now() - t0);
    await stop();
  }
  return { samples: samples.sort((a, b) => a - b), elapsedMs: performance.now() - began };
}

async function measureStarts(
  start: () => Promise<() => Promise<void>>,
  phases: Phases,
): Promise<Measurement> {
  if (phases.warmupMs > 0) await starts(start, phases.warmupMs);
  const { samples, elapsedMs } = await starts(start, phases.measureMs);
  return {
    ops: samples.length,
    elapsedMs,
    opsPerSec: samples.length / (elapsedMs / 1000),
    p50Us: percentile(samples, 50) * 1000,
    p99Us: percentile(samples, 99) * 1000,
    inFlight: 1,
  };
}

/**
 * Cold starts of a sandbox process, one at a time: from creating a pool to
 * its process being ready (its p50 is the cold start).
 *
 * @param phases Warm-up and measured time.
 * @returns The measurement.
 */
export function sandboxStarts(phases: Phases): Promise<Measurement> {
  return measureStarts(async () => {
    const pool = await sandbox();
    return () => pool.close();
  }, phases);
}

/**
 * Cold starts of a bare `deno run`, one at a time, from spawning it to its
 * first byte on stdout: the yardstick of {@linkcode sandboxStarts}.
 *
 * @param phases Warm-up and measured time.
 * @returns The measurement.
 */
export function bareDenoStarts(phases: Phases): Promise<Measurement> {
  return measureStarts(async () => {
    const bare = await bareDeno();
    return () => bare.stop();
  }, phases);
}

/** The resident memory of an idle sandbox process and of an idle bare `deno run`. */
export interface IdleSandboxMemory {
  /** Bytes of the idle sandbox process. */
  sandbox: number;
  /** Bytes of the idle bare process. */
  bare: number;
}

/**
 * Reads the resident memory of one idle sandbox process and of one idle
 * bare `deno run`, each after {@linkcode SETTLE_MS} of rest.
 *
 * @returns Both, in bytes.
 */
export async function idleSandboxMemory(): Promise<IdleSandboxMemory> {
  const pool = await sandbox();
  const bare = await bareDeno();
  try {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const stats = pool.stats();
    if (stats.workers !== 1 || stats.residentBytes <= 0) {
      throw new Error(`expected one sandbox process with a readable RSS: ${JSON.stringify(stats)}`);
    }
    return { sandbox: stats.residentBytes, bare: residentBytes(bare.pid) };
  } finally {
    await bare.stop();
    await pool.close();
  }
}
