// Copyright 2026 the mpreg authors. MIT license.
/**
 * A warm pool of Deno Workers sharing one permission profile.
 *
 * Calls go to the first worker that is keeping up: fewer than `perWorker`
 * calls in flight, and an answer within the last `stallMs` whenever it has
 * calls in flight. A new worker is started (up to `maxWorkers`) only when no
 * worker keeps up, so quick functions share one worker and one message per
 * batch, while slow or blocking ones spread over several. Messages are
 * batched in both directions (everything sent in one turn goes as one
 * `postMessage`, flushed in a microtask), so with many calls in flight a
 * sandboxed call costs a share of one message.
 *
 * @example Run a function with no permissions at all
 * ```ts ignore
 * import { WorkerPool } from "@mpreg/mpreg";
 * const pool = new WorkerPool({});
 * const add = { name: "add", source: "(a, b) => a + b" };
 * const context = {
 *   signal: new AbortController().signal,
 *   deadline: Date.now() + 5_000,
 *   step: "add",
 *   requestId: 1,
 *   node: "n1",
 * };
 * console.log(await pool.call(add, [1, 2], undefined, context)); // 3
 * await pool.close();
 * ```
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { IdTable, nextId } from "../_util/id_table.ts";
import {
  FunctionError,
  InternalError,
  OverloadedError,
  PermissionDeniedError,
  type RpcError,
  UnavailableError,
} from "../protocol/errors.ts";
import type { CallContext } from "../registry/registry.ts";
import {
  type CallMessage,
  checkSource,
  type DefineMessage,
  type FromWorker,
  type LoadFailure,
  type ToWorker,
  type WireFunctionError,
} from "./_protocol.ts";
import { type FunctionPermissions, profileKey, toWorkerPermissions } from "./permissions.ts";

const RUNTIME_URL = new URL("./_worker.ts", import.meta.url).href;

/**
 * A function exported by a module. The module is loaded only inside the
 * workers, never in the calling process.
 *
 * @example
 * ```ts ignore
 * import type { ModuleFunctionSpec } from "@mpreg/mpreg";
 * const spec: ModuleFunctionSpec = { module: "file:///srv/functions.ts", exportName: "add" };
 * console.log(spec.exportName);
 * ```
 */
export interface ModuleFunctionSpec {
  /** The module: a URL (`file:`, `https:`, …) or a path, resolved against the current directory. */
  module: string | URL;
  /**
   * The export to call.
   *
   * @default {the function's name}
   */
  exportName?: string;
}

/**
 * A self-contained function given as source text, usually `fn.toString()`.
 * It is compiled inside the workers: closures over the caller's variables
 * and the caller's imports are not available.
 *
 * @example
 * ```ts ignore
 * import type { SourceFunctionSpec } from "@mpreg/mpreg";
 * const add = (a: number, b: number): number => a + b;
 * const spec: SourceFunctionSpec = { source: add.toString() };
 * console.log(spec.source);
 * ```
 */
export interface SourceFunctionSpec {
  /** The function's source: a function expression, an arrow function or a method. */
  source: string;
}

/**
 * Where a sandboxed function comes from.
 *
 * @example
 * ```ts ignore
 * import type { FunctionSpec } from "@mpreg/mpreg";
 * const specs: FunctionSpec[] = [{ module: "./functions.ts", exportName: "add" }, { source: "() => 1" }];
 * console.log(specs.length);
 * ```
 */
export type FunctionSpec = ModuleFunctionSpec | SourceFunctionSpec;

/**
 * A function a {@linkcode WorkerPool} can call: a {@linkcode FunctionSpec}
 * plus the name used in messages and errors.
 *
 * @example
 * ```ts ignore
 * import type { FunctionRef } from "@mpreg/mpreg";
 * const ref: FunctionRef = { name: "add", source: "(a, b) => a + b" };
 * console.log(ref.name);
 * ```
 */
export type FunctionRef = { readonly name: string } & FunctionSpec;

