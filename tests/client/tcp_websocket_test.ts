// Copyright 2026 the mpreg authors. MIT license.
// The no-delay TCP WebSocket the client uses in Deno for ws:// URLs.
import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import { denoNet, TcpWebSocket } from "../../src/client/_tcp_websocket.ts";
import { startServer } from "../_helpers/mod.ts";

Deno.test("TcpWebSocket: the handshake picks a subprotocol; a server close carries code and reason", async () => {
  await using server = await startServer();
  const ws = new TcpWebSocket(server.url, ["nope", "mpreg.json.v1"], denoNet()!);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("did not open"));
  });
  assert.equal(ws.readyState, 1);
  assert.equal(ws.protocol, "mpreg.json.v1");
  const answer = new Promise<string>((resolve) => ws.onmessage = (e) => resolve(e.data));
  ws.send(JSON.stringify({ role: "rpc", u: 1, cmds: [{ name: "e", fun: "echo", args: ["é✓"] }] }));
  assert.deepEqual(JSON.parse(await answer), { u: 1, r: { e: "é✓" }, error: null });
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  ws.send("{not json");
  const event = await closed;
  assert.equal(event.code, 1007);
  assert.match(event.reason, /not valid JSON/);
  assert.equal(ws.readyState, 3);
});

Deno.test("TcpWebSocket: a refused handshake fails and closes with 1006", async () => {
  await using server = await startServer();
  const ws = new TcpWebSocket(server.url, ["not-mpreg"], denoNet()!);
  const closed = await new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  assert.equal(closed.code, 1006);
  assert.equal(ws.readyState, 3);
});

Deno.test("Client in Deno: payloads of every size cross the no-delay socket intact", async () => {
  await using server = await startServer();
  await using client = new Client(server.url);
  // Every payload alignment in each frame header size (masking is done
  // byte by byte in small frames, four bytes at a time from the first
  // aligned byte in frames with 64 bytes or more past it).
  const bases = [0, 10, 30, 60, 100, 1_000, 1_500, 70_000, 1024 * 1024];
  const sizes = bases.flatMap((n) => [n, n + 1, n + 2, n + 3]);
  for (const size of sizes) {
    const bytes = new Uint8Array(size).map((_, i) => i * 7);
    const out = await client.call("echo", [bytes]) as Uint8Array;
    assert.equal(out.length, size);
    assert.deepEqual(new Uint8Array(out), bytes);
  }
  // Many calls at once: batches larger than one TCP segment.
  const many = await Promise.all(
    Array.from({ length: 500 }, (_, i) => client.call("echo", ["x".repeat(i % 50) + i])),
  );
  many.forEach((v, i) => assert.equal(v, "x".repeat(i % 50) + i));
  // Bytes answered in batches that share one read: each result keeps its own
  // bytes after later reads reuse the client's read buffer.
  const blobs = Array.from({ length: 300 }, (_, i) => new Uint8Array(40 + (i % 9)).fill(i & 0xff));
  const echoed = await Promise.all(blobs.map((b) => client.call("echo", [b])));
  await client.call("echo", [new Uint8Array(60_000).fill(7)]);
  echoed.forEach((v, i) => assert.deepEqual(new Uint8Array(v as Uint8Array), blobs[i]));
  // And the client closes cleanly, telling the node.
  client.close();
  while (server.stats().connections > 0) await new Promise((r) => setTimeout(r, 5));
});
