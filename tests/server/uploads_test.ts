// Copyright 2026 the mpreg authors. MIT license.
// Uploads (issue 18): a ReadableStream (or a Blob) passed as an argument is
// read by the function under credit. Content in both encodings, the
// backpressure that reaches the caller's stream, a function that stops
// reading, a caller's stream that fails, cancel and lost connections, and
// what the node refuses on the wire.
import assert from "node:assert/strict";
import { type CallContext, CancelledError, Client, ConnectionError, RpcError } from "../../mod.ts";
import { delay, RawSocket, rpcFailure, startServer, waitFor } from "../_helpers/mod.ts";
import { RelayNetwork } from "../_helpers/partition_relay.ts";

/** `count` chunks of `size` bytes: byte j of chunk c is `(c * 31 + j) & 255`. */
function pattern(count: number, size: number): Uint8Array<ArrayBuffer>[] {
  return Array.from({ length: count }, (_, c) => {
    const chunk = new Uint8Array(size);
    for (let j = 0; j < size; j++) chunk[j] = (c * 31 + j) & 255;
    return chunk;
  });
}

async function sha256(chunks: Uint8Array[]): Promise<string> {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Counts a stream's bytes and hashes them. */
async function digest(stream: ReadableStream<Uint8Array>): Promise<[number, string]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return [chunks.reduce((n, c) => n + c.length, 0), await sha256(chunks)];
}

/** A stream of chunks that counts its pulls and records its cancel. */
function source(chunks: unknown[] | null, tally: { pulls: number; cancelled: unknown }) {
  let i = 0;
  return new ReadableStream<unknown>({
    pull(c) {
      tally.pulls++;
      if (chunks === null) c.enqueue(new Uint8Array(8));
      else if (i < chunks.length) c.enqueue(chunks[i++]);
      else c.close();
    },
    cancel(reason) {
      tally.cancelled = reason ?? "cancelled";
    },
  });
}

Deno.test("uploads: a ReadableStream, a Blob and a keyword argument arrive whole, in both encodings", async () => {
  await using server = await startServer();
  server
    .register("digest", digest)
    .register("labelled", async (label: string, kw: { data: ReadableStream<Uint8Array> }) => {
      const [bytes, hash] = await digest(kw.data);
      return { label, bytes, hash };
    })
    .register("size", (n: number) => n * 1024);
  const chunks = pattern(64, 16 * 1024);
  const expected = await sha256(chunks);
  for (const encoding of ["msgpack", "json"] as const) {
    await using client = new Client(server.url, { encoding });
    assert.deepEqual(
      await client.call("digest", [ReadableStream.from(chunks)]),
      [1024 * 1024, expected],
      encoding,
    );
    assert.deepEqual(await client.call("digest", [new Blob(chunks)]), [1024 * 1024, expected]);
    // The typed view takes the function's own parameter type.
    const remote = client.typed<{ digest: typeof digest }>();
    assert.deepEqual(await remote.digest(ReadableStream.from(chunks)), [1024 * 1024, expected]);
    assert.deepEqual(
      await client.call("labelled", ["x"], { kwargs: { data: ReadableStream.from(chunks) } }),
      { label: "x", bytes: 1024 * 1024, hash: expected },
    );
    // A step of a request, after a step it does not depend on.
    const out = await client.request([
      { name: "n", fun: "size", args: [4] },
      { name: "d", fun: "digest", args: [ReadableStream.from(chunks.slice(0, 2))] },
    ]);
    assert.deepEqual(out, { n: 4096, d: [32 * 1024, await sha256(chunks.slice(0, 2))] });
    // Two uploads in one call; a streamed result of an upload.
    server
      .register("both", async (a: ReadableStream<Uint8Array>, b: ReadableStream<Uint8Array>) => {
        const [x, y] = await Promise.all([digest(a), digest(b)]);
        return [x[0], y[0]];
      })
      .register("lengths", async function* (s: ReadableStream<Uint8Array>) {
        for await (const chunk of s) yield chunk.length;
      });
    assert.deepEqual(
      await client.call("both", [ReadableStream.from(chunks), new Blob([chunks[0]!])]),
      [1024 * 1024, 16 * 1024],
    );
    assert.deepEqual(
      await Array.fromAsync(client.stream("lengths", [ReadableStream.from(chunks.slice(0, 3))])),
      [16384, 16384, 16384],
    );
    // Chunks other than bytes travel as they are.
    server.register("collect", (s: ReadableStream<unknown>) => Array.fromAsync(s));
    assert.deepEqual(
      await client.call("collect", [ReadableStream.from(["a", 1, null, { b: 2 }])]),
      [
        "a",
        1,
        null,
        { b: 2 },
      ],
    );
  }
  assert.equal(server.inFlight, 0);
});

