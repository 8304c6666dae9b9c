// Copyright 2026 the mpreg authors. MIT license.
/**
 * Pieces of msgpack written by hand: the fixed envelopes of the messages
 * sent most (a call of one step, an answer, a relayed stream chunk), around
 * msgpackr's encoding of their one free part (see `MsgpackCodec.encodeCall`
 * and `encodeAnswer`, and the cluster's chunk frames). Packing an envelope
 * through msgpackr walked its keys and values on every message: about half
 * of a call's encoding time in a tight loop.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ascii, uintSize, writeBytes, writeUint } from "./msgpack_envelope.ts";
 * // { id: 300 } as msgpack: a map of one, the key, then 300 as a uint 16.
 * const key = Uint8Array.of(0xa2, ...ascii("id"));
 * const out = new Uint8Array(1 + key.length + uintSize(300));
 * out[0] = 0x81;
 * writeUint(out, writeBytes(out, 1, key), 300, uintSize(300));
 * assert.deepEqual(out, Uint8Array.of(0x81, 0xa2, 0x69, 0x64, 0xcd, 0x01, 0x2c));
 * ```
 *
 * @module
 */

const utf8 = new TextEncoder();

/** The ASCII bytes of `text`. */
export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/**
 * How many bytes `n` takes as a msgpack unsigned integer, or 0 when it is not
 * an integer from 0 to 2^32 - 1 (which the caller then encodes otherwise).
 */
export function uintSize(n: unknown): number {
  if (typeof n !== "number" || !(n >= 0 && n <= 0xffff_ffff) || n !== Math.floor(n)) return 0;
  return n < 0x80 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : 5;
}

/** Writes `n` as a msgpack unsigned integer of `size` bytes (from `uintSize`) at `at`. */
export function writeUint(out: Uint8Array, at: number, n: number, size: number): number {
  switch (size) {
    case 1:
      out[at] = n;
      return at + 1;
    case 2:
      out[at] = 0xcc;
      out[at + 1] = n;
      return at + 2;
    case 3:
      out[at] = 0xcd;
      out[at + 1] = n >>> 8;
      out[at + 2] = n & 0xff;
      return at + 3;
    default:
      out[at] = 0xce;
      out[at + 1] = n >>> 24;
      out[at + 2] = (n >>> 16) & 0xff;
      out[at + 3] = (n >>> 8) & 0xff;
      out[at + 4] = n & 0xff;
      return at + 5;
  }
}

/** Copies `bytes` to `out` at `at` (a loop: these are a few bytes each). */
export function writeBytes(out: Uint8Array, at: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) out[at + i] = bytes[i]!;
  return at + bytes.length;
}

const MAX_CACHED = 256;
const strings = new Map<string, Uint8Array | null>();

/**
 * `text` as a msgpack str (header and UTF-8), or `null` when its UTF-8 takes
 * 256 bytes or more. Cached: the names a program calls are few.
 */
export function msgpackStr(text: string): Uint8Array | null {
  const cached = strings.get(text);
  if (cached !== undefined) return cached;
  const bytes = utf8.encode(text);
  let str: Uint8Array | null = null;
  if (bytes.length < 32) {
    str = new Uint8Array(1 + bytes.length);
    str[0] = 0xa0 | bytes.length;
    str.set(bytes, 1);
  } else if (bytes.length < 256) {
    str = new Uint8Array(2 + bytes.length);
    str[0] = 0xd9;
    str[1] = bytes.length;
    str.set(bytes, 2);
  }
  if (text.length <= 64) {
    if (strings.size >= MAX_CACHED) strings.clear();
    strings.set(text, str);
  }
  return str;
}
