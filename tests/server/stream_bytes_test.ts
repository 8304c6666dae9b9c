// Copyright 2026 the mpreg authors. MIT license.
// A stream's credit in bytes as well as chunks (issue 18): the node sends a
// chunk only while it holds both (so it passes the byte budget by one chunk
// at most), and asks its producer for none it could not send; the client
// grants bytes as its reader reads, so a slow reader of large chunks holds a
// fast producer within the byte budget, and a chunk larger than the whole
// budget still flows, one at a time. A request without a byte budget (an
// older client) keeps to chunks only.
import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import { chunkSize } from "../../src/protocol/chunk_size.ts";
import { STREAM_CREDIT_BYTES } from "../../src/client/_streams.ts";
import { delay, RawSocket, startServer, waitFor } from "../_helpers/mod.ts";

/** The messages received, a batch frame's one by one. */
const messages = (ws: RawSocket) =>
  ws.frames.flatMap((f) => {
    const m = JSON.parse(f as string);
    return Array.isArray(m) ? m : [m];
  });
const chunks = (ws: RawSocket) => messages(ws).filter((m) => "chunk" in m);

Deno.test("stream bytes: on the wire the node sends no chunk past the byte budget (+ one), and asks the producer for none it could not send", async () => {
  await using server = await startServer();
  let produced = 0;
  server.register("strings", function* () {
    for (let i = 0; i < 10; i++) {
      produced++;
      yield String(i).repeat(1000);
    }
  });
  const ws = new RawSocket(server.url, "mpreg.json.v1");
  await ws.opened;
  ws.ws.send(
    JSON.stringify({
      role: "rpc",
      u: 1,
      cmds: [{ name: "s", fun: "strings" }],
      stream: 16,
      streamBytes: 2500,
    }),
  );
  await waitFor(() => chunks(ws).length >= 3, 2_000, "three chunks");
  await delay(100);
  // 1000 + 1000 + 1000: the third passes 2500, and nothing after it.
  assert.equal(chunks(ws).length, 3, String(ws.frames));
  assert.equal(produced, 3, "the producer was asked for a chunk the node could not send");
  // Bytes alone (no chunks: the node still holds 13 of them).
  ws.ws.send(JSON.stringify({ role: "credit", u: 1, n: 0, bytes: 1000 }));
  await waitFor(() => chunks(ws).length >= 4, 2_000, "a fourth chunk");
  await delay(100);
  // -500 + 1000 = 500: one more chunk, then -500 again.
  assert.equal(chunks(ws).length, 4, String(ws.frames));
  assert.equal(produced, 4);
  ws.ws.send(JSON.stringify({ role: "credit", u: 1, n: 0, bytes: 100_000 }));
  await waitFor(() => messages(ws).length === 11, 2_000, "the rest and the answer");
  assert.deepEqual(chunks(ws).map((m) => m.chunk[0]), [
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
  ]);
  assert.deepEqual(messages(ws)[10], { u: 1, r: 10, error: null });
  await ws.close();
});

Deno.test("stream bytes: a malformed byte budget or byte grant is refused with 1004", async () => {
  await using server = await startServer();
  server.register("one", function* () {
    yield 1;
  });
  const ws = new RawSocket(server.url, "mpreg.json.v1");
  await ws.opened;
  ws.ws.send(
    JSON.stringify({
      role: "rpc",
      u: 1,
      cmds: [{ name: "o", fun: "one" }],
      stream: 4,
      streamBytes: 0,
    }),
  );
  await ws.waitFrames(1);
  assert.equal(JSON.parse(ws.frames[0] as string).error.code, 1004, String(ws.frames[0]));
  ws.ws.send(JSON.stringify({ role: "credit", u: 2, n: 0 }));
  await ws.waitFrames(2);
  assert.equal(JSON.parse(ws.frames[1] as string).error.code, 1004, String(ws.frames[1]));
  ws.ws.send(JSON.stringify({ role: "credit", u: 3, n: 1, bytes: -1 }));
  await ws.waitFrames(3);
  assert.equal(JSON.parse(ws.frames[2] as string).error.code, 1004, String(ws.frames[2]));
  await ws.close();
});