Deno.test("uploads: the caller's stream is pulled at most the credit plus one ahead of the function", async () => {
  await using server = await startServer();
  let read = 0;
  const tally = { pulls: 0, cancelled: null as unknown };
  let ahead = 0;
  server.register("slow", async (s: ReadableStream<Uint8Array>) => {
    for await (const _ of s) {
      read++;
      await delay(10);
    }
    return read;
  });
  const chunks = pattern(100, 8);
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      tally.pulls++;
      ahead = Math.max(ahead, tally.pulls - read);
      if (i < chunks.length) c.enqueue(chunks[i++]!);
      else c.close();
    },
  });
  await using client = new Client(server.url);
  assert.equal(await client.call("slow", [stream]), 100);
  // The node's credit for an argument stream is 16 chunks.
  assert.ok(ahead <= 17, `pulled ${ahead} chunks ahead of the function`);
  assert.ok(ahead >= 8, `pulled only ${ahead} ahead: the credit is not used`);
});

Deno.test("uploads: a function that cancels its stream, or returns without reading it all, stops the caller's stream", async () => {
  await using server = await startServer();
  server
    .register("first", async (s: ReadableStream<Uint8Array>) => {
      const reader = s.getReader();
      const { value } = await reader.read();
      await reader.cancel("enough");
      return value!.length;
    })
    .register("peek", async (s: ReadableStream<Uint8Array>) => {
      const { value } = await s.getReader().read();
      return value!.length;
    })
    .register("ignore", (_s: ReadableStream<Uint8Array>) => "ignored");
  for (const encoding of ["msgpack", "json"] as const) {
    await using client = new Client(server.url, { encoding });
    for (const fun of ["first", "peek", "ignore"]) {
      const tally = { pulls: 0, cancelled: null as unknown };
      const result = await client.call(fun, [source(null, tally)]);
      assert.deepEqual(result, fun === "ignore" ? "ignored" : 8);
      await waitFor(() => tally.cancelled !== null, 5_000, `${fun}: the caller's cancel()`);
      // Never read on: the credit bounds what was pulled.
      assert.ok(tally.pulls <= 18, `${fun}: ${tally.pulls} pulls`);
    }
  }
  assert.equal(server.inFlight, 0);
});

Deno.test("uploads: a request whose upload's step never runs cancels the caller's stream", async () => {
  await using server = await startServer();
  let ran = false;
  server
    .register("fail", () => {
      throw new Error("first step failed");
    })
    .register("digest", (s: ReadableStream<Uint8Array>, _after: unknown) => {
      ran = true;
      return digest(s);
    });
  await using client = new Client(server.url);
  const tally = { pulls: 0, cancelled: null as unknown };
  const error = await rpcFailure(client.request([
    { name: "f", fun: "fail" },
    { name: "d", fun: "digest", args: [source(null, tally), "f"] },
  ]));
  assert.equal(error.code, 1003);
  await waitFor(() => tally.cancelled !== null, 5_000, "the caller's cancel()");
  assert.equal(ran, false);
  assert.equal(tally.pulls, 1);
  assert.equal(server.inFlight, 0);
});

