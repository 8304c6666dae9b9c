// Copyright 2026 the mpreg authors. MIT license.
// Direct handoff (issue 19): a forwarded step's large value that only other
// steps take stays on the member that made it, and the member of each step
// that takes it fetches it from there: it never passes through the
// coordinator A. A chain of steps goes member to member whatever its
// values' sizes (relayed, tests/cluster/relay_test.ts); the requests here
// take a value in more than one step, or with a step A runs, so that it is
// held. The coordinator keeps the request's failure naming: a failing
// middle step, a cancel mid-chain, the producer's node killed after
// producing and the consumer's node killed before it answers each end with
// their usual code, no step runs twice, and the held values are let go.
import assert from "node:assert/strict";
import { CancelledError, Client, ConnectionError, FunctionError, type Server } from "../../mod.ts";
import { HANDOFF_MIN_BYTES } from "../../src/cluster/held_value.ts";
import { converged, known, startCluster } from "../_helpers/cluster.ts";
import { rpcFailure, startServer, waitFor } from "../_helpers/mod.ts";
import { markerLines, memberProcess } from "../_helpers/process.ts";

const MIB10 = 10 * 1024 * 1024;
const LIMITS = { maxFrameBytes: 16 * 1024 * 1024, maxStringBytes: 16 * 1024 * 1024 };

/**
 * A (`n0`, resource `a`), B (`n1`, `b`) and C (`n2`, `c`), B and C joined
 * through A (C dials B when it first fetches from it); `setup` registers functions.
 */
async function withTrio(
  setup: (nodes: { a: Server; b: Server; c: Server }) => void,
  test: (nodes: { a: Server; b: Server; c: Server }) => Promise<void>,
): Promise<void> {
  await using cluster = await startCluster(
    3,
    "star",
    (i) => ({ resources: [["a", "b", "c"][i]!], limits: LIMITS }),
  );
  const [a, b, c] = cluster.nodes as [Server, Server, Server];
  setup({ a, b, c });
  b.register("onB", () => "b", { resources: ["b"] });
  c.register("onC", () => "c", { resources: ["c"] });
  await converged(cluster.nodes);
  await known(cluster.nodes, "onB", "n1");
  await known(cluster.nodes, "onC", "n2");
  await test({ a, b, c });
}

const held = (node: Server): number => node.stats().cluster!.held;
const through = (node: Server): number => {
  const stats = node.stats().cluster!;
  return stats.peerBytesIn + stats.peerBytesOut;
};

Deno.test("handoff: a 10 MiB value made on B and taken by C goes B → C, not through A (≤ 1 % of it)", async () => {
  let made = 0;
  let sized = 0;
  const blob = new Uint8Array(MIB10).fill(3);
  await withTrio(({ b, c }) => {
    b.register("blob", () => (made++, blob), { resources: ["b"] });
    c.register("size", (x: Uint8Array) => (sized++, x.byteLength), { resources: ["c"] });
  }, async ({ a, b, c }) => {
    await using client = new Client(a.url);
    const steps = [
      { name: "blob", fun: "blob", locs: ["b"] },
      { name: "n", fun: "size", args: ["blob"], locs: ["c"] },
    ];
    // C has never run a step of B's: it dials B for its first fetch.
    const cLinks = c.stats().cluster!.links;
    for (let round = 0; round < 3; round++) {
      const before = through(a);
      const cBefore = c.stats().cluster!.peerBytesIn;
      assert.deepEqual(await client.request(steps), { n: MIB10 });
      const bytes = through(a) - before;
      assert.ok(bytes <= MIB10 / 100, `${bytes} bytes through A`);
      assert.ok(c.stats().cluster!.peerBytesIn - cBefore >= MIB10, "C got the 10 MiB");
    }
    assert.equal(made, 3);
    assert.equal(sized, 3);
    assert.equal(cLinks, 1, "C had no link to B before");
    await waitFor(() => held(b) === 0, 2_000, "B let the values go");
  });
});

