// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { unpack } from "msgpackr/unpack";
import { createCodec } from "../../src/protocol/codec.ts";
import { Batcher } from "../../src/transport/batcher.ts";

Deno.test("Batcher sends what one turn wrote as one batch frame", async () => {
  const codec = createCodec("msgpack");
  const sent: Uint8Array[] = [];
  const batcher = new Batcher(codec, (frame) => sent.push(frame as Uint8Array), 4096);
  batcher.push(codec.encode({ u: 1 }));
  assert.equal(sent.length, 0, "nothing before the end of the turn");
  batcher.push(codec.encode({ u: 2 }));
  batcher.push(codec.encode({ u: 3 }));
  await Promise.resolve();
  assert.equal(sent.length, 1);
  assert.deepEqual(unpack(sent[0]!), [{ u: 1 }, { u: 2 }, { u: 3 }]);
  batcher.push(codec.encode({ u: 4 }));
  await Promise.resolve();
  assert.deepEqual(unpack(sent[1]!), { u: 4 }, "a lone message is not wrapped");
});

Deno.test("Batcher sends early rather than grow a batch past its limit", async () => {
  const codec = createCodec("json");
  const sent: string[] = [];
  const batcher = new Batcher(codec, (frame) => sent.push(frame as string), 20);
  for (let u = 0; u < 5; u++) batcher.push(codec.encode({ u })); // 7 bytes each
  await Promise.resolve();
  assert.deepEqual(sent, ['[{"u":0},{"u":1}]', '[{"u":2},{"u":3}]', '{"u":4}']);
  for (const frame of sent) assert.ok(frame.length <= 20 || !frame.startsWith("["));
});

Deno.test("Batcher holds what is pushed while corked and sends it when uncorked", async () => {
  const codec = createCodec("json");
  const sent: string[] = [];
  const batcher = new Batcher(codec, (frame) => sent.push(frame as string), 20);
  batcher.cork();
  for (let u = 0; u < 3; u++) batcher.push(codec.encode({ u }));
  await Promise.resolve();
  assert.deepEqual(sent, ['[{"u":0},{"u":1}]'], "only the batch that reached the limit");
  batcher.uncork();
  assert.deepEqual(sent, ['[{"u":0},{"u":1}]', '{"u":2}'], "the rest at once");
  batcher.push(codec.encode({ u: 3 }));
  assert.equal(sent.length, 2, "uncorked, a push waits for the end of the turn again");
  await Promise.resolve();
  assert.deepEqual(sent.at(-1), '{"u":3}');
});

Deno.test("a leading Batcher sends a turn's first frame at once and batches the rest of the turn", async () => {
  const codec = createCodec("json");
  const sent: string[] = [];
  const batcher = new Batcher(codec, (frame) => sent.push(frame as string), 4096, {
    leading: true,
  });
  batcher.push(codec.encode({ u: 1 }));
  assert.deepEqual(sent, ['{"u":1}'], "the first frame at once");
  batcher.push(codec.encode({ u: 2 }));
  batcher.push(codec.encode({ u: 3 }));
  assert.equal(sent.length, 1, "the rest wait for the end of the turn");
  await Promise.resolve();
  assert.deepEqual(sent, ['{"u":1}', '[{"u":2},{"u":3}]']);
  batcher.push(codec.encode({ u: 4 }));
  assert.deepEqual(sent.at(-1), '{"u":4}', "the next turn's first frame at once again");
  await Promise.resolve();
  assert.equal(sent.length, 3, "nothing left to send");
  batcher.cork();
  await Promise.resolve();
  batcher.push(codec.encode({ u: 5 }));
  assert.equal(sent.length, 3, "corked, even the first frame waits");
  batcher.uncork();
  assert.deepEqual(sent.at(-1), '{"u":5}');
});

Deno.test("Batcher batches of more than 15 and 65,535 messages use the larger array headers", async () => {
  const codec = createCodec("msgpack");
  for (const n of [16, 70_000]) {
    const sent: Uint8Array[] = [];
    const batcher = new Batcher(codec, (frame) => sent.push(frame as Uint8Array), 1 << 30);
    for (let u = 0; u < n; u++) batcher.push(codec.encode(u));
    await Promise.resolve();
    const decoded = unpack(sent[0]!) as number[];
    assert.equal(decoded.length, n);
    assert.equal(decoded[n - 1], n - 1);
  }
});