Deno.test("uploads: a caller's stream that fails fails the function's read and the call", async () => {
  await using server = await startServer();
  let seen: unknown = null;
  server.register("digest", async (s: ReadableStream<Uint8Array>) => {
    try {
      return await digest(s);
    } catch (err) {
      seen = err;
      throw err;
    }
  });
  for (const encoding of ["msgpack", "json"] as const) {
    seen = null;
    await using client = new Client(server.url, { encoding });
    let n = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(c) {
        if (n++ < 3) c.enqueue(new Uint8Array(4));
        else c.error(new Error("disk on fire"));
      },
    });
    const error = await rpcFailure(client.call("digest", [failing]));
    assert.ok(error instanceof CancelledError, String(error));
    assert.match(error.message, /The caller's stream \(upload 0\) failed: Error: disk on fire/);
    assert.ok(seen instanceof CancelledError);
  }
  assert.equal(server.inFlight, 0);
});

Deno.test("uploads: cancelling the call stops the upload on both sides", async () => {
  await using server = await startServer();
  let readError: unknown = null;
  let reading = 0;
  server.register("drain", async (s: ReadableStream<Uint8Array>) => {
    try {
      for await (const _ of s) reading++;
    } catch (err) {
      readError = err;
    }
    return reading;
  });
  await using client = new Client(server.url);
  const tally = { pulls: 0, cancelled: null as unknown };
  const controller = new AbortController();
  // An endless stream, fed slowly.
  const stream = new ReadableStream<Uint8Array>({
    async pull(c) {
      tally.pulls++;
      await delay(5);
      c.enqueue(new Uint8Array(8));
    },
    cancel(reason) {
      tally.cancelled = reason;
    },
  });
  const call = client.call("drain", [stream], { signal: controller.signal });
  await waitFor(() => reading >= 3, 5_000, "some chunks read");
  controller.abort();
  const error = await rpcFailure(call);
  assert.ok(error instanceof CancelledError);
  await waitFor(() => tally.cancelled !== null, 5_000, "the caller's cancel()");
  await waitFor(() => readError !== null, 5_000, "the function's read to fail");
  assert.ok(readError instanceof CancelledError, String(readError));
  await waitFor(() => server.inFlight === 0, 5_000, "the request to end");
  // A timeout stops it the same way.
  const t = { pulls: 0, cancelled: null as unknown };
  const timedOut = await rpcFailure(client.call("drain", [source(null, t)], { timeoutMs: 200 }));
  assert.equal(timedOut.code, 1006);
  await waitFor(() => t.cancelled !== null, 5_000, "the caller's cancel() after a timeout");
});

Deno.test("uploads: a lost connection fails the function's read with 1013, and the call is never sent again", async () => {
  await using server = await startServer();
  using network = new RelayNetwork();
  const relay = network.relay("node", server.port);
  let calls = 0;
  let readError: unknown = null;
  let reading = 0;
  server.register("drain", async (s: ReadableStream<Uint8Array>) => {
    calls++;
    let n = 0;
    try {
      for await (const _ of s) reading = ++n;
    } catch (err) {
      readError = err;
    }
    return n;
  }, { idempotent: true });
  await using client = new Client(relay.url, { retries: 5, backoff: { initialMs: 10 } });
  const tally = { pulls: 0, cancelled: null as unknown };
  const call = client.call("drain", [source(null, tally)]);
  await waitFor(() => reading >= 3, 5_000, "some chunks read");
  relay.down();
  relay.up(server.port);
  const error = await rpcFailure(call);
  assert.ok(error instanceof ConnectionError, String(error));
  await waitFor(() => readError !== null, 5_000, "the function's read to fail");
  assert.ok(readError instanceof RpcError && readError.code === 1013, String(readError));
  await waitFor(() => tally.cancelled !== null, 5_000, "the caller's cancel()");
  // The client is connected again, and the call did not run twice.
  assert.equal(await client.call("drain", [ReadableStream.from([new Uint8Array(1)])]), 1);
  assert.equal(calls, 2);
});

