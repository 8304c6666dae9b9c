// Copyright 2026 the mpreg authors. MIT license.
// The no-delay TCP WebSocket the client uses in Deno for ws:// URLs.
import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import { denoNet, TcpWebSocket } from "../../src/transport/_tcp_websocket.ts";
import { delay, startServer, waitFor } from "../_helpers/mod.ts";

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

/** A scripted TCP connection: the test decides what each read returns and whether writes fail. */
class FakeConn {
  written: Uint8Array[] = [];
  failWrites = false;
  closed = false;
  readonly #reads: Array<PromiseWithResolvers<Uint8Array | null>> = [];
  #next = 0;

  /** The `i`-th read (0-based) resolves with `data` (`null`: the end of the connection). */
  feed(i: number, data: Uint8Array | null): void {
    this.#slot(i).resolve(data);
  }

  #slot(i: number): PromiseWithResolvers<Uint8Array | null> {
    while (this.#reads.length <= i) this.#reads.push(Promise.withResolvers());
    return this.#reads[i]!;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    const data = await this.#slot(this.#next++).promise;
    if (data === null) return null;
    buffer.set(data);
    return data.length;
  }

  /** Writes in progress (each takes a timer's turn, as a real write takes a while). */
  writing = 0;
  /** Whether the connection was closed with a write in progress (which loses it). */
  closedWhileWriting = false;

  async write(data: Uint8Array): Promise<number> {
    if (this.failWrites) throw new Error("Broken pipe (os error 32)");
    this.writing++;
    await delay(1);
    this.writing--;
    this.written.push(data.slice());
    return data.length;
  }

  setNoDelay(): void {}

  close(): void {
    this.closed = true;
    if (this.writing > 0) this.closedWhileWriting = true;
  }
}

/** An unmasked server frame. */
function serverFrame(opcode: number, payload: Uint8Array): Uint8Array {
  return new Uint8Array([0x80 | opcode, payload.length, ...payload]);
}

const text = (s: string) => new TextEncoder().encode(s);

/** A TcpWebSocket over a FakeConn, past its handshake (read 0). */
async function openOverFake(): Promise<{ ws: TcpWebSocket; conn: FakeConn }> {
  const conn = new FakeConn();
  const ws = new TcpWebSocket("ws://node.test:1", ["mpreg.json.v1"], {
    connect: () => Promise.resolve(conn),
  });
  await waitFor(() => conn.written.length > 0, 2_000, "the handshake request");
  const key = /Sec-WebSocket-Key: (\S+)/.exec(new TextDecoder().decode(conn.written[0]))![1]!;
  const digest = await crypto.subtle.digest(
    "SHA-1",
    text(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
  );
  const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
  const opened = new Promise<void>((resolve) => ws.onopen = () => resolve());
  conn.feed(
    0,
    text(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: mpreg.json.v1\r\n\r\n`,
    ),
  );
  await opened;
  return { ws, conn };
}

/** Opens a TcpWebSocket over a FakeConn whose writes fail from the first message sent on. */
async function failingWrites() {
  const { ws, conn } = await openOverFake();
  const received: string[] = [];
  ws.onmessage = (e) => received.push(e.data);
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  conn.failWrites = true;
  ws.send("a call");
  await delay(10);
  return { ws, conn, received, closed };
}

Deno.test("TcpWebSocket: large frames written back to back reuse a buffer and stay intact", async () => {
  await using server = await startServer();
  await using client = new Client(server.url);
  // Each written large frame's buffer serves the next one that fits: sizes
  // up and down, queued behind each other, each with its own bytes.
  const sizes = [65_536, 20_000, 65_536, 100_000, 9_000, 300_000, 65_530, 8_200, 65_536];
  for (let round = 0; round < 3; round++) {
    const sent = sizes.map((size, i) => new Uint8Array(size).map((_, j) => i * 13 + j * 5 + round));
    const echoed = await Promise.all(sent.map((bytes) => client.call("echo", [bytes])));
    echoed.forEach((v, i) => assert.deepEqual(new Uint8Array(v as Uint8Array), sent[i]));
  }
});

Deno.test("TcpWebSocket: a failed write loses none of the messages already received", async () => {
  // The peer sent three answers and its close frame, then went away: the
  // client's next write fails before it has read them.
  const { conn, received, closed } = await failingWrites();
  conn.feed(
    1,
    new Uint8Array([
      ...serverFrame(1, text("answer 1")),
      ...serverFrame(1, text("answer 2")),
      ...serverFrame(1, text("answer 3")),
      ...serverFrame(8, new Uint8Array([4014 >> 8, 4014 & 0xff, ...text("drained")])),
    ]),
  );
  conn.feed(2, null);
  const event = await closed;
  assert.deepEqual(received, ["answer 1", "answer 2", "answer 3"]);
  assert.equal(event.code, 4014);
  assert.equal(event.reason, "drained");
  assert.ok(conn.closed);
});

Deno.test("TcpWebSocket: after a failed write, the end of the connection closes it with 1006", async () => {
  const { ws, conn, received, closed } = await failingWrites();
  assert.equal(ws.readyState, 2, "closing: nothing more is sent");
  conn.feed(1, serverFrame(1, text("late answer")));
  conn.feed(2, null);
  const event = await closed;
  assert.deepEqual(received, ["late answer"]);
  assert.equal(event.code, 1006);
  assert.equal(event.reason, "write failed");
});

Deno.test("TcpWebSocket: a close frame is answered before the connection is closed", async () => {
  const { ws, conn } = await openOverFake();
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  conn.feed(1, serverFrame(8, new Uint8Array([4014 >> 8, 4014 & 0xff, ...text("bye")])));
  const event = await closed;
  assert.equal(event.code, 4014);
  assert.equal(event.reason, "bye");
  const reply = conn.written.at(-1)!;
  assert.equal(reply[0], 0x88, "the last write is the close reply");
  assert.ok(conn.closed);
  assert.ok(!conn.closedWhileWriting, "the reply was written before the connection closed");
});

Deno.test("TcpWebSocket: close() keeps the connection open until the server answers the close frame", async () => {
  // Closing it at once made the server's next write fail: a Deno server then
  // ended the socket on an error, and its idle timer kept the process alive 15 s.
  const { ws, conn } = await openOverFake();
  const received: string[] = [];
  ws.onmessage = (e) => received.push(e.data);
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  ws.close(1000, "done");
  await waitFor(() => conn.written.at(-1)?.[0] === 0x88 && conn.writing === 0, 2_000, "the close");
  // The server still writes before it reads the close frame: not delivered.
  conn.feed(1, serverFrame(1, text("late answer")));
  await delay(20);
  assert.ok(!conn.closed, "the connection waits for the server's close frame");
  assert.equal(ws.readyState, 2);
  conn.feed(2, serverFrame(8, new Uint8Array([1000 >> 8, 1000 & 0xff])));
  const event = await closed;
  assert.equal(event.code, 1000);
  assert.equal(event.reason, "done");
  assert.ok(event.wasClean);
  assert.ok(conn.closed);
  assert.deepEqual(received, [], "nothing is delivered after close()");
});

Deno.test("TcpWebSocket: close() to a server that never answers closes the connection within a second", async () => {
  const { ws, conn } = await openOverFake();
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  ws.close(4000, "bye");
  const event = await closed;
  assert.equal(event.code, 4000);
  assert.equal(event.wasClean, false, "no close frame came back");
  assert.ok(conn.closed);
});
