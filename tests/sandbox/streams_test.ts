// Copyright 2026 the mpreg authors. MIT license.
// Streamed results from sandboxed functions (issue 18): the producer runs in
// a sandbox process, the node's credit is passed into it, and chunks come
// back as sandbox protocol messages. What the producer does is counted
// inside the sandbox, in a file it may write, and read by the test.
import assert from "node:assert/strict";
import {
  type CallContext,
  CancelledError,
  Client,
  FunctionError,
  InternalError,
  LimitExceededError,
  type ServerOptions,
  TimeoutError,
} from "../../mod.ts";
import { OverloadedError, UnavailableError } from "../../src/protocol/errors.ts";
import {
  ARGUMENT_STREAM_CREDIT,
  isStreamSource,
  type StreamSource,
} from "../../src/registry/stream_source.ts";
import { type FunctionRef, WorkerPool } from "../../src/sandbox/pool.ts";
import { streamStats } from "../../src/server/stream_sender.ts";
import { context, eventually, FIXTURES, rejection } from "./_helpers.ts";
import { converged, known, startCluster } from "../_helpers/cluster.ts";
import { delay, RawSocket, startServer, waitFor } from "../_helpers/mod.ts";

/** A folder the sandboxed functions may write and read, removed after `test`. */
async function withDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "mpreg-sandbox-streams-" }));
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A node whose anonymous callers may call functions that declare `write`. */
function startWriter(): ReturnType<typeof startServer> {
  return startServer({ auth: { anonymous: { allow: ["*"], permissions: ["write"] } } });
}

/** How many chunks the sandboxed producer made: one byte each in `path`. */
function produced(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/** Reads a stream to its end; returns the chunks and the error, if any. */
async function readAll(stream: ReadableStream<unknown>): Promise<[unknown[], unknown]> {
  const got: unknown[] = [];
  try {
    for await (const chunk of stream) got.push(chunk);
  } catch (err) {
    return [got, err];
  }
  return [got, null];
}

/** A producer that counts each chunk it makes in a file (one byte per chunk), then yields it. */
async function* counted(path: string, n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) {
    await Deno.writeFile(path, new Uint8Array(1), { append: true });
    yield i;
  }
}

/**
 * Endless; its `finally` writes whether `this.signal` had aborted. Counts
 * its chunks in `${path}.n`.
 */
