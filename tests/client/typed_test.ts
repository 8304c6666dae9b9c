// Copyright 2026 the mpreg authors. MIT license.
// Typed calls and typed requests (issue 17) against real nodes: the values
// come back right across two nodes, and the builder sends exactly today's
// plain steps (references as `name` or `name.key.0` strings, colliding
// literals wrapped), so nodes see nothing new. The compile-time side is
// typed_types_test.ts.
import assert from "node:assert/strict";
import {
  CancelledError,
  Client,
  type FunctionNotFoundError,
  GraphError,
  type Ref,
  type StepInput,
} from "../../mod.ts";
import { converged, known, startCluster } from "../_helpers/cluster.ts";
import { rpcFailure, startServer } from "../_helpers/mod.ts";

/** The functions of node n1 (it alone offers the resource "db"). */
const users = {
  async user(id: number): Promise<{ id: number; name: string; address: { city: string } }> {
    await Promise.resolve();
    return { id, name: `user ${id}`, address: { city: "Oslo" } };
  },
};
/** The functions of node n0. */
const math = {
  add: (a: number, b: number): number => a + b,
  format: (v: number, label: string): string => `${label}: ${v}`,
  /** Answers its arguments as received, to see what arrived. */
  same: (...values: unknown[]): unknown[] => values,
  version: "2.0",
};
type Api = typeof users & typeof math;

async function twoNodes() {
  const cluster = await startCluster(2, "star", (i) => (i === 1 ? { resources: ["db"] } : {}));
  const [n0, n1] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
  n0.registerAll(math);
  n1.registerAll(users);
  await converged(cluster.nodes);
  await known(cluster.nodes, "user", "n1");
  await known(cluster.nodes, "add", "n0");
  return { cluster, n0 };
}

Deno.test("typed: calls through one node reach the functions of both, typed", async () => {
  const { cluster, n0 } = await twoNodes();
  await using _ = cluster;
  await using client = new Client(n0.url);
  const remote = client.typed<Api>();
  assert.equal(await remote.add(2, 3), 5);
  const user = await remote.user(7); // runs on n1
  assert.deepEqual(user, { id: 7, name: "user 7", address: { city: "Oslo" } });
  // A string argument equal to the function's name arrives verbatim.
  assert.deepEqual(await remote.same("same", "same.x"), ["same", "same.x"]);
  // The view's options apply to each call: locs n0 cannot offer fail there.
  const refused = await rpcFailure(client.typed<Api>({ locs: ["gpu"] }).add(1, 2));
  assert.equal((refused as FunctionNotFoundError).code, 1001);
  assert.equal(await client.typed<Api>({ locs: ["db"] }).user(1).then((u) => u.id), 1);
  const aborted = AbortSignal.abort();
  await assert.rejects(client.typed<Api>({ signal: aborted }).add(1, 2), CancelledError);
});

Deno.test("typed: a 3-step request with a path reference across two nodes sends exactly the plain steps", async () => {
  const { cluster, n0 } = await twoNodes();
  await using _ = cluster;
  await using client = new Client(n0.url);
  const request = client.steps<Api>()
    .step("u", (f) => f.user(7), { locs: ["db"] })
    .step("sum", (f, s) => f.add(s.u.at("id"), 35))
    .step("final", (f, s) => f.format(s.sum, s.u.at("address", "city")));
  const plain: StepInput[] = [
    { name: "u", fun: "user", args: [7], locs: ["db"] },
    { name: "sum", fun: "add", args: ["u.id", 35] },
    { name: "final", fun: "format", args: ["sum", "u.address.city"] },
  ];
  assert.deepEqual(request.toSteps(), plain);
  const out = await request.run();
  assert.deepEqual(out, { final: "Oslo: 42" });
  // The same plain steps through the untyped API give the same answer.
  assert.deepEqual(await client.request(plain), out);
  const every = await request.run({ all: true, timeoutMs: 5_000 });
  assert.deepEqual(every, {
    u: { id: 7, name: "user 7", address: { city: "Oslo" } },
    sum: 42,
    final: "Oslo: 42",
  });
  assert.equal(every.u.address.city, "Oslo");
});

