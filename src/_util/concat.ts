// Copyright 2026 the mpreg authors. MIT license.
// Joins byte arrays.

/**
 * The bytes of `parts`, one after the other, in a new array.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./concat.ts";
 * console.log(concatBytes([Uint8Array.of(1), Uint8Array.of(2, 3)])); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 *
 * @param parts The arrays.
 * @returns Their bytes.
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