async function* endless(this: CallContext, path: string): AsyncGenerator<number> {
  let i = 0;
  try {
    for (;;) {
      await Deno.writeFile(`${path}.n`, new Uint8Array(1), { append: true });
      yield i++;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  } finally {
    await Deno.writeTextFile(path, `finally ran, aborted: ${this.signal.aborted}`);
  }
}

Deno.test("sandbox streams: 1,000 chunks in order from a sandboxed generator, in both encodings; a ReadableStream, an async iterable, a sync generator and an async function's stream too", async () => {
  await using server = await startServer();
  server
    .register("count", async function* (n: number) {
      for (let i = 0; i < n; i++) yield { i, pid: Deno.pid };
    }, { sandbox: true })
    .register("readable", () =>
      new ReadableStream({
        start(c) {
          c.enqueue("a");
          c.enqueue("b");
          c.close();
        },
      }), { sandbox: true })
    .register("iterable", () => ({
      async *[Symbol.asyncIterator]() {
        yield 1;
        yield 2;
      },
    }), { sandbox: true })
    .register("numbers", function* () {
      yield* [1, 2, 3];
    }, { sandbox: true })
    .register("later", () => Promise.resolve(ReadableStream.from(["x", "y"])), { sandbox: true })
    .register("empty", async function* () {}, { sandbox: true });
  for (const encoding of ["msgpack", "json"] as const) {
    await using client = new Client(server.url, { encoding });
    let next = 0;
    for await (const chunk of client.stream("count", [1_000])) {
      const { i, pid } = chunk as { i: number; pid: number };
      assert.equal(i, next);
      // It ran in a sandbox process, not in this one.
      assert.notEqual(pid, Deno.pid);
      next++;
    }
    assert.equal(next, 1_000);
    assert.deepEqual(await Array.fromAsync(client.stream("readable")), ["a", "b"]);
    assert.deepEqual(await Array.fromAsync(client.stream("iterable")), [1, 2]);
    assert.deepEqual(await Array.fromAsync(client.stream("numbers", [], { credit: 1 })), [1, 2, 3]);
    assert.deepEqual(await Array.fromAsync(client.stream("later")), ["x", "y"]);
    assert.deepEqual(await Array.fromAsync(client.stream("empty")), []);
  }
  assert.equal(server.inFlight, 0);
  assert.equal(server.stats().sandbox?.inFlight, 0);
});

Deno.test("sandbox streams: on the wire, the sandboxed producer is asked for no chunk past the credit", async () => {
  await withDir(async (dir) => {
    await using server = await startWriter();
    server.register("counted", counted, { permissions: { write: [dir] } });
    const path = `${dir}/produced`;
    const ws = new RawSocket(server.url, "mpreg.json.v1");
    await ws.opened;
    ws.ws.send(JSON.stringify({
      role: "rpc",
      u: 1,
      cmds: [{ name: "c", fun: "counted", args: [path, 10] }],
      stream: 3,
    }));
    await ws.waitFrames(3);
    await delay(200);
    assert.deepEqual(ws.frames.map((f) => JSON.parse(f as string)), [
      { u: 1, chunk: 0 },
      { u: 1, chunk: 1 },
      { u: 1, chunk: 2 },
    ]);
    // The producer in the sandbox was not asked for a fourth chunk.
    assert.equal(produced(path), 3);
    ws.ws.send(JSON.stringify({ role: "credit", u: 1, n: 100 }));
    await ws.waitFrames(11);
    const rest = ws.frames.slice(3).map((f) => JSON.parse(f as string));
    assert.deepEqual(rest.slice(0, 7).map((m) => m.chunk), [3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(rest[7], { u: 1, r: 10, error: null });
    assert.equal(produced(path), 10);
    await ws.close();
  });
});

Deno.test("sandbox streams: a slow reader holds a fast sandboxed producer to the credit", async () => {
  await withDir(async (dir) => {
    await using server = await startWriter();
    server.register("counted", counted, { permissions: { write: [dir] } });
    const path = `${dir}/produced`;
    const credit = 4;
    await using client = new Client(server.url);
    let consumed = 0;
    let most = 0;
    for await (const _ of client.stream("counted", [path, 40], { credit })) {
      consumed++;
      const ahead = produced(path) - consumed;
      most = Math.max(most, ahead);
      // Produced but not read: in the reader's queue or on its way.
      assert.ok(ahead <= credit + 1, `${produced(path)} produced, ${consumed} read`);
      assert.equal(streamStats.buffered, 0, "chunks held on the node past the credit");
      await delay(10);
    }
    assert.equal(consumed, 40);
    // The producer did run ahead, as far as the credit allows.
    assert.ok(most >= credit - 1, `at most ${most} ahead`);
  });
});

for (const how of ["cancel()", "signal", "deadline"] as const) {
  Deno.test(`sandbox streams: the reader's ${how} runs the sandboxed generator's finally, with this.signal aborted`, async () => {
    await withDir(async (dir) => {
      await using server = await startWriter();
      server.register("endless", endless, { permissions: { write: [dir] } });
      const path = `${dir}/finally`;
      await using client = new Client(server.url);
      const controller = new AbortController();
      const reader = client.stream("endless", [path], {
        signal: controller.signal,
        ...(how === "deadline" ? { timeoutMs: 500 } : {}),
      }).getReader();
      for (let i = 0; i < 3; i++) assert.equal((await reader.read()).value, i);
      if (how === "cancel()") {
        await reader.cancel("enough");
      } else {
        if (how === "signal") controller.abort();
        let err: unknown = null;
        while (err === null) {
          err = await reader.read().then((r) => (r.done ? "done" : null), (e) => e);
        }
        if (how === "signal") assert.ok(err instanceof CancelledError, String(err));
        else assert.ok(err instanceof TimeoutError, String(err));
      }
      await waitFor(() => produced(path) > 0, 5_000, "the generator's finally in the sandbox");
      assert.equal(await Deno.readTextFile(path), "finally ran, aborted: true");
      const stopped = produced(`${path}.n`);
      await delay(100);
      assert.equal(produced(`${path}.n`), stopped, "the producer stopped");
      await waitFor(() => server.stats().sandbox?.inFlight === 0, 5_000, "the sandbox slot freed");
      assert.equal(server.inFlight, 0);
    });
  });
}

for (const how of ["return", "cancel"] as const) {
  Deno.test(`sandbox streams: a sandboxed producer streaming into a step is held to the consumer's credit; the consumer's ${how} runs its finally`, async () => {
    await withDir(async (dir) => {
      await using server = await startWriter();
      server.register("endless", endless, { permissions: { write: [dir] } });
      const path = `${dir}/finally`;
      let ahead = 0;
      server.register("firstThree", async (input: ReadableStream<number>) => {
        const reader = input.getReader();
        const got = [];
        for (let i = 0; i < 3; i++) got.push((await reader.read()).value);
        // The producer runs ahead no further than the credit.
        await delay(200);
        ahead = produced(`${path}.n`);
        if (how === "cancel") await reader.cancel("enough");
        return got;
      });
      await using client = new Client(server.url);
      assert.deepEqual(
        await client.request([
          { name: "n", fun: "endless", args: [path] },
          { name: "first", fun: "firstThree", args: ["n"] },
        ]),
        { first: [0, 1, 2] },
      );
      assert.ok(ahead >= 3 && ahead <= ARGUMENT_STREAM_CREDIT + 2, `it made ${ahead} chunks`);
      await waitFor(() => produced(path) > 0, 5_000, "the generator's finally in the sandbox");
      assert.equal(await Deno.readTextFile(path), "finally ran, aborted: true");
      const stopped = produced(`${path}.n`);
      await delay(100);
      assert.equal(produced(`${path}.n`), stopped, "the producer stopped");
      await waitFor(() => server.stats().sandbox?.inFlight === 0, 5_000, "the sandbox slot freed");
      assert.equal(server.inFlight, 0);
    });
  });
}

Deno.test("sandbox streams: a producer's error mid-stream reaches the reader as 1003 naming the step, after its chunks", async () => {
  await using server = await startServer();
  server.register("fails", async function* () {
    for (let i = 0; i < 5; i++) yield i;
    throw new RangeError("out of ticks");
  }, { sandbox: true });
  await using client = new Client(server.url);
  const [got, err] = await readAll(client.stream("fails"));
  assert.deepEqual(got, [0, 1, 2, 3, 4]);
  assert.ok(err instanceof FunctionError, String(err));
  assert.equal(err.code, 1003);
  assert.equal(err.message, 'Step "fails" (fails) failed: RangeError: out of ticks');
  assert.equal(server.stats().sandbox?.inFlight, 0);
});

Deno.test("sandbox streams: a sandboxed value that is not a stream, read as one, is a clear 1003", async () => {
  await using server = await startServer();
  server.register("plain", () => 42, { sandbox: true });
  await using client = new Client(server.url);
  const [, err] = await readAll(client.stream("plain"));
  assert.ok(err instanceof FunctionError, String(err));
  assert.equal(err.code, 1003);
  assert.match(err.message, /returned number, not a stream/);
  assert.equal(server.stats().sandbox?.inFlight, 0);
});

Deno.test("sandbox streams: a sandbox process killed mid-stream fails the reader at once, and is replaced", async () => {
  await using server = await startServer();
  server.register("pids", async function* () {
    for (;;) {
      yield Deno.pid;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }, { sandbox: true });
  server.register("one", () => 1, { sandbox: true });
  await using client = new Client(server.url);
  // Long deadlines: only the process's death may end the stream.
  const reader = client.stream("pids", [], { idleTimeoutMs: 60_000, timeoutMs: 60_000 })
    .getReader();
  const pid = (await reader.read()).value as number;
  assert.notEqual(pid, Deno.pid);
  const killedAt = performance.now();
  Deno.kill(pid, "SIGKILL");
  let err: unknown = null;
  while (err === null) err = await reader.read().then((r) => (r.done ? "done" : null), (e) => e);
  const ms = performance.now() - killedAt;
  assert.ok(err instanceof InternalError, String(err));
  assert.equal(err.code, 1002);
  // The reason ("its sandbox process was killed by SIGKILL") is in the node's log.
  assert.match(err.message, /^Internal error on node /);
  assert.equal((err.details as { step: string }).step, "pids");
  assert.ok(ms < 2_000, `the reader heard after ${ms} ms`);
  assert.equal(server.inFlight, 0);
  // Replaced: the next call works.
  assert.equal(await client.call("one"), 1);
});

Deno.test("sandbox streams: a sandboxed producer over its memory cap fails the reader with 1011", async () => {
  await using server = await startServer();
  server.register("hog", async function* () {
    yield "first";
    const kept: Uint8Array[] = [];
    for (let i = 0; i < 2048; i++) {
      kept.push(new Uint8Array(1024 * 1024).fill(1));
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    yield kept.length;
  }, { sandbox: true, memoryMb: 128 });
  await using client = new Client(server.url);
  const [got, err] = await readAll(
    client.stream("hog", [], { idleTimeoutMs: 60_000, timeoutMs: 60_000 }),
  );
  assert.deepEqual(got, ["first"]);
  assert.ok(err instanceof LimitExceededError, String(err));
  assert.equal(err.code, 1011);
  assert.match(err.message, /^Step "hog" \(hog\) failed: its sandbox process /);
  assert.equal(server.inFlight, 0);
});

Deno.test("sandbox streams: call() of a sandboxed stream still refuses it, and cancels it in the sandbox", async () => {
  await withDir(async (dir) => {
    await using server = await startWriter();
    server.register("cancellable", (path: string) =>
      new ReadableStream({
        pull(c) {
          c.enqueue(1);
        },
        cancel() {
          Deno.writeTextFileSync(path, "cancelled");
        },
      }), { permissions: { write: [dir] } });
    const path = `${dir}/cancelled`;
    await using client = new Client(server.url);
    const err = await client.call("cancellable", [path]).then(() => null, (e) => e);
    assert.ok(err instanceof FunctionError, String(err));
    assert.match(
      err.message,
      /returned a ReadableStream: a streamed result is read with client\.stream\(\)/,
    );
    // Nobody reads it: it was cancelled in its process.
    await waitFor(() => produced(path) > 0, 5_000, "the stream cancelled");
  });
});

// The pool's side: slots, processes and failures of streamed calls.

const TICKS: FunctionRef = {
  name: "ticks",
  source: "async function* (n) { for (let i = 0; i < n; i++) yield i; }",
};
const ADD: FunctionRef = { name: "add", source: "(a, b) => a + b" };

/** Reads a pool's stream to its end, with `credit` granted at first and one more per chunk. */
function drain(source: StreamSource, credit = 16): Promise<[unknown[], unknown]> {
  const got: unknown[] = [];
  return new Promise((resolve) => {
    source.start({
      chunk: (value) => {
        got.push(value);
        source.credit(1);
      },
      end: () => resolve([got, null]),
      error: (err) => resolve([got, err]),
    }, credit);
  });
}

Deno.test("WorkerPool: a stream holds its slot until it ends; streams waiting for their reader start no process and block no call", async () => {
  const pool = new WorkerPool({}, { maxWorkers: 2, maxInFlight: 3 });
  try {
    assert.equal(await pool.call(ADD, [1, 2], undefined, context()), 3);
    const open = async (step: string) =>
      await pool.call(TICKS, [1_000], undefined, context(step), true) as StreamSource;
    const first = await open("first");
    const second = await open("second");
    assert.ok(isStreamSource(first) && isStreamSource(second));
    assert.equal(pool.stats().inFlight, 2);
    // Long past stallMs: a process whose only calls are streams still takes calls.
    await delay(50);
    assert.equal(await pool.call(ADD, [2, 2], undefined, context()), 4);
    assert.equal(pool.stats().workers, 1);
    // A third stream fills the pool: the next call is refused at once, never queued.
    const third = await open("third");
    const refused = await rejection(pool.call(ADD, [1, 1], undefined, context("refused")));
    assert.ok(refused instanceof OverloadedError, String(refused));
    // A cancelled stream frees its slot once its process closed the producer.
    first.cancel(new Error("enough"));
    await eventually(() => pool.stats().inFlight === 2);
    assert.equal(await pool.call(ADD, [3, 3], undefined, context()), 6);
    // A stream read to its end frees its slot.
    const [got, err] = await drain(second);
    assert.equal(err, null);
    assert.equal(got.length, 1_000);
    assert.equal(pool.stats().inFlight, 1);
    // close() fails a stream in flight.
    const closed = drain(third);
    await pool.close();
    const [, closedErr] = await closed;
    assert.ok(closedErr instanceof UnavailableError, String(closedErr));
    assert.equal(pool.stats().crashes, 0);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool: a chunk msgpack cannot hold fails its stream only, after the chunks before it", async () => {
  const pool = new WorkerPool({}, { maxWorkers: 1 });
  try {
    const ref: FunctionRef = {
      name: "odd",
      source: "async function* () { yield 1; yield 2n ** 70n; yield 3; }",
    };
    const source = await pool.call(ref, [], undefined, context("odd"), true) as StreamSource;
    const [got, err] = await drain(source, 1);
    assert.deepEqual(got, [1]);
    assert.ok(err instanceof FunctionError, String(err));
    assert.match(
      err.message,
      /^Step "odd" \(odd\) failed: DataCloneError: A chunk of the stream cannot be sent back/,
    );
    assert.equal(pool.stats().crashes, 0);
    assert.equal(pool.stats().inFlight, 0);
    assert.equal(await pool.call(ADD, [1, 2], undefined, context()), 3);
  } finally {
    await pool.close();
  }
});

Deno.test("sandbox streams: forwarded, client → A → B where B runs the producer in a sandbox: chunks in order, and cancel runs its finally", async () => {
  await withDir(async (dir) => {
    const auth: ServerOptions["auth"] = { anonymous: { allow: ["*"], permissions: ["write"] } };
    await using cluster = await startCluster(2, "star", (i) => ({
      resources: i === 0 ? [] : ["b"],
      auth,
    }));
    const [a, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    b.register("count", async function* (this: CallContext, n: number) {
      for (let i = 0; i < n; i++) yield { i, node: this.node };
    }, { sandbox: true, resources: ["b"] });
    b.register("endless", endless, { permissions: { write: [dir] }, resources: ["b"] });
    await converged(cluster.nodes);
    await known(cluster.nodes, "endless", "n1");
    await using client = new Client(a.url);
    let next = 0;
    for await (const chunk of client.stream("count", [1_000], { locs: ["b"] })) {
      assert.deepEqual(chunk, { i: next, node: "n1" });
      next++;
    }
    assert.equal(next, 1_000);
    const path = `${dir}/finally`;
    const reader = client.stream("endless", [path], { locs: ["b"] }).getReader();
    for (let i = 0; i < 3; i++) assert.equal((await reader.read()).value, i);
    await reader.cancel("enough");
    await waitFor(() => produced(path) > 0, 5_000, "the generator's finally in B's sandbox");
    assert.equal(await Deno.readTextFile(path), "finally ran, aborted: true");
    await waitFor(() => b.stats().sandbox?.inFlight === 0, 5_000, "B's sandbox slot freed");
  });
});

Deno.test("sandbox streams: a sandboxed producer's progress reports reach the reader, the last one before the end", async () => {
  await using server = await startServer();
  server.register("ticks", async function* (this: CallContext, n: number) {
    for (let i = 1; i <= n; i++) {
      this.progress({ done: i, total: n });
      yield i;
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
  }, { sandbox: true });
  await using client = new Client(server.url);
  const seen: unknown[] = [];
  const chunks = await Array.fromAsync(
    client.stream("ticks", [3], { onProgress: (value) => seen.push(value) }),
  );
  assert.deepEqual(chunks, [1, 2, 3]);
  assert.deepEqual(seen.at(-1), { done: 3, total: 3 });
});

Deno.test("sandbox attack: a process that sends a chunk past its stream's credit is ended as a crash; the stream fails at once", async () => {
  // maxWorkers 1 and no other call first: the streamed call is the pool's call 1.
  const pool = new WorkerPool({}, { maxWorkers: 1 });
  try {
    const forge: FunctionRef = { name: "forgeStream", module: `${FIXTURES}forge.ts` };
    // Bounded: without the check the chunk is taken and the stream waits.
    const signal = AbortSignal.timeout(5_000);
    const source = await pool.call(forge, [1], undefined, context("forger", signal), true);
    const [got, err] = await drain(source as StreamSource);
    assert.deepEqual(got, []);
    assert.ok(err instanceof InternalError, String(err));
    assert.match(
      err.message,
      /^Step "forger" \(forgeStream\) failed: its sandbox process sent a chunk of call 1 past its credit$/,
    );
    assert.equal(pool.stats().crashes, 1);
    assert.equal(pool.stats().inFlight, 0);
  } finally {
    await pool.close();
  }
});

Deno.test("sandbox attack: a stream begun for a plain call is a crash; a call that may stream is held to its credit as a streamed one", async () => {
  // maxWorkers 1 and no other call first: the forged call is the pool's call 1.
  const pool = new WorkerPool({}, { maxWorkers: 1 });
  try {
    const start: FunctionRef = { name: "forgeStreamStart", module: `${FIXTURES}forge.ts` };
    const err = await rejection(
      pool.call(start, [1], undefined, context("forger", AbortSignal.timeout(5_000))),
    );
    assert.ok(err instanceof InternalError, String(err));
    assert.match(
      err.message,
      /^Step "forger" \(forgeStreamStart\) failed: its sandbox process began a stream for call 1, which was not asked for one$/,
    );
    assert.equal(pool.stats().crashes, 1);
  } finally {
    await pool.close();
  }
  const may = new WorkerPool({}, { maxWorkers: 1 });
  try {
    const forge: FunctionRef = { name: "forgeStream", module: `${FIXTURES}forge.ts` };
    const signal = AbortSignal.timeout(5_000);
    const source = await may.call(forge, [1], undefined, context("forger", signal), "may");
    assert.ok(isStreamSource(source));
    const [got, err] = await drain(source as StreamSource);
    assert.deepEqual(got, []);
    assert.ok(err instanceof InternalError, String(err));
    assert.match(err.message, /sent a chunk of call 1 past its credit$/);
    assert.equal(may.stats().crashes, 1);
    assert.equal(may.stats().inFlight, 0);
  } finally {
    await may.close();
  }
});
