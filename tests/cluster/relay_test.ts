// Copyright 2026 the mpreg authors. MIT license.
// Relayed chains (issue 19): a request whose steps form a chain, each on
// another member, goes from member to member: A sends the first step with
// the rest of the chain, each member passes the next step on with its
// value, and only the last answers A. A keeps the request's rules: a
// failing middle step, a cancel or a deadline mid-chain, the producer's
// node killed after producing and the consumer's node killed before it
// answers each end with their documented code, at once, and no step runs
// twice; a member that refuses its step before it starts hands the rest of
// the chain back to A, which runs it elsewhere.
import assert from "node:assert/strict";
import {
  CancelledError,
  Client,
  ConnectionError,
  FunctionError,
  type Server,
  TimeoutError,
} from "../../mod.ts";
import { HANDOFF_MIN_BYTES } from "../../src/cluster/held_value.ts";
import { converged, known, startCluster } from "../_helpers/cluster.ts";
import { rpcFailure, startServer, waitFor } from "../_helpers/mod.ts";
import { markerLines, memberProcess } from "../_helpers/process.ts";

interface Quad {
  a: Server;
  b: Server;
  c: Server;
  d: Server;
}

/**
 * A (`n0`) and three members B, C, D (resources `b`, `c`, `d`), all joined
 * through A; `setup` registers functions before they converge.
 */
async function withQuad(
  setup: (nodes: Quad) => void,
  test: (nodes: Quad) => Promise<void>,
): Promise<void> {
  await using cluster = await startCluster(4, "star", (i) => ({
    resources: [["a", "b", "c", "d"][i]!],
  }));
  const [a, b, c, d] = cluster.nodes as [Server, Server, Server, Server];
  const nodes = { a, b, c, d };
  setup(nodes);
  b.register("onB", () => "b", { resources: ["b"] });
  c.register("onC", () => "c", { resources: ["c"] });
  d.register("onD", () => "d", { resources: ["d"] });
  await converged(cluster.nodes);
  for (const [fun, owner] of [["onB", "n1"], ["onC", "n2"], ["onD", "n3"]]) {
    await known(cluster.nodes, fun!, owner!);
  }
  await test(nodes);
}

const relayed = (node: Server): number => node.stats().cluster!.relayed;
const hops = (node: Server): number => node.stats().cluster!.hops;

Deno.test("relay: a 3-step chain goes A → B → C → D → A; A sends one step and gets one answer, and a value made on B reaches C without passing A", async () => {
  const runs: string[] = [];
  const payload = HANDOFF_MIN_BYTES * 3;
  await withQuad(({ b, c, d }) => {
    b.register("inc", function (this: { node: string }, n: number) {
      runs.push(`inc@${this.node}`);
      return n + 1;
    }, { resources: ["b"] });
    b.register("bytes", (n: number) => new Uint8Array(n).fill(5), { resources: ["b"] });
    c.register("double", function (this: { node: string }, n: number) {
      runs.push(`double@${this.node}`);
      return n * 2;
    }, { resources: ["c"] });
    c.register("size", (x: Uint8Array) => x.byteLength, { resources: ["c"] });
    d.register("label", function (this: { node: string }, n: number, kw: { prefix: string }) {
      runs.push(`label@${this.node}`);
      return `${kw.prefix}${n}`;
    }, { resources: ["d"] });
  }, async ({ a, b, c, d }) => {
    await using client = new Client(a.url);
    const before = a.stats().cluster!;
    const result = await client.request([
      { name: "third", fun: "label", args: ["second"], kwargs: { prefix: "n=" }, locs: ["d"] },
      { name: "first", fun: "inc", args: [1], locs: ["b"] },
      { name: "second", fun: "double", args: ["first"], locs: ["c"] },
    ]);
    assert.deepEqual(result, { third: "n=4" });
    assert.deepEqual(runs, ["inc@n1", "double@n2", "label@n3"]);
    const after = a.stats().cluster!;
    assert.equal(relayed(a) - before.relayed, 1);
    assert.equal(after.forwarded, before.forwarded, "no step was forwarded one by one");
    assert.deepEqual([hops(b), hops(c), hops(d)], [1, 1, 1]);
    // The value of a step goes from its member to the next, not through A.
    const sent = a.stats().cluster!.peerBytesOut;
    const got = a.stats().cluster!.peerBytesIn;
    assert.deepEqual(
      await client.request([
        { name: "x", fun: "bytes", args: [payload], locs: ["b"] },
        { name: "n", fun: "size", args: ["x"], locs: ["c"] },
      ]),
      { n: payload },
    );
    const through = a.stats().cluster!.peerBytesOut - sent + a.stats().cluster!.peerBytesIn - got;
    assert.ok(through < payload / 100, `${through} bytes through A`);
  });
});

