// Copyright 2026 the mpreg authors. MIT license.
// Type tests of typed calls and typed requests (issue 17), checked by
// `deno task check` (`deno check ... tests/`): the functions below must
// compile, and each `@ts-expect-error` line must NOT compile (an unused
// directive is itself an error). They are never run: the runtime side is
// typed_test.ts. `Exact` fails to compile unless two types are the same.
import type { CallContext, Client, Ref } from "../../mod.ts";

/** The node's own module of functions, as a client imports its type. */
export const api = {
  add(a: number, b: number): number {
    return a + b;
  },
  async user(id: number): Promise<{ id: number; name: string; tags: string[] }> {
    await Promise.resolve();
    return { id, name: `user ${id}`, tags: [] };
  },
  format: (v: number, label: string): string => `${label}: ${v}`,
  report(data: number[], options: { unit?: string } = {}): string {
    return `${data.length} ${options.unit ?? ""}`;
  },
  pair: (p: { a: number; b: string }): string => `${p.a}${p.b}`,
  whoAmI(this: CallContext): string {
    return this.node;
  },
  version: "1.0",
};
type Api = typeof api;

/** Compiles only when `A` and `B` are the same type. */
type Exact<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
function exact<A, B>(_proof: Exact<A, B>): void {}

export async function typedCallsCompile(client: Client): Promise<void> {
  const remote = client.typed<Api>();
  const sum = remote.add(2, 3);
  exact<typeof sum, Promise<number>>(true);
  // An async function's result is awaited once: Promise<User>, not Promise<Promise<User>>.
  const user = await remote.user(7);
  exact<typeof user, { id: number; name: string; tags: string[] }>(true);
  // An optional trailing options object is an ordinary (positional) parameter.
  await remote.report([1, 2]);
  await remote.report([1, 2], { unit: "kg" });
  // `this: CallContext` is not a parameter.
  exact<Awaited<ReturnType<typeof remote.whoAmI>>, string>(true);
  await remote.whoAmI();
  // Options for every call of a view.
  await client.typed<Api>({ locs: ["db"], timeoutMs: 500, signal: AbortSignal.timeout(500) })
    .add(1, 2);
}

export async function typedCallsRefuse(client: Client): Promise<void> {
  const remote = client.typed<Api>();
  // @ts-expect-error a wrong argument type: add takes numbers
  await remote.add("2", 3);
  // @ts-expect-error too few arguments
  await remote.add(2);
  // @ts-expect-error an unknown function
  await remote.substract(2, 3);
  // @ts-expect-error a member that is not a function
  await remote.version();
  // @ts-expect-error the result's type is number, not string
  const text: string = await remote.add(2, 3);
  // @ts-expect-error a wrong type inside the options object
  await remote.report([1], { unit: 3 });
  void text;
}

export async function moduleTypesCompile(client: Client): Promise<void> {
  // A module of exported functions (a YAML `functions:` module) types a client as well.
  type Functions = typeof import("../../examples/functions.ts");
  const total: number = await client.typed<Functions>().data_processing([1, 2]);
  // @ts-expect-error data_processing takes an array of numbers
  await client.typed<Functions>().data_processing(["1"]);
  void total;
}

export async function typedRequestsCompile(client: Client): Promise<void> {
  const request = client.steps<Api>()
    .step("u", (f) => f.user(7))
    .step("sum", (f, s) => f.add(s.u.at("id"), 1))
    .step("final", (f, s) => f.format(s.sum, "total"))
    .step("tag", (f, s) => f.format(1, s.u.at("tags", 0)))
    .step("p", (f, s) => f.pair({ a: s.sum, b: s.u.at("name") }), { locs: ["db"] });
  // The answer holds exactly the sinks: u and sum are used by other steps.
  const out = await request.run({ timeoutMs: 1_000, signal: AbortSignal.timeout(1_000) });
  exact<typeof out, { final: string; tag: string; p: string }>(true);
  // With all, every step.
  const every = await request.run({ all: true });
  exact<
    typeof every,
    {
      u: { id: number; name: string; tags: string[] };
      sum: number;
      final: string;
      tag: string;
      p: string;
    }
  >(true);
  // A reference whose step name is lost to the compiler may use any step: no sink is promised.
  const blind = await client.steps<Api>().step("u", (f) => f.user(1)).step("n", (f, s) => {
    const id: Ref<number> = s.u.at("id");
    return f.add(id, 1);
  }).run();
  exact<typeof blind, Record<never, never>>(true);
  // A reference's type follows its path.
  await client.steps<Api>().step("u", (f) => f.user(1)).step("r", (_f, s) => {
    const ref = s.u.at("tags", 0);
    exact<typeof ref, Ref<string, "u">>(true);
    return _f.format(1, ref);
  }).run();
}

export async function typedRequestsRefuse(client: Client): Promise<void> {
  const start = client.steps<Api>().step("u", (f) => f.user(7));
  // @ts-expect-error a reference of the wrong type: name is a string, add takes numbers
  start.step("sum", (f, s) => f.add(s.u.at("name"), 1));
  // @ts-expect-error a reference of the wrong type inside an object argument
  start.step("p", (f, s) => f.pair({ a: s.u.at("name"), b: "x" }));
  // @ts-expect-error a path the result does not have
  start.step("sum", (f, s) => f.add(s.u.at("age"), 1));
  // @ts-expect-error a reference to a step that is not in the request (yet)
  start.step("sum", (f, s) => f.add(s.later, 1));
  // @ts-expect-error an unknown function
  start.step("sum", (f) => f.substract(1, 2));
  // @ts-expect-error a step name already taken
  start.step("u", (f) => f.add(1, 2));
  // @ts-expect-error a step name with a dot (it would read as a path)
  start.step("a.b", (f) => f.add(1, 2));
  const out = await start.step("sum", (f, s) => f.add(s.u.at("id"), 1)).run();
  // @ts-expect-error reading a step that is not a sink: sum uses u
  void out.u;
  const sum: number = out.sum;
  // @ts-expect-error the sink's type is number
  const text: string = out.sum;
  void [sum, text];
}
