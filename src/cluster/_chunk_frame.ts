// Copyright 2026 the mpreg authors. MIT license.
/**
 * A streamed run's chunk as the runner sends it: `{ t: "chunk", id,
 * encoded }`, where `encoded` is a msgpack `bin` holding the chunk's own
 * msgpack encoding. The coordinator relays those bytes into its client's
 * frame without decoding and re-encoding the chunk. Written by hand around
 * one msgpackr encoding of the chunk (no copy of it). Private to the
 * cluster layer.
 *
 * @module
 */
import { EncodedValue, packAfter } from "../protocol/encoded_value.ts";
import { ascii, uintSize, writeBytes, writeUint } from "../protocol/msgpack_envelope.ts";

const CHUNK_ID = Uint8Array.of(0x83, 0xa1, 0x74, 0xa5, ...ascii("chunk"), 0xa2, ...ascii("id"));
const ENCODED = Uint8Array.of(0xa7, ...ascii("encoded"));
/** A bin 32 header: its type byte and four bytes of length. */
const BIN32 = 5;
/** What precedes a chunk's encoding in any frame that ends with the header below. */
const TAIL = ENCODED.length + BIN32;

/**
 * Free bytes before a chunk's encoding received in a frame: when the key
 * `encoded` and a bin 32 header precede it (as this module writes it), at
 * least those and the message's map header belong to this message alone,
 * which was decoded already; else none are known.
 *
 * @param encoded The bin's bytes, a view of the frame they came in.
 * @returns How many bytes before them may be overwritten.
 */
export function roomBefore(encoded: Uint8Array): number {
  const at = encoded.byteOffset;
  if (at < TAIL + 1) return 0;
  const before = new Uint8Array(encoded.buffer, at - TAIL, TAIL);
  for (let i = 0; i < ENCODED.length; i++) if (before[i] !== ENCODED[i]) return 0;
  const length = encoded.byteLength;
  const ok = before[8] === 0xc6 && before[9] === length >>> 24 &&
    before[10] === ((length >>> 16) & 0xff) && before[11] === ((length >>> 8) & 0xff) &&
    before[12] === (length & 0xff);
  return ok ? TAIL + 1 : 0;
}

/** A chunk's frame and where the chunk's own encoding starts in it. */
export interface ChunkFrame {
  /** The whole message. */
  frame: Uint8Array<ArrayBuffer>;
  /** The offset of the chunk's encoding (the rest of the frame). */
  at: number;
}

/**
 * Encodes a chunk message.
 *
 * @param id The run's id.
 * @param value The chunk (an {@linkcode EncodedValue} is passed on as its bytes).
 * @returns The frame and the offset of the chunk's encoding in it.
 * @throws what msgpackr throws for a value it cannot encode.
 */
export function encodeChunkFrame(id: number, value: unknown): ChunkFrame {
  const idBytes = uintSize(id);
  if (idBytes === 0) throw new RangeError(`A run id must be a 32-bit unsigned integer: ${id}`);
  const at = CHUNK_ID.length + idBytes + ENCODED.length + BIN32;
  let frame: Uint8Array<ArrayBuffer>;
  if (value instanceof EncodedValue) {
    frame = value.framed(at);
  } else {
    frame = packAfter(value, at);
  }
  let i = writeUint(frame, writeBytes(frame, 0, CHUNK_ID), id, idBytes);
  i = writeBytes(frame, i, ENCODED);
  const length = frame.byteLength - at;
  frame[i] = 0xc6;
  frame[i + 1] = length >>> 24;
  frame[i + 2] = (length >>> 16) & 0xff;
  frame[i + 3] = (length >>> 8) & 0xff;
  frame[i + 4] = length & 0xff;
  return { frame, at };
}
