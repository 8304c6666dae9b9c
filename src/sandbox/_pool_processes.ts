// Copyright 2026 the mpreg authors. MIT license.
/**
 * The processes of a pool: starting, picking one for a call, cancelling a
 * call, and losing, dropping and replacing processes. Private to the pool.
 *
 * @module
 */
import { IdTable } from "../_util/id_table.ts";
import { InternalError, LimitExceededError, type RpcError } from "../protocol/errors.ts";
import { watchMemory } from "./_memory_watchdog.ts";
import { mainModule } from "./_pool_setup.ts";
import { receive, schedule, send } from "./_pool_messages.ts";
import {
  type PendingCall,
  type PoolState,
  type PoolWorker,
  settle,
  terminate,
} from "./_pool_state.ts";
import { OUT_OF_MEMORY, SandboxProcess } from "./_process.ts";

/** Starts a process that knows every defined function of the checked modules. */
export function spawn(s: PoolState): PoolWorker {
  let entry: PoolWorker | undefined = undefined;
  const process = new SandboxProcess({
    deno: s.deno,
    flags: s.flags,
    main: s.mainUrl,
    dir: s.dir,
    maxFrameBytes: s.maxFrameBytes,
    revoke: s.socketGrants,
    env: s.env,
    limits: {
      maxFrameBytes: s.maxFrameBytes,
      maxDepth: 256,
      maxElements: s.maxFrameBytes,
      maxStringBytes: s.maxFrameBytes,
    },
    onMessages: (messages) => receive(s, entry!, messages),
    onExit: (reason) => {
      s.ended.delete(process.ended);
      lost(s, entry!, reason);
    },
  });
  s.ended.add(process.ended);
  const worker: PoolWorker = {
    process,
    pending: new IdTable(),
    cancel: (pending) => cancel(s, worker, pending),
    lastAnswer: Date.now(),
    batching: false,
    outbox: [],
    ready: false,
    retiring: false,
    dead: false,
    overMemory: false,
    streams: 0,
  };
  entry = worker;
  s.workers.push(worker);
  for (const fn of s.byKey.values()) {
    if (fn.module === undefined || fn.module.index !== null) worker.outbox.push(fn.define);
  }
  if (worker.outbox.length > 0) schedule(s, worker);
  watchMemory(s);
  return worker;
}

/** The process for a call: the first keeping up, else a new one (up to `maxWorkers`), else the least loaded. */
export function pick(s: PoolState): PoolWorker {
  let best: PoolWorker | undefined;
  for (const worker of s.workers) {
    const load = worker.pending.size;
    // A stream holds its slot, but waits for its reader most of the time.
    if (load === worker.streams) {
      worker.lastAnswer = Date.now();
      return worker;
    }
    // A process already taking calls in this batch keeps taking them: the
    // clock is read once per batch, not once per call.
    if (
      load < s.perWorker &&
      (worker.batching || Date.now() - worker.lastAnswer <= s.stallMs)
    ) {
      worker.batching = true;
      return worker;
    }
    if (best === undefined || load < best.pending.size) best = worker;
  }
  if (best === undefined || s.workers.length < s.maxWorkers) return spawn(s);
  return best;
}

/**
 * Cancels a call: rejects it with `reason` (by default its signal's), tells
 * its process, and kills the process if the call keeps running past
 * `cancelGraceMs`. A stream's reader cancels it this way too.
 */
export function cancel(
  s: PoolState,
  worker: PoolWorker,
  pending: PendingCall,
  reason: unknown = pending.signal!.reason,
): void {
  if (pending.answered || worker.dead) return;
  pending.answered = true;
  pending.reject(reason);
  send(s, worker, { cancel: pending.id, ...describeReason(reason) });
  if (Number.isFinite(s.cancelGraceMs)) {
    pending.grace = setTimeout(() => {
      pending.grace = undefined;
      lost(
        s,
        worker,
        `was killed: "${pending.entry?.name}" kept running ${s.cancelGraceMs} ms after its call was cancelled`,
      );
    }, s.cancelGraceMs);
  }
}

/** A process exited, crashed or broke the protocol: fail its calls and replace it. */
export function lost(
  s: PoolState,
  worker: PoolWorker,
  reason: string,
): void {
  if (worker.dead) return;
  const wasCurrent = !worker.retiring;
  const wasReady = worker.ready;
  s.crashes++;
  const memory = worker.overMemory || reason === OUT_OF_MEMORY;
  if (reason === OUT_OF_MEMORY) {
    reason = `ran out of memory: its V8 heap is capped at ${s.memoryMb} MiB`;
  }
  const failure = (step: string, fun: string | undefined): RpcError => {
    const message = fun === undefined
      ? `The sandbox process ${reason}`
      : `Step "${step}" (${fun}) failed: its sandbox process ${reason}`;
    return memory
      ? new LimitExceededError(message, {
        details: {
          ...(fun === undefined ? {} : { step, fun }),
          limit: "memoryMb",
          max: s.memoryMb,
        },
      })
      : new InternalError(message, {
        details: { ...(fun === undefined ? { profile: s.profile } : { step, fun }), reason },
      });
  };
  drop(s, worker, (pending) => failure(pending.step, pending.entry?.name));
  if (s.closed || !wasCurrent) return;
  if (!wasReady && !memory) {
    s.broken = reason;
    return;
  }
  if (s.workers.length === 0) spawn(s);
}

/** Kills a process and rejects its calls with `error(pending)`. */
/**
 * Kills a process and rejects its calls with `error(pending)`, at once or,
 * given `later`, when the caller runs what it collected there.
 */
export function drop(
  s: PoolState,
  worker: PoolWorker,
  error: (pending: PendingCall) => RpcError,
  later?: (() => void)[],
): void {
  terminate(s, worker);
  for (const pending of worker.pending.values()) {
    settle(s, worker, pending);
    if (pending.answered) continue;
    const reason = error(pending);
    if (later === undefined) pending.reject(reason);
    else later.push(() => pending.reject(reason));
  }
}

/** Starts a process that knows every checked module; current ones retire when idle. */
export function newGeneration(s: PoolState): void {
  s.mainUrl = mainModule(s.modules);
  s.broken = undefined;
  if (s.closed) return;
  const old = s.workers;
  s.workers = [];
  for (const worker of old) {
    worker.retiring = true;
    if (worker.pending.size === 0) terminate(s, worker);
    else s.retiring.add(worker);
  }
  spawn(s);
}

/** The name and message a cancelled call's process is told: `TimeoutError` or `AbortError`. */
function describeReason(reason: unknown): { name: string; message: string } {
  if (reason instanceof Error || reason instanceof DOMException) {
    return {
      name: reason.name === "TimeoutError" ? "TimeoutError" : "AbortError",
      message: reason.message,
    };
  }
  return {
    name: "AbortError",
    message: reason === undefined ? "The call was cancelled" : String(reason),
  };
}
