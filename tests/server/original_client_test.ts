// Copyright 2026 the mpreg authors. MIT license.
// Connections without a subprotocol: the original (Python) MPREG client's.
import assert from "node:assert/strict";
import { ErrorCode } from "../../mod.ts";
import { pack } from "msgpackr/pack";
import { RawSocket, startServer } from "../_helpers/mod.ts";
import { OP, readFrame, sendFrame, upgrade } from "../_helpers/raw_ws.ts";

const MiB = 2 ** 20;

/** A request as the original client writes it. */
function request(u: string, arg: string): string {
  return JSON.stringify({
    role: "rpc",
    cmds: [{ name: "e", fun: "echo", args: [arg], kwargs: {}, locs: [] }],
    u,
  });
}

// The original client connects with websockets' default max_size (1 MiB). An
// answer over it made the client fail the connection with 1009 and stop
// reading; the node's answer to that close then waited behind the unread
// frame (Deno's WebSocket server cannot abort it), and the client waited
// 20.6 s (measured with the websockets legacy client) for its connection to end.
Deno.test("original client: an answer over its 1 MiB limit becomes an error answer, and the connection lives on", async () => {
  await using server = await startServer();
  const raw = new RawSocket(server.url);
  await raw.opened;
  const decode = (i: number) =>
    JSON.parse(new TextDecoder().decode(raw.frames[i] as ArrayBuffer)) as {
      u: string;
      r: unknown;
      error: { code: number; message: string; details: { max: number; size: number } } | null;
    };
  // The answer's size for an argument of n characters: the envelope, then the string.
  raw.ws.send(request("1", ""));
  await raw.waitFrames(1);
  const envelope = (raw.frames[0] as ArrayBuffer).byteLength;
  // Exactly 1 MiB passes; one byte more does not.
  raw.ws.send(request("2", "x".repeat(MiB - envelope)));
  raw.ws.send(request("3", "x".repeat(MiB - envelope + 1)));
  raw.ws.send(request("4", "still here"));
  await raw.waitFrames(4);
  assert.equal((raw.frames[1] as ArrayBuffer).byteLength, MiB);
  assert.equal(decode(1).error, null);
  const refused = decode(2);
  assert.equal(refused.u, "3");
  assert.equal(refused.r, null);
  assert.equal(refused.error?.code, ErrorCode.LimitExceeded);
  assert.match(refused.error!.message, /over the 1048576 bytes \(1 MiB\) an original MPREG client/);
  assert.deepEqual(refused.error!.details, {
    limit: "originalClientMaxBytes",
    max: MiB,
    size: MiB + 1,
  });
  assert.deepEqual(decode(3), { u: "4", r: { e: "still here" }, error: null });
  raw.ws.close();
  await raw.closed;
});

Deno.test("original client: the node answers a client's close (1009 after an answer over the client's limit) and ends the connection", async () => {
  await using server = await startServer();
  for (const protocol of ["", "mpreg.json.v1", "mpreg.msgpack.v1"]) {
    const { conn, status } = await upgrade(server.url, { "sec-websocket-protocol": protocol });
    assert.equal(status, 101);
    const text = protocol === "mpreg.msgpack.v1"
      ? pack({ role: "rpc", u: "1", cmds: [{ name: "e", fun: "echo", args: ["x".repeat(5000)] }] })
      : new TextEncoder().encode(request("1", "x".repeat(5000)));
    await sendFrame(conn, protocol === "mpreg.msgpack.v1" ? OP.binary : OP.text, true, text);
    const answer = await readFrame(conn);
    assert.ok(answer !== null && answer.payload.length > 5000, protocol);
    // As a client with a 1000-byte limit does: close with 1009 (message too big).
    await sendFrame(conn, OP.close, true, Uint8Array.of(0x03, 0xf1));
    const close = await readFrame(conn);
    assert.equal(close?.opcode, OP.close, protocol);
    assert.deepEqual([...close!.payload.subarray(0, 2)], [0x03, 0xf1], protocol);
    // Then the node ends the TCP connection.
    assert.equal(await readFrame(conn), null, protocol);
    conn.close();
  }
});
