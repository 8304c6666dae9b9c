// Copyright 2026 the mpreg authors. MIT license.
/**
 * Typed calls: a view of a {@linkcode Client} whose methods are the
 * functions of an API type (the node's own object of functions), and a
 * builder of requests of dependent steps whose references are checked by the
 * compiler. Both produce today's wire messages, so nodes see nothing new.
 * Browser-safe: types, one `Proxy` and small objects.
 *
 * @module
 */
import { escapeStrings, toWireStep } from "./_steps.ts";
import type { Client } from "./client.ts";
import type { CallOptions, RequestOptions, StepInput } from "./options.ts";

/**
 * A typed view of a client: one method per function of the API `A`, taking
 * the function's own parameters (not `this`) and answering a `Promise` of its
 * awaited result. Members that are not functions, and `then` (an object with
 * a `then` method is taken for a promise), have no method. Made by
 * {@linkcode Client.typed}.
 *
 * @typeParam A The API: the type of an object (or module) of functions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, Server, type Typed } from "@mpreg/mpreg";
 * const api = { add: (a: number, b: number) => a + b, version: "1" };
 * await using server = await new Server({ port: 0 }).registerAll(api).start();
 * await using client = new Client(server.url);
 * const remote: Typed<typeof api> = client.typed<typeof api>();
 * assert.equal(await remote.add(2, 3), 5);
 * ```
 */
export type Typed<A> = {
  readonly [
    K in keyof A as A[K] extends (...args: never[]) => unknown ? K extends "then" ? never : K
      : never
  ]: A[K] extends (...args: infer P extends unknown[]) => infer R
    ? (...args: P) => Promise<Awaited<R>>
    : never;
};

/**
 * What may stand for a parameter of type `P` in a step: a value of that type,
 * a {@linkcode Ref} to a result of that type, or an array or object holding
 * such references where the type has them.
 *
 * @typeParam P The parameter's type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Arg, Client, Server } from "@mpreg/mpreg";
 * const api = { user: (id: number) => ({ id }), same: (p: { id: number }) => p };
 * await using server = await new Server({ port: 0 }).registerAll(api).start();
 * await using client = new Client(server.url);
 * const out = await client.steps<typeof api>()
 *   .step("u", (f) => f.user(7))
 *   .step("p", (f, s) => {
 *     // A reference inside an object (`satisfies` keeps the step's name in the type).
 *     const arg = { id: s.u.at("id") } satisfies Arg<{ id: number }>;
 *     return f.same(arg);
 *   })
 *   .run();
 * assert.deepEqual(out, { p: { id: 7 } });
 * ```
 */
export type Arg<P> =
  | Ref<P>
  // Values the node passes as they are (it looks inside arrays and plain objects only).
  | (P extends
    | string
    | number
    | boolean
    | bigint
    | null
    | undefined
    | Date
    | Uint8Array
    | ((...args: never[]) => unknown) ? P
    : P extends readonly unknown[] ? { [I in keyof P]: Arg<P[I]> }
    : P extends object ? { [K in keyof P]: Arg<P[K]> }
    : P);

/**
 * The names of the steps a value refers to: those of the {@linkcode Ref}s
 * inside it, at any depth. A reference whose name the compiler cannot see
 * (one stored in a variable annotated `Ref<T>`) gives `string`: it may use any
 * step, so no step counts as a sink in the answer's type.
 *
 * @typeParam V The value's type, such as a step's arguments.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Ref, RefNames } from "@mpreg/mpreg";
 * type Used = RefNames<[Ref<number, "sum">, { label: Ref<string, "name"> }, "text"]>;
 * const used: Used[] = ["sum", "name"]; // "text" is not a reference: it would not compile
 * assert.equal(used.length, 2);
 * ```
 */
export type RefNames<V> = V extends Ref<unknown, infer N> ? N
  : V extends readonly unknown[] ? RefNames<V[number]>
  : V extends Record<string, unknown> ? RefNames<V[keyof V]>
  : never;

/**
 * What a reference to a value of type `T` may walk into: an array as
 * `{ [index: number]: element }`, anything else as it is without `null` and
 * `undefined` (walking into a missing key fails the request with a
 * `GraphError`). `Ref.at()` takes its keys and types the value at each.
 *
 * @typeParam T The referred value's type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PathOf } from "@mpreg/mpreg";
 * const first: PathOf<string[]>[0] = "a";
 * const city: PathOf<{ city: string } | null>["city"] = "Oslo";
 * assert.deepEqual([first, city], ["a", "Oslo"]);
 * ```
 */
export type PathOf<T> = T extends readonly (infer E)[] ? { [index: number]: E } : NonNullable<T>;

