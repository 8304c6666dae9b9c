// Copyright 2026 the mpreg authors. MIT license.
// Streams as step inputs across nodes (issue 18): a client on A sends
// parse → summarize; the producer runs on B, the consumer on C, and the
// stream goes B → A → C under the consumer's credit (A holds no more than
// it). Also A → B and B → A; the consumer's cancel closes the producer on
// its node; the producer's error, its node's death, the request's deadline.
import assert from "node:assert/strict";
import {
  type CallContext,
  Client,
  ConnectionError,
  FunctionError,
  type Server,
} from "../../mod.ts";
import { ARGUMENT_STREAM_CREDIT } from "../../src/registry/stream_source.ts";
import { converged, known, startCluster } from "../_helpers/cluster.ts";
import { delay, rpcFailure, startServer, waitFor } from "../_helpers/mod.ts";
import { memberProcess } from "../_helpers/process.ts";

/** A (`n0`, resource `a`), B (`n1`, `b`) and C (`n2`, `c`); `setup` registers functions. */
async function withTrio(
  setup: (nodes: { a: Server; b: Server; c: Server }) => void,
  test: (a: Server) => Promise<void>,
): Promise<void> {
  await using cluster = await startCluster(
    3,
    "star",
    (i) => ({ resources: [["a", "b", "c"][i]!] }),
  );
  const [a, b, c] = cluster.nodes as [Server, Server, Server];
  setup({ a, b, c });
  a.register("onA", () => "a", { resources: ["a"] });
  b.register("onB", () => "b", { resources: ["b"] });
  c.register("onC", () => "c", { resources: ["c"] });
  await converged(cluster.nodes);
  await known(cluster.nodes, "onB", "n1");
  await known(cluster.nodes, "onC", "n2");
  await known(cluster.nodes, "onA", "n0");
  await test(a);
}

async function* lines(this: CallContext, n: number): AsyncGenerator<{ i: number; node: string }> {
  for (let i = 0; i < n; i++) yield { i, node: this.node };
}

/** Reads the whole stream, checking its order. */
async function summarize(
  this: CallContext,
  input: ReadableStream<{ i: number; node: string }>,
): Promise<{ count: number; from: string; node: string }> {
  assert.ok(input instanceof ReadableStream, "the consumer gets a ReadableStream");
  let count = 0;
  let from = "";
  for await (const line of input) {
    if (line.i !== count) throw new Error(`chunk ${line.i} came at ${count}`);
    from = line.node;
    count++;
  }
  return { count, from, node: this.node };
}

for (const encoding of ["msgpack", "json"] as const) {
  Deno.test(`stream inputs (${encoding}): parse on B streams 10,000 chunks in order into summarize on C, the client on A`, async () => {
    await withTrio(({ b, c }) => {
      b.register("parse", lines, { resources: ["b"] });
      c.register("summarize", summarize, { resources: ["c"] });
    }, async (a) => {
      await using client = new Client(a.url, { encoding });
      const out = await client.request([
        { name: "parsed", fun: "parse", args: [10_000], locs: ["b"] },
        { name: "summary", fun: "summarize", args: ["parsed"], locs: ["c"] },
      ]);
      assert.deepEqual(out, { summary: { count: 10_000, from: "n1", node: "n2" } });
      assert.equal(a.inFlight, 0);
    });
  });
}

Deno.test("stream inputs: parse sandboxed on B streams 5,000 chunks in order into summarize on C, the client on A; its plain value passes unchanged", async () => {
  let bNode: Server | undefined;
  await withTrio(({ b, c }) => {
    bNode = b;
    b.register("parse", lines, { resources: ["b"], sandbox: true });
    b.register("list", () => [1, 2, 3], { resources: ["b"], sandbox: true });
    c.register("summarize", summarize, { resources: ["c"] });
    c.register("sum", (xs: number[]) => xs.reduce((x, y) => x + y, 0), { resources: ["c"] });
  }, async (a) => {
    await using client = new Client(a.url);
    const out = await client.request([
      { name: "parsed", fun: "parse", args: [5_000], locs: ["b"] },
      { name: "summary", fun: "summarize", args: ["parsed"], locs: ["c"] },
    ]);
    assert.deepEqual(out, { summary: { count: 5_000, from: "n1", node: "n2" } });
    assert.deepEqual(
      await client.request([
        { name: "xs", fun: "list", locs: ["b"] },
        { name: "total", fun: "sum", args: ["xs"], locs: ["c"] },
      ]),
      { total: 6 },
    );
    await waitFor(() => bNode!.stats().sandbox?.inFlight === 0, 5_000, "B's sandbox slots freed");
    assert.equal(a.inFlight, 0);
  });
});