Deno.test("handoff: a small value of a chain goes B → C too; a large one is fetched by A for a step A runs, and by B itself for a step on B", async () => {
  await withTrio(({ a, b, c }) => {
    b.register("inc", (n: number) => n + 1, { resources: ["b"] });
    c.register("double", (n: number) => n * 2, { resources: ["c"] });
    b.register("bytes", (n: number) => new Uint8Array(n).fill(1), { resources: ["b"] });
    b.register("sizeB", (x: Uint8Array) => x.byteLength, { resources: ["b"] });
    c.register("sizeC", (x: Uint8Array) => x.byteLength, { resources: ["c"] });
    c.register("sizeK", (kw: { x: Uint8Array }) => kw.x.byteLength, { resources: ["c"] });
    a.register("sizeA", (x: Uint8Array) => x.byteLength, { resources: ["a"] });
  }, async ({ a, b, c }) => {
    await using client = new Client(a.url);
    assert.deepEqual(
      await client.request([
        { name: "x", fun: "inc", args: [1], locs: ["b"] },
        { name: "y", fun: "double", args: ["x"], locs: ["c"] },
      ]),
      { y: 4 },
    );
    assert.equal(held(b), 0);
    // Just under the bound, as a chain: B passes the value on to C itself
    // (relayed), and nothing of it goes through A.
    const small = HANDOFF_MIN_BYTES / 2;
    const sentBefore = a.stats().cluster!.peerBytesOut;
    const cBefore = c.stats().cluster!.peerBytesIn;
    assert.deepEqual(
      await client.request([
        { name: "x", fun: "bytes", args: [small], locs: ["b"] },
        { name: "y", fun: "sizeC", args: ["x"], locs: ["c"] },
      ]),
      { y: small },
    );
    const sent = a.stats().cluster!.peerBytesOut - sentBefore;
    assert.ok(sent < small / 4, `A sent ${sent} bytes: a small value goes B → C, not through A`);
    assert.ok(c.stats().cluster!.peerBytesIn - cBefore >= small, "C got the value");
    const large = 4 * HANDOFF_MIN_BYTES;
    assert.deepEqual(
      await client.request([
        { name: "x", fun: "bytes", args: [large], locs: ["b"] },
        { name: "onA", fun: "sizeA", args: ["x"], locs: ["a"] },
        { name: "onB", fun: "sizeB", args: ["x"], locs: ["b"] },
        { name: "onC", fun: "sizeK", args: [], kwargs: { x: "x" }, locs: ["c"] },
      ]),
      { onA: large, onB: large, onC: large },
    );
    // A value the request returns goes to A: `all`, or a field of it taken.
    const all = await client.request([
      { name: "x", fun: "bytes", args: [large], locs: ["b"] },
      { name: "y", fun: "sizeC", args: ["x"], locs: ["c"] },
    ], { all: true });
    assert.equal((all.x as Uint8Array).byteLength, large);
    assert.equal(all.y, large);
    await waitFor(() => held(b) === 0, 2_000, "B let the values go");
  });
});

Deno.test("handoff: a failing middle step fails the request with its error (1003), runs nothing twice, and the held value goes", async () => {
  const runs = { big: 0, fail: 0, after: 0 };
  await withTrio(({ a, b, c }) => {
    b.register("big", () => (runs.big++, new Uint8Array(HANDOFF_MIN_BYTES * 2)), {
      resources: ["b"],
    });
    c.register("fail", (_x: Uint8Array) => {
      runs.fail++;
      throw new Error("middle broke");
    }, { resources: ["c"] });
    a.register("after", (x: unknown) => (runs.after++, x), { resources: ["a"] });
  }, async ({ a, b }) => {
    await using client = new Client(a.url);
    const err = await rpcFailure(client.request([
      { name: "x", fun: "big", locs: ["b"] },
      { name: "y", fun: "fail", args: ["x"], locs: ["c"] },
      { name: "z", fun: "after", args: ["y"], locs: ["a"] },
    ]));
    assert.ok(err instanceof FunctionError, err.message);
    assert.match(err.message, /middle broke/);
    assert.deepEqual(runs, { big: 1, fail: 1, after: 0 });
    await waitFor(() => held(b) === 0, 2_000, "B let the value go");
  });
});

Deno.test("handoff: a request cancelled mid-chain ends with 1008-cancelled at once, the consumer is stopped, and the held value goes", async () => {
  const runs = { big: 0, hold: 0, after: 0 };
  let stopped = false;
  const started = Promise.withResolvers<void>();
  await withTrio(({ a, b, c }) => {
    b.register("big", () => (runs.big++, new Uint8Array(HANDOFF_MIN_BYTES * 2)), {
      resources: ["b"],
    });
    c.register("hold", function (this: { signal: AbortSignal }, x: Uint8Array) {
      runs.hold++;
      started.resolve();
      return new Promise((_, reject) => {
        this.signal.addEventListener("abort", () => {
          stopped = true;
          reject(this.signal.reason);
        });
      }).then(() => x.byteLength);
    }, { resources: ["c"] });
    a.register("after", (x: unknown) => (runs.after++, x), { resources: ["a"] });
  }, async ({ a, b }) => {
    await using client = new Client(a.url);
    const controller = new AbortController();
    const request = client.request([
      { name: "x", fun: "big", locs: ["b"] },
      { name: "y", fun: "hold", args: ["x"], locs: ["c"] },
      { name: "z", fun: "after", args: ["y"], locs: ["a"] },
    ], { signal: controller.signal, timeoutMs: 30_000 });
    request.catch(() => {});
    await started.promise;
    controller.abort();
    const err = await rpcFailure(request);
    assert.ok(err instanceof CancelledError, err.message);
    await waitFor(() => stopped, 5_000, "the consumer on C stopped");
    await waitFor(() => held(b) === 0, 2_000, "B let the value go");
    await waitFor(() => a.inFlight === 0, 2_000, "nothing in flight on A");
    assert.deepEqual(runs, { big: 1, hold: 1, after: 0 });
  });
});