/**
 * A reference to the result of the step named `N` (or to a value inside it),
 * whose type is `T`. Passed as an argument of a later step, it is sent as the
 * step's name (or `name.key.0.key`), which the node replaces with the value.
 * Made by {@linkcode TypedRequest.step}; `at()` walks into it.
 *
 * @typeParam T The type of the value referred to.
 * @typeParam N The step's name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, Server } from "@mpreg/mpreg";
 * const api = {
 *   user: (id: number) => ({ id, name: `user ${id}`, tags: ["new"] }),
 *   upper: (s: string) => s.toUpperCase(),
 * };
 * await using server = await new Server({ port: 0 }).registerAll(api).start();
 * await using client = new Client(server.url);
 * const out = await client.steps<typeof api>()
 *   .step("u", (f) => f.user(7))
 *   .step("name", (f, s) => f.upper(s.u.at("name")))
 *   .step("tag", (f, s) => f.upper(s.u.at("tags", 0)))
 *   .run();
 * assert.deepEqual(out, { name: "USER 7", tag: "NEW" });
 * ```
 */
export class Ref<T, N extends string = string> {
  /** The type of the value referred to; for the compiler only (never set). */
  declare readonly "~type"?: T;
  /** Keeps the class nominal: no plain object is taken for a reference. */
  readonly #ref = true;
  /** The referenced step's name. */
  readonly step: N;
  /** The keys and indices to walk into the step's result. */
  readonly path: readonly string[];

  /** Made by the request builder (see {@linkcode TypedRequest.step}): a step's name and a path. */
  constructor(step: N, path: readonly string[] = []) {
    this.step = step;
    this.path = path;
  }

  /**
   * A reference to the value at a key (or array index) inside this one,
   * typed by the key; up to four keys at once, and `at()` again for more.
   *
   * @param key The key or index.
   * @returns The reference to the value there.
   * @throws {TypeError} when a key holds a `.` (a reference could not name it)
   *   or an index is not a whole number.
   */
  at<K1 extends keyof PathOf<T> & (string | number)>(key: K1): Ref<PathOf<T>[K1], N>;
  /** A reference to the value two keys (or indices) inside this one; see the first `at()`. */
  at<
    K1 extends keyof PathOf<T> & (string | number),
    K2 extends keyof PathOf<PathOf<T>[K1]> & (string | number),
  >(
    k1: K1,
    k2: K2,
  ): Ref<PathOf<PathOf<T>[K1]>[K2], N>;
  /** A reference to the value three keys (or indices) inside this one. */
  at<
    K1 extends keyof PathOf<T> & (string | number),
    K2 extends keyof PathOf<PathOf<T>[K1]> & (string | number),
    K3 extends keyof PathOf<PathOf<PathOf<T>[K1]>[K2]> & (string | number),
  >(k1: K1, k2: K2, k3: K3): Ref<PathOf<PathOf<PathOf<T>[K1]>[K2]>[K3], N>;
  /** A reference to the value four keys (or indices) inside this one. */
  at<
    K1 extends keyof PathOf<T> & (string | number),
    K2 extends keyof PathOf<PathOf<T>[K1]> & (string | number),
    K3 extends keyof PathOf<PathOf<PathOf<T>[K1]>[K2]> & (string | number),
    K4 extends keyof PathOf<PathOf<PathOf<PathOf<T>[K1]>[K2]>[K3]> & (string | number),
  >(k1: K1, k2: K2, k3: K3, k4: K4): Ref<PathOf<PathOf<PathOf<PathOf<T>[K1]>[K2]>[K3]>[K4], N>;
  at(...keys: (string | number)[]): Ref<unknown, N> {
    const path = [...this.path];
    for (const key of keys) {
      if (typeof key === "number" ? !Number.isSafeInteger(key) || key < 0 : key.includes(".")) {
        throw new TypeError(
          `Reference to step "${this.step}": the key ${JSON.stringify(key)} cannot be ` +
            `part of a reference (no "." in keys, whole non-negative indices)`,
        );
      }
      path.push(String(key));
    }
    return new Ref(this.step, path);
  }

  /**
   * The reference as the wire writes it.
   *
   * @returns The step's name, then the path, joined by dots.
   */
  toString(): string {
    return this.path.length === 0 ? this.step : `${this.step}.${this.path.join(".")}`;
  }

  /** Whether a value is a reference. */
  static is(value: unknown): value is Ref<unknown> {
    return typeof value === "object" && value !== null && #ref in value;
  }
}

