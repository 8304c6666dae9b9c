// Copyright 2026 the mpreg authors. MIT license.
// PINNED BEHAVIOUR OF DENO, NOT OF MPREG. These tests pass today on purpose:
// they record a weakness of Deno 2.9.6's WebSocket server (Deno.upgradeWebSocket,
// built on fastwebsockets 0.8.1) that mpreg cannot fix, so that the Deno
// upgrade which changes it makes them fail and gets noticed.
//
// fastwebsockets checks each frame's length against a fixed 64 MiB
// (max_message_size, which Deno never sets), but its FragmentCollector appends
// continuation frames with no limit, and Deno offers no option to set one. The
// node's own limit (limits.maxFrameBytes, checked in src/server/connection.ts)
// only sees whole messages, in onmessage, after the last fragment. So one
// connection can make a node buffer any amount: measured with
// bench/ws_buffering.ts, 512 MiB of 1 MiB fragments took the node from 58 to
// 574 MiB resident, 1,085 MiB at the peak once FIN arrived, before the node
// could close the connection with 1009. docs/security.md says which reverse
// proxies can stop it.
//
// When one of these fails after a Deno upgrade: run bench/ws_buffering.ts
// again, see whether Deno now bounds messages (or lets mpreg bound them with
// maxFrameBytes), then update these tests, docs/security.md, and the node.
import assert from "node:assert/strict";
import { startServer } from "../_helpers/mod.ts";
import { frameHeader, OP, readFrame, sendFrame, upgrade, writeAll } from "../_helpers/raw_ws.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

Deno.test("pinned Deno 2.9.6 behaviour: fragments past maxFrameBytes are buffered until FIN, then refused whole", async () => {
  await using server = await startServer({ limits: { maxFrameBytes: MiB } });
  const { conn, status } = await upgrade(server.url);
  try {
    assert.equal(status, 101);
    const fragment = new Uint8Array(512 * KiB).fill(0x20); // spaces: valid UTF-8
    // Three fragments, 1.5 MiB together, over the node's 1 MiB limit: no FIN yet.
    await sendFrame(conn, OP.text, false, fragment);
    await sendFrame(conn, OP.continuation, false, fragment);
    await sendFrame(conn, OP.continuation, false, fragment);
    // The node still reads and answers: nothing refused the 1.5 MiB it holds.
    await sendFrame(conn, OP.ping, true, new TextEncoder().encode("still there?"));
    const pong = await readFrame(conn);
    assert.equal(
      pong?.opcode,
      OP.pong,
      "Deno now refuses fragments past the limit before FIN: see the comment at the top",
    );
    assert.equal(new TextDecoder().decode(pong.payload), "still there?");
    // The last fragment: only now does the node see the message, whole, and refuse it.
    await sendFrame(conn, OP.continuation, true, new TextEncoder().encode(" "));
    const close = await readFrame(conn);
    assert.equal(close?.opcode, OP.close);
    const code = (close.payload[0]! << 8) | close.payload[1]!;
    assert.equal(code, 1009);
    assert.equal(
      new TextDecoder().decode(close.payload.subarray(2)),
      `Frame of ${3 * 512 * KiB + 1} bytes is over the limit of ${MiB}`,
    );
  } finally {
    conn.close();
  }
});

Deno.test("pinned Deno 2.9.6 behaviour: a frame of 64 MiB or more is refused at its header, by a reset", async () => {
  await using server = await startServer();
  const { conn, status } = await upgrade(server.url);
  try {
    assert.equal(status, 101);
    // Only the header (and a little payload) is sent: the cap costs the node nothing.
    await writeAll(conn, frameHeader(OP.binary, true, 64 * MiB));
    await writeAll(conn, new Uint8Array(KiB)).catch(() => {});
    // Should Deno accept the frame instead, it would wait for 64 MiB: give up after a while.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = await Promise.race([
      readFrame(conn).then(
        (frame) => frame === null ? "end of stream" : `frame opcode ${frame.opcode}`,
        (err: Error) => err.name,
      ),
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("no answer"), 10_000)),
    ]);
    clearTimeout(timer);
    // No close frame: fastwebsockets drops the connection.
    assert.ok(
      answer === "ConnectionReset" || answer === "end of stream",
      `Deno now answers a 64 MiB frame header with ${answer}: see the comment at the top`,
    );
  } finally {
    conn.close();
  }
});
