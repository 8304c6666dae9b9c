// Copyright 2026 the mpreg authors. MIT license.
/**
 * What a `WorkerPool` holds, shared by its parts: its settings, processes,
 * functions, modules and counters; and freeing a call's slot or a process.
 * Private to the pool.
 *
 * @module
 */
import type { IdTable } from "../_util/id_table.ts";
import { denoExecutable } from "./_deno.ts";
import { watchMemory } from "./_memory_watchdog.ts";
import { connectGrants, HOST_URL, mainModule, processEnv } from "./_pool_setup.ts";
import type { SandboxProcess } from "./_process.ts";
import type { SandboxInput, SandboxStream } from "./_pool_stream.ts";
import type { DefineMessage, HostArgs, ToWorker } from "./_protocol.ts";
import { type FunctionPermissions, profileKey, toDenoFlags } from "./permissions.ts";
import type { WorkerPoolOptions } from "./pool_options.ts";

/** A module of the pool, and where its graph check stands. */
export interface ModuleState {
  readonly url: string;
  /** Its loader's index in the main module, once its graph passed. */
  index: number | null;
  /** Settles when the graph check ends; `null` after. */
  gate: Promise<void> | null;
  /** Why it may not load: a graph beyond its permissions, or a graph that cannot be read. */
  error: Error | null;
}

/** A call waiting for its module's graph check. */
export interface WaitingCall {
  readonly step: string;
  readonly fun: string;
  /** Rejects it (cancelled, or the pool closed). */
  fail(error: unknown): void;
}

/** A function the pool knows, and its `define` message. */
export interface FunctionEntry {
  readonly id: number;
  readonly name: string;
  readonly module: ModuleState | undefined;
  readonly define: DefineMessage;
}

/**
 * A call sent to a process and not answered yet. It is its own abort
 * listener (`handleEvent`), which saves a closure per call.
 */
export class PendingCall implements EventListenerObject {
  /** The caller got its answer already (it cancelled); only the slot is held. */
  answered = false;
  /** Registered as an abort listener on `signal`. */
  listening = false;
  grace: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Takes the call's progress reports (its context's `progress`). */
  progress: ((value: unknown) => void) | undefined = undefined;
  /**
   * The call asked for the function's stream (`client.stream()`), or with
   * `"may"` allowed one (its answer is then a stream or a value).
   */
  streamed: boolean | "may" = false;
  /**
   * Its stream, once the process said the function returned one: the call
   * holds its slot until the stream ends, and its failures go to the stream.
   */
  stream: SandboxStream | undefined = undefined;
  /** The streams among its arguments, by their index in the call's `inputs`. */
  inputs: SandboxInput[] | undefined = undefined;

  constructor(
    readonly id: number,
    readonly entry: FunctionEntry | undefined,
    readonly step: string,
    readonly resolve: (value: unknown) => void,
    /** Fails the call (its stream, once it has one). */
    public reject: (reason: unknown) => void,
    readonly signal: AbortSignal | undefined = undefined,
    readonly onAbort: ((pending: PendingCall) => void) | undefined = undefined,
  ) {}

  handleEvent(): void {
    this.listening = false;
    this.onAbort?.(this);
  }
}

/** One process of the pool and its calls in flight. */
export interface PoolWorker {
  readonly process: SandboxProcess;
  readonly pending: IdTable<PendingCall>;
  /** Cancels one of this process's calls: shared by its calls' abort listeners. */
  readonly cancel: (pending: PendingCall) => void;
  /** When it last answered, or last became busy (`Date.now()`). */
  lastAnswer: number;
  /** `#pick()` chose it for a call in the batch not flushed yet. */
  batching: boolean;
  outbox: ToWorker[];
  ready: boolean;
  retiring: boolean;
  dead: boolean;
  /** Killed for going over the memory cap. */
  overMemory: boolean;
  /**
   * Its calls that are streams under way: they hold their slots, but a
   * process whose only calls are streams counts as idle when a call is
   * placed (a stream waits for its reader most of the time).
   */
  streams: number;
}