/**
 * One call of a step, as the builder's `f` makes it: the function, its
 * arguments (references included), and for the compiler the result's type
 * and the steps it uses.
 *
 * @typeParam R The function's awaited result.
 * @typeParam U The names of the steps its arguments refer to.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, Server, type StepCall } from "@mpreg/mpreg";
 * const api = { add: (a: number, b: number) => a + b };
 * await using server = await new Server({ port: 0 }).start();
 * await using client = new Client(server.url);
 * const out = client.steps<typeof api>().step("sum", (f) => {
 *   const call: StepCall<number, never> = f.add(1, 2);
 *   return call;
 * });
 * assert.deepEqual(out.toSteps(), [{ name: "sum", fun: "add", args: [1, 2] }]);
 * ```
 */
export class StepCall<R, U extends string> {
  /** The result's type; for the compiler only (never set). */
  declare readonly "~type"?: R;
  /** The names of the steps used; for the compiler only (never set). */
  declare readonly "~uses"?: U;
  /** The function's name. */
  readonly fun: string;
  /** The arguments, references included. */
  readonly args: readonly unknown[];

  /** Made by the builder's `f` (see {@linkcode TypedRequest.step}): a function and its arguments. */
  constructor(fun: string, args: readonly unknown[]) {
    this.fun = fun;
    this.args = args;
  }
}

/**
 * The functions of an API as the steps of a request call them: each takes
 * its parameters (or {@linkcode Ref}s of their types) and makes a
 * {@linkcode StepCall}.
 *
 * @typeParam A The API.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Calls, Client, Server } from "@mpreg/mpreg";
 * const api = { add: (a: number, b: number) => a + b };
 * const sum = (f: Calls<typeof api>) => f.add(1, 2);
 * await using server = await new Server({ port: 0 }).registerAll(api).start();
 * await using client = new Client(server.url);
 * assert.deepEqual(await client.steps<typeof api>().step("sum", sum).run(), { sum: 3 });
 * ```
 */
export type Calls<A> = {
  readonly [
    K in keyof A as A[K] extends (...args: never[]) => unknown ? K extends "then" ? never : K
      : never
  ]: A[K] extends (...args: infer P extends unknown[]) => infer R
    ? <V extends { [I in keyof P]: Arg<P[I]> }>(...args: V) => StepCall<Awaited<R>, RefNames<V>>
    : never;
};

/** The builder's `f`: one `Proxy` for every API (names are checked by the compiler). */
const CALLS: object = new Proxy(Object.freeze(Object.create(null)), {
  get(_target, name) {
    if (typeof name !== "string" || name === "then") return undefined;
    return (...args: unknown[]) => new StepCall(name, args);
  },
});

/**
 * References to the results of the steps so far, by name.
 *
 * @typeParam S The steps so far: name to result type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type Refs, Server } from "@mpreg/mpreg";
 * const api = { user: (id: number) => ({ id }), add: (a: number, b: number) => a + b };
 * const id = (s: Refs<{ u: { id: number } }>) => s.u.at("id");
 * await using server = await new Server({ port: 0 }).registerAll(api).start();
 * await using client = new Client(server.url);
 * const out = await client.steps<typeof api>()
 *   .step("u", (f) => f.user(7))
 *   .step("next", (f, s) => f.add(id(s), 1))
 *   .run();
 * assert.deepEqual(out, { next: 8 });
 * ```
 */
export type Refs<S> = { readonly [K in Extract<keyof S, string>]: Ref<S[K], K> };

/** One step of a typed request, before it is written for the wire. */
type Entry = {
  readonly name: string;
  readonly call: StepCall<unknown, string>;
  readonly locs: string[] | undefined;
};

/**
 * A request of dependent steps whose references the compiler checks: each
 * step names a function of the API and may pass references to earlier
 * steps' results (or paths into them) where the function takes a value of
 * that type. Immutable: `step()` answers a new request. Made by
 * {@linkcode Client.steps}; `run()` sends it in one round trip.
 *
 * The wire request is the plain one (see `toSteps()`): references become the
 * step's name or `name.key.0.key`, and any string argument a node would take
 * for a reference to a step of the request is wrapped in `literal()`, so it
 * arrives as written.
 *
 * @typeParam A The API.
 * @typeParam S The steps so far: name to result type.
 * @typeParam U The names of the steps other steps refer to (not sinks).
 *
 * @example Three dependent steps, one round trip
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, Server } from "@mpreg/mpreg";
 * const api = {
 *   add: (a: number, b: number) => a + b,
 *   format: (v: number, label: string) => `${label}: ${v}`,
 * };
 * await using server = await new Server({ port: 0 }).registerAll(api).start();
 * await using client = new Client(server.url);
 * const request = client.steps<typeof api>()
 *   .step("sum", (f) => f.add(10, 20))
 *   .step("doubled", (f, s) => f.add(s.sum, s.sum))
 *   .step("final", (f, s) => f.format(s.doubled, "sum"));
 * const out: { final: string } = await request.run();
 * assert.deepEqual(out, { final: "sum: 60" });
 * // "sum" as a literal argument is sent as { $literal: "sum" }, not as a reference.
 * assert.deepEqual(request.toSteps()[2]?.args, ["doubled", { $literal: "sum" }]);
 * ```
 */
