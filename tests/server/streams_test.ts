// Copyright 2026 the mpreg authors. MIT license.
// Streamed results on one node (issue 18): what a function may return to
// stream, the wire protocol's credit (the node never sends past it), the
// deadlines of a stream, and what is refused: a stream through the original
// protocol, a plain value read as a stream.
import assert from "node:assert/strict";
import {
  type CallContext,
  Client,
  ConnectionError,
  FunctionError,
  TimeoutError,
} from "../../mod.ts";
import { delay, RawSocket, rpcFailure, startServer, waitFor } from "../_helpers/mod.ts";

const MODULE = new URL("../fixtures/arguments_functions.ts", import.meta.url).href;

async function failure(stream: ReadableStream<unknown>): Promise<unknown> {
  try {
    for await (const _ of stream) { /* drain */ }
  } catch (err) {
    return err;
  }
  return null;
}

Deno.test("streams: a ReadableStream, an async iterable, a generator and an async function's stream", async () => {
  await using server = await startServer();
  server
    .register("readable", () =>
      new ReadableStream({
        start(c) {
          c.enqueue("a");
          c.enqueue("b");
          c.close();
        },
      }))
    .register("iterable", () => ({
      async *[Symbol.asyncIterator]() {
        yield 1;
        yield 2;
      },
    }))
    .register("numbers", function* () {
      yield* [1, 2, 3];
    })
    .register("later", () => Promise.resolve(ReadableStream.from(["x", "y"])))
    .register("empty", async function* () {});
  for (const encoding of ["msgpack", "json"] as const) {
    await using client = new Client(server.url, { encoding });
    assert.deepEqual(await Array.fromAsync(client.stream("readable")), ["a", "b"]);
    assert.deepEqual(await Array.fromAsync(client.stream("iterable")), [1, 2]);
    assert.deepEqual(await Array.fromAsync(client.stream("numbers", [], { credit: 1 })), [1, 2, 3]);
    assert.deepEqual(await Array.fromAsync(client.stream("later")), ["x", "y"]);
    assert.deepEqual(await Array.fromAsync(client.stream("empty")), []);
  }
  assert.equal(server.inFlight, 0);
});

Deno.test("streams: on the wire the node sends no chunk past the credit, until granted more", async () => {
  await using server = await startServer();
  let produced = 0;
  server.register("many", function* () {
    for (let i = 0; i < 10; i++) {
      produced++;
      yield i;
    }
  });
  const ws = new RawSocket(server.url, "mpreg.json.v1");
  await ws.opened;
  ws.ws.send(JSON.stringify({ role: "rpc", u: 1, cmds: [{ name: "m", fun: "many" }], stream: 3 }));
  await ws.waitFrames(3);
  await delay(50);
  assert.deepEqual(ws.frames.map((f) => JSON.parse(f as string)), [
    { u: 1, chunk: 0 },
    { u: 1, chunk: 1 },
    { u: 1, chunk: 2 },
  ]);
  // The producer was not asked for a fourth chunk.
  assert.equal(produced, 3);
  ws.ws.send(JSON.stringify({ role: "credit", u: 1, n: 100 }));
  await ws.waitFrames(11);
  const rest = ws.frames.slice(3).map((f) => JSON.parse(f as string));
  assert.deepEqual(rest.slice(0, 7).map((m) => m.chunk), [3, 4, 5, 6, 7, 8, 9]);
  // The end is the usual answer: `r` is the count of chunks sent.
  assert.deepEqual(rest[7], { u: 1, r: 10, error: null });
  ws.ws.send(JSON.stringify({ role: "credit", u: 1, n: 0 }));
  await ws.waitFrames(12);
  assert.equal(JSON.parse(ws.frames[11] as string).error.code, 1004);
  await ws.close();
});

Deno.test("streams: a malformed credit for a stream in flight fails it, answered once, and stops its producer", async () => {
  await using server = await startServer();
  let closed = false;
  server.register("endless", async function* () {
    try {
      for (let i = 0;; i++) yield i;
    } finally {
      closed = true;
    }
  });
  const ws = new RawSocket(server.url, "mpreg.json.v1");
  await ws.opened;
  ws.ws.send(
    JSON.stringify({ role: "rpc", u: 1, cmds: [{ name: "e", fun: "endless" }], stream: 2 }),
  );
  await ws.waitFrames(2);
  ws.ws.send(JSON.stringify({ role: "credit", u: 1, n: -3 }));
  const answers = () =>
    ws.frames.map((f) => JSON.parse(f as string)).filter((m) => "error" in m || "r" in m);
  await waitFor(() => answers().length > 0, 1_000, "the answer");
  assert.equal(answers()[0].error?.code, 1004, JSON.stringify(answers()[0]));
  await waitFor(() => server.inFlight === 0 && closed, 1_000, "the stream over on the node");
  // Nothing more for it: a good credit now is for no request in flight.
  ws.ws.send(JSON.stringify({ role: "credit", u: 1, n: 5 }));
  await delay(100);
  assert.equal(answers().length, 1, String(ws.frames));
  assert.equal(ws.frames.length, 3, String(ws.frames));
  await ws.close();
});

Deno.test("streams: the original protocol (mpreg-json) refuses client.stream() at once", async () => {
  await using server = await startServer();
  await using client = new Client(server.url, { encoding: "mpreg-json" });
  assert.throws(() => client.stream("echo"), (err: unknown) => {
    assert.ok(err instanceof TypeError);
    assert.match(err.message, /original MPREG protocol has no streams/);
    return true;
  });
});