/** Everything a pool holds; the parts of the pool work on it. */
export class PoolState {
  /** The profile's permissions, as given. */
  readonly permissions: FunctionPermissions;
  /** The profile's {@linkcode profileKey}. */
  readonly profile: string;
  /** The memory cap of each process, in MiB. */
  readonly memoryMb: number;
  readonly deno: string;
  readonly config: string | null;
  readonly flags: string[];
  readonly env: Record<string, string>;
  /** A private folder (0700) for the processes' sockets. */
  readonly dir: string;
  /** The grants a process needs to connect to its socket, besides its profile. */
  readonly socketGrants: HostArgs["revoke"];
  readonly maxFrameBytes: number;
  readonly maxWorkers: number;
  readonly perWorker: number;
  readonly stallMs: number;
  readonly maxInFlight: number;
  readonly cancelGraceMs: number;
  readonly debug: boolean;
  workers: PoolWorker[] = [];
  retiring = new Set<PoolWorker>();
  modules: string[] = [];
  moduleStates = new Map<string, ModuleState>();
  mainUrl: string;
  byRef = new WeakMap<object, FunctionEntry>();
  waiting = new Set<WaitingCall>();
  byKey = new Map<string, FunctionEntry>();
  nextFunctionId = 1;
  nextCallId = 1;
  inFlight = 0;
  calls = 0;
  denials = 0;
  overloaded = 0;
  crashes = 0;
  coldStartMs: number | null = null;
  dirty: PoolWorker[] = [];
  flushQueued = false;
  broken: string | undefined;
  memoryTimer: ReturnType<typeof setInterval> | undefined;
  closing: Promise<void> | null = null;
  /** `/proc` cannot be read here: only the V8 heap limit applies. */
  memoryUnreadable = false;
  closed = false;
  readonly ended = new Set<Promise<void>>();
  /** `flush()` bound to this pool, made once: the microtask that sends the batches of a turn. */
  flushTask: (() => void) | undefined = undefined;

  constructor(permissions: FunctionPermissions, options: WorkerPoolOptions) {
    this.permissions = permissions;
    this.profile = profileKey(permissions);
    this.maxWorkers = positive("maxWorkers", options.maxWorkers ?? navigator.hardwareConcurrency);
    this.perWorker = positive("perWorker", options.perWorker ?? 256);
    this.stallMs = options.stallMs ?? 2;
    if (!(this.stallMs >= 0)) {
      throw new RangeError(`Invalid stallMs ${this.stallMs}: expected >= 0`);
    }
    this.maxInFlight = positive("maxInFlight", options.maxInFlight ?? 1024);
    this.cancelGraceMs = options.cancelGraceMs ?? 10_000;
    if (!(this.cancelGraceMs >= 0)) {
      throw new RangeError(`Invalid cancelGraceMs ${this.cancelGraceMs}: expected >= 0`);
    }
    this.memoryMb = options.memoryMb ?? 512;
    if (!(Number.isInteger(this.memoryMb) && this.memoryMb >= 32)) {
      throw new RangeError(`Invalid memoryMb ${this.memoryMb}: expected an integer >= 32`);
    }
    this.maxFrameBytes = positive("maxFrameBytes", options.maxFrameBytes ?? 64 * 1024 * 1024);
    this.debug = options.debug ?? false;
    this.deno = options.deno ?? denoExecutable();
    this.config = options.config ?? null;
    this.flags = [
      "--quiet",
      "--no-lock",
      ...(this.config === null ? ["--no-config"] : ["--config", this.config]),
      ...toDenoFlags(permissions, [HOST_URL]),
      `--v8-flags=--max-old-space-size=${this.memoryMb}`,
    ];
    this.env = processEnv(permissions);
    this.dir = Deno.makeTempDirSync({ prefix: "mpreg-sandbox-" });
    this.socketGrants = connectGrants(permissions, this.dir);
    this.mainUrl = mainModule(this.modules);
  }
}

/** Frees a call's slot and its listener and timer. */
export function settle(
  s: PoolState,
  worker: PoolWorker,
  pending: PendingCall,
): void {
  worker.pending.delete(pending.id);
  s.inFlight--;
  if (pending.stream !== undefined) worker.streams--;
  // Its stream arguments nobody will read any more.
  if (pending.inputs !== undefined) {
    for (const input of pending.inputs) input.cancel(new Error("The sandboxed call ended"));
  }
  if (pending.listening) {
    pending.signal!.removeEventListener("abort", pending);
    pending.listening = false;
  }
  if (pending.grace !== undefined) {
    clearTimeout(pending.grace);
    pending.grace = undefined;
  }
}

/** Kills a process and takes it out of the pool (its calls are left to the caller). */
export function terminate(
  s: PoolState,
  worker: PoolWorker,
): void {
  if (worker.dead) return;
  worker.dead = true;
  worker.retiring = true;
  worker.process.kill();
  s.retiring.delete(worker);
  const index = s.workers.indexOf(worker);
  if (index >= 0) s.workers.splice(index, 1);
  worker.outbox = [];
  watchMemory(s);
}

/** Checks a size or limit is an integer >= 1. */
export function positive(name: string, value: number): number {
  if (!(Number.isInteger(value) && value >= 1)) {
    throw new RangeError(`Invalid ${name} ${value}: expected an integer >= 1`);
  }
  return value;
}
