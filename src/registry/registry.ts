// Copyright 2026 the mpreg authors. MIT license.
/**
 * The registry of a node's own functions.
 *
 * @module
 */
import { type Arity, arityOf } from "./arity.ts";
import type { RequestId } from "../protocol/messages.ts";
import type { FunctionDescription } from "../protocol/function_description.ts";
import { checkSchemas, describeFunction, type FunctionSchemas } from "./function_schemas.ts";
import { FunctionChecks } from "./validation.ts";

/**
 * What a running function can learn about its call. Functions receive it as
 * `this`: write them as `function` (not arrow) functions to read it.
 *
 * @example Stop early when the caller gives up
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CallContext, CancelledError, Client, Server } from "@mpreg/mpreg";
 * function wait(this: CallContext): Promise<never> {
 *   return new Promise((_resolve, reject) => {
 *     this.signal.addEventListener("abort", () => reject(this.signal.reason), { once: true });
 *   });
 * }
 * await using server = await new Server({ port: 0 }).register("wait", wait).start();
 * await using client = new Client(server.url);
 * const controller = new AbortController();
 * const call = client.call("wait", [], { signal: controller.signal });
 * controller.abort();
 * await assert.rejects(call, CancelledError);
 * ```
 */
export interface CallContext {
  /** Aborted when the request is cancelled, fails elsewhere, or its deadline passes. */
  readonly signal: AbortSignal;
  /** The request's deadline, in milliseconds since the epoch. */
  readonly deadline: number;
  /** The name of the step being run. */
  readonly step: string;
  /**
   * The request's id on the node it entered (`<node>#<n>`, unique on that
   * node), the same on every node that runs one of its steps: the id its
   * log lines carry.
   */
  readonly requestId: RequestId;
  /** The name of the node running the function. */
  readonly node: string;
  /**
   * Reports the call's progress to a caller that asked for it (`onProgress`
   * on the client); does nothing otherwise. Any value the caller's encoding
   * can carry; by convention a number from 0 to 1, or
   * `{ done, total, message? }`. Reports are coalesced: at most one leaves
   * the node every 50 ms per step, the latest value winning, and the last
   * one always reaches the caller before the answer. A report after the
   * call ended, or one that cannot be encoded, is dropped. Sandboxed
   * functions cannot report progress yet: there it does nothing.
   *
   * @example Report progress while working
   * ```ts
   * import assert from "node:assert/strict";
   * import { type CallContext, Client, Server } from "@mpreg/mpreg";
   * async function work(this: CallContext, n: number): Promise<number> {
   *   for (let i = 1; i <= n; i++) {
   *     await new Promise((resolve) => setTimeout(resolve, 1));
   *     this.progress({ done: i, total: n });
   *   }
   *   return n;
   * }
   * await using server = await new Server({ port: 0 }).register("work", work).start();
   * await using client = new Client(server.url);
   * const seen: unknown[] = [];
   * assert.equal(await client.call("work", [5], { onProgress: (p) => seen.push(p) }), 5);
   * assert.deepEqual(seen.at(-1), { done: 5, total: 5 });
   * ```
   */
  progress(value: unknown): void;
}

/**
 * A function that can be registered: sync or async, any positional
 * arguments, plus one trailing options object when the step has `kwargs`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CallContext, Client, type RpcFunction, Server } from "@mpreg/mpreg";
 * const add: RpcFunction = (a: number, b: number) => a + b;
 * const whoAmI: RpcFunction = function (this: CallContext) {
 *   return `${this.step} on ${this.node}`;
 * };
 * await using server = await new Server({ name: "n1", port: 0 })
 *   .register("add", add)
 *   .register("who", whoAmI)
 *   .start();
 * await using client = new Client(server.url);
 * assert.equal(await client.call("add", [2, 3]), 5);
 * assert.equal(await client.call("who"), "who on n1");
 * ```
 */
export type RpcFunction = (this: CallContext, ...args: never[]) => unknown;

/**
 * Options for `server.register()`.
 *
 * @example
 * ```ts
 * import type { RegisterOptions } from "./registry.ts";
 * const options: RegisterOptions = { resources: ["model-a"] };
 * console.log(options.resources);
 * ```
 */
export interface RegisterOptions {
  /**
   * Resources this function needs, added to the node's own resources when
   * matching a step's `locs`.
   *
   * @default {[]}
   */
  resources?: Iterable<string>;
  /**
   * The permission kinds the function exercises (`net`, `read`, …): a caller
   * needs every one of them in its grant. The server fills this in from the
   * function's declared permissions.
   *
   * @default {[]}
   */
  permissionKinds?: readonly string[];
  /**
   * Runs the function somewhere else than inline (the server's sandbox);
   * when set, `fn` is not called.
   *
   * @default {undefined}
   */
  invoke?: Invoker;
  /**
   * The function is safe to run twice: after a failure that may have run it
   * (its node lost mid-call) the cluster and the client may send it again.
   *
   * @default {false}
   */
  idempotent?: boolean;
  /**
   * Its argument, `kwargs` and result schemas (Standard Schema) and doc:
   * checked on every call, described in the catalog.
   *
   * @default {{} (nothing checked)}
   */
  schemas?: FunctionSchemas;
}

