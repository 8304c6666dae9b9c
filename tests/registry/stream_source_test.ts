// Copyright 2026 the mpreg authors. MIT license.
// ProducerSource (issue 18): the producer is asked for no chunk past the
// credit, and the call's abort ends it (a generator's `finally`, a
// ReadableStream's cancel).
import assert from "node:assert/strict";
import {
  producerOf,
  ProducerSource,
  readableOf,
  type StreamSink,
} from "../../src/registry/stream_source.ts";
import { MAX_STREAM_CREDIT } from "../../src/protocol/messages.ts";

function collect() {
  const chunks: unknown[] = [];
  const ended = Promise.withResolvers<unknown>();
  const sink: StreamSink = {
    chunk: (v) => chunks.push(v),
    end: () => ended.resolve("end"),
    error: (e) => ended.resolve(e),
  };
  return { chunks, sink, ended: ended.promise };
}

const turns = () => new Promise((resolve) => setTimeout(resolve, 10));

Deno.test("ProducerSource never calls next() past the credit", async () => {
  let nexts = 0;
  const iterator: AsyncIterator<number> = {
    next: () => Promise.resolve({ done: false, value: ++nexts }),
  };
  const { chunks, sink } = collect();
  const source = new ProducerSource(iterator, new AbortController().signal, (e) => e);
  source.start(sink, 3);
  await turns();
  assert.equal(nexts, 3);
  assert.deepEqual(chunks, [1, 2, 3]);
  source.credit(2);
  await turns();
  assert.equal(nexts, 5);
  assert.deepEqual(chunks, [1, 2, 3, 4, 5]);
});

Deno.test("ProducerSource: an abort runs the generator's finally and fails the sink with the reason", async () => {
  let finallyRan = false;
  async function* endless() {
    try {
      for (let i = 0;; i++) yield i;
    } finally {
      finallyRan = true;
    }
  }
  const controller = new AbortController();
  const { chunks, sink, ended } = collect();
  new ProducerSource(endless(), controller.signal, (e) => e).start(sink, 2);
  await turns();
  assert.deepEqual(chunks, [0, 1]);
  controller.abort(new Error("stop"));
  assert.equal(((await ended) as Error).message, "stop");
  await turns();
  assert.ok(finallyRan);
});

Deno.test("ProducerSource: a ReadableStream is cancelled on abort; its error is converted", async () => {
  let cancelled = false;
  const controller = new AbortController();
  const stream = new ReadableStream({
    pull: (c) => c.enqueue("x"),
    cancel: () => {
      cancelled = true;
    },
  });
  const { sink, ended } = collect();
  new ProducerSource(stream, controller.signal, (e) => e).start(sink, 1);
  await turns();
  controller.abort(new Error("stop"));
  await ended;
  await turns();
  assert.ok(cancelled);

  const failing = new ReadableStream({ pull: (c) => c.error(new RangeError("bad")) });
  const out = collect();
  new ProducerSource(failing, new AbortController().signal, (e) => `converted ${e}`)
    .start(out.sink, 1);
  assert.equal(await out.ended, "converted RangeError: bad");
});

Deno.test("producerOf() takes streams, iterators and async iterables, not collections", () => {
  assert.ok(producerOf(new ReadableStream()) !== undefined);
  assert.ok(producerOf([1][Symbol.iterator]()) !== undefined);
  assert.ok(producerOf({ async *[Symbol.asyncIterator]() {} }) !== undefined);
  for (const value of [[1], new Map(), new Set(), "abc", 1, null, { a: 1 }]) {
    assert.equal(producerOf(value), undefined, String(value));
  }
});

Deno.test("ProducerSource: credit granted past MAX_STREAM_CREDIT is not kept (a granter cannot make it run ahead without bound)", async () => {
  let produced = 0;
  const endless = (function* () {
    while (true) yield produced++;
  })();
  const got: unknown[] = [];
  const source = new ProducerSource(endless, new AbortController().signal, (e) => e);
  source.start({ chunk: (v) => got.push(v), end: () => {}, error: () => {} }, 1);
  for (let i = 0; i < 10; i++) source.credit(MAX_STREAM_CREDIT);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(got.length, MAX_STREAM_CREDIT, "at most MAX_STREAM_CREDIT chunks ahead");
});