export class TypedRequest<A, S = Record<never, never>, U extends string = never> {
  readonly #client: Client;
  readonly #steps: readonly Entry[];

  /**
   * Made by {@linkcode Client.steps}.
   *
   * @param client The client that runs the request.
   * @param steps The steps so far.
   */
  constructor(client: Client, steps: readonly Entry[] = []) {
    this.#client = client;
    this.#steps = steps;
  }

  /**
   * Adds a step.
   *
   * @typeParam N The step's name.
   * @typeParam R Its function's result.
   * @typeParam V The steps its arguments refer to.
   * @param name The step's name: new in the request, not empty, without `.`.
   * @param build Makes the step's call from `f`, the API's functions, and
   *   `s`, references to the results of the steps before it.
   * @param options The step's `locs`.
   * @returns A new request with the step added.
   * @throws {TypeError} when the name is taken, empty or holds a `.`.
   */
  step<N extends string, R, V extends string>(
    name: N extends keyof S | `${string}.${string}` | "" ? never : N,
    build: (f: Calls<A>, s: Refs<S>) => StepCall<R, V>,
    options: Pick<CallOptions, "locs"> = {},
  ): TypedRequest<A, { [K in keyof (S & { [P in N]: R })]: (S & { [P in N]: R })[K] }, U | V> {
    const text = name as string;
    if (typeof text !== "string" || text === "" || text.includes(".")) {
      throw new TypeError(
        `A step name must be a non-empty string without ".": ${JSON.stringify(text)}`,
      );
    }
    const refs = Object.create(null) as Record<string, Ref<unknown>>;
    for (const entry of this.#steps) {
      if (entry.name === text) throw new TypeError(`Step "${text}" is already in the request`);
      refs[entry.name] = new Ref(entry.name);
    }
    // A name not (yet) in the request fails here, not later as an `undefined` argument.
    const known = new Proxy(refs, {
      get(target, key) {
        if (typeof key !== "string" || key in target) return target[key as string];
        throw new TypeError(`Step "${text}": no step "${key}" before it`);
      },
    });
    const call = build(CALLS as Calls<A>, known as unknown as Refs<S>) as StepCall<unknown, string>;
    if (!(call instanceof StepCall)) {
      throw new TypeError(`Step "${text}": build must answer f.<function>(...args)`);
    }
    return new TypedRequest(this.#client, [...this.#steps, {
      name: text,
      call,
      locs: options.locs,
    }]);
  }

  /**
   * The request as plain steps, exactly as `run()` sends them (and as
   * {@linkcode Client.request} takes them).
   *
   * @returns `{ name, fun, args, locs? }` per step, references as strings.
   */
  toSteps(): StepInput[] {
    const names = new Set(this.#steps.map((entry) => entry.name));
    // Names hold no ".", so a string reads as a reference when it is a name
    // or starts with a name and a ".".
    const reads = (s: string) => {
      const dot = s.indexOf(".");
      return names.has(dot < 0 ? s : s.slice(0, dot));
    };
    const leaf = (value: object) => {
      if (!Ref.is(value)) return value;
      // A reference taken from another request would be sent as a plain string.
      if (!names.has(value.step)) {
        throw new TypeError(`A reference names step "${value.step}", which is not in the request`);
      }
      return value.toString();
    };
    return this.#steps.map(({ name, call, locs }) =>
      toWireStep(
        name,
        call.fun,
        escapeStrings(call.args, reads, leaf) as unknown[],
        undefined,
        locs,
      )
    );
  }

  /**
   * Sends the request and answers every step's result.
   *
   * @param options Deadline and signal, with `all: true`.
   * @returns `{ [name]: result }` for every step.
   * @throws {RpcError} as {@linkcode Client.request}; {@linkcode TypeError}
   *   (the promise rejects) for a reference to a step not in the request.
   */
  run(options: RequestOptions & { all: true }): Promise<S>;
  /**
   * Sends the request and answers the sinks' results: those of the steps no
   * other step refers to.
   *
   * @param options Deadline and signal.
   * @returns `{ [name]: result }` for the sinks.
   * @throws {RpcError} as {@linkcode Client.request}.
   */
  run(options?: RequestOptions & { all?: false }): Promise<{ [K in Exclude<keyof S, U>]: S[K] }>;
  run(options: RequestOptions = {}): Promise<unknown> {
    let steps: StepInput[];
    try {
      steps = this.toSteps();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#client.request(steps, options);
  }
}