/**
 * Runs a function that does not run inline (in a sandbox worker). With
 * `streamed`, the promise resolves to the function's stream, a
 * `StreamSource`; with `"may"`, to its stream if it returns one, else to
 * its value.
 *
 * @example
 * ```ts
 * import type { Invoker } from "./registry.ts";
 * const invoke: Invoker = (_context, args) => Promise.resolve(args.length);
 * console.log(typeof invoke);
 * ```
 */
export type Invoker = (
  context: CallContext,
  args: unknown[],
  kwargs: Record<string, unknown> | undefined,
  streamed?: boolean | "may",
) => Promise<unknown>;

/**
 * A function in the registry.
 *
 * @example
 * ```ts
 * import { FunctionRegistry } from "./registry.ts";
 * const registry = new FunctionRegistry();
 * registry.register("one", () => 1);
 * console.log(registry.get("one")?.name); // one
 * ```
 */
export interface RegisteredFunction {
  /** The name callers use. */
  readonly name: string;
  /** The implementation. */
  readonly fn: RpcFunction;
  /** The function's own resources (without the node's). */
  readonly resources: ReadonlySet<string>;
  /** The permission kinds it declares, sorted; empty when none. */
  readonly permissionKinds: readonly string[];
  /** How it runs when not inline (sandboxed), else `undefined`. */
  readonly invoke: Invoker | undefined;
  /**
   * The arguments `fn` accepts, checked before each inline call; a sandboxed
   * function's are checked where it runs (`{ required: 0, max: Infinity }` here).
   */
  readonly arity: Arity;
  /** Whether it was registered safe to run twice (see {@linkcode RegisterOptions.idempotent}). */
  readonly idempotent: boolean;
  /** The checks of its schemas, run around every call; `undefined` when it has none. */
  readonly checks: FunctionChecks | undefined;
  /** What the catalog says about it: parameter names, JSON Schemas, doc. */
  readonly description: FunctionDescription;
}

const UNCHECKED: Arity = Object.freeze({ required: 0, max: Infinity });

/**
 * Maps function names to implementations. Every change bumps `version`.
 *
 * @example
 * ```ts
 * import { FunctionRegistry } from "./registry.ts";
 * const registry = new FunctionRegistry();
 * registry.register("add", (a: number, b: number) => a + b, { resources: ["math"] });
 * console.log(registry.names(), registry.version); // [ "add" ] 1
 * ```
 */
export class FunctionRegistry {
  #functions = new Map<string, RegisteredFunction>();
  #version = 0;
  #listeners = new Set<() => void>();

  /** Bumped on every register or unregister; starts at 0. */
  get version(): number {
    return this.#version;
  }

  /**
   * Adds a function, replacing any function of the same name.
   *
   * @param name The name callers use; must not be empty.
   * @param fn The implementation.
   * @param options The function's resources.
   * @returns The registered entry.
   * @throws {TypeError} for an empty name, a non-function or a schema that
   *   is not a Standard Schema.
   */
  register(name: string, fn: RpcFunction, options: RegisterOptions = {}): RegisteredFunction {
    if (typeof name !== "string" || name === "") {
      throw new TypeError("Cannot register a function: the name is empty");
    }
    if (typeof fn !== "function") {
      throw new TypeError(`Cannot register "${name}": not a function`);
    }
    const schemas = options.schemas ?? {};
    checkSchemas(name, schemas);
    const entry: RegisteredFunction = {
      name,
      fn,
      resources: new Set(options.resources ?? []),
      permissionKinds: Object.freeze([...(options.permissionKinds ?? [])].sort()),
      invoke: options.invoke,
      arity: options.invoke === undefined ? arityOf(fn) : UNCHECKED,
      idempotent: options.idempotent === true,
      checks: FunctionChecks.of(schemas),
      description: describeFunction(fn, schemas),
    };
    this.#functions.set(name, entry);
    this.#changed();
    return entry;
  }

  /**
   * Removes a function.
   *
   * @param name The function's name.
   * @returns Whether it was registered.
   */
  unregister(name: string): boolean {
    const removed = this.#functions.delete(name);
    if (removed) this.#changed();
    return removed;
  }

  /**
   * Looks a function up.
   *
   * @param name The function's name.
   * @returns The entry, or `undefined`.
   */
  get(name: string): RegisteredFunction | undefined {
    return this.#functions.get(name);
  }

  /**
   * The registered names, in registration order.
   *
   * @returns The names.
   */
  names(): string[] {
    return [...this.#functions.keys()];
  }

  /**
   * Every registered entry, in registration order.
   *
   * @returns The entries.
   */
  entries(): RegisteredFunction[] {
    return [...this.#functions.values()];
  }

  /**
   * Calls `listener` after every change.
   *
   * @param listener The callback.
   * @returns A function that removes the listener.
   */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    this.#version++;
    for (const listener of this.#listeners) listener();
  }
}

/**
 * Whether `offered` holds every resource in `required`.
 *
 * @param offered The resources a node offers for a function.
 * @param required The step's `locs`.
 * @returns True when `required ⊆ offered`.
 *
 * @example
 * ```ts
 * import { satisfies } from "./registry.ts";
 * console.log(satisfies(new Set(["gpu", "model-a"]), ["gpu"])); // true
 * ```
 */
export function satisfies(offered: ReadonlySet<string>, required: readonly string[]): boolean {
  for (const r of required) if (!offered.has(r)) return false;
  return true;
}
