// Copyright 2026 the mpreg authors. MIT license.
/**
 * The size of a stream's chunk as its byte credit counts it, the same on
 * the node that sends it and on the client that reads it. Browser-safe.
 *
 * @module
 */

/**
 * What a chunk that is neither bytes nor a string counts for in a byte
 * credit: a small constant, so that counting stays cheap (a number, an
 * object, an array are not walked).
 *
 * @example
 * ```ts
 * import { OTHER_CHUNK_BYTES } from "./chunk_size.ts";
 * console.log(OTHER_CHUNK_BYTES); // 64
 * ```
 */
export const OTHER_CHUNK_BYTES = 64;

/**
 * The most bytes a stream's byte credit (initial or granted) may be, and the
 * most a node holds outstanding for one stream: 64 MiB.
 *
 * @example
 * ```ts
 * import { MAX_STREAM_BYTES } from "./chunk_size.ts";
 * console.log(MAX_STREAM_BYTES); // 67108864
 * ```
 */
export const MAX_STREAM_BYTES = 64 * 1024 * 1024;

/**
 * A chunk's size for the byte credit: the `byteLength` of an `ArrayBuffer`
 * or any view of one (msgpack carries them all as bytes, which arrive as a
 * `Uint8Array` of that length), the `length` of a string (UTF-16 code
 * units: cheap, and the same on both sides), and
 * {@linkcode OTHER_CHUNK_BYTES} for any other value. Both sides must count
 * a chunk alike, so only msgpack clients send a byte credit: JSON carries
 * no bytes (a `Uint8Array` arrives as an object).
 *
 * @example
 * ```ts
 * import { chunkSize } from "./chunk_size.ts";
 * console.log(chunkSize(new Uint8Array(1000))); // 1000
 * console.log(chunkSize("abc")); // 3
 * console.log(chunkSize({ a: 1 })); // 64
 * ```
 *
 * @param value The chunk.
 * @returns Its size in the byte credit.
 */
export function chunkSize(value: unknown): number {
  if (typeof value === "string") return value.length;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.byteLength;
  return OTHER_CHUNK_BYTES;
}

/**
 * Whether `n` is a valid byte credit: a positive safe integer up to
 * {@linkcode MAX_STREAM_BYTES}.
 *
 * @example
 * ```ts
 * import { isByteCredit } from "./chunk_size.ts";
 * console.log(isByteCredit(65536), isByteCredit(0), isByteCredit(1.5)); // true false false
 * ```
 *
 * @param n The value.
 * @returns True when it is one.
 */
export function isByteCredit(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0 && n <= MAX_STREAM_BYTES;
}