Deno.test("uploads: a locked stream, or one stream uploaded twice, is refused before anything is sent", async () => {
  await using server = await startServer();
  let calls = 0;
  server.register("two", (_a: unknown, _b: unknown) => ++calls);
  await using client = new Client(server.url);
  const locked = ReadableStream.from([1]);
  locked.getReader();
  await assert.rejects(client.call("two", [locked, 1]), TypeError, "is locked");
  const twice = ReadableStream.from([1]);
  await assert.rejects(client.call("two", [twice, twice]), TypeError, "uploaded twice");
  assert.equal(calls, 0);
});

Deno.test("uploads: the original protocol refuses them, on the client and on the node", async () => {
  await using server = await startServer();
  server.register("digest", digest);
  await using client = new Client(server.url, { encoding: "mpreg-json" });
  await assert.rejects(
    client.call("digest", [ReadableStream.from([new Uint8Array(1)])]),
    TypeError,
    "The original MPREG protocol has no uploads",
  );
  const ws = new RawSocket(server.url);
  await ws.opened;
  ws.ws.send(JSON.stringify({
    role: "rpc",
    u: 1,
    cmds: [{ name: "d", fun: "digest", args: [null] }],
    ins: [{ step: "d", arg: 0 }],
  }));
  await ws.waitFrames(1);
  const answer = JSON.parse(new TextDecoder().decode(ws.frames[0] as ArrayBuffer));
  assert.equal(answer.error.code, 1004);
  assert.match(answer.error.message, /no uploads/);
  await ws.close();
});

Deno.test("uploads: on the wire the node grants credit as the function reads, and refuses malformed uploads", async () => {
  await using server = await startServer();
  const { promise: started, resolve: start } = Promise.withResolvers<void>();
  server
    .register("sum", async (s: ReadableStream<number>, _after?: unknown) => {
      let total = 0;
      for await (const n of s) total += n;
      return total;
    })
    .register("wait", () => started)
    .register("hold", function (this: CallContext, _s: ReadableStream<unknown>) {
      // Reads nothing: the credit is never renewed.
      return new Promise((resolve) => this.signal.addEventListener("abort", resolve));
    });
  const ws = new RawSocket(server.url, "mpreg.json.v1");
  await ws.opened;
  const send = (m: unknown) => ws.ws.send(JSON.stringify(m));
  const cmds = [{ name: "s", fun: "sum", args: [null, 0] }];
  const bad = [
    [{ step: "t", arg: 0 }, /names no step/],
    [{ step: "s", arg: 2 }, /has no argument 2/],
    [{ step: "s", kwarg: "k" }, /has no keyword argument/],
    [{ step: "s" }, /not \{step, arg\}/],
    [{ step: "s", arg: 0, kwarg: "k" }, /not \{step, arg\}/],
  ] as const;
  for (const [i, [at, message]] of bad.entries()) {
    send({ role: "rpc", u: 10 + i, cmds, ins: [at] });
    await ws.waitFrames(i + 1);
    const answer = JSON.parse(ws.frames[i] as string);
    assert.equal(answer.error?.code, 1004, JSON.stringify(at));
    assert.match(answer.error.message, message);
  }
  send({
    role: "rpc",
    u: 20,
    cmds: [{ name: "s", fun: "sum", args: [1, 0] }],
    ins: [{ step: "s", arg: 0 }],
  });
  await ws.waitFrames(bad.length + 1);
  assert.match(JSON.parse(ws.frames.at(-1) as string).error.message, /null on the wire/);
  ws.frames.splice(0);

  // No credit before the step runs (here, after the step it depends on);
  // then 16, and more as the function reads.
  send({
    role: "rpc",
    u: 1,
    cmds: [{ name: "w", fun: "wait" }, { name: "s", fun: "sum", args: [null, "w"] }],
    ins: [{ step: "s", arg: 0 }],
  });
  await delay(50);
  assert.equal(ws.frames.length, 0, String(ws.frames));
  start();
  await ws.waitFrames(1);
  assert.deepEqual(JSON.parse(ws.frames[0] as string), { u: 1, i: 0, credit: 16 });
  for (let n = 1; n <= 16; n++) send({ role: "in", u: 1, i: 0, chunk: n });
  await ws.waitFrames(2);
  const granted = JSON.parse(ws.frames[1] as string);
  assert.equal(granted.u, 1);
  assert.ok(granted.credit >= 8, JSON.stringify(granted));
  send({ role: "in", u: 1, i: 0, end: true });
  await waitFor(() => ws.frames.some((f) => "r" in JSON.parse(f as string)), 5_000, "the answer");
  const messages = ws.frames.map((f) => JSON.parse(f as string));
  assert.deepEqual(messages.at(-1), { u: 1, r: { s: 136 }, error: null });
  for (const m of messages.slice(0, -1)) assert.deepEqual(Object.keys(m), ["u", "i", "credit"]);
  // A chunk after the end of the request is dropped.
  send({ role: "in", u: 1, i: 0, chunk: 1 });

  // A chunk past the credit, and an upload the request does not have: 1004.
  ws.frames.splice(0);
  send({
    role: "rpc",
    u: 2,
    cmds: [{ name: "h", fun: "hold", args: [null] }],
    ins: [{ step: "h", arg: 0 }],
  });
  await ws.waitFrames(1);
  for (let n = 0; n <= 16; n++) send({ role: "in", u: 2, i: 0, chunk: 0 });
  await waitFor(() => ws.frames.some((f) => JSON.parse(f as string).error), 5_000, "the refusal");
  const refusal = ws.frames.map((f) => JSON.parse(f as string)).find((m) => m.error);
  assert.equal(refusal.error.code, 1004);
  assert.match(refusal.error.message, /past its credit/);
  ws.frames.splice(0);
  send({ role: "rpc", u: 3, cmds, ins: [{ step: "s", arg: 0 }] });
  await ws.waitFrames(1);
  send({ role: "in", u: 3, i: 1, end: true });
  await waitFor(() => ws.frames.some((f) => JSON.parse(f as string).error), 5_000, "the refusal");
  assert.match(
    ws.frames.map((f) => JSON.parse(f as string)).find((m) => m.error).error.message,
    /has no upload 1/,
  );
  await ws.close();
  await waitFor(() => server.inFlight === 0, 5_000, "no request in flight");
});

