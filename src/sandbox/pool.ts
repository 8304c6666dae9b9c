// Copyright 2026 the mpreg authors. MIT license.
/**
 * A warm pool of sandbox processes sharing one permission profile: child
 * Deno processes started with exactly the profile's permission flags and a
 * memory cap (see `_host.ts`).
 *
 * Calls go to the first process that is keeping up: fewer than `perWorker`
 * calls in flight, and an answer within the last `stallMs` whenever it has
 * calls in flight. A new process is started (up to `maxWorkers`) only when
 * none keeps up, so quick functions share one process and one frame per
 * batch, while slow or blocking ones spread over several. Messages are
 * batched in both directions (everything sent in one turn goes as one frame,
 * flushed in a microtask), so with many calls in flight a sandboxed call
 * costs a share of one frame.
 *
 * @example Run a function with no permissions at all
 * ```ts ignore
 * import { WorkerPool } from "./pool.ts";
 * const pool = new WorkerPool({});
 * const add = { name: "add", source: "(a, b) => a + b" };
 * const context = {
 *   signal: new AbortController().signal,
 *   deadline: Date.now() + 5_000,
 *   step: "add",
 *   requestId: 1,
 *   node: "n1",
 *   progress: () => {},
 * };
 * console.log(await pool.call(add, [1, 2], undefined, context)); // 3
 * await pool.close();
 * ```
 *
 * @module
 */
import { nextId } from "../_util/id_table.ts";
import { InternalError, OverloadedError, RpcError, UnavailableError } from "../protocol/errors.ts";
import type { CallContext } from "../registry/registry.ts";
import { isStreamSource, type StreamSource } from "../registry/stream_source.ts";
import { SandboxInput } from "./_pool_stream.ts";
import { watchMemory } from "./_memory_watchdog.ts";
import { byKeyOfId, entryOf, moduleError, moduleState } from "./_pool_functions.ts";
import { rebuild, send } from "./_pool_messages.ts";
import { drop, pick, spawn } from "./_pool_processes.ts";
import {
  type FunctionEntry,
  PendingCall,
  PoolState,
  type PoolWorker,
  type WaitingCall,
} from "./_pool_state.ts";
import type { CallMessage, LoadFailure, ToWorker, WireFunctionError } from "./_protocol.ts";
import { type FunctionRef, moduleUrl } from "./function_spec.ts";
import type { FunctionPermissions } from "./permissions.ts";
import type { WorkerPoolOptions, WorkerPoolStats } from "./pool_options.ts";

export type {
  FunctionRef,
  FunctionSpec,
  ModuleFunctionSpec,
  SourceFunctionSpec,
} from "./function_spec.ts";
export { moduleUrl } from "./function_spec.ts";
export type { WorkerPoolOptions, WorkerPoolStats } from "./pool_options.ts";

/**
 * Sandbox processes with one permission profile, started warm, with a
 * concurrency limit, a memory cap, cancellation and crash recovery.
 *
 * Every process is a `deno run` with exactly {@linkcode toDenoFlags} of the
 * profile (nothing for `{}`), no prompt, a cleared environment and
 * `memoryMb` as its V8 heap limit. A module's functions run only after
 * `checkModuleGraph()` found its whole graph within the profile; the
 * process then loads it from a generated main module (see
 * `src/sandbox/_host.ts`).
 *
 * Errors are mpreg errors naming the step and the function:
 * {@linkcode FunctionError} when the function throws,
 * {@linkcode PermissionDeniedError} when it reaches beyond its permissions
 * (at run time, or in its module graph),
 * {@linkcode LimitExceededError} when its process goes over its memory cap,
 * {@linkcode InternalError} when it cannot be loaded or its process dies or
 * breaks the protocol, {@linkcode OverloadedError} beyond `maxInFlight`, and
 * {@linkcode UnavailableError} once closed. A cancelled call rejects at once
 * with the signal's reason. Nothing a process sends can make the pool throw.
 *
 * @example Call a module's export with read access to one folder
 * ```ts ignore
 * import { WorkerPool } from "./pool.ts";
 * const pool = new WorkerPool({ read: ["/srv/data"] });
 * const ref = { name: "readData", module: "file:///srv/functions.ts" };
 * const context = {
 *   signal: AbortSignal.timeout(5_000),
 *   deadline: Date.now() + 5_000,
 *   step: "s1",
 *   requestId: 1,
 *   node: "n1",
 *   progress: () => {},
 * };
 * console.log(await pool.call(ref, ["/srv/data/hello.txt"], undefined, context));
 * await pool.close();
 * ```
 */