Deno.test("relay: a failing middle step fails the request with its error (1003), naming it; the step after never runs", async () => {
  const runs = { first: 0, middle: 0, last: 0 };
  await withQuad(({ b, c, d }) => {
    b.register("first", () => (runs.first++, 1), { resources: ["b"] });
    c.register("middle", (_n: number) => {
      runs.middle++;
      throw new Error("middle broke");
    }, { resources: ["c"] });
    d.register("last", (n: number) => (runs.last++, n), { resources: ["d"] });
  }, async ({ a }) => {
    await using client = new Client(a.url);
    const err = await rpcFailure(client.request([
      { name: "x", fun: "first", locs: ["b"] },
      { name: "y", fun: "middle", args: ["x"], locs: ["c"] },
      { name: "z", fun: "last", args: ["y"], locs: ["d"] },
    ]));
    assert.ok(err instanceof FunctionError, err.message);
    assert.equal(err.code, 1003);
    assert.match(err.message, /middle broke/);
    assert.equal((err.details as { step?: string }).step, "y");
    assert.equal(relayed(a), 1);
    assert.deepEqual(runs, { first: 1, middle: 1, last: 0 });
    await waitFor(() => a.inFlight === 0, 2_000, "nothing in flight on A");
  });
});

/** Registers on C a step that starts, then waits for its signal (and records that it stopped). */
function waiting(c: Server): { started: Promise<void>; stopped: () => boolean } {
  const started = Promise.withResolvers<void>();
  let stopped = false;
  c.register("wait", function (this: { signal: AbortSignal }, n: number) {
    started.resolve();
    return new Promise<number>((_, reject) => {
      this.signal.addEventListener("abort", () => {
        stopped = true;
        reject(this.signal.reason);
      });
    }).then(() => n);
  }, { resources: ["c"] });
  return { started: started.promise, stopped: () => stopped };
}

Deno.test("relay: a request cancelled mid-chain ends with 1008-cancelled at once, the running step is stopped, and the step after never runs", async () => {
  let first = 0;
  let last = 0;
  let middle!: ReturnType<typeof waiting>;
  await withQuad(({ b, c, d }) => {
    b.register("first", () => (first++, 1), { resources: ["b"] });
    middle = waiting(c);
    d.register("last", (n: number) => (last++, n), { resources: ["d"] });
  }, async ({ a, c }) => {
    await using client = new Client(a.url);
    const controller = new AbortController();
    const request = client.request([
      { name: "x", fun: "first", locs: ["b"] },
      { name: "y", fun: "wait", args: ["x"], locs: ["c"] },
      { name: "z", fun: "last", args: ["y"], locs: ["d"] },
    ], { signal: controller.signal, timeoutMs: 30_000 });
    request.catch(() => {});
    await middle.started;
    controller.abort();
    const err = await rpcFailure(request);
    assert.ok(err instanceof CancelledError, err.message);
    await waitFor(middle.stopped, 5_000, "the step on C stopped");
    await waitFor(() => a.inFlight === 0 && c.inFlight === 0, 2_000, "nothing in flight");
    assert.equal(relayed(a), 1);
    assert.deepEqual({ first, last }, { first: 1, last: 0 });
  });
});

Deno.test("relay: a chain out of time mid-way ends with a TimeoutError at its deadline, and the running step is stopped", async () => {
  let middle!: ReturnType<typeof waiting>;
  await withQuad(({ b, c, d }) => {
    b.register("first", () => 1, { resources: ["b"] });
    middle = waiting(c);
    d.register("last", (n: number) => n, { resources: ["d"] });
  }, async ({ a }) => {
    await using client = new Client(a.url);
    const started = Date.now();
    const err = await rpcFailure(client.request([
      { name: "x", fun: "first", locs: ["b"] },
      { name: "y", fun: "wait", args: ["x"], locs: ["c"] },
      { name: "z", fun: "last", args: ["y"], locs: ["d"] },
    ], { timeoutMs: 400 }));
    assert.ok(err instanceof TimeoutError, err.message);
    assert.ok(Date.now() - started < 5_000, "at its deadline, not later");
    await waitFor(middle.stopped, 5_000, "the step on C stopped");
    assert.equal(relayed(a), 1);
  });
});

