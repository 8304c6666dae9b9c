// Copyright 2026 the mpreg authors. MIT license.
/**
 * The sandbox of a node: one warm {@linkcode WorkerPool} of sandbox
 * processes per permission profile and memory cap, and an invoker per
 * sandboxed function.
 *
 * @example
 * ```ts ignore
 * import { Sandbox } from "./sandbox.ts";
 * const sandbox = new Sandbox();
 * const add = sandbox.load("add", { source: "(a, b) => a + b" }, {});
 * const context = {
 *   signal: new AbortController().signal,
 *   deadline: Date.now() + 5_000,
 *   step: "s1",
 *   requestId: 1,
 *   node: "n1",
 *   progress: () => {},
 * };
 * console.log(await add(context, [1, 2], undefined)); // 3
 * await sandbox.close();
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { PermissionDeniedError } from "../protocol/errors.ts";
import type { CallContext } from "../registry/registry.ts";
import { configFor } from "./_deno.ts";
import { scanSymlinks } from "./_paths.ts";
import { SandboxPolicyError } from "./policy_error.ts";
import {
  type FunctionPermissions,
  missingHostPermissionsSync,
  normalizePermissions,
  profileKey,
} from "./permissions.ts";
import {
  type FunctionRef,
  type FunctionSpec,
  moduleUrl,
  WorkerPool,
  type WorkerPoolOptions,
  type WorkerPoolStats,
} from "./pool.ts";

const log = getLogger(["mpreg", "sandbox"]);

/** The most directory entries read when looking for symlinks under a profile's folders. */
export const SYMLINK_SCAN_BOUND = 10_000;

/**
 * Runs one sandboxed function: the same shape as the registry's `Invoker`.
 * Its errors are mpreg errors: {@linkcode FunctionError} (details
 * `{ step, fun, name, message }`), {@linkcode PermissionDeniedError}
 * (details `{ step, fun, denied }`), {@linkcode InternalError},
 * {@linkcode OverloadedError}, or the signal's reason when cancelled.
 * With `streamed`, the value is the function's stream: a `StreamSource`
 * (see `WorkerPool.call`); with `"may"`, its stream if it returns one.
 *
 * @example
 * ```ts ignore
 * import type { SandboxInvoker } from "./sandbox.ts";
 * const invoke: SandboxInvoker = (_context, args) => Promise.resolve(args.length);
 * console.log(typeof invoke);
 * ```
 */
export type SandboxInvoker = (
  context: CallContext,
  args: unknown[],
  kwargs: Record<string, unknown> | undefined,
  streamed?: boolean | "may",
) => Promise<unknown>;

/**
 * Options of a {@linkcode Sandbox}: those of each of its pools
 * (`memoryMb` is the default cap; a function may set its own).
 *
 * @example
 * ```ts ignore
 * import type { SandboxOptions } from "./sandbox.ts";
 * const options: SandboxOptions = { maxWorkers: 2, maxInFlight: 512, memoryMb: 256 };
 * console.log(options);
 * ```
 */
export type SandboxOptions = WorkerPoolOptions;

/**
 * Per-function settings of {@linkcode Sandbox.load}.
 *
 * @example
 * ```ts ignore
 * import type { LoadOptions } from "./sandbox.ts";
 * const options: LoadOptions = { memoryMb: 128 };
 * console.log(options.memoryMb);
 * ```
 */
export interface LoadOptions {
  /**
   * The memory cap of the function's processes, in MiB; functions with equal
   * permissions and equal caps share a pool.
   *
   * @default {the sandbox's `memoryMb`, else 512}
   */
  memoryMb?: number;
}

/**
 * Counters of a {@linkcode Sandbox}: totals and one entry per pool.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type SandboxStats, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 })
 *   .register("one", () => 1, { sandbox: true })
 *   .start();
 * await using client = new Client(server.url);
 * assert.equal(await client.call("one"), 1);
 * const sandbox: SandboxStats | null = server.stats().sandbox;
 * assert.equal(sandbox?.pools, 1);
 * assert.equal(sandbox?.calls, 1);
 * ```
 */