Deno.test("streams: a node refuses a stream from an original (no subprotocol) client with 1004", async () => {
  await using server = await startServer();
  server.register("numbers", function* () {
    yield 1;
  });
  const ws = new RawSocket(server.url);
  await ws.opened;
  ws.ws.send(
    JSON.stringify({ role: "rpc", u: "1", cmds: [{ name: "n", fun: "numbers" }], stream: 2 }),
  );
  await ws.waitFrames(1);
  const answer = JSON.parse(
    typeof ws.frames[0] === "string" ? ws.frames[0] : new TextDecoder().decode(ws.frames[0]),
  );
  assert.equal(answer.error.code, 1004);
  assert.match(answer.error.message, /original MPREG protocol has no streams/);
  await ws.close();
});

Deno.test("streams: a plain value read as a stream is a clear error; a sandboxed module's generator streams", async () => {
  await using server = await startServer();
  await server.registerModule(MODULE);
  server.register("plain", () => 42);
  await using client = new Client(server.url);
  const plain = await failure(client.stream("plain"));
  assert.ok(plain instanceof FunctionError, String(plain));
  assert.match(plain.message, /returned number, not a stream/);
  // Its producer runs in a sandbox process (tests/sandbox/streams_test.ts has the rest).
  assert.deepEqual(await Array.fromAsync(client.stream("ticks", [3])), [0, 1, 2]);
  assert.equal(server.inFlight, 0);
});

Deno.test("streams: the idle timeout fails a stream whose producer stalls, and stops it", async () => {
  await using server = await startServer();
  let finallyRan = false;
  server.register("stalls", async function* (this: CallContext) {
    try {
      yield "first";
      await new Promise((resolve) => this.signal.addEventListener("abort", resolve));
      yield "never";
    } finally {
      finallyRan = true;
    }
  });
  await using client = new Client(server.url);
  const got: unknown[] = [];
  const err = await (async () => {
    for await (const chunk of client.stream("stalls", [], { idleTimeoutMs: 100 })) got.push(chunk);
  })().then(() => null, (e) => e);
  assert.deepEqual(got, ["first"]);
  assert.ok(err instanceof TimeoutError, String(err));
  assert.match(err.message, /No chunk for 100 ms/);
  await waitFor(() => finallyRan, 5_000, "the generator's finally");
  await waitFor(() => server.inFlight === 0, 5_000, "the request ended on the node");
});

Deno.test("streams: the total deadline ends a stream that keeps producing", async () => {
  await using server = await startServer();
  let stopped = false;
  server.register("forever", async function* () {
    try {
      for (let i = 0;; i++) {
        await delay(5);
        yield i;
      }
    } finally {
      stopped = true;
    }
  });
  await using client = new Client(server.url);
  const err = await failure(client.stream("forever", [], { timeoutMs: 150 }));
  assert.ok(err instanceof TimeoutError, String(err));
  await waitFor(() => server.inFlight === 0, 5_000, "the request ended on the node");
  await waitFor(() => stopped, 5_000, "the generator's finally");
});

Deno.test("streams: a slow reader holds a fast producer to the credit on one node", async () => {
  await using server = await startServer();
  let produced = 0;
  server.register("fast", async function* () {
    for (let i = 0; i < 30; i++) {
      produced++;
      yield i;
    }
  });
  await using client = new Client(server.url);
  let consumed = 0;
  for await (const _ of client.stream("fast", [], { credit: 2 })) {
    consumed++;
    assert.ok(produced - consumed <= 3, `${produced} produced, ${consumed} read`);
    await delay(10);
  }
  assert.equal(consumed, 30);
});

Deno.test("streams: a node that stops mid-stream fails the reader with a ConnectionError, never re-sent", async () => {
  const server = await startServer();
  let started = 0;
  let stopped = false;
  server.register("endless", async function* () {
    started++;
    try {
      for (let i = 0;; i++) {
        await delay(1);
        yield i;
      }
    } finally {
      stopped = true;
    }
  });
  try {
    await using client = new Client(server.url);
    const reader = client.stream("endless", [], { credit: 2 }).getReader();
    assert.equal((await reader.read()).value, 0);
    await server.stop({ drainTimeoutMs: 0 });
    let err: unknown = null;
    while (err === null) err = await reader.read().then((r) => (r.done ? "ended" : null), (e) => e);
    assert.ok(err instanceof ConnectionError, String(err));
    assert.equal(started, 1);
    await waitFor(() => stopped, 5_000, "the generator's finally");
  } finally {
    await server.stop({ drainTimeoutMs: 0 });
  }
});

Deno.test("streams: a producer whose call ended before it was read is closed (cancelled before its promise resolved; refused by call())", async () => {
  await using server = await startServer({ name: "s" });
  let cancelled = 0;
  const slowStream = async () => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    return new ReadableStream({
      pull: (controller) => controller.enqueue(1),
      cancel: () => {
        cancelled++;
      },
    });
  };
  server.register("slowStream", slowStream);
  server.register("aStream", () =>
    new ReadableStream({
      pull: (controller) => controller.enqueue(1),
      cancel: () => {
        cancelled++;
      },
    }));
  await using client = new Client(server.url);
  // Cancelled while the function still works: its stream, made later, is cancelled.
  const reader = client.stream("slowStream", [], { signal: AbortSignal.timeout(30) }).getReader();
  await assert.rejects(reader.read());
  await waitFor(() => cancelled === 1, 2_000, "the late stream to be cancelled");
  // A plain call() refuses a stream result: the stream is cancelled too.
  const error = await rpcFailure(client.call("aStream"));
  assert.equal(error.code, 1003);
  await waitFor(() => cancelled === 2, 2_000, "the refused stream to be cancelled");
});