Deno.test("relay: a member that refuses its step before it starts hands the rest back; A runs it on another member, and nothing runs twice", async () => {
  await using cluster = await startCluster(5, "star", (i) => ({
    resources: [["a", "b", "c", "c", "e"][i]!],
  }));
  const [a, b, c, c2] = cluster.nodes as [Server, Server, Server, Server];
  const gate = Promise.withResolvers<void>();
  const firstStarted = Promise.withResolvers<void>();
  const runs = { first: 0, doubleC: 0, doubleC2: 0 };
  b.register("first", async () => {
    runs.first++;
    firstStarted.resolve();
    await gate.promise;
    return 20;
  }, { resources: ["b"] });
  c.register("double", (n: number) => (runs.doubleC++, n * 2), { resources: ["c"] });
  c2.register("double", (n: number) => (runs.doubleC2++, n * 2), { resources: ["c"] });
  // C holds a call of its own, so its drain lasts; C2 holds one of A's, so
  // that A, choosing the less loaded member, relays the chain through C.
  const releaseC = Promise.withResolvers<void>();
  const releaseC2 = Promise.withResolvers<void>();
  c.register("hold", () => releaseC.promise.then(() => "c"), { resources: ["c"] });
  c2.register("busy", () => releaseC2.promise.then(() => "c2"), { resources: ["c"] });
  await converged(cluster.nodes);
  await known(cluster.nodes, "double", "n2");
  await known(cluster.nodes, "double", "n3");
  await known(cluster.nodes, "busy", "n3");
  await using client = new Client(a.url);
  await using direct = new Client(c.url);
  const held = direct.call("hold");
  const busy = client.call("busy");
  try {
    await waitFor(() => c.inFlight === 1 && c2.inFlight === 1, 5_000, "C and C2 busy");
    const request = client.request([
      { name: "x", fun: "first", locs: ["b"] },
      { name: "y", fun: "double", args: ["x"], locs: ["c"] },
    ], { timeoutMs: 20_000 });
    await firstStarted.promise;
    // C drains: it refuses every new step from now on, unstarted.
    const stopping = c.stop({ drainTimeoutMs: 10_000 });
    gate.resolve();
    assert.deepEqual(await request, { y: 40 });
    assert.deepEqual(runs, { first: 1, doubleC: 0, doubleC2: 1 });
    assert.equal(relayed(a), 1);
    // A ran `double` itself, handed back: forwarded after `busy` (the relay
    // had chosen C, which refused it; had it chosen C2, nothing came back).
    assert.equal(a.stats().cluster!.forwarded, 2);
    releaseC.resolve();
    await held;
    await stopping;
  } finally {
    releaseC.resolve();
    releaseC2.resolve();
    await busy;
  }
});