export interface SandboxStats {
  /** How many pools (permission profiles). */
  pools: number;
  /** Live sandbox processes in all pools. */
  workers: number;
  /** Calls in flight in all pools. */
  inFlight: number;
  /** Calls accepted by all pools. */
  calls: number;
  /** Permission denials in all pools. */
  denials: number;
  /** One entry per pool, by profile. */
  profiles: WorkerPoolStats[];
}

/**
 * Runs functions in child Deno processes holding exactly the permissions
 * the functions declare, one warm pool per permission profile and memory cap
 * (functions with equal profiles share processes).
 *
 * Module functions are loaded only inside sandbox processes, never in this
 * process, and only once their module graph passed `checkModuleGraph()`.
 * Source functions (`{ source: fn.toString() }`) must be self-contained:
 * closures and imports are not available in the process.
 *
 * @example Read a file in a sandbox allowed only that folder
 * ```ts ignore
 * import { normalizePermissions } from "./permissions.ts";
 * import { Sandbox } from "./sandbox.ts";
 * const sandbox = new Sandbox();
 * const readData = sandbox.load(
 *   "readData",
 *   { module: "file:///srv/functions.ts" },
 *   normalizePermissions({ read: ["./data"] }, "/srv"),
 * );
 * await sandbox.ready();
 * const context = {
 *   signal: AbortSignal.timeout(5_000),
 *   deadline: Date.now() + 5_000,
 *   step: "s1",
 *   requestId: 1,
 *   node: "n1",
 *   progress: () => {},
 * };
 * console.log(await readData(context, ["/srv/data/hello.txt"], undefined));
 * await sandbox.close();
 * ```
 */
export class Sandbox {
  readonly #options: SandboxOptions;
  readonly #pools = new Map<string, WorkerPool>();
  #closed = false;

  /**
   * Creates an empty sandbox; pools start with their first function.
   *
   * @param options Sizes and limits of every pool.
   */
  constructor(options: SandboxOptions = {}) {
    this.#options = { ...options };
  }

  /**
   * Makes a function runnable in the pool of its permission profile,
   * starting the pool (one warm process) if it is the profile's first. A
   * module function's graph is checked before the module loads (see
   * `checkModuleGraph()`); a graph beyond its permissions fails its calls
   * and {@linkcode Sandbox.ready} with a {@linkcode PermissionDeniedError}.
   *
   * @param name The function's name, for errors; also the default export name.
   * @param spec A module export or self-contained source.
   * @param permissions The declared permissions; relative paths resolve
   *   against the current directory, so normalize config entries with their
   *   file's folder first (see `normalizePermissions`).
   * @param options The function's memory cap.
   * @returns The function's invoker.
   * @throws {TypeError} for invalid permissions, module URL or source.
   * @throws {PermissionDeniedError} when this process lacks a declared
   *   permission or may not start Deno (the message lists what is missing),
   *   or when a folder the function may read or write holds a symlink to
   *   something outside what it may touch.
   */
  load(
    name: string,
    spec: FunctionSpec,
    permissions: FunctionPermissions = {},
    options: LoadOptions = {},
  ): SandboxInvoker {
    const module = "module" in spec ? moduleUrl(spec.module) : undefined;
    const pool = this.#pool(name, permissions, options, module);
    const ref = { ...spec, name } as FunctionRef;
    pool.define(ref);
    return (context, args, kwargs, streamed) => pool.call(ref, args, kwargs, context, streamed);
  }