Deno.test("stream inputs: A → B and B → A, and a keyword argument", async () => {
  await withTrio(({ a, b }) => {
    a.register("parseA", lines, { resources: ["a"] });
    a.register("summarizeA", summarize, { resources: ["a"] });
    b.register("parseB", lines, { resources: ["b"] });
    b.register("summarizeB", function (this: CallContext, options: { input: ReadableStream }) {
      return summarize.call(this, options.input);
    }, { resources: ["b"] });
  }, async (a) => {
    await using client = new Client(a.url);
    assert.deepEqual(
      await client.request([
        { name: "p", fun: "parseA", args: [100], locs: ["a"] },
        { name: "s", fun: "summarizeB", kwargs: { input: "p" }, locs: ["b"] },
      ]),
      { s: { count: 100, from: "n0", node: "n1" } },
    );
    assert.deepEqual(
      await client.request([
        { name: "p", fun: "parseB", args: [100], locs: ["b"] },
        { name: "s", fun: "summarizeA", args: ["p"], locs: ["a"] },
      ]),
      { s: { count: 100, from: "n1", node: "n0" } },
    );
  });
});

Deno.test("stream inputs: a forwarded step that may stream and returns a plain value answers it", async () => {
  await withTrio(({ b, c }) => {
    b.register("list", () => [1, 2, 3], { resources: ["b"] });
    c.register("sum", (xs: number[]) => xs.reduce((x, y) => x + y, 0), { resources: ["c"] });
  }, async (a) => {
    await using client = new Client(a.url);
    assert.deepEqual(
      await client.request([
        { name: "xs", fun: "list", locs: ["b"] },
        { name: "total", fun: "sum", args: ["xs"], locs: ["c"] },
      ]),
      { total: 6 },
    );
  });
});

Deno.test("stream inputs: a consumer on C reading 1 chunk per 10 ms holds a fast producer on B to the credit", async () => {
  let produced = 0;
  let most = 0;
  await withTrio(({ b, c }) => {
    b.register("fast", function* () {
      for (let i = 0; i < 60; i++) {
        produced++;
        yield i;
      }
    }, { resources: ["b"] });
    c.register("slow", async (input: ReadableStream<number>) => {
      let consumed = 0;
      for await (const _ of input) {
        consumed++;
        most = Math.max(most, produced - consumed);
        await delay(10);
      }
      return consumed;
    }, { resources: ["c"] });
  }, async (a) => {
    await using client = new Client(a.url);
    const out = await client.request([
      { name: "f", fun: "fast", locs: ["b"] },
      { name: "s", fun: "slow", args: ["f"], locs: ["c"] },
    ]);
    assert.deepEqual(out, { s: 60 });
    // Produced but not yet read: in C's queue, on the wire, held on A.
    assert.ok(
      most <= ARGUMENT_STREAM_CREDIT + 1,
      `the producer ran ${most} chunks ahead, credit ${ARGUMENT_STREAM_CREDIT}`,
    );
    assert.ok(most >= ARGUMENT_STREAM_CREDIT / 2, `it did run ahead (${most})`);
  });
});

for (const how of ["cancel", "return"] as const) {
  Deno.test(`stream inputs: the consumer on C that ${how}s before the end closes the producer on B (its finally runs)`, async () => {
    let produced = 0;
    let finallyRan = false;
    await withTrio(({ b, c }) => {
      b.register("endless", async function* () {
        try {
          for (;;) {
            produced++;
            yield produced;
            await delay(1);
          }
        } finally {
          finallyRan = true;
        }
      }, { resources: ["b"] });
      c.register("firstThree", async (input: ReadableStream<number>) => {
        const reader = input.getReader();
        const got = [];
        for (let i = 0; i < 3; i++) got.push((await reader.read()).value);
        if (how === "cancel") await reader.cancel("enough");
        return got;
      }, { resources: ["c"] });
    }, async (a) => {
      await using client = new Client(a.url);
      const out = await client.request([
        { name: "n", fun: "endless", locs: ["b"] },
        { name: "first", fun: "firstThree", args: ["n"], locs: ["c"] },
      ]);
      assert.deepEqual(out, { first: [1, 2, 3] });
      await waitFor(() => finallyRan, 5_000, "the producer's finally on B");
      const stopped = produced;
      await delay(50);
      assert.equal(produced, stopped);
      await waitFor(() => a.inFlight === 0, 2_000, "nothing in flight on A");
    });
  });
}

