// Copyright 2026 the mpreg authors. MIT license.
// A relayed value as its msgpack encoding (issue 18): a node passes a
// stream's chunk from the member that produced it into its client's frame
// without decoding it; a json client, or a local reader, gets the value.
import assert from "node:assert/strict";
import { unpack } from "msgpackr/unpack";
import { createCodec } from "../../src/protocol/codec.ts";
import { EncodedValue, packAfter } from "../../src/protocol/encoded_value.ts";
import { encodeChunkFrame, roomBefore } from "../../src/cluster/_chunk_frame.ts";
import { RelaySource } from "../../src/cluster/_stream_relay.ts";

/** A frame in an ArrayBuffer of its own, as a link receives it (msgpackr packs into a Buffer). */
const copyOf = (frame: Uint8Array): ArrayBuffer => new Uint8Array(frame).buffer;
/** Bytes as plain Uint8Arrays (msgpackr's unpack makes Buffers). */
const plain = (value: unknown): unknown =>
  value instanceof Uint8Array ? new Uint8Array(value) : value;

/** A client's msgpack frame, decoded as a client would (from an ArrayBuffer), its bytes plain. */
function read(frame: Uint8Array): { u: unknown; chunk: unknown } {
  const message = createCodec("msgpack").decode(copyOf(frame)) as { u: unknown; chunk: unknown };
  return { u: message.u, chunk: plain(message.chunk) };
}

const CHUNKS: unknown[] = [
  "text",
  { i: 1, nested: [1, 2, { deep: null }] },
  new Uint8Array(300).fill(3),
  Uint8Array.from({ length: 70_000 }, (_, i) => i * 7),
];

Deno.test("encoded values: packAfter leaves the head free and packs the value as msgpackr does", () => {
  for (const value of CHUNKS) {
    const out = packAfter(value, 9);
    assert.deepEqual(plain(unpack(out.subarray(9))), value);
  }
  // Large bytes get a buffer of their own, of their exact size.
  const big = packAfter(new Uint8Array(65_536), 4);
  assert.equal(big.buffer.byteLength, 4 + 5 + 65_536);
});

Deno.test("encoded values: a chunk message carries the chunk's own encoding as a bin", () => {
  const peer = createCodec("msgpack");
  for (const value of CHUNKS) {
    for (const id of [1, 200, 70_000, 2 ** 32 - 1]) {
      const { frame, at } = encodeChunkFrame(id, value);
      // Decoded from an ArrayBuffer of its own, as a link receives it.
      const message = peer.decode(copyOf(frame)) as { t: string; id: number; encoded: Uint8Array };
      assert.equal(message.t, "chunk");
      assert.equal(message.id, id);
      assert.deepEqual(plain(unpack(message.encoded)), value);
      assert.deepEqual([...message.encoded], [...frame.subarray(at)]);
      assert.equal(roomBefore(message.encoded), 14);
    }
  }
});

Deno.test("encoded values: a msgpack client frame reuses the member's bytes in place; json decodes them", () => {
  const peer = createCodec("msgpack");
  const msgpack = createCodec("msgpack");
  const json = createCodec("json");
  for (const value of CHUNKS) {
    for (const u of [1, 300, 70_000, 2 ** 32 - 1, "id-as-text"]) {
      const received = () => {
        const { frame } = encodeChunkFrame(5, value);
        const { encoded } = peer.decode(copyOf(frame)) as { encoded: Uint8Array };
        return new EncodedValue(encoded, roomBefore(encoded));
      };
      const relayed = received();
      const out = msgpack.encodeChunk(u, relayed) as Uint8Array;
      assert.deepEqual(read(out), { u, chunk: value });
      if (typeof u === "number") {
        // No copy: the client's frame is the peer frame's buffer.
        assert.equal(out.buffer, relayed.bytes.buffer);
        assert.equal(
          out.byteOffset + out.byteLength,
          relayed.bytes.byteOffset + relayed.bytes.byteLength,
        );
      }
      // The room is used once; a second frame of the same value is a copy.
      const again = msgpack.encodeChunk(u, relayed) as Uint8Array;
      assert.notEqual(again.buffer, relayed.bytes.buffer);
      assert.deepEqual(read(again), { u, chunk: value });
      const text = json.encodeChunk(u, received());
      assert.deepEqual(json.decode(text), json.decode(json.encode({ u, chunk: value })));
      // A value of its own is encoded as encode() would.
      assert.deepEqual(read(msgpack.encodeChunk(u, value) as Uint8Array), { u, chunk: value });
    }
  }
});

Deno.test("encoded values: without the header before them, nothing is overwritten", () => {
  const bytes = packAfter({ a: 1 }, 0).slice();
  assert.equal(roomBefore(bytes), 0);
  const padded = new Uint8Array(64);
  padded.set(bytes, 40);
  const view = padded.subarray(40, 40 + bytes.length);
  assert.equal(roomBefore(view), 0);
  const codec = createCodec("msgpack");
  const out = codec.encodeChunk(3, new EncodedValue(view, roomBefore(view))) as Uint8Array;
  assert.notEqual(out.buffer, padded.buffer);
  assert.deepEqual([...padded.subarray(0, 40)], new Array(40).fill(0));
  assert.deepEqual(read(out), { u: 3, chunk: { a: 1 } });
});

Deno.test("encoded values: a relay decodes chunks for a sink that does not take encodings", () => {
  const got: unknown[] = [];
  const taken: unknown[] = [];
  const decoding = new RelaySource(() => {}, 2, () => {});
  const passing = new RelaySource(() => {}, 2, () => {});
  const value = { n: [1, 2] };
  for (const relay of [decoding, passing]) {
    assert.ok(relay.push(new EncodedValue(packAfter(value, 0))));
  }
  decoding.start({ chunk: (v) => got.push(v), end: () => {}, error: assert.fail });
  passing.start({
    takesEncoded: true,
    chunk: (v) => taken.push(v),
    end: () => {},
    error: assert.fail,
  });
  assert.ok(decoding.push(new EncodedValue(packAfter("later", 0))));
  assert.deepEqual(got, [value, "later"]);
  assert.ok(taken[0] instanceof EncodedValue);
  assert.deepEqual((taken[0] as EncodedValue).decode(), value);
});
