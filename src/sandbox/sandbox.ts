// Copyright 2026 the mpreg authors. MIT license.
/**
 * The sandbox of a node: one warm {@linkcode WorkerPool} per permission
 * profile, and an invoker per sandboxed function.
 *
 * @example
 * ```ts ignore
 * import { Sandbox } from "@mpreg/mpreg";
 * const sandbox = new Sandbox();
 * const add = sandbox.load("add", { source: "(a, b) => a + b" }, {});
 * const context = {
 *   signal: new AbortController().signal,
 *   deadline: Date.now() + 5_000,
 *   step: "s1",
 *   requestId: 1,
 *   node: "n1",
 * };
 * console.log(await add(context, [1, 2], undefined)); // 3
 * await sandbox.close();
 * ```
 *
 * @module
 */
import { PermissionDeniedError } from "../protocol/errors.ts";
import type { CallContext } from "../registry/registry.ts";
import {
  type FunctionPermissions,
  missingHostPermissionsSync,
  normalizePermissions,
  profileKey,
} from "./permissions.ts";
import {
  type FunctionRef,
  type FunctionSpec,
  WorkerPool,
  type WorkerPoolOptions,
  type WorkerPoolStats,
} from "./pool.ts";

/**
 * Runs one sandboxed function: the same shape as the registry's `Invoker`.
 * Its errors are mpreg errors: {@linkcode FunctionError} (details
 * `{ step, fun, name, message }`), {@linkcode PermissionDeniedError}
 * (details `{ step, fun, denied }`), {@linkcode InternalError},
 * {@linkcode OverloadedError}, or the signal's reason when cancelled.
 *
 * @example
 * ```ts ignore
 * import type { SandboxInvoker } from "@mpreg/mpreg";
 * const invoke: SandboxInvoker = (_context, args) => Promise.resolve(args.length);
 * console.log(typeof invoke);
 * ```
 */
export type SandboxInvoker = (
  context: CallContext,
  args: unknown[],
  kwargs: Record<string, unknown> | undefined,
) => Promise<unknown>;

/**
 * Options of a {@linkcode Sandbox}: those of each of its pools.
 *
 * @example
 * ```ts ignore
 * import type { SandboxOptions } from "@mpreg/mpreg";
 * const options: SandboxOptions = { maxWorkers: 2, maxInFlight: 512 };
 * console.log(options);
 * ```
 */
export type SandboxOptions = WorkerPoolOptions;

/**
 * Counters of a {@linkcode Sandbox}: totals and one entry per pool.
 *
 * @example
 * ```ts ignore
 * import { Sandbox } from "@mpreg/mpreg";
 * const sandbox = new Sandbox();
 * console.log(sandbox.stats().pools); // 0
 * ```
 */
export interface SandboxStats {
  /** How many pools (permission profiles). */
  pools: number;
  /** Live workers in all pools. */
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
 * Runs functions in Deno Workers holding exactly the permissions the
 * functions declare, one warm pool per permission profile (functions with
 * equal profiles share workers).
 *
 * Module functions are loaded only inside workers, never in this process.
 * Source functions (`{ source: fn.toString() }`) must be self-contained:
 * closures and imports are not available in the worker.
 *
 * @example Read a file in a sandbox allowed only that folder
 * ```ts ignore
 * import { normalizePermissions, Sandbox } from "@mpreg/mpreg";
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
   * starting the pool (one warm worker) if it is the profile's first.
   *
   * @param name The function's name, for errors; also the default export name.
   * @param spec A module export or self-contained source.
   * @param permissions The declared permissions; relative paths resolve
   *   against the current directory, so normalize config entries with their
   *   file's folder first (see `normalizePermissions`).
   * @returns The function's invoker.
   * @throws {TypeError} for invalid permissions, module URL or source.
   * @throws {PermissionDeniedError} when this process lacks a declared
   *   permission (the message lists what is missing).
   */
  load(name: string, spec: FunctionSpec, permissions: FunctionPermissions = {}): SandboxInvoker {
    if (this.#closed) throw new TypeError(`Cannot load "${name}": the sandbox is closed`);
    const normalized = normalizePermissions(permissions);
    const key = profileKey(normalized);
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      try {
        pool = new WorkerPool(normalized, this.#options);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotCapable)) throw err;
        const missing = missingHostPermissionsSync(normalized);
        throw new PermissionDeniedError(
          `Cannot sandbox "${name}": this process lacks ${
            missing.length > 0 ? missing.join(", ") : "permissions"
          } it declares (${err.message})`,
          { details: { fun: name, missing }, cause: err },
        );
      }
      this.#pools.set(key, pool);
    }
    const ref = { ...spec, name } as FunctionRef;
    pool.define(ref);
    const target = pool;
    return (context, args, kwargs) => target.call(ref, args, kwargs, context);
  }

  /**
   * Waits until every loaded function has been loaded in a worker.
   *
   * @returns When all loaded.
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
   * Closes every pool: workers are terminated and calls in flight fail.
   *
   * @returns When done.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }
}