export class WorkerPool {
  /** The profile's permissions, as given. */
  readonly permissions: FunctionPermissions;
  /** The profile's {@linkcode profileKey}. */
  readonly profile: string;
  /** The memory cap of each process, in MiB. */
  readonly memoryMb: number;
  readonly #s: PoolState;

  /**
   * Creates the pool and its first process.
   *
   * @param permissions The profile, normalized (see `normalizePermissions`).
   * @param options Sizes and limits.
   * @throws {Deno.errors.NotCapable} when this process may not run the Deno
   *   executable (`--allow-run`), or make a temporary folder and listen on a
   *   Unix socket in it (`--allow-write`, `--allow-read`).
   * @throws {RangeError} for a size or limit below 1.
   * @throws {TypeError} in a binary built with `deno compile`.
   */
  constructor(permissions: FunctionPermissions, options: WorkerPoolOptions = {}) {
    const s = new PoolState(permissions, options);
    this.#s = s;
    this.permissions = s.permissions;
    this.profile = s.profile;
    this.memoryMb = s.memoryMb;
    try {
      spawn(s);
    } catch (err) {
      Deno.removeSync(s.dir, { recursive: true });
      throw err;
    }
  }

  /**
   * Makes a function known to the pool's processes ahead of its first call.
   * A function from a module the pool has not seen yet has its module graph
   * checked first (see `checkModuleGraph()`); once it passes, the pool starts
   * new processes with that module and retires the current ones once their
   * calls are done. `call()` defines unknown functions itself.
   *
   * @param ref The function.
   * @throws {TypeError} for a bad module URL or source that does not compile.
   */
  define(ref: FunctionRef): void {
    entryOf(this.#s, ref);
  }

  /**
   * The names of the functions a module exports (without `default`), read
   * by loading it in a sandbox process: its graph is checked first, and its
   * code never runs in this process.
   *
   * @param module The module: a URL or a path.
   * @returns The names, sorted.
   * @throws {PermissionDeniedError} when its module graph reaches beyond the
   *   profile.
   * @throws {InternalError} when it cannot be loaded.
   */
  async exports(module: string | URL): Promise<string[]> {
    if (this.#s.closed) throw new UnavailableError("The sandbox is closed");
    const state = moduleState(this.#s, moduleUrl(module));
    if (state.gate !== null) await state.gate;
    if (state.error !== null) throw state.error;
    const names = await this.#ask(
      (id) => ({ exports: id, module: state.index! }),
      (error) =>
        new InternalError(`Cannot load ${state.url}: ${error.name}: ${error.message}`, {
          details: { module: state.url, name: error.name, message: error.message },
          cause: rebuild(error),
        }),
    );
    return names as string[];
  }

  /**
   * Calls a function in a sandbox process.
   *
   * @param ref The function.
   * @param args Positional arguments (sent as msgpack, as on the wire). A
   *   `StreamSource` among them (or among `kwargs`' values) reaches the
   *   function as a `ReadableStream` made in the process, which grants the
   *   credit as the function reads; the pool cancels it when the call ends.
   *   A call refused before it was sent leaves it to the caller to cancel.
   * @param kwargs Keyword arguments, passed as a trailing object when not empty.
   * @param context The call's context: `signal` aborts the call in the
   *   process (the function sees an aborted `this.signal`); the rest is
   *   passed to the function as `this`.
   * @param streamed Ask for the function's stream: the value is then a
   *   `StreamSource` whose credit is passed into the process, which reads
   *   the producer no further than that. The call holds its slot (it counts
   *   in `inFlight`, against `maxInFlight` and `perWorker`) until the stream
   *   ends, fails or is cancelled; a process whose only calls are streams
   *   still takes new calls. A value that is not a stream fails the call
   *   with a {@linkcode FunctionError}; with `"may"`, it is the call's
   *   value (a stream is taken as with `true`).
   * @returns The function's value (sent back as msgpack), or its stream.
   */
  call(
    ref: FunctionRef,
    args: unknown[],
    kwargs: Record<string, unknown> | undefined,
    context: CallContext,
    streamed: boolean | "may" = false,
  ): Promise<unknown> {
    if (this.#s.closed) {
      return Promise.reject(
        new UnavailableError(`Step "${context.step}" (${ref.name}) failed: the sandbox is closed`, {
          details: { step: context.step, fun: ref.name },
        }),
      );
    }
    let entry: FunctionEntry;
    try {
      entry = entryOf(this.#s, ref);
    } catch (err) {
      return Promise.reject(err);
    }
    const module = entry.module;
    if (module !== undefined) {
      if (module.gate !== null) {
        return this.#afterCheck(module.gate, ref, args, kwargs, context, streamed);
      }
      if (module.error !== null) return Promise.reject(moduleError(this.#s, entry, context.step));
    }
    if (this.#s.broken !== undefined) {
      return Promise.reject(
        new InternalError(
          `Step "${context.step}" (${entry.name}) failed: the sandbox cannot start processes: ${this.#s.broken}`,
          { details: { step: context.step, fun: entry.name, reason: this.#s.broken } },
        ),
      );
    }
    const signal = context.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#s.inFlight >= this.#s.maxInFlight) {
      this.#s.overloaded++;
      return Promise.reject(
        new OverloadedError(
          `Step "${context.step}" (${entry.name}) refused: the sandbox for profile ${this.profile} has ${this.#s.inFlight} calls in flight (limit ${this.#s.maxInFlight})`,
          { details: { step: context.step, fun: entry.name, limit: this.#s.maxInFlight } },
        ),
      );
    }
    let worker: PoolWorker;
    try {
      worker = pick(this.#s);
    } catch (err) {
      return Promise.reject(
        new InternalError(
          `Step "${context.step}" (${entry.name}) failed: no sandbox process could be started: ${
            err instanceof Error ? err.message : err
          }`,
          { details: { step: context.step, fun: entry.name }, cause: err },
        ),
      );
    }
    const id = this.#s.nextCallId;
    this.#s.nextCallId = nextId(id);
    const message: CallMessage = [
      id,
      entry.id,
      args,
      context.step,
      context.requestId,
      context.node,
      context.deadline,
    ];
    if (kwargs !== undefined) {
      for (const _ in kwargs) {
        message.push(kwargs);
        break;
      }
    }
    const inputs = streamArguments(args, kwargs);
    if (streamed || inputs !== undefined) {
      if (message.length === 7) message.push(null);
      message.push(streamed === "may" ? 2 : streamed ? 1 : 0);
    }
    if (inputs !== undefined) {
      // The streams go as `null`, fed by messages of their own.
      message[2] = args.map((value) => isStreamSource(value) ? null : value);
      if (message[7]) {
        const sent: Record<string, unknown> = {};
        for (const key in message[7]) {
          const value = message[7][key];
          sent[key] = isStreamSource(value) ? null : value;
        }
        message[7] = sent;
      }
      message.push(inputs.map(([where]) => where));
    }
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const pending = new PendingCall(
      id,
      entry,
      context.step,
      resolve,
      reject,
      signal,
      worker.cancel,
    );
    pending.progress = (value) => context.progress(value);
    pending.streamed = streamed;
    if (inputs !== undefined) {
      pending.inputs = inputs.map(([, source], k) =>
        new SandboxInput(this.#s, worker, id, k, source)
      );
    }
    signal.addEventListener("abort", pending);
    pending.listening = true;
    worker.pending.set(id, pending);
    this.#s.inFlight++;
    this.#s.calls++;
    send(this.#s, worker, message);
    return promise;
  }

  /**
   * Waits until a process has loaded every defined function.
   *
   * @returns When every function loaded.
   * @throws {PermissionDeniedError} when a module's graph reaches beyond the
   *   profile (the message names the module, its functions, the import and
   *   the permission it needs).
   * @throws {InternalError} naming each function that could not be loaded
   *   (missing module or export, a throw or a permission denial at import),
   *   or when no process can start.
   */
  async ready(): Promise<void> {
    if (this.#s.closed) throw new UnavailableError("The sandbox is closed");
    const modules = [...this.#s.moduleStates.values()];
    await Promise.all(modules.map((m) => m.gate));
    for (const m of modules) if (m.error !== null) throw m.error;
    if (this.#s.broken !== undefined) {
      throw new InternalError(`The sandbox cannot start processes: ${this.#s.broken}`, {
        details: { profile: this.profile, reason: this.#s.broken },
      });
    }
    const failures = await this.#ask(
      (id) => ({ check: id }),
      (error) => new InternalError(`The sandbox check failed: ${error.message}`),
    ) as LoadFailure[];
    if (failures.length === 0) return;
    const lines = failures.map((f) => {
      const entry = byKeyOfId(this.#s, f.fn);
      const where = entry?.module === undefined ? "" : ` from ${entry.module.url}`;
      return `"${f.name}"${where}: ${f.error.name}: ${f.error.message}`;
    });
    throw new InternalError(
      `Sandboxed functions could not be loaded (profile ${this.profile}): ${lines.join("; ")}`,
      {
        details: {
          profile: this.profile,
          failures: failures.map((f) => ({
            fun: f.name,
            name: f.error.name,
            message: f.error.message,
            ...(f.error.denied === undefined ? {} : { denied: f.error.denied }),
          })),
        },
      },
    );
  }

  /**
   * The pool's counters.
   *
   * @returns A snapshot.
   */
  stats(): WorkerPoolStats {
    let residentBytes = 0;
    for (const worker of [...this.#s.workers, ...this.#s.retiring]) {
      residentBytes += worker.process.residentBytes() ?? 0;
    }
    return {
      profile: this.profile,
      memoryMb: this.memoryMb,
      workers: this.#s.workers.length + this.#s.retiring.size,
      inFlight: this.#s.inFlight,
      calls: this.#s.calls,
      denials: this.#s.denials,
      overloaded: this.#s.overloaded,
      crashes: this.#s.crashes,
      coldStartMs: this.#s.coldStartMs,
      residentBytes,
    };
  }

  /**
   * Kills every process and fails calls in flight with
   * {@linkcode UnavailableError} (when the processes have ended, just before
   * it resolves). Leaves no process, timer, file or op behind.
   *
   * @returns When every process has ended; the same promise on every call.
   */
  close(): Promise<void> {
    this.#s.closing ??= this.#close();
    return this.#s.closing;
  }

  async #close(): Promise<void> {
    this.#s.closed = true;
    this.#s.dirty = [];
    // The calls fail once the processes are gone, just before close()
    // resolves, so a caller that awaits close() first still handles them.
    const failures: (() => void)[] = [];
    for (const waiting of [...this.#s.waiting]) {
      const error = new UnavailableError(
        `Step "${waiting.step}" (${waiting.fun}) failed: the sandbox was closed`,
        { details: { step: waiting.step, fun: waiting.fun } },
      );
      failures.push(() => waiting.fail(error));
    }
    for (const worker of [...this.#s.workers, ...this.#s.retiring]) {
      drop(
        this.#s,
        worker,
        (pending) =>
          pending.entry === undefined
            ? new UnavailableError("The sandbox was closed")
            : new UnavailableError(
              `Step "${pending.step}" (${pending.entry.name}) failed: the sandbox was closed`,
              { details: { step: pending.step, fun: pending.entry.name } },
            ),
        failures,
      );
    }
    watchMemory(this.#s);
    await Promise.all([
      ...this.#s.ended,
      ...[...this.#s.moduleStates.values()].map((m) => m.gate),
    ]);
    await Deno.remove(this.#s.dir, { recursive: true }).catch(() => {});
    for (const fail of failures) fail();
  }

  /** Calls once the module's graph check is over; a cancel meanwhile rejects at once. */
  #afterCheck(
    gate: Promise<void>,
    ref: FunctionRef,
    args: unknown[],
    kwargs: Record<string, unknown> | undefined,
    context: CallContext,
    streamed: boolean | "may",
  ): Promise<unknown> {
    const signal = context.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        signal.removeEventListener("abort", onAbort);
        this.#s.waiting.delete(waiting);
      };
      const waiting: WaitingCall = {
        step: context.step,
        fun: ref.name,
        fail: (error) => {
          done();
          reject(error);
        },
      };
      const onAbort = () => waiting.fail(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#s.waiting.add(waiting);
      gate.then(() => {
        // Cancelled meanwhile, or left for close() to fail.
        if (!this.#s.waiting.has(waiting) || this.#s.closed) return;
        done();
        this.call(ref, args, kwargs, context, streamed).then(resolve, reject);
      });
    });
  }

  /** Sends a request that is answered like a call, to a current process. */
  async #ask(
    message: (id: number) => ToWorker,
    failed: (error: WireFunctionError) => RpcError,
  ): Promise<unknown> {
    const worker = this.#s.workers[0] ?? spawn(this.#s);
    const id = this.#s.nextCallId;
    this.#s.nextCallId = nextId(id);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    worker.pending.set(id, new PendingCall(id, undefined, "", resolve, reject));
    this.#s.inFlight++;
    send(this.#s, worker, message(id));
    try {
      return await promise;
    } catch (err) {
      if (err instanceof RpcError) throw err;
      throw failed(err as WireFunctionError);
    }
  }
}

/** The streams among a call's arguments, with where each is (an index, or a kwargs key). */
function streamArguments(
  args: unknown[],
  kwargs: Record<string, unknown> | undefined,
): [number | string, StreamSource][] | undefined {
  let found: [number | string, StreamSource][] | undefined;
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    if (isStreamSource(value)) (found ??= []).push([i, value]);
  }
  for (const key in kwargs) {
    const value = kwargs[key];
    if (isStreamSource(value)) (found ??= []).push([key, value]);
  }
  return found;
}
