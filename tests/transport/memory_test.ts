// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import {
  dialMemory,
  listenMemory,
  type MemoryChannel,
  memoryPair,
} from "../../src/transport/memory.ts";
import { openChannel } from "../../src/transport/open.ts";

/** Waits for the tasks already queued (an in-memory channel delivers in a later task). */
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

Deno.test("memoryPair(): frames arrive in order, bytes copied as ArrayBuffers, and a close ends both ends with its code", async () => {
  const [a, b] = memoryPair("p");
  const got: unknown[] = [];
  b.onmessage = (event) => got.push(event.data);
  const closes: string[] = [];
  a.onclose = (event) => closes.push(`a ${event.code} ${event.reason}`);
  b.onclose = (event) => closes.push(`b ${event.code} ${event.reason}`);
  const bytes = new Uint8Array([1, 2, 3]);
  a.send("one");
  a.send(bytes);
  bytes[0] = 9; // the sender reuses its buffer: the frame was copied
  a.close(4014, "drained");
  assert.throws(() => a.send("late"), /not open/);
  assert.equal(got.length, 0, "nothing arrives in the sender's turn");
  await tick();
  assert.equal(got[0], "one");
  assert.ok(got[1] instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(got[1] as ArrayBuffer)], [1, 2, 3]);
  assert.deepEqual(closes, ["b 4014 drained", "a 4014 drained"]);
  assert.equal(a.readyState, 3);
  assert.equal(b.protocol, "p");
});

Deno.test("memoryPair(): drop() closes both ends with 1006 at once and loses what was not delivered", async () => {
  const [a, b] = memoryPair();
  const got: unknown[] = [];
  b.onmessage = (event) => got.push(event.data);
  const codes: number[] = [];
  a.onclose = (event) => codes.push(event.code);
  b.onclose = (event) => codes.push(event.code);
  a.send("lost");
  a.drop();
  await tick();
  assert.deepEqual(got, []);
  assert.deepEqual(codes, [1006, 1006]);
});

Deno.test("dialMemory(): a dial opens with the subprotocol the listener picks, and fails with 1006 when nothing listens", async () => {
  const accepted: MemoryChannel[] = [];
  const stop = listenMemory("memory-test-node", {
    select: (offered) => offered.includes("b") ? "b" : null,
    accept: (channel) => accepted.push(channel),
  });
  try {
    const ok = openChannel("memory://memory-test-node", ["a", "b"]);
    const opened = Promise.withResolvers<void>();
    ok.onopen = () => opened.resolve();
    await opened.promise;
    assert.equal(ok.protocol, "b");
    assert.equal(accepted.length, 1);
    assert.equal(accepted[0]!.readyState, 1);

    const refused = dialMemory("memory://memory-test-node", ["c"]);
    const nobody = dialMemory("memory://nobody-here", ["a"]);
    const outcomes = await Promise.all([refused, nobody].map((channel) => {
      const done = Promise.withResolvers<string>();
      let error = "";
      channel.onerror = (event) => error = String((event as ErrorEvent).error?.message);
      channel.onopen = () => done.resolve("opened");
      channel.onclose = (event) => done.resolve(`${event.code}: ${error}`);
      return done.promise;
    }));
    assert.deepEqual(outcomes, [
      '1006: "memory://memory-test-node" accepts none of the subprotocols offered',
      '1006: Connection refused: nothing listens on "memory://nobody-here"',
    ]);
    ok.close();
    await tick();
    assert.equal(accepted[0]!.readyState, 3, "the close reached the other end");
  } finally {
    stop();
  }
});