Deno.test("uploads: a sandboxed function reads an upload in its process, and its early return cancels the caller's stream", async () => {
  await using server = await startServer();
  server
    .register("size", async (s: ReadableStream<Uint8Array>) => {
      let bytes = 0;
      for await (const chunk of s) bytes += chunk.length;
      return bytes;
    }, { sandbox: true })
    .register("peek", async (s: ReadableStream<Uint8Array>) => {
      const { value } = await s.getReader().read();
      return value!.length;
    }, { sandbox: true });
  const chunks = pattern(40, 4096);
  for (const encoding of ["msgpack", "json"] as const) {
    await using client = new Client(server.url, { encoding });
    assert.equal(await client.call("size", [ReadableStream.from(chunks)]), 40 * 4096, encoding);
    const tally = { pulls: 0, cancelled: null as unknown };
    assert.equal(await client.call("peek", [source(null, tally)]), 8);
    await waitFor(() => tally.cancelled !== null, 5_000, "the caller's cancel()");
    assert.ok(tally.pulls <= 18, `${tally.pulls} pulls`);
  }
  await waitFor(() => server.inFlight === 0, 5_000, "no request in flight");
});

Deno.test("uploads: an argument that only looks like a stream source is a plain value", async () => {
  await using server = await startServer();
  server.register("echo", (x: unknown) => x).register("kw", (_x: number, kw: unknown) => kw);
  for (const encoding of ["msgpack", "json"] as const) {
    await using client = new Client(server.url, { encoding });
    assert.deepEqual(await client.call("echo", [{ streamSource: true }]), { streamSource: true });
    assert.deepEqual(await client.call("kw", [1], { kwargs: { s: { streamSource: true } } }), {
      s: { streamSource: true },
    });
  }
});