/**
 * Options of a {@linkcode WorkerPool}.
 *
 * @example
 * ```ts ignore
 * import type { WorkerPoolOptions } from "@mpreg/mpreg";
 * const options: WorkerPoolOptions = { maxWorkers: 2, maxInFlight: 256 };
 * console.log(options);
 * ```
 */
export interface WorkerPoolOptions {
  /**
   * The most workers the pool runs.
   *
   * @default {navigator.hardwareConcurrency}
   */
  maxWorkers?: number;
  /**
   * Calls in flight on a worker before calls go to another worker.
   *
   * @default {256}
   */
  perWorker?: number;
  /**
   * A worker with calls in flight that has answered none for this long
   * (milliseconds) is busy: new calls go to another worker, started if
   * needed.
   *
   * @default {2}
   */
  stallMs?: number;
  /**
   * Calls in flight on the whole pool; beyond it calls fail at once with an
   * {@linkcode OverloadedError}.
   *
   * @default {1024}
   */
  maxInFlight?: number;
  /**
   * How long a cancelled call may keep running before its worker is
   * terminated and replaced (failing the worker's other calls). `Infinity`
   * never terminates.
   *
   * @default {10_000}
   */
  cancelGraceMs?: number;
  /**
   * Include the function's stack in {@linkcode FunctionError} details.
   *
   * @default {false}
   */
  debug?: boolean;
}

/**
 * Counters of a {@linkcode WorkerPool}, for metrics.
 *
 * @example
 * ```ts ignore
 * import { WorkerPool } from "@mpreg/mpreg";
 * const pool = new WorkerPool({});
 * const { workers, inFlight, calls, denials } = pool.stats();
 * console.log(workers, inFlight, calls, denials); // 1 0 0 0
 * await pool.close();
 * ```
 */
export interface WorkerPoolStats {
  /** The pool's {@linkcode profileKey}. */
  profile: string;
  /** Live workers, including retiring ones. */
  workers: number;
  /** Calls sent to a worker and not answered yet (cancelled ones included until they stop). */
  inFlight: number;
  /** Calls accepted since the pool started. */
  calls: number;
  /** Calls that failed with a permission denial. */
  denials: number;
  /** Calls refused with an {@linkcode OverloadedError}. */
  overloaded: number;
  /** Workers that exited, crashed or were terminated as stuck, and were replaced. */
  crashes: number;
}

interface FunctionEntry {
  readonly id: number;
  readonly name: string;
  readonly module: string | undefined;
  readonly define: DefineMessage;
}

/**
 * A call sent to a worker and not answered yet. It is its own abort
 * listener (`handleEvent`), which saves a closure per call.
 */
class PendingCall implements EventListenerObject {
  /** The caller got its answer already (it cancelled); only the slot is held. */
  answered = false;
  /** Registered as an abort listener on `signal`. */
  listening = false;
  grace: ReturnType<typeof setTimeout> | undefined = undefined;

  constructor(
    readonly id: number,
    readonly entry: FunctionEntry | undefined,
    readonly step: string,
    readonly resolve: (value: unknown) => void,
    readonly reject: (reason: unknown) => void,
    readonly signal: AbortSignal | undefined = undefined,
    readonly onAbort: ((pending: PendingCall) => void) | undefined = undefined,
  ) {}

  handleEvent(): void {
    this.listening = false;
    this.onAbort?.(this);
  }
}

interface PoolWorker {
  readonly worker: Worker;
  readonly pending: IdTable<PendingCall>;
  /** Cancels one of this worker's calls: shared by its calls' abort listeners. */
  readonly cancel: (pending: PendingCall) => void;
  /** When it last answered, or last became busy (`Date.now()`). */
  lastAnswer: number;
  /** `#pick()` chose it for a call in the batch not flushed yet. */
  batching: boolean;
  outbox: ToWorker[];
  ready: boolean;
  retiring: boolean;
  dead: boolean;
}