Deno.test("stream inputs: the producer's error on B reaches the consumer on C; uncaught, it fails the request naming its step", async () => {
  await withTrio(({ b, c }) => {
    b.register("fails", async function* () {
      yield 1;
      yield 2;
      throw new RangeError("out of lines");
    }, { resources: ["b"] });
    c.register("careless", async (input: ReadableStream<number>) => {
      let n = 0;
      for await (const _ of input) n++;
      return n;
    }, { resources: ["c"] });
    c.register("careful", async (input: ReadableStream<number>) => {
      const got: unknown[] = [];
      try {
        for await (const chunk of input) got.push(chunk);
      } catch (err) {
        got.push(`${(err as FunctionError).code}: ${(err as Error).message}`);
      }
      return got;
    }, { resources: ["c"] });
  }, async (a) => {
    await using client = new Client(a.url);
    const err = await rpcFailure(client.request([
      { name: "src", fun: "fails", locs: ["b"] },
      { name: "use", fun: "careless", args: ["src"], locs: ["c"] },
    ]));
    assert.ok(err instanceof FunctionError, err.message);
    assert.equal(err.code, 1003);
    assert.match(err.message, /^Step "src" \(fails\) failed: RangeError: out of lines/);
    const out = await client.request([
      { name: "src", fun: "fails", locs: ["b"] },
      { name: "use", fun: "careful", args: ["src"], locs: ["c"] },
    ]);
    assert.deepEqual(out, {
      use: [1, 2, '1003: Step "src" (fails) failed: RangeError: out of lines'],
    });
  });
});

Deno.test("stream inputs: the request's deadline mid-stream stops the producer on B and the consumer on C", async () => {
  let finallyRan = false;
  let consumerAborted = false;
  await withTrio(({ b, c }) => {
    b.register("endless", async function* () {
      try {
        for (let i = 0;; i++) {
          yield i;
          await delay(1);
        }
      } finally {
        finallyRan = true;
      }
    }, { resources: ["b"] });
    c.register("slowReader", async function (this: CallContext, input: ReadableStream<number>) {
      try {
        for await (const _ of input) await delay(5);
      } catch (err) {
        consumerAborted = this.signal.aborted;
        throw err;
      }
    }, { resources: ["c"] });
  }, async (a) => {
    await using client = new Client(a.url);
    const err = await rpcFailure(client.request([
      { name: "n", fun: "endless", locs: ["b"] },
      { name: "r", fun: "slowReader", args: ["n"], locs: ["c"] },
    ], { timeoutMs: 300 }));
    assert.equal(err.code, 1006, err.message);
    await waitFor(() => finallyRan, 5_000, "the producer's finally on B");
    await waitFor(() => consumerAborted, 5_000, "the consumer on C stopped");
    await waitFor(() => a.inFlight === 0, 2_000, "nothing in flight on A");
  });
});

