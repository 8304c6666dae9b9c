// Copyright 2026 the mpreg authors. MIT license.
// The `run` and `result` peer messages written by hand (issue 19): each
// decodes to the very message the codec would have written, and a message
// of another shape is left to the codec.
import assert from "node:assert/strict";
import { createCodec } from "../../src/protocol/codec.ts";
import { encodeResult, encodeRun } from "../../src/cluster/_peer_envelopes.ts";
import type { RunMessage } from "../../src/cluster/peer_protocol.ts";

const codec = createCodec("msgpack");
/** Decoded as a link decodes a frame it received (an ArrayBuffer of its own). */
const read = (frame: Uint8Array): unknown => codec.decode(new Uint8Array(frame).buffer);

Deno.test("peer envelopes: a result decodes as the codec's encoding of it", () => {
  const values = [null, 1, "x".repeat(300), { a: [1, { b: null }] }, new Date(5), [1, 2, 3]];
  for (const id of [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1]) {
    for (const value of values) {
      const frame = encodeResult(id, value);
      assert.ok(frame !== null);
      assert.deepEqual(read(frame), read(codec.encode({ t: "result", id, value }) as Uint8Array));
    }
  }
  assert.equal(encodeResult(2 ** 32, 1), null);
  assert.equal(encodeResult(-1, 1), null);
});

Deno.test("peer envelopes: a run decodes as the codec's encoding of it", () => {
  const base: RunMessage = {
    t: "run",
    id: 7,
    step: "s",
    fun: "echo",
    args: ["payload", { n: 1 }, [null]],
    timeout: 299_990,
  };
  const shapes: RunMessage[] = [
    base,
    { ...base, request: "n0#12", principal: "alice" },
    { ...base, request: 12, principal: "anonymous" },
    { ...base, request: 2 ** 32 - 1, id: 70_000, timeout: 1 },
    { ...base, principal: "é✓ principal", step: "a".repeat(31), fun: "b".repeat(40) },
    { ...base, args: [] },
  ];
  for (const message of shapes) {
    const frame = encodeRun(message);
    assert.ok(frame !== null, JSON.stringify(message));
    assert.deepEqual(read(frame), read(codec.encode(message) as Uint8Array));
  }
});

Deno.test("peer envelopes: a run of another shape is left to the codec", () => {
  const base: RunMessage = { t: "run", id: 7, step: "s", fun: "f", args: [], timeout: 10 };
  const others: RunMessage[] = [
    { ...base, kwargs: { a: 1 } },
    { ...base, locs: ["b"] },
    { ...base, grants: "digest" },
    { ...base, trace: "00-abc-def-01" },
    { ...base, stream: 16 },
    { ...base, progress: true },
    { ...base, step: "s".repeat(300) },
    { ...base, request: "r".repeat(200), principal: "p".repeat(100) },
    { ...base, request: -1 },
    { ...base, timeout: 1.5 },
  ];
  for (const message of others) assert.equal(encodeRun(message), null, JSON.stringify(message));
  // An optional field present but undefined is no field at all.
  assert.notEqual(encodeRun({ ...base, kwargs: undefined, locs: undefined }), null);
});