function moduleUrl(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== "string" || module === "") {
    throw new TypeError("Invalid sandboxed module: expected a URL or a path");
  }
  if (/^[a-z][a-z0-9+.-]+:/i.test(module)) {
    try {
      return new URL(module).href;
    } catch {
      throw new TypeError(`Invalid sandboxed module "${module}": not a URL`);
    }
  }
  return pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
}

function mainModule(modules: readonly string[]): string {
  const loaders = modules.map((url) => `  () => import(${JSON.stringify(url)}),`).join("\n");
  const source = `import { serve } from ${
    JSON.stringify(RUNTIME_URL)
  };\nserve([\n${loaders}\n]);\n`;
  return `data:application/javascript,${encodeURIComponent(source)}`;
}

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

/**
 * Deno Workers with one permission profile, started warm, with a
 * concurrency limit, cancellation and crash recovery.
 *
 * Every worker is created with {@linkcode toWorkerPermissions} of the
 * profile, so it holds exactly the declared permissions (none for `{}`).
 * User modules are loaded from a generated main module (see
 * `src/sandbox/_worker.ts`), which needs no permission in the worker.
 *
 * Errors are mpreg errors naming the step and the function:
 * {@linkcode FunctionError} when the function throws,
 * {@linkcode PermissionDeniedError} when it reaches beyond its permissions,
 * {@linkcode InternalError} when it cannot be loaded or its worker dies,
 * {@linkcode OverloadedError} beyond `maxInFlight`, and
 * {@linkcode UnavailableError} once closed. A cancelled call rejects at once
 * with the signal's reason.
 *
 * @example Call a module's export with read access to one folder
 * ```ts ignore
 * import { WorkerPool } from "@mpreg/mpreg";
 * const pool = new WorkerPool({ read: ["/srv/data"] });
 * const ref = { name: "readData", module: "file:///srv/functions.ts" };
 * const context = {
 *   signal: AbortSignal.timeout(5_000),
 *   deadline: Date.now() + 5_000,
 *   step: "s1",
 *   requestId: 1,
 *   node: "n1",
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
  readonly #workerPermissions: Deno.PermissionOptionsObject;
  readonly #maxWorkers: number;
  readonly #perWorker: number;
  readonly #stallMs: number;
  readonly #maxInFlight: number;
  readonly #cancelGraceMs: number;
  readonly #debug: boolean;
  #workers: PoolWorker[] = [];
  #retiring = new Set<PoolWorker>();
  #modules: string[] = [];
  #moduleIndex = new Map<string, number>();
  #mainUrl: string;
  #byRef = new WeakMap<object, FunctionEntry>();
  #byKey = new Map<string, FunctionEntry>();
  #nextFunctionId = 1;
  #nextCallId = 1;
  #inFlight = 0;
  #calls = 0;
  #denials = 0;
  #overloaded = 0;
  #crashes = 0;
  #dirty: PoolWorker[] = [];
  #flushQueued = false;
  #broken: string | undefined;
  #closed = false;

  /**
   * Creates the pool and its first worker.
   *
   * @param permissions The profile, normalized (see `normalizePermissions`).
   * @param options Sizes and limits.
   * @throws {Deno.errors.NotCapable} when this process lacks a permission the
   *   profile grants (a worker cannot escalate its parent's permissions).
   * @throws {RangeError} for a size or limit below 1.
   */
  constructor(permissions: FunctionPermissions, options: WorkerPoolOptions = {}) {
    this.permissions = permissions;
    this.profile = profileKey(permissions);
    this.#workerPermissions = toWorkerPermissions(permissions);
    this.#maxWorkers = positive("maxWorkers", options.maxWorkers ?? navigator.hardwareConcurrency);
    this.#perWorker = positive("perWorker", options.perWorker ?? 256);
    this.#stallMs = options.stallMs ?? 2;
    if (!(this.#stallMs >= 0)) {
      throw new RangeError(`Invalid stallMs ${this.#stallMs}: expected >= 0`);
    }
    this.#maxInFlight = positive("maxInFlight", options.maxInFlight ?? 1024);
    this.#cancelGraceMs = options.cancelGraceMs ?? 10_000;
    if (!(this.#cancelGraceMs >= 0)) {
      throw new RangeError(`Invalid cancelGraceMs ${this.#cancelGraceMs}: expected >= 0`);
    }
    this.#debug = options.debug ?? false;
    this.#mainUrl = mainModule(this.#modules);
    this.#spawn();
  }

  /**
   * Makes a function known to the pool's workers ahead of its first call.
   * A function from a module the pool has not seen yet makes the pool start
   * new workers with that module and retire the current ones once their
   * calls are done. `call()` defines unknown functions itself.
   *
   * @param ref The function.
   * @throws {TypeError} for a bad module URL or source that does not compile.
   */
  define(ref: FunctionRef): void {
    this.#entry(ref);
  }

  /**
   * Calls a function in a worker.
   *
   * @param ref The function.
   * @param args Positional arguments (structured-cloned).
   * @param kwargs Keyword arguments, passed as a trailing object when not empty.
   * @param context The call's context: `signal` aborts the call in the
   *   worker (the function sees an aborted `this.signal`); the rest is
   *   passed to the function as `this`.
   * @returns The function's value (structured-cloned).
   */
  call(
    ref: FunctionRef,
    args: unknown[],
    kwargs: Record<string, unknown> | undefined,
    context: CallContext,
  ): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(
        new UnavailableError(`Step "${context.step}" (${ref.name}) failed: the sandbox is closed`, {
          details: { step: context.step, fun: ref.name },
        }),
      );
    }
    let entry: FunctionEntry;
    try {
      entry = this.#entry(ref);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#broken !== undefined) {
      return Promise.reject(
        new InternalError(
          `Step "${context.step}" (${entry.name}) failed: the sandbox cannot start workers: ${this.#broken}`,
          { details: { step: context.step, fun: entry.name, reason: this.#broken } },
        ),
      );
    }
    const signal = context.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#inFlight >= this.#maxInFlight) {
      this.#overloaded++;
      return Promise.reject(
        new OverloadedError(
          `Step "${context.step}" (${entry.name}) refused: the sandbox for profile ${this.profile} has ${this.#inFlight} calls in flight (limit ${this.#maxInFlight})`,
          { details: { step: context.step, fun: entry.name, limit: this.#maxInFlight } },
        ),
      );
    }
    let worker: PoolWorker;
    try {
      worker = this.#pick();
    } catch (err) {
      return Promise.reject(
        new InternalError(
          `Step "${context.step}" (${entry.name}) failed: no sandbox worker could be started: ${
            err instanceof Error ? err.message : err
          }`,
          { details: { step: context.step, fun: entry.name }, cause: err },
        ),
      );
    }
    const id = this.#nextCallId;
    this.#nextCallId = nextId(id);
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
    signal.addEventListener("abort", pending);
    pending.listening = true;
    worker.pending.set(id, pending);
    this.#inFlight++;
    this.#calls++;
    this.#send(worker, message);
    return promise;
  }

  /**
   * Waits until a worker has loaded every defined function.
   *
   * @returns When every function loaded.
   * @throws {InternalError} naming each function that could not be loaded
   *   (missing module or export, a throw or a permission denial at import),
   *   or when no worker can start.
   */
  async ready(): Promise<void> {
    if (this.#closed) throw new UnavailableError("The sandbox is closed");
    if (this.#broken !== undefined) {
      throw new InternalError(`The sandbox cannot start workers: ${this.#broken}`, {
        details: { profile: this.profile, reason: this.#broken },
      });
    }
    const worker = this.#workers[0] ?? this.#spawn();
    const id = this.#nextCallId;
    this.#nextCallId = nextId(id);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    worker.pending.set(id, new PendingCall(id, undefined, "", resolve, reject));
    this.#inFlight++;
    this.#send(worker, { check: id });
    const failures = await promise as LoadFailure[];
    if (failures.length === 0) return;
    const lines = failures.map((f) => {
      const entry = this.#byKeyOfId(f.fn);
      const where = entry?.module === undefined ? "" : ` from ${entry.module}`;
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
    return {
      profile: this.profile,
      workers: this.#workers.length + this.#retiring.size,
      inFlight: this.#inFlight,
      calls: this.#calls,
      denials: this.#denials,
      overloaded: this.#overloaded,
      crashes: this.#crashes,
    };
  }

  /**
   * Terminates every worker and fails calls in flight with
   * {@linkcode UnavailableError}. Leaves no timer or op behind.
   *
   * @returns When done.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#dirty = [];
    for (const worker of [...this.#workers, ...this.#retiring]) {
      this.#drop(
        worker,
        (pending) =>
          pending.entry === undefined
            ? new UnavailableError("The sandbox was closed")
            : new UnavailableError(
              `Step "${pending.step}" (${pending.entry.name}) failed: the sandbox was closed`,
              { details: { step: pending.step, fun: pending.entry.name } },
            ),
      );
    }
    return Promise.resolve();
  }

  #entry(ref: FunctionRef): FunctionEntry {
    const known = this.#byRef.get(ref);
    if (known !== undefined) return known;
    if (
      typeof ref !== "object" || ref === null || typeof ref.name !== "string" || ref.name === ""
    ) {
      throw new TypeError(
        "Invalid sandboxed function: expected { name, module } or { name, source }",
      );
    }
    let key: string;
    let module: string | undefined;
    let exportName: string | undefined;
    let source: string | undefined;
    if ("source" in ref && ref.source !== undefined) {
      checkSource(ref.source);
      source = ref.source;
      key = `${ref.name}\0source\0${source}`;
    } else if ("module" in ref && ref.module !== undefined) {
      module = moduleUrl(ref.module);
      exportName = ref.exportName ?? ref.name;
      key = `${ref.name}\0module\0${module}\0${exportName}`;
    } else {
      throw new TypeError(
        `Invalid sandboxed function "${ref.name}": expected a module or a source`,
      );
    }
    let entry = this.#byKey.get(key);
    if (entry === undefined) {
      const define: DefineMessage = { define: this.#nextFunctionId++, name: ref.name };
      if (source !== undefined) define.source = source;
      let newModule = false;
      if (module !== undefined) {
        let index = this.#moduleIndex.get(module);
        if (index === undefined) {
          index = this.#modules.length;
          this.#modules.push(module);
          this.#moduleIndex.set(module, index);
          newModule = true;
        }
        define.module = index;
        define.exportName = exportName!;
      }
      entry = { id: define.define, name: ref.name, module, define };
      this.#byKey.set(key, entry);
      if (newModule) {
        this.#newGeneration();
      } else {
        for (const worker of this.#workers) this.#send(worker, define);
      }
    }
    this.#byRef.set(ref, entry);
    return entry;
  }

  #byKeyOfId(id: number): FunctionEntry | undefined {
    for (const entry of this.#byKey.values()) if (entry.id === id) return entry;
    return undefined;
  }

  /** Starts workers that know every module; current workers retire when idle. */
  #newGeneration(): void {
    this.#mainUrl = mainModule(this.#modules);
    this.#broken = undefined;
    if (this.#closed) return;
    const old = this.#workers;
    this.#workers = [];
    for (const worker of old) {
      worker.retiring = true;
      if (worker.pending.size === 0) this.#terminate(worker);
      else this.#retiring.add(worker);
    }
    this.#spawn();
  }

  #spawn(): PoolWorker {
    const worker = new Worker(this.#mainUrl, {
      type: "module",
      name: `mpreg sandbox (${this.profile})`,
      deno: { permissions: this.#workerPermissions },
    });
    const entry: PoolWorker = {
      worker,
      pending: new IdTable(),
      cancel: (pending) => this.#cancel(entry, pending),
      lastAnswer: Date.now(),
      batching: false,
      outbox: [],
      ready: false,
      retiring: false,
      dead: false,
    };
    worker.onmessage = (event: MessageEvent<FromWorker[]>) => this.#receive(entry, event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#lost(entry, `failed: ${event.message}`);
    };
    worker.onmessageerror = () => this.#lost(entry, "sent a message that could not be read");
    this.#workers.push(entry);
    for (const fn of this.#byKey.values()) entry.outbox.push(fn.define);
    if (entry.outbox.length > 0) this.#schedule(entry);
    return entry;
  }

  #pick(): PoolWorker {
    let best: PoolWorker | undefined;
    for (const worker of this.#workers) {
      const load = worker.pending.size;
      if (load === 0) {
        worker.lastAnswer = Date.now();
        return worker;
      }
      // A worker already taking calls in this batch keeps taking them: the
      // clock is read once per batch, not once per call.
      if (
        load < this.#perWorker &&
        (worker.batching || Date.now() - worker.lastAnswer <= this.#stallMs)
      ) {
        worker.batching = true;
        return worker;
      }
      if (best === undefined || load < best.pending.size) best = worker;
    }
    if (best === undefined || this.#workers.length < this.#maxWorkers) return this.#spawn();
    return best;
  }

  #send(worker: PoolWorker, message: ToWorker): void {
    worker.outbox.push(message);
    if (worker.outbox.length === 1) this.#schedule(worker);
  }

  #schedule(worker: PoolWorker): void {
    this.#dirty.push(worker);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  #flush = (): void => {
    this.#flushQueued = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const worker of dirty) {
      const batch = worker.outbox;
      worker.outbox = [];
      worker.batching = false;
      if (worker.dead || batch.length === 0) continue;
      try {
        worker.worker.postMessage(batch);
      } catch {
        this.#sendOneByOne(worker, batch);
      }
    }
  };

  /** A batch failed to clone: send each message alone and fail the calls that cannot be sent. */
  #sendOneByOne(worker: PoolWorker, batch: ToWorker[]): void {
    for (const message of batch) {
      try {
        worker.worker.postMessage([message]);
      } catch (err) {
        if (!Array.isArray(message)) continue;
        const pending = worker.pending.get(message[0]);
        if (pending === undefined) continue;
        this.#settle(worker, pending);
        if (!pending.answered) {
          const fun = pending.entry?.name;
          pending.reject(
            new InternalError(
              `Step "${pending.step}" (${fun}) failed: its arguments cannot be sent to the sandbox: ${
                err instanceof Error ? err.message : err
              }`,
              { details: { step: pending.step, fun }, cause: err },
            ),
          );
        }
      }
    }
  }

  #receive(worker: PoolWorker, messages: FromWorker[]): void {
    worker.lastAnswer = Date.now();
    for (const message of messages) {
      if (Array.isArray(message)) {
        const pending = worker.pending.get(message[0]);
        if (pending === undefined) continue;
        this.#settle(worker, pending);
        if (!pending.answered) pending.resolve(message[1]);
      } else if ("id" in message) {
        const pending = worker.pending.get(message.id);
        if (pending === undefined) continue;
        this.#settle(worker, pending);
        const error = this.#error(pending, message.error);
        if (!pending.answered) pending.reject(error);
      } else if ("ready" in message) {
        worker.ready = true;
      } else if ("exit" in message) {
        this.#lost(worker, message.exit);
        return;
      }
    }
    if (worker.retiring && worker.pending.size === 0) this.#terminate(worker);
  }

  /** Frees a call's slot and its listener and timer. */
  #settle(worker: PoolWorker, pending: PendingCall): void {
    worker.pending.delete(pending.id);
    this.#inFlight--;
    if (pending.listening) {
      pending.signal!.removeEventListener("abort", pending);
      pending.listening = false;
    }
    if (pending.grace !== undefined) {
      clearTimeout(pending.grace);
      pending.grace = undefined;
    }
  }

  #cancel(worker: PoolWorker, pending: PendingCall): void {
    if (pending.answered || worker.dead) return;
    pending.answered = true;
    const reason = pending.signal!.reason;
    pending.reject(reason);
    this.#send(worker, { cancel: pending.id, ...describeReason(reason) });
    if (Number.isFinite(this.#cancelGraceMs)) {
      pending.grace = setTimeout(() => {
        pending.grace = undefined;
        this.#lost(
          worker,
          `was terminated: "${pending.entry?.name}" kept running ${this.#cancelGraceMs} ms after its call was cancelled`,
        );
      }, this.#cancelGraceMs);
    }
  }

  #error(pending: PendingCall, error: WireFunctionError): RpcError {
    const step = pending.step;
    const fun = pending.entry?.name;
    if (error.denied !== undefined) {
      this.#denials++;
      const when = error.phase === "load" ? " while loading its module" : "";
      return new PermissionDeniedError(
        `Step "${step}" (${fun}) was denied ${error.denied}${when}: the function does not declare it (profile ${this.profile})`,
        { details: { step, fun, denied: error.denied }, cause: rebuild(error) },
      );
    }
    if (error.phase === "load") {
      const where = pending.entry?.module === undefined ? "" : ` from ${pending.entry.module}`;
      return new InternalError(
        `Step "${step}" (${fun}) failed: the sandboxed function could not be loaded${where}: ${error.name}: ${error.message}`,
        { details: { step, fun, name: error.name, message: error.message }, cause: rebuild(error) },
      );
    }
    const details: Record<string, unknown> = {
      step,
      fun,
      name: error.name,
      message: error.message,
    };
    if (this.#debug && error.stack !== undefined) details.stack = error.stack;
    return new FunctionError(`Step "${step}" (${fun}) failed: ${error.name}: ${error.message}`, {
      details,
      cause: rebuild(error),
    });
  }

  /** A worker exited or failed: fail its calls and replace it. */
  #lost(worker: PoolWorker, reason: string): void {
    if (worker.dead) return;
    const wasCurrent = !worker.retiring;
    const wasReady = worker.ready;
    this.#crashes++;
    this.#drop(
      worker,
      (pending) =>
        pending.entry === undefined
          ? new InternalError(`The sandbox worker ${reason}`, {
            details: { profile: this.profile, reason },
          })
          : new InternalError(
            `Step "${pending.step}" (${pending.entry.name}) failed: its sandbox worker ${reason}`,
            { details: { step: pending.step, fun: pending.entry.name, reason } },
          ),
    );
    if (this.#closed || !wasCurrent) return;
    if (!wasReady) {
      this.#broken = reason;
      return;
    }
    if (this.#workers.length === 0) this.#spawn();
  }

  /** Terminates a worker and rejects its calls with `error(pending)`. */
  #drop(worker: PoolWorker, error: (pending: PendingCall) => RpcError): void {
    this.#terminate(worker);
    for (const pending of worker.pending.values()) {
      this.#settle(worker, pending);
      if (!pending.answered) pending.reject(error(pending));
    }
  }

  #terminate(worker: PoolWorker): void {
    if (worker.dead) return;
    worker.dead = true;
    worker.retiring = true;
    worker.worker.terminate();
    this.#retiring.delete(worker);
    const index = this.#workers.indexOf(worker);
    if (index >= 0) this.#workers.splice(index, 1);
    worker.outbox = [];
  }
}

function positive(name: string, value: number): number {
  if (!(Number.isInteger(value) && value >= 1)) {
    throw new RangeError(`Invalid ${name} ${value}: expected an integer >= 1`);
  }
  return value;
}

/** A local Error standing for the function's error (kept as `cause`, never sent). */
function rebuild(error: WireFunctionError): Error {
  const err = new Error(error.message);
  err.name = error.name;
  if (error.stack !== undefined) err.stack = error.stack;
  return err;
}