Deno.test("stream inputs: the producer's node killed mid-stream fails the consumer's read with a ConnectionError (1013), and the request with it", async () => {
  const dir = await Deno.makeTempDir();
  await using a = await startServer({ name: "a", gossipIntervalMs: 150 });
  await using c = await startServer({
    name: "c",
    gossipIntervalMs: 150,
    peers: [a.url],
    resources: ["c"],
  });
  const readFailed = Promise.withResolvers<unknown>();
  const firstChunk = Promise.withResolvers<void>();
  c.register("watch", async (input: ReadableStream<string>) => {
    try {
      for await (const _ of input) firstChunk.resolve();
    } catch (err) {
      readFailed.resolve(err);
      throw err;
    }
    readFailed.resolve(null);
    return "ended";
  }, { resources: ["c"] });
  const b = await memberProcess(dir, "b", a.url, "tests/fixtures/stream_functions.ts");
  try {
    await b.url;
    await waitFor(() => (a.cluster.functions().ticks ?? []).length === 1, 10_000, "catalog");
    await waitFor(() => (a.cluster.functions().watch ?? []).length === 1, 10_000, "catalog");
    await using client = new Client(a.url);
    const request = client.request([
      { name: "t", fun: "ticks", locs: ["b"] },
      { name: "w", fun: "watch", args: ["t"], locs: ["c"] },
    ], { timeoutMs: 60_000 });
    request.catch(() => {});
    await firstChunk.promise;
    await b.stop("SIGKILL");
    const readError = await readFailed.promise;
    assert.ok(readError instanceof ConnectionError, String(readError));
    assert.equal(readError.code, 1013);
    const err = await rpcFailure(request);
    assert.ok(err instanceof ConnectionError, err.message);
    assert.equal(err.code, 1013);
  } finally {
    await b.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream inputs: the consumer's node killed mid-stream fails the request with a ConnectionError (1013) and closes the producer on B", async () => {
  const dir = await Deno.makeTempDir();
  await using a = await startServer({ name: "a", gossipIntervalMs: 150 });
  await using b = await startServer({
    name: "b",
    gossipIntervalMs: 150,
    peers: [a.url],
    resources: ["b"],
  });
  let produced = 0;
  let finallyRan = false;
  b.register("endless", async function* () {
    try {
      for (;;) {
        produced++;
        yield produced;
        await delay(1);
      }
    } finally {
      finallyRan = true;
    }
  }, { resources: ["b"] });
  const c = await memberProcess(dir, "c", a.url, "tests/fixtures/stream_functions.ts");
  try {
    await c.url;
    await waitFor(() => (a.cluster.functions().drain ?? []).length === 1, 10_000, "catalog");
    await waitFor(() => (a.cluster.functions().endless ?? []).length === 1, 10_000, "catalog");
    await using client = new Client(a.url);
    const request = client.request([
      { name: "e", fun: "endless", locs: ["b"] },
      { name: "d", fun: "drain", args: ["e"], locs: ["c"] },
    ], { timeoutMs: 60_000 });
    request.catch(() => {});
    await waitFor(() => produced > 5, 10_000, "the stream flowing into C");
    await c.stop("SIGKILL");
    const err = await rpcFailure(request);
    assert.ok(err instanceof ConnectionError, err.message);
    assert.equal(err.code, 1013);
    await waitFor(() => finallyRan, 5_000, "the producer's finally on B");
    const stopped = produced;
    await delay(50);
    assert.equal(produced, stopped);
  } finally {
    await c.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream inputs: client.streamRequest() through A reads a stream made on B and transformed on C, 5,000 chunks in order", async () => {
  await withTrio(({ b, c }) => {
    b.register("parse", lines, { resources: ["b"] });
    c.register("tag", async function* (this: CallContext, input: ReadableStream<{ i: number }>) {
      for await (const line of input) yield { ...line, tagged: this.node };
    }, { resources: ["c"] });
  }, async (a) => {
    await using client = new Client(a.url);
    let next = 0;
    for await (
      const chunk of client.streamRequest([
        { name: "parsed", fun: "parse", args: [5_000], locs: ["b"] },
        { name: "tagged", fun: "tag", args: ["parsed"], locs: ["c"] },
      ], { credit: 8 })
    ) {
      assert.deepEqual(chunk, { i: next, node: "n1", tagged: "n2" });
      next++;
    }
    assert.equal(next, 5_000);
    await waitFor(() => a.inFlight === 0, 2_000, "nothing in flight on A");
  });
});

Deno.test("stream inputs: a relayed stream its reader on A cancels closes the relayed run's input stream on A (its producer's finally runs)", async () => {
  await using cluster = await startCluster(2, "star");
  const [a, b] = cluster.nodes as [Server, Server];
  let closed = false;
  let pulled = 0;
  a.register("lines", async function* () {
    try {
      for (let i = 0;; i++) {
        pulled++;
        yield `line ${i}`;
      }
    } finally {
      closed = true;
    }
  }).register("first", async (input: ReadableStream<string>) => {
    const reader = input.getReader();
    const { value } = await reader.read();
    await reader.cancel();
    return value;
  });
  b.register("upper", async function* (input: ReadableStream<string>) {
    for await (const line of input) yield line.toUpperCase();
  });
  await converged(cluster.nodes);
  await known(cluster.nodes, "upper", "n1");
  await using client = new Client(a.url);
  // lines (A) → upper (B, relayed back) → first (A), which cancels it.
  const out = await client.request([
    { name: "raw", fun: "lines", args: [] },
    { name: "loud", fun: "upper", args: ["raw"] },
    { name: "one", fun: "first", args: ["loud"] },
  ]);
  assert.deepEqual(out, { one: "LINE 0" });
  await waitFor(() => closed, 3_000, "the producer on A closed");
  const stopped = pulled;
  await delay(30);
  assert.equal(pulled, stopped);
  await waitFor(() => a.inFlight === 0 && b.inFlight === 0, 3_000, "both idle");
});