Deno.test("relay: the producer's node killed after producing fails the request at once with a ConnectionError (1013) naming it; the next step is stopped; nothing runs twice", async () => {
  const dir = await Deno.makeTempDir();
  const marker = `${dir}/runs`;
  await using a = await startServer({ name: "a", gossipIntervalMs: 150, resources: ["a"] });
  await using c = await startServer({
    name: "c",
    gossipIntervalMs: 150,
    peers: [a.url],
    resources: ["c"],
  });
  const middle = waiting(c);
  let waited = 0;
  c.register("count", () => ++waited, { resources: ["c"] });
  const b = await memberProcess(dir, "b", a.url, "tests/fixtures/handoff_functions.ts");
  try {
    await b.url;
    await waitFor(() => (a.cluster.functions().big ?? []).length === 1, 10_000, "catalog");
    await waitFor(() => (a.cluster.functions().wait ?? []).length === 1, 10_000, "catalog");
    await using client = new Client(a.url);
    const request = client.request([
      { name: "x", fun: "big", args: [marker], locs: ["b"] },
      { name: "y", fun: "wait", args: ["x"], locs: ["c"] },
    ], { timeoutMs: 30_000 });
    request.catch(() => {});
    await middle.started;
    const status = await b.stop("SIGKILL");
    assert.ok(!status.success);
    const err = await rpcFailure(request);
    assert.ok(err instanceof ConnectionError, err.message);
    assert.equal(err.code, 1013);
    assert.match(err.message, /"b"/);
    await waitFor(middle.stopped, 5_000, "the step on C stopped");
    assert.deepEqual(await markerLines(marker), ["big"]);
    assert.equal(relayed(a), 1);
    await waitFor(() => a.inFlight === 0 && c.inFlight === 0, 2_000, "nothing in flight");
  } finally {
    await b.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("relay: the consumer's node killed before it answers fails the request at once with a ConnectionError (1013) naming it; nothing runs twice", async () => {
  const dir = await Deno.makeTempDir();
  const marker = `${dir}/runs`;
  await using a = await startServer({ name: "a", gossipIntervalMs: 150, resources: ["a"] });
  await using b = await startServer({
    name: "b",
    gossipIntervalMs: 150,
    peers: [a.url],
    resources: ["b"],
  });
  let made = 0;
  b.register("make", () => (made++, new Uint8Array(1024)), { resources: ["b"] });
  const c = await memberProcess(dir, "c", a.url, "tests/fixtures/handoff_functions.ts");
  try {
    await c.url;
    await waitFor(() => (a.cluster.functions().hold ?? []).length === 1, 10_000, "catalog");
    await using client = new Client(a.url);
    const request = client.request([
      { name: "x", fun: "make", locs: ["b"] },
      { name: "y", fun: "hold", args: ["x", marker], locs: ["c"] },
    ], { timeoutMs: 30_000 });
    request.catch(() => {});
    await waitFor(
      async () => (await markerLines(marker)).length === 1,
      10_000,
      "hold got its input",
    );
    const started = Date.now();
    await c.stop("SIGKILL");
    const err = await rpcFailure(request);
    assert.ok(Date.now() - started < 10_000, "at once, not at the deadline");
    assert.ok(err instanceof ConnectionError, err.message);
    assert.equal(err.code, 1013);
    assert.match(err.message, /"c"/);
    assert.deepEqual(await markerLines(marker), ["hold 1024"]);
    assert.equal(made, 1);
    assert.equal(relayed(a), 1);
    await waitFor(() => a.inFlight === 0 && b.inFlight === 0, 2_000, "nothing in flight");
  } finally {
    await c.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("relay: a value over the limits the next member decodes with fails the step that made it (1011), and the links stay up", async () => {
  await using cluster = await startCluster(3, "star", (i) => ({
    resources: [["a", "b", "c"][i]!],
    ...(i === 2 ? { limits: { maxStringBytes: 1_024 } } : {}),
  }));
  const [a, b, c] = cluster.nodes as [Server, Server, Server];
  b.register("text", (n: number) => "x".repeat(n), { resources: ["b"] });
  c.register("length", (s: string) => s.length, { resources: ["c"] });
  await converged(cluster.nodes);
  await known(cluster.nodes, "text", "n1");
  await known(cluster.nodes, "length", "n2");
  await using client = new Client(a.url);
  const chain = (n: number) =>
    client.request([
      { name: "t", fun: "text", args: [n], locs: ["b"] },
      { name: "n", fun: "length", args: ["t"], locs: ["c"] },
    ]);
  const err = await rpcFailure(chain(10_000));
  assert.equal(err.code, 1011, err.message);
  assert.equal((err.details as { step?: string }).step, "t");
  assert.equal((err.details as { limit?: string }).limit, "maxStringBytes");
  const links = b.stats().cluster!.links;
  assert.deepEqual(await chain(100), { n: 100 });
  assert.equal(b.stats().cluster!.links, links, "no link closed");
  assert.equal(relayed(a), 2);
  assert.equal(hops(c), 1);
});

Deno.test("relay: two steps of a chain on one member pass the value on in place, and a chain may end where it started", async () => {
  await withQuad(({ b, c }) => {
    b.register("inc", (n: number) => n + 1, { resources: ["b"] });
    c.register("double", (n: number) => n * 2, { resources: ["c"] });
  }, async ({ a, b, c }) => {
    await using client = new Client(a.url);
    assert.deepEqual(
      await client.request([
        { name: "x", fun: "inc", args: [1], locs: ["b"] },
        { name: "y", fun: "inc", args: ["x"], locs: ["b"] },
        { name: "z", fun: "double", args: ["y"], locs: ["c"] },
        { name: "w", fun: "inc", args: ["z"], locs: ["b"] },
      ]),
      { w: 7 },
    );
    assert.equal(relayed(a), 1);
    assert.deepEqual([hops(b), hops(c)], [3, 1]);
  });
});

Deno.test("relay: with relayChains off (relay_chains: false), a chain runs step by step through A, with the same answer", async () => {
  await using cluster = await startCluster(3, "star", (i) => ({
    resources: [["a", "b", "c"][i]!],
    ...(i === 0 ? { relayChains: false } : {}),
  }));
  const [a, b, c] = cluster.nodes as [Server, Server, Server];
  b.register("inc", (n: number) => n + 1, { resources: ["b"] });
  c.register("double", (n: number) => n * 2, { resources: ["c"] });
  await converged(cluster.nodes);
  await known(cluster.nodes, "inc", "n1");
  await known(cluster.nodes, "double", "n2");
  await using client = new Client(a.url);
  assert.deepEqual(
    await client.request([
      { name: "x", fun: "inc", args: [1], locs: ["b"] },
      { name: "y", fun: "double", args: ["x"], locs: ["c"] },
    ]),
    { y: 4 },
  );
  assert.equal(relayed(a), 0);
  assert.equal(a.stats().cluster!.forwarded, 2);
  assert.deepEqual([hops(b), hops(c)], [0, 0]);
});