Deno.test("typed: a literal string equal to a step name (or name.path) arrives verbatim, not as a reference", async () => {
  await using server = await startServer();
  server.registerAll(math);
  await using client = new Client(server.url);
  const request = client.steps<Api>()
    .step("sum", (f) => f.add(1, 2))
    .step("echo", (f, s) =>
      f.same(
        "sum",
        "sum.total",
        ["final"],
        { label: "final.x", value: s.sum },
        { $literal: "sum" },
        "summary",
        "x.sum",
      ))
    .step("final", (f, s) => f.same(s.echo.at(0)));
  assert.deepEqual(request.toSteps()[1]?.args, [
    { $literal: "sum" },
    { $literal: "sum.total" },
    [{ $literal: "final" }],
    { label: { $literal: "final.x" }, value: "sum" },
    { $literal: { $literal: "sum" } },
    "summary",
    "x.sum",
  ]);
  const out = await request.run({ all: true });
  assert.deepEqual(out.echo, [
    "sum",
    "sum.total",
    ["final"],
    { label: "final.x", value: 3 },
    { $literal: "sum" },
    "summary",
    "x.sum",
  ]);
  assert.deepEqual(out.final, ["sum"]);
});

Deno.test("typed: a path the result does not have fails the request with a GraphError naming the step", async () => {
  await using server = await startServer();
  server.registerAll(math);
  await using client = new Client(server.url);
  // The type says `same` answers unknown[]; at run time index 5 is missing.
  const request = client.steps<Api>()
    .step("a", (f) => f.same(1))
    .step("b", (f, s) => f.add(s.a.at(5) as never, 1));
  const err = await rpcFailure(request.run());
  assert.ok(err instanceof GraphError);
  assert.equal((err.details as { step?: string }).step, "b");
});

Deno.test("typed: the builder refuses names and keys a reference could not carry", async () => {
  await using server = await startServer();
  await using client = new Client(server.url);
  const start = client.steps<Api>().step("a", (f) => f.add(1, 2));
  // Each of these also fails to compile (typed_types_test.ts); cast past the compiler here.
  assert.throws(() => start.step("a" as never, (f) => f.add(1, 2)), /already in the request/);
  assert.throws(() => start.step("a.b" as never, (f) => f.add(1, 2)), /without "\."/);
  assert.throws(() => start.step("" as never, (f) => f.add(1, 2)), /without "\."/);
  assert.throws(
    () => start.step("b", (f, s) => f.same((s.a as never as { at(k: string): never }).at("x.y"))),
    /the key "x\.y" cannot be part of a reference/,
  );
  assert.throws(() => start.step("b", (f, s) => f.same(s.a.at(1.5 as never))), TypeError);
  assert.throws(
    () => start.step("b", (f, s) => f.add((s as unknown as Record<string, never>).later!, 1)),
    /Step "b": no step "later" before it/,
  );
  // A reference taken from another request would travel as a plain string: refused.
  let leaked: Ref<number, "a"> | undefined;
  start.step("x", (f, s) => {
    leaked = s.a;
    return f.add(1, 2);
  });
  const other = client.steps<Api>().step("b", (f) => f.add(leaked!, 1));
  assert.throws(() => other.toSteps(), /names step "a", which is not in the request/);
  await assert.rejects(other.run(), /names step "a", which is not in the request/);
  // A builder is immutable: a step added to one is not in another.
  const left = start.step("l", (f, s) => f.add(s.a, 1));
  const right = start.step("r", (f, s) => f.add(s.a, 2));
  assert.deepEqual(left.toSteps().map((s) => s.name), ["a", "l"]);
  assert.deepEqual(right.toSteps().map((s) => s.name), ["a", "r"]);
});

Deno.test("typed: a view is no promise and makes one caller per name", async () => {
  await using server = await startServer();
  await using client = new Client(server.url);
  const remote = client.typed<Api>();
  // Awaiting (or returning from an async function) leaves it as it is.
  assert.equal(await Promise.resolve(remote), remote);
  assert.equal(remote.add, remote.add);
  assert.equal((remote as unknown as Record<string, unknown>).then, undefined);
});

Deno.test("typed: a module of exported functions types a client too (typeof import)", async () => {
  type Functions = typeof import("../../examples/functions.ts");
  await using server = await startServer();
  await server.registerModule(new URL("../../examples/functions.ts", import.meta.url).href, {
    trusted: true,
  });
  await using client = new Client(server.url);
  const remote = client.typed<Functions>();
  assert.equal(await remote.multiply(6, 7), 42);
  const out = await client.steps<Functions>()
    .step("sum", (f) => f.data_processing([10, 20, 30]))
    .step("final", (f, s) => f.format(s.sum, "Total"))
    .run();
  assert.deepEqual(out, { final: "Total: 60" });
});
