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
  AppError,
  FunctionError,
  InternalError,
  isAppErrorCode,
  LimitExceededError,
  OverloadedError,
  PermissionDeniedError,
  ProtocolError,
  RpcError,
  UnavailableError,
} from "../protocol/errors.ts";
import type { CallContext } from "../registry/registry.ts";
import { denoExecutable } from "./_deno.ts";
import { allowedPaths, covers } from "./_paths.ts";
import { OUT_OF_MEMORY, SandboxProcess } from "./_process.ts";
import {
  type CallMessage,
  checkSource,
  type DefineMessage,
  type FromWorker,
  type HostArgs,
  type LoadFailure,
  type ToWorker,
  type WireFunctionError,
} from "./_protocol.ts";
import { checkModuleGraph } from "./module_graph.ts";
import { SandboxPolicyError } from "./policy_error.ts";
import { type FunctionPermissions, profileKey, toDenoFlags } from "./permissions.ts";

const HOST_URL = new URL("./_host.ts", import.meta.url);
/** How often the resident memory of each process is compared with its cap. */
const MEMORY_CHECK_MS = 100;
/** Environment variables every sandbox process gets (when set): what Deno itself reads. */
const DENO_ENV = [
  "DENO_DIR",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "DENO_AUTH_TOKENS",
  // Deno trusts NODE_EXTRA_CA_CERTS too (a machine behind a TLS-inspecting proxy needs it).
  "NODE_EXTRA_CA_CERTS",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NPM_CONFIG_REGISTRY",
  "HOME",
  "XDG_CACHE_HOME",
  "TMPDIR",
  "PATH",
  "SYSTEMROOT",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
];

/**
 * A function exported by a module. The module is loaded only inside the
 * sandbox processes, never in the calling process, and only after its
 * module graph passed `checkModuleGraph()`.
 *
 * @example
 * ```ts ignore
 * import type { ModuleFunctionSpec } from "./pool.ts";
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
 * It is compiled inside the sandbox processes: closures over the caller's
 * variables and the caller's imports are not available.
 *
 * @example
 * ```ts ignore
 * import type { SourceFunctionSpec } from "./pool.ts";
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
 * import type { FunctionSpec } from "./pool.ts";
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
 * import type { FunctionRef } from "./pool.ts";
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
 * import type { WorkerPoolOptions } from "./pool.ts";
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
   * Calls in flight on a process before calls go to another process.
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
   * {@linkcode OverloadedError}.
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

/** A module of the pool, and where its graph check stands. */
interface ModuleState {
  readonly url: string;
  /** Its loader's index in the main module, once its graph passed. */
  index: number | null;
  /** Settles when the graph check ends; `null` after. */
  gate: Promise<void> | null;
  /** Why it may not load: a graph beyond its permissions, or a graph that cannot be read. */
  error: Error | null;
}

/** A call waiting for its module's graph check. */
interface WaitingCall {
  readonly step: string;
  readonly fun: string;
  /** Rejects it (cancelled, or the pool closed). */
  fail(error: unknown): void;
}

interface FunctionEntry {
  readonly id: number;
  readonly name: string;
  readonly module: ModuleState | undefined;
  readonly define: DefineMessage;
}

/**
 * A call sent to a process and not answered yet. It is its own abort
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
}

/**
 * The URL of a sandboxed module given as a URL or a path (resolved against
 * the current directory).
 *
 * @param module The module.
 * @returns Its URL.
 * @throws {TypeError} when it is neither.
 *
 * @example
 * ```ts ignore
 * import { moduleUrl } from "./pool.ts";
 * console.log(moduleUrl("/srv/fns.ts")); // file:///srv/fns.ts
 * ```
 */
