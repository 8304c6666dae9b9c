// Copyright 2026 the mpreg authors. MIT license.
// The `run` and `result` peer messages written by hand (issue 19): each
// decodes to the very message the codec would have written, and a message
// of another shape, or with a value it does not write, is left to the codec.
import assert from "node:assert/strict";
import { createCodec } from "../../src/protocol/codec.ts";
import { encodeResult, encodeRun } from "../../src/cluster/_peer_envelopes.ts";
import type { RunMessage } from "../../src/cluster/peer_protocol.ts";

const codec = createCodec("msgpack", {
  limits: { maxFrameBytes: 1 << 20, maxDepth: 16, maxElements: 10_000, maxStringBytes: 1 << 20 },
});
/** Decoded as a link decodes a frame it received (an ArrayBuffer of its own, pre-scanned). */
const read = (frame: Uint8Array): unknown => codec.decode(new Uint8Array(frame).buffer);

const base: RunMessage = {
  t: "run",
  id: 7,
  step: "s",
  fun: "echo",
  args: ["payload", { n: 1, nested: [null, true, 1.5] }, "x".repeat(100)],
  timeout: 299_990,
};

Deno.test("peer envelopes: a run of the usual shape decodes as the codec's encoding of it", () => {
  const shapes: RunMessage[] = [
    base,
    { ...base, request: "bench-a#12", principal: "anonymous" },
    { ...base, request: 12, principal: "alice" },
    { ...base, request: 2 ** 32 - 1 },
    { ...base, principal: "" },
    { ...base, id: 0, timeout: 1, args: [] },
    { ...base, id: 70_000, timeout: 2 ** 32 - 1 },
    { ...base, step: "a".repeat(31), fun: "b".repeat(32), request: "r".repeat(100) },
    { ...base, args: [new Uint8Array(20_000), new Date(5), -1, 2 ** 40] },
  ];
  for (const message of shapes) {
    const frame = encodeRun(message);
    assert.ok(frame !== null, JSON.stringify(message));
    assert.deepEqual(read(frame), read(codec.encode(message) as Uint8Array));
  }
});

Deno.test("peer envelopes: a run of another shape, or with a string it does not write, is left to the codec", () => {
  const others: RunMessage[] = [
    { ...base, kwargs: { a: 1 } },
    { ...base, locs: ["b"] },
    { ...base, grants: "digest" },
    { ...base, trace: "00-abc-def-01" },
    { ...base, stream: 16 },
    { ...base, stream: 16, may: true },
    { ...base, progress: true },
    { ...base, keep: true },
    { ...base, ins: [{ i: 0, arg: 0 }] },
    { ...base, held: [{ arg: 0, from: "b", ref: 1 }] },
    // A field this module does not know of (a newer peer message's).
    { ...base, wait: 1 } as RunMessage,
    // A field present but undefined: left to the codec, which writes it as nil.
    { ...base, kwargs: undefined },
    { ...base, step: "é" },
    { ...base, principal: "✓" },
    { ...base, request: "r".repeat(256) },
    { ...base, step: "s".repeat(100), fun: "f".repeat(100), principal: "p".repeat(60) },
    { ...base, request: -1 },
    { ...base, request: 1.5 },
    { ...base, timeout: 1.5 },
    { ...base, id: -1 },
    { ...base, args: "not an array" as unknown as unknown[] },
  ];
  for (const message of others) assert.equal(encodeRun(message), null, JSON.stringify(message));
});

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
  assert.equal(encodeResult(1.5, 1), null);
});