Deno.test("stream bytes: a request without a byte budget keeps to its chunk credit, as before", async () => {
  await using server = await startServer();
  let produced = 0;
  server.register("big", function* () {
    for (let i = 0; i < 6; i++) {
      produced++;
      yield "x".repeat(100_000);
    }
  });
  const ws = new RawSocket(server.url, "mpreg.json.v1");
  await ws.opened;
  ws.ws.send(JSON.stringify({ role: "rpc", u: 1, cmds: [{ name: "b", fun: "big" }], stream: 3 }));
  await waitFor(() => chunks(ws).length === 3, 2_000, "three chunks");
  await delay(100);
  assert.equal(chunks(ws).length, 3);
  assert.equal(produced, 3);
  // One more than the chunks left: the end is known only when it is asked for.
  ws.ws.send(JSON.stringify({ role: "credit", u: 1, n: 4 }));
  await waitFor(() => messages(ws).length === 7, 2_000, "the rest and the answer");
  assert.deepEqual(messages(ws)[6], { u: 1, r: 6, error: null });
  await ws.close();
});

Deno.test("stream bytes: a slow reader of large chunks holds a fast producer within the byte budget on one node", async () => {
  await using server = await startServer();
  const size = 16 * 1024;
  const budget = 64 * 1024;
  let producedBytes = 0;
  server.register("fast", async function* () {
    for (let i = 0; i < 40; i++) {
      producedBytes += size;
      yield new Uint8Array(size).fill(i);
    }
  });
  await using client = new Client(server.url, { encoding: "msgpack" });
  let readBytes = 0;
  let most = 0;
  let i = 0;
  for await (const chunk of client.stream("fast", [], { credit: 16, creditBytes: budget })) {
    assert.equal((chunk as Uint8Array)[0], i++);
    readBytes += chunkSize(chunk);
    most = Math.max(most, producedBytes - readBytes);
    assert.ok(
      producedBytes - readBytes <= budget + size,
      `${producedBytes} bytes produced, ${readBytes} read, budget ${budget}`,
    );
    await delay(5);
  }
  assert.equal(i, 40);
  // The producer did run ahead, as far as the budget allows.
  assert.ok(most >= budget / 2, `at most ${most} bytes ahead`);
});

Deno.test("stream bytes: chunks larger than the whole byte budget still flow, one at a time", async () => {
  await using server = await startServer();
  const size = 64 * 1024;
  let produced = 0;
  server.register("huge", async function* () {
    for (let i = 0; i < 20; i++) {
      produced++;
      yield new Uint8Array(size).fill(i);
    }
  });
  await using client = new Client(server.url, { encoding: "msgpack" });
  let read = 0;
  for await (
    const chunk of client.stream("huge", [], {
      creditBytes: 1024,
      idleTimeoutMs: 5_000,
      onProgress: () => {},
    })
  ) {
    assert.equal((chunk as Uint8Array).byteLength, size);
    assert.equal((chunk as Uint8Array)[0], read++);
    assert.ok(produced - read <= 1, `${produced} produced, ${read} read`);
    await delay(2);
  }
  assert.equal(read, 20);
});

Deno.test("stream bytes: the default byte budget bounds a stream of 64 KiB chunks; a JSON client keeps to chunks", async () => {
  await using server = await startServer();
  const size = 64 * 1024;
  let produced = 0;
  server.register("chunks", async function* (bytes: boolean) {
    for (let i = 0; i < 24; i++) {
      produced++;
      yield bytes ? new Uint8Array(size) : "y".repeat(size);
    }
  });
  {
    await using client = new Client(server.url, { encoding: "msgpack" });
    const reader = client.stream("chunks", [true]).getReader();
    await reader.read();
    await delay(150);
    // The default budget, and one chunk past it (the chunk credit alone allows 16).
    const most = STREAM_CREDIT_BYTES / size + 2;
    assert.ok(most < 16 && produced <= most, `${produced} produced ahead of one read`);
    await reader.cancel();
  }
  produced = 0;
  {
    await using client = new Client(server.url, { encoding: "json" });
    const reader = client.stream("chunks", [false]).getReader();
    await reader.read();
    await waitFor(() => produced >= 16, 2_000, "the chunk credit");
    await reader.cancel();
  }
});

Deno.test("stream bytes: a stream whose source keeps to chunk credit only (a sandboxed function's) still flows under a byte budget", async () => {
  await using server = await startServer();
  await server.registerModule(new URL("../fixtures/arguments_functions.ts", import.meta.url).href);
  await using client = new Client(server.url, { encoding: "msgpack" });
  const got = await Array.fromAsync(
    client.stream("ticks", [40], { credit: 4, creditBytes: 100, idleTimeoutMs: 5_000 }),
  );
  assert.deepEqual(got, Array.from({ length: 40 }, (_, i) => i));
  assert.equal(server.inFlight, 0);
});