export function moduleUrl(module: string | URL): string {
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
    JSON.stringify(HOST_URL.href)
  };\nserve([\n${loaders}\n]);\n`;
  return `data:application/javascript,${encodeURIComponent(source)}`;
}

/** The environment of a sandbox process: what Deno needs, and the variables the profile declares. */
function processEnv(permissions: FunctionPermissions): Record<string, string> {
  const env: Record<string, string> = {};
  let all: Record<string, string> = {};
  try {
    all = Deno.env.toObject();
  } catch {
    // No env access here: the process gets only what is set below.
  }
  for (const name of DENO_ENV) if (all[name] !== undefined) env[name] = all[name]!;
  const declared = permissions.env;
  for (const [name, value] of Object.entries(all)) {
    if (
      declared === true ||
      (Array.isArray(declared) &&
        declared.some((e) => e.endsWith("*") ? name.startsWith(e.slice(0, -1)) : e === name))
    ) env[name] = value;
  }
  env.NO_COLOR = "1";
  env.DENO_NO_UPDATE_CHECK = "1";
  return env;
}

/**
 * What a process of `permissions` must be granted besides them to connect to
 * a socket in `dir`: `read`, `write` and `net` (`unix:` paths), except those
 * the profile already grants there. Each is revoked once it is connected.
 */
function connectGrants(permissions: FunctionPermissions, dir: string): HostArgs["revoke"] {
  const socket = `${dir}/0.sock`;
  const grants: HostArgs["revoke"] = [];
  if (!covers(allowedPaths(permissions.read), socket)) grants.push("read");
  if (!covers(allowedPaths(permissions.write), socket)) grants.push("write");
  if (permissions.net !== true) grants.push("net");
  return grants;
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
  readonly #deno: string;
  readonly #config: string | null;
  readonly #flags: string[];
  readonly #env: Record<string, string>;
  /** A private folder (0700) for the processes' sockets. */
  readonly #dir: string;
  /** The grants a process needs to connect to its socket, besides its profile. */
  readonly #socketGrants: HostArgs["revoke"];
  readonly #maxFrameBytes: number;
  readonly #maxWorkers: number;
  readonly #perWorker: number;
  readonly #stallMs: number;
  readonly #maxInFlight: number;
  readonly #cancelGraceMs: number;
  readonly #debug: boolean;
  #workers: PoolWorker[] = [];
  #retiring = new Set<PoolWorker>();
  #modules: string[] = [];
  #moduleStates = new Map<string, ModuleState>();
  #mainUrl: string;
  #byRef = new WeakMap<object, FunctionEntry>();
  #waiting = new Set<WaitingCall>();
  #byKey = new Map<string, FunctionEntry>();
  #nextFunctionId = 1;
  #nextCallId = 1;
  #inFlight = 0;
  #calls = 0;
  #denials = 0;
  #overloaded = 0;
  #crashes = 0;
  #coldStartMs: number | null = null;
  #dirty: PoolWorker[] = [];
  #flushQueued = false;
  #broken: string | undefined;
  #memoryTimer: ReturnType<typeof setInterval> | undefined;
  #closing: Promise<void> | null = null;
  /** `/proc` cannot be read here: only the V8 heap limit applies. */
  #memoryUnreadable = false;
  #closed = false;
  readonly #ended = new Set<Promise<void>>();

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
    this.permissions = permissions;
    this.profile = profileKey(permissions);
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
    this.memoryMb = options.memoryMb ?? 512;
    if (!(Number.isInteger(this.memoryMb) && this.memoryMb >= 32)) {
      throw new RangeError(`Invalid memoryMb ${this.memoryMb}: expected an integer >= 32`);
    }
    this.#maxFrameBytes = positive("maxFrameBytes", options.maxFrameBytes ?? 64 * 1024 * 1024);
    this.#debug = options.debug ?? false;
    this.#deno = options.deno ?? denoExecutable();
    this.#config = options.config ?? null;
    this.#flags = [
      "--quiet",
      "--no-lock",
      ...(this.#config === null ? ["--no-config"] : ["--config", this.#config]),
      ...toDenoFlags(permissions, [HOST_URL]),
      `--v8-flags=--max-old-space-size=${this.memoryMb}`,
    ];
    this.#env = processEnv(permissions);
    this.#dir = Deno.makeTempDirSync({ prefix: "mpreg-sandbox-" });
    this.#socketGrants = connectGrants(permissions, this.#dir);
    this.#mainUrl = mainModule(this.#modules);
    try {
      this.#spawn();
    } catch (err) {
      Deno.removeSync(this.#dir, { recursive: true });
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
    this.#entry(ref);
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
    if (this.#closed) throw new UnavailableError("The sandbox is closed");
    const state = this.#module(moduleUrl(module));
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
   * @param args Positional arguments (sent as msgpack, as on the wire).
   * @param kwargs Keyword arguments, passed as a trailing object when not empty.
   * @param context The call's context: `signal` aborts the call in the
   *   process (the function sees an aborted `this.signal`); the rest is
   *   passed to the function as `this`.
   * @returns The function's value (sent back as msgpack).
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
    const module = entry.module;
    if (module !== undefined) {
      if (module.gate !== null) return this.#afterCheck(module.gate, ref, args, kwargs, context);
      if (module.error !== null) return Promise.reject(this.#moduleError(entry, context.step));
    }
    if (this.#broken !== undefined) {
      return Promise.reject(
        new InternalError(
          `Step "${context.step}" (${entry.name}) failed: the sandbox cannot start processes: ${this.#broken}`,
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
          `Step "${context.step}" (${entry.name}) failed: no sandbox process could be started: ${
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
    if (this.#closed) throw new UnavailableError("The sandbox is closed");
    const modules = [...this.#moduleStates.values()];
    await Promise.all(modules.map((m) => m.gate));
    for (const m of modules) if (m.error !== null) throw m.error;
    if (this.#broken !== undefined) {
      throw new InternalError(`The sandbox cannot start processes: ${this.#broken}`, {
        details: { profile: this.profile, reason: this.#broken },
      });
    }
    const failures = await this.#ask(
      (id) => ({ check: id }),
      (error) => new InternalError(`The sandbox check failed: ${error.message}`),
    ) as LoadFailure[];
    if (failures.length === 0) return;
    const lines = failures.map((f) => {
      const entry = this.#byKeyOfId(f.fn);
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
    for (const worker of [...this.#workers, ...this.#retiring]) {
      residentBytes += worker.process.residentBytes() ?? 0;
    }
    return {
      profile: this.profile,
      memoryMb: this.memoryMb,
      workers: this.#workers.length + this.#retiring.size,
      inFlight: this.#inFlight,
      calls: this.#calls,
      denials: this.#denials,
      overloaded: this.#overloaded,
      crashes: this.#crashes,
      coldStartMs: this.#coldStartMs,
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
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#dirty = [];
    // The calls fail once the processes are gone, just before close()
    // resolves, so a caller that awaits close() first still handles them.
    const failures: (() => void)[] = [];
    for (const waiting of [...this.#waiting]) {
      const error = new UnavailableError(
        `Step "${waiting.step}" (${waiting.fun}) failed: the sandbox was closed`,
        { details: { step: waiting.step, fun: waiting.fun } },
      );
      failures.push(() => waiting.fail(error));
    }
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
        failures,
      );
    }
    this.#watchMemory();
    await Promise.all([
      ...this.#ended,
      ...[...this.#moduleStates.values()].map((m) => m.gate),
    ]);
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    for (const fail of failures) fail();
  }

  /** Calls once the module's graph check is over; a cancel meanwhile rejects at once. */
  #afterCheck(
    gate: Promise<void>,
    ref: FunctionRef,
    args: unknown[],
    kwargs: Record<string, unknown> | undefined,
    context: CallContext,
  ): Promise<unknown> {
    const signal = context.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        signal.removeEventListener("abort", onAbort);
        this.#waiting.delete(waiting);
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
      this.#waiting.add(waiting);
      gate.then(() => {
        // Cancelled meanwhile, or left for close() to fail.
        if (!this.#waiting.has(waiting) || this.#closed) return;
        done();
        this.call(ref, args, kwargs, context).then(resolve, reject);
      });
    });
  }

  /** Sends a request that is answered like a call, to a current process. */
  async #ask(
    message: (id: number) => ToWorker,
    failed: (error: WireFunctionError) => RpcError,
  ): Promise<unknown> {
    const worker = this.#workers[0] ?? this.#spawn();
    const id = this.#nextCallId;
    this.#nextCallId = nextId(id);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    worker.pending.set(id, new PendingCall(id, undefined, "", resolve, reject));
    this.#inFlight++;
    this.#send(worker, message(id));
    try {
      return await promise;
    } catch (err) {
      if (err instanceof RpcError) throw err;
      throw failed(err as WireFunctionError);
    }
  }

  /** The state of a module, starting its graph check the first time it is seen. */
  #module(url: string): ModuleState {
    let state = this.#moduleStates.get(url);
    if (state !== undefined) return state;
    const created: ModuleState = { url, index: null, gate: null, error: null };
    this.#moduleStates.set(url, created);
    created.gate = checkModuleGraph(url, this.permissions, {
      deno: this.#deno,
      config: this.#config,
    }).then(
      () => {
        created.gate = null;
        if (this.#closed) return;
        created.index = this.#modules.length;
        this.#modules.push(url);
        for (const entry of this.#byKey.values()) {
          if (entry.module === created) entry.define.module = created.index;
        }
        this.#newGeneration();
      },
      (err: unknown) => {
        created.gate = null;
        created.error = err instanceof Error ? err : new Error(String(err));
      },
    );
    state = created;
    return state;
  }

  #moduleError(entry: FunctionEntry, step: string): RpcError {
    const error = entry.module!.error!;
    if (error instanceof SandboxPolicyError) {
      this.#denials++;
      return new SandboxPolicyError(`Step "${step}" (${entry.name}) refused: ${error.message}`, {
        details: { step, fun: entry.name, ...(error.details as Record<string, unknown>) },
        cause: error,
      });
    }
    return new InternalError(
      `Step "${step}" (${entry.name}) failed: the sandboxed function could not be loaded from ${
        entry.module!.url
      }: ${error.message}`,
      { details: { step, fun: entry.name }, cause: error },
    );
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
      const state = module === undefined ? undefined : this.#module(module);
      if (state !== undefined) {
        define.module = state.index ?? -1;
        define.exportName = exportName!;
      }
      entry = { id: define.define, name: ref.name, module: state, define };
      this.#byKey.set(key, entry);
      // A module still being checked is defined with its generation.
      if (state === undefined || state.index !== null) {
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

  /** Starts a process that knows every checked module; current ones retire when idle. */
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
    let entry: PoolWorker | undefined = undefined;
    const process = new SandboxProcess({
      deno: this.#deno,
      flags: this.#flags,
      main: this.#mainUrl,
      dir: this.#dir,
      maxFrameBytes: this.#maxFrameBytes,
      revoke: this.#socketGrants,
      env: this.#env,
      limits: {
        maxFrameBytes: this.#maxFrameBytes,
        maxDepth: 256,
        maxElements: this.#maxFrameBytes,
        maxStringBytes: this.#maxFrameBytes,
      },
      onMessages: (messages) => this.#receive(entry!, messages),
      onExit: (reason) => {
        this.#ended.delete(process.ended);
        this.#lost(entry!, reason);
      },
    });
    this.#ended.add(process.ended);
    const worker: PoolWorker = {
      process,
      pending: new IdTable(),
      cancel: (pending) => this.#cancel(worker, pending),
      lastAnswer: Date.now(),
      batching: false,
      outbox: [],
      ready: false,
      retiring: false,
      dead: false,
      overMemory: false,
    };
    entry = worker;
    this.#workers.push(worker);
    for (const fn of this.#byKey.values()) {
      if (fn.module === undefined || fn.module.index !== null) worker.outbox.push(fn.define);
    }
    if (worker.outbox.length > 0) this.#schedule(worker);
    this.#watchMemory();
    return worker;
  }

  /** Runs the memory check while processes are alive, and only then. */
  #watchMemory(): void {
    const alive = !this.#closed && !this.#memoryUnreadable &&
      this.#workers.length + this.#retiring.size > 0;
    if (alive && this.#memoryTimer === undefined) {
      this.#memoryTimer = setInterval(() => this.#checkMemory(), MEMORY_CHECK_MS);
    } else if (!alive && this.#memoryTimer !== undefined) {
      clearInterval(this.#memoryTimer);
      this.#memoryTimer = undefined;
    }
  }

  #checkMemory(): void {
    const cap = this.memoryMb * 1024 * 1024;
    for (const worker of [...this.#workers, ...this.#retiring]) {
      const bytes = worker.process.residentBytes();
      if (bytes === null) {
        // No /proc here (or no read access to it): only the V8 heap limit applies.
        this.#memoryUnreadable = true;
        this.#watchMemory();
        return;
      }
      if (bytes > cap && !worker.dead) {
        worker.overMemory = true;
        worker.process.kill(
          `used ${Math.round(bytes / 1048576)} MiB of memory, over its cap of ${this.memoryMb} MiB`,
        );
      }
    }
  }

  #pick(): PoolWorker {
    let best: PoolWorker | undefined;
    for (const worker of this.#workers) {
      const load = worker.pending.size;
      if (load === 0) {
        worker.lastAnswer = Date.now();
        return worker;
      }
      // A process already taking calls in this batch keeps taking them: the
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
        worker.process.send(batch);
      } catch {
        this.#sendOneByOne(worker, batch);
      }
    }
  };

  /** A batch failed to encode: send each message alone and fail the calls that cannot be sent. */
  #sendOneByOne(worker: PoolWorker, batch: ToWorker[]): void {
    for (const message of batch) {
      try {
        worker.process.send([message]);
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
    if (worker.dead) return;
    worker.lastAnswer = Date.now();
    for (const message of messages) {
      if (Array.isArray(message)) {
        const pending = worker.pending.get(message[0]);
        if (pending === undefined) return this.#violation(worker, message[0]);
        this.#settle(worker, pending);
        if (!pending.answered) pending.resolve(message[1]);
      } else if ("id" in message) {
        const pending = worker.pending.get(message.id);
        if (pending === undefined) return this.#violation(worker, message.id);
        this.#settle(worker, pending);
        if (pending.entry === undefined) {
          pending.reject(message.error);
          continue;
        }
        const error = this.#error(pending, message.error);
        if (!pending.answered) pending.reject(error);
      } else {
        // `ready`: the process checked it is the first message and carries its token.
        worker.ready = true;
        this.#coldStartMs = Math.round(performance.now() - worker.process.startedAt);
      }
    }
    if (worker.retiring && worker.pending.size === 0) this.#terminate(worker);
  }

  /** An answer nobody asked for: the process is not speaking the protocol. */
  #violation(worker: PoolWorker, id: number): void {
    worker.process.kill(`answered call ${id}, which it was never sent or had answered already`);
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
          `was killed: "${pending.entry?.name}" kept running ${this.#cancelGraceMs} ms after its call was cancelled`,
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
    if (error.app !== undefined && isAppErrorCode(error.app.code)) {
      return new AppError(error.app.code, error.message, {
        details: error.app.details,
        cause: rebuild(error),
      });
    }
    if (error.phase === "arguments") {
      // The call did not match the function's parameters: it did not run.
      return new ProtocolError(`Function "${fun}" ${error.message} (step "${step}")`, {
        details: {
          step,
          fun,
          expected: { required: error.call?.required, max: error.call?.max },
          received: error.call?.received,
          kwargs: error.call?.kwargs,
        },
      });
    }
    if (error.phase === "load") {
      const where = pending.entry?.module === undefined ? "" : ` from ${pending.entry.module.url}`;
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

  /** A process exited, crashed or broke the protocol: fail its calls and replace it. */
  #lost(worker: PoolWorker, reason: string): void {
    if (worker.dead) return;
    const wasCurrent = !worker.retiring;
    const wasReady = worker.ready;
    this.#crashes++;
    const memory = worker.overMemory || reason === OUT_OF_MEMORY;
    if (reason === OUT_OF_MEMORY) {
      reason = `ran out of memory: its V8 heap is capped at ${this.memoryMb} MiB`;
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
            max: this.memoryMb,
          },
        })
        : new InternalError(message, {
          details: { ...(fun === undefined ? { profile: this.profile } : { step, fun }), reason },
        });
    };
    this.#drop(worker, (pending) => failure(pending.step, pending.entry?.name));
    if (this.#closed || !wasCurrent) return;
    if (!wasReady && !memory) {
      this.#broken = reason;
      return;
    }
    if (this.#workers.length === 0) this.#spawn();
  }

  /** Kills a process and rejects its calls with `error(pending)`. */
  /**
   * Kills a process and rejects its calls with `error(pending)`, at once or,
   * given `later`, when the caller runs what it collected there.
   */
  #drop(
    worker: PoolWorker,
    error: (pending: PendingCall) => RpcError,
    later?: (() => void)[],
  ): void {
    this.#terminate(worker);
    for (const pending of worker.pending.values()) {
      this.#settle(worker, pending);
      if (pending.answered) continue;
      const reason = error(pending);
      if (later === undefined) pending.reject(reason);
      else later.push(() => pending.reject(reason));
    }
  }

  #terminate(worker: PoolWorker): void {
    if (worker.dead) return;
    worker.dead = true;
    worker.retiring = true;
    worker.process.kill();
    this.#retiring.delete(worker);
    const index = this.#workers.indexOf(worker);
    if (index >= 0) this.#workers.splice(index, 1);
    worker.outbox = [];
    this.#watchMemory();
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