  /**
   * The names of the functions a module exports, read by loading it in a
   * sandbox process of its profile (after its graph is checked): its code
   * never runs in this process.
   *
   * @param module The module's URL or path.
   * @param permissions What its functions declare.
   * @param options Their memory cap.
   * @returns The names, sorted.
   * @throws {PermissionDeniedError} when its module graph reaches beyond
   *   `permissions`, naming the import and the permission it needs.
   * @throws {InternalError} when it cannot be loaded.
   */
  exports(
    module: string | URL,
    permissions: FunctionPermissions = {},
    options: LoadOptions = {},
  ): Promise<string[]> {
    try {
      const url = moduleUrl(module);
      return this.#pool(url, permissions, options, url).exports(url);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The pool of a profile, memory cap and config (modules under another
   * Deno config get processes of their own), started if new.
   */
  #pool(
    name: string,
    permissions: FunctionPermissions,
    options: LoadOptions,
    module: string | undefined,
  ): WorkerPool {
    if (this.#closed) throw new TypeError(`Cannot load "${name}": the sandbox is closed`);
    const normalized = normalizePermissions(permissions);
    const memoryMb = options.memoryMb ?? this.#options.memoryMb ?? 512;
    const config = module === undefined ? null : configFor(module);
    const key = `${profileKey(normalized)} memory=${memoryMb} config=${config}`;
    let pool = this.#pools.get(key);
    if (pool !== undefined) return pool;
    checkSymlinks(name, normalized);
    try {
      pool = new WorkerPool(normalized, { ...this.#options, memoryMb, config });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotCapable)) throw err;
      const missing = missingHostPermissionsSync(normalized);
      const lacks = missing.length > 0
        ? `lacks ${missing.join(", ")}, which it declares`
        : "may not start sandbox processes (grant --allow-run to the Deno executable, and --allow-read and --allow-write to the temporary folder; or run with -A)";
      throw new PermissionDeniedError(
        `Cannot sandbox "${name}": this process ${lacks} (${err.message})`,
        {
          details: { fun: name, missing },
          cause: err,
        },
      );
    }
    this.#pools.set(key, pool);
    return pool;
  }

  /**
   * Waits until every loaded function has been loaded in a sandbox process.
   *
   * @returns When all loaded.
   * @throws {PermissionDeniedError} naming a module whose graph reaches
   *   beyond its permissions, the import and the permission it needs.
   * @throws {InternalError} naming the functions that could not be loaded.
   */
  async ready(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((pool) => pool.ready()));
  }

  /**
   * Totals and per-profile counters.
   *
   * @returns A snapshot.
   */
  stats(): SandboxStats {
    const profiles = [...this.#pools.values()].map((pool) => pool.stats());
    const sum = (pick: (s: WorkerPoolStats) => number): number =>
      profiles.reduce((total, s) => total + pick(s), 0);
    return {
      pools: profiles.length,
      workers: sum((s) => s.workers),
      inFlight: sum((s) => s.inFlight),
      calls: sum((s) => s.calls),
      denials: sum((s) => s.denials),
      profiles,
    };
  }

  /**
   * Closes every pool: processes are killed and calls in flight fail.
   *
   * @returns When every process has ended.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }
}

/**
 * Refuses a profile whose `read` or `write` folders hold a symlink to
 * something outside what the function may touch (Deno checks the path a
 * function names, not the link's target), and warns about folders too large
 * to scan completely ({@linkcode SYMLINK_SCAN_BOUND} entries).
 */
function checkSymlinks(name: string, permissions: FunctionPermissions): void {
  for (const kind of ["read", "write"] as const) {
    const scan = scanSymlinks(kind, permissions[kind], SYMLINK_SCAN_BOUND);
    const first = scan.escaping[0];
    if (first !== undefined) {
      throw new SandboxPolicyError(
        `Cannot sandbox "${name}": the symlink ${first.link} in a folder it may ${kind} leads to ${first.target}, ` +
          `outside what it may ${kind}; remove the link or declare its target`,
        { details: { fun: name, kind, link: first.link, target: first.target } },
      );
    }
    for (const folder of scan.truncated) {
      log.warn(
        "Not every entry under {folder} was checked for symlinks leading out of it: the scan stops after {bound} entries",
        { folder, bound: SYMLINK_SCAN_BOUND, fun: name },
      );
    }
  }
}
