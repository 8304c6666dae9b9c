// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { unpack } from "msgpackr/unpack";
import { FramePacker, FrameReader } from "../../src/sandbox/_frames.ts";

Deno.test("FrameReader gives back every frame however the stream is cut", () => {
  const packer = new FramePacker();
  const batches = [[1], [[2, "two"], { id: 3 }], ["x".repeat(300)], [], [undefined, null]];
  const stream = new Uint8Array(
    batches.map((b) => [...packer.pack(b)]).flat(),
  );
  const expected = batches.map((b) => b.map((v) => v === undefined ? null : v));
  for (const cut of [1, 2, 3, 4, 5, 7, 64, stream.length]) {
    const reader = new FrameReader(1024);
    const got: unknown[] = [];
    for (let at = 0; at < stream.length; at += cut) {
      for (const frame of reader.push(stream.slice(at, at + cut))) got.push(unpack(frame));
    }
    assert.deepEqual(got, expected, `cut every ${cut} bytes`);
  }
});

Deno.test("FrameReader refuses a frame announced over its limit before reading it", () => {
  const reader = new FrameReader(16);
  assert.throws(() => reader.push(Uint8Array.of(0, 0, 0, 17)), RangeError);
  const split = new FrameReader(16);
  assert.deepEqual(split.push(Uint8Array.of(0x40, 0)), []);
  assert.throws(() => split.push(Uint8Array.of(0, 0)), /1073741824 bytes is over the limit of 16/);
});