Deno.test("handoff: the producer's node killed after producing fails the request with a ConnectionError (1013), naming it; nothing runs twice", async () => {
  const dir = await Deno.makeTempDir();
  const marker = `${dir}/runs`;
  await using a = await startServer({ name: "a", gossipIntervalMs: 150, resources: ["a"] });
  await using c = await startServer({
    name: "c",
    gossipIntervalMs: 150,
    peers: [a.url],
    resources: ["c"],
  });
  const gate = Promise.withResolvers<void>();
  let gated = 0;
  let used = 0;
  a.register("gate", async () => {
    gated++;
    await gate.promise;
    return "open";
  }, { resources: ["a"] });
  c.register("use", (x: Uint8Array, _g: string) => (used++, x.byteLength), {
    resources: ["c"],
  });
  const b = await memberProcess(dir, "b", a.url, "tests/fixtures/handoff_functions.ts");
  try {
    await b.url;
    await waitFor(() => (a.cluster.functions().big ?? []).length === 1, 10_000, "catalog");
    await waitFor(() => (a.cluster.functions().use ?? []).length === 1, 10_000, "catalog");
    await waitFor(() => c.stats().cluster!.links === 2, 10_000, "C linked to B");
    await using client = new Client(a.url);
    const request = client.request([
      { name: "x", fun: "big", args: [marker], locs: ["b"] },
      { name: "g", fun: "gate", locs: ["a"] },
      { name: "y", fun: "use", args: ["x", "g"], locs: ["c"] },
    ], { timeoutMs: 30_000 });
    request.catch(() => {});
    await waitFor(async () => (await markerLines(marker)).length === 1, 10_000, "big ran on B");
    // B's `held` answer is a small frame right behind its run.
    await waitFor(() => a.stats().cluster!.peerBytesIn > 0, 1_000, "B answered");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const status = await b.stop("SIGKILL");
    assert.ok(!status.success);
    gate.resolve();
    const err = await rpcFailure(request);
    assert.ok(err instanceof ConnectionError, err.message);
    assert.equal(err.code, 1013);
    assert.match(err.message, /"b"/);
    assert.deepEqual(await markerLines(marker), ["big"]);
    assert.equal(gated, 1);
    assert.equal(used, 0);
    await waitFor(() => a.inFlight === 0, 2_000, "nothing in flight on A");
  } finally {
    await b.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("handoff: the consumer's node killed before it answers fails the request with a ConnectionError (1013); nothing runs twice; the producer lets its value go", async () => {
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
  b.register("make", () => (made++, new Uint8Array(HANDOFF_MIN_BYTES * 2)), {
    resources: ["b"],
  });
  // A step of A's own (the marker's path) makes the request no chain: x is held.
  a.register("path", () => marker, { resources: ["a"] });
  const c = await memberProcess(dir, "c", a.url, "tests/fixtures/handoff_functions.ts");
  try {
    await c.url;
    await waitFor(() => (a.cluster.functions().hold ?? []).length === 1, 10_000, "catalog");
    await waitFor(() => b.stats().cluster!.links === 2, 10_000, "B linked to C");
    await using client = new Client(a.url);
    const request = client.request([
      { name: "x", fun: "make", locs: ["b"] },
      { name: "m", fun: "path", locs: ["a"] },
      { name: "y", fun: "hold", args: ["x", "m"], locs: ["c"] },
    ], { timeoutMs: 30_000 });
    request.catch(() => {});
    await waitFor(
      async () => (await markerLines(marker)).length === 1,
      10_000,
      "hold got its input",
    );
    assert.equal(held(b), 1);
    await c.stop("SIGKILL");
    const err = await rpcFailure(request);
    assert.ok(err instanceof ConnectionError, err.message);
    assert.equal(err.code, 1013);
    assert.deepEqual(await markerLines(marker), [`hold ${HANDOFF_MIN_BYTES * 2}`]);
    assert.equal(made, 1);
    await waitFor(() => held(b) === 0, 2_000, "B let the value go");
    await waitFor(() => a.inFlight === 0, 2_000, "nothing in flight on A");
  } finally {
    await c.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});
