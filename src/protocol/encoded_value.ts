// Copyright 2026 the mpreg authors. MIT license.
/**
 * A value carried as its msgpack encoding: what a node relays without
 * decoding it (a stream's chunk from the member that produced it, passed
 * on to the client's msgpack frame as the same bytes).
 *
 * This module is browser-safe: it imports only the pure-JS msgpackr entries.
 *
 * @module
 */
import { Packr, RESERVE_START_SPACE } from "msgpackr/pack";
import { Unpackr } from "msgpackr/unpack";

/**
 * The msgpackr options every mpreg packer uses: no records, no extension
 * types, `undefined` as nil (see `MsgpackCodec`).
 */
export const PACK_OPTIONS = {
  useRecords: false,
  moreTypes: false,
  encodeUndefinedAsNil: true,
} as const;

/**
 * The msgpackr options every mpreg unpacker uses. `copyBuffers` says whether
 * binary values are copied out of the frame or view it.
 *
 * @param copyBuffers Copy binary values out of the frame.
 * @returns The options.
 */
export function unpackOptions(copyBuffers: boolean): {
  readonly useRecords: false;
  readonly mapsAsObjects: true;
  readonly int64AsType: "number";
  readonly copyBuffers: boolean;
} {
  // "auto": an int64 past 2^53 (a BigInt another node or client sent) is read
  // as a BigInt, exactly; the others as numbers. msgpackr has it (since 1.10),
  // its types lack it.
  const int64AsType = "auto" as "number";
  return { useRecords: false, mapsAsObjects: true, int64AsType, copyBuffers } as const;
}

const packr = new Packr(PACK_OPTIONS);
// The bytes are a view of a frame the node owns (an ArrayBuffer it was
// given): binary values inside them may view it too.
const unpackr = new Unpackr(unpackOptions(false));

/**
 * A value as msgpack bytes, checked against the node's limits when it
 * arrived. A relay passes the bytes on as they are; whoever needs the value
 * itself calls {@linkcode EncodedValue.decode}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EncodedValue, packAfter } from "./encoded_value.ts";
 * const bytes = packAfter({ n: 1 }, 0);
 * assert.deepEqual(new EncodedValue(bytes).decode(), { n: 1 });
 * ```
 */
export class EncodedValue {
  /** The value's msgpack encoding. */
  readonly bytes: Uint8Array;
  /**
   * How many bytes just before `bytes`, in the same buffer, belong to no
   * one else: a relay may write its envelope there and send the value
   * without copying it (see {@linkcode EncodedValue.framed}).
   */
  readonly room: number;

  /**
   * Wraps encoded bytes.
   *
   * @param bytes The value's msgpack encoding (one value, nothing after it).
   * @param room Free bytes just before them in their buffer (0 when unknown).
   */
  constructor(bytes: Uint8Array, room = 0) {
    this.bytes = bytes;
    this.room = room;
  }

  /**
   * The value after `head` bytes for an envelope: in place, in the room
   * before it, when there is enough (once: the room is then used); else a
   * copy.
   *
   * @param head The envelope's size.
   * @returns `head` bytes for the caller to write, then the value.
   */
  framed(head: number): Uint8Array<ArrayBuffer> {
    const bytes = this.bytes;
    if (head <= this.room && bytes.buffer instanceof ArrayBuffer) {
      (this as { room: number }).room = 0;
      return new Uint8Array(bytes.buffer, bytes.byteOffset - head, head + bytes.byteLength);
    }
    const out = new Uint8Array(head + bytes.byteLength);
    out.set(bytes, head);
    return out;
  }

  /**
   * Decodes the value.
   *
   * @returns The value.
   * @throws {Error} what msgpackr throws for bytes that are not one msgpack value.
   */
  decode(): unknown {
    return unpackr.unpack(this.bytes);
  }
}

/**
 * Packs `value` with `head` free bytes before it, for an envelope written
 * by hand (msgpackr's `RESERVE_START_SPACE`, at most 255 bytes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packAfter } from "./encoded_value.ts";
 * const out = packAfter("hi", 3);
 * assert.deepEqual([...out.subarray(3)], [0xa2, 0x68, 0x69]);
 * ```
 *
 * @param value The value.
 * @param head Free bytes before it (0 to 255).
 * @returns The bytes, the first `head` of them to be written by the caller.
 */
export function packAfter(value: unknown, head: number): Uint8Array<ArrayBuffer> {
  if (value instanceof Uint8Array && value.byteLength >= LARGE_BYTES) return packBin(value, head);
  return (head === 0
    ? packr.pack(value)
    : packr.pack(value, RESERVE_START_SPACE | head)) as Uint8Array<ArrayBuffer>;
}

/**
 * From this size on, bytes are packed into a buffer of their exact size:
 * msgpackr would grow its own buffer to four times the value (a fresh
 * mapping of the process's memory, paged in anew, for every 64 KiB chunk
 * of a stream), and the frame returned would keep all of it alive.
 */
const LARGE_BYTES = 8192;

/** `bytes` as a msgpack `bin` after `head` free bytes, in a buffer of its own. */
function packBin(bytes: Uint8Array, head: number): Uint8Array<ArrayBuffer> {
  const length = bytes.byteLength;
  const header = length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
  const out = new Uint8Array(head + header + length);
  let at = head;
  if (header === 2) {
    out[at++] = 0xc4;
    out[at++] = length;
  } else if (header === 3) {
    out[at++] = 0xc5;
    out[at++] = length >>> 8;
    out[at++] = length & 0xff;
  } else {
    out[at++] = 0xc6;
    out[at++] = length >>> 24;
    out[at++] = (length >>> 16) & 0xff;
    out[at++] = (length >>> 8) & 0xff;
    out[at++] = length & 0xff;
  }
  out.set(bytes, at);
  return out;
}