Deno.test("isRunMessage() refuses a run whose stream credit is not a credit", async () => {
  const { isRunMessage } = await import("../../src/cluster/_peer_messages.ts");
  const run = { t: "run" as const, id: 1, step: "s", fun: "f", args: [], timeout: 100 };
  assert.ok(isRunMessage({ ...run, stream: 16 }));
  for (const stream of [0, -1, 1.5, "x", Infinity, MAX_STREAM_CREDIT + 1]) {
    assert.ok(!isRunMessage({ ...run, stream: stream as number }), String(stream));
  }
});

Deno.test("readableOf() keeps what is queued or on its way within the credit, as the reader reads", async () => {
  let pulled = 0;
  const producer = new ReadableStream<number>({
    pull(controller) {
      controller.enqueue(pulled++);
      if (pulled === 100) controller.close();
    },
  }, { highWaterMark: 0 });
  const source = new ProducerSource(producer, new AbortController().signal, (e) => e);
  const readable = readableOf(source, 4);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(pulled, 4, "nothing past the credit before the reader reads");
  const reader = readable.getReader();
  const got: number[] = [];
  for (let i = 0; i < 10; i++) {
    got.push((await reader.read()).value as number);
    await new Promise((r) => setTimeout(r, 1));
    assert.ok(pulled - got.length <= 4, `${pulled - got.length} ahead of the reader`);
  }
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    got.push(value as number);
  }
  assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => i));
});

Deno.test("readableOf(): cancelling the stream runs the producer's finally; its error is the stream's", async () => {
  let closed = false;
  async function* ticks() {
    try {
      for (let i = 0;; i++) yield i;
    } finally {
      closed = true;
    }
  }
  const readable = readableOf(new ProducerSource(ticks(), new AbortController().signal, (e) => e));
  const reader = readable.getReader();
  assert.equal((await reader.read()).value, 0);
  await reader.cancel("done");
  await new Promise((r) => setTimeout(r, 10));
  assert.ok(closed);

  async function* failing() {
    yield 1;
    throw new Error("broke");
  }
  const broken = readableOf(
    new ProducerSource(failing(), new AbortController().signal, (e) => new TypeError(String(e))),
  );
  await assert.rejects(Array.fromAsync(broken), (err: unknown) => {
    assert.ok(err instanceof TypeError);
    assert.match(err.message, /broke/);
    return true;
  });
});

Deno.test("readableOf(): chunks that came before the source's error are read before it (the error discarded them)", async () => {
  // A relayed stream delivers what it held at once: two chunks, then its error.
  const source = {
    streamSource: true as const,
    start(sink: StreamSink) {
      sink.chunk(1);
      sink.chunk(2);
      sink.error(new RangeError("producer failed"));
    },
    credit() {},
    cancel() {},
  };
  const reader = readableOf(source, 4).getReader();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal((await reader.read()).value, 1);
  assert.equal((await reader.read()).value, 2);
  await assert.rejects(reader.read(), RangeError);
});

Deno.test("readableOf(): the call's signal fails a read that waits, and cancels the source", async () => {
  let cancelled: unknown = null;
  const source = {
    streamSource: true as const,
    start() {},
    credit() {},
    cancel(reason: unknown) {
      cancelled = reason;
    },
  };
  const controller = new AbortController();
  const reader = readableOf(source, 4, controller.signal).getReader();
  const read = reader.read();
  controller.abort(new Error("request cancelled"));
  await assert.rejects(read, /request cancelled/);
  assert.ok(cancelled instanceof Error);
});

Deno.test("readableOf(): a source's error follows the chunks queued before it", async () => {
  async function* failing() {
    yield 1;
    yield 2;
    yield 3;
    throw new Error("broke");
  }
  const readable = readableOf(
    new ProducerSource(failing(), new AbortController().signal, (e) => e),
    8,
  );
  // All three chunks and the error arrive before the reader reads anything.
  await new Promise((r) => setTimeout(r, 20));
  const got: unknown[] = [];
  const err = await (async () => {
    for await (const chunk of readable) got.push(chunk);
  })().then(() => null, (e) => e);
  assert.deepEqual(got, [1, 2, 3]);
  assert.ok(err instanceof Error && err.message === "broke", String(err));
});
