// Copyright 2026 the mpreg authors. MIT license.
/**
 * Frames on the pipes between a node and its sandbox processes: a 4-byte
 * big-endian length, then that many bytes of msgpack (an array of messages,
 * one batch). Both sides use this module; it imports only the pure-JS
 * msgpackr entry, which needs no permission.
 *
 * @module
 */
import { Packr, RESERVE_START_SPACE } from "npm:msgpackr@^2.1.4/pack";

/** Bytes of a frame's length prefix. */
export const FRAME_HEADER_BYTES = 4;

/**
 * Packs a batch into one frame, length prefix included. `undefined` (and a
 * function) goes out as nil, as on the wire to clients; a value msgpack
 * cannot hold (a BigInt past 64 bits, a cycle) throws.
 */
export class FramePacker {
  readonly #packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true });

  /**
   * Packs `batch`.
   *
   * @param batch The messages.
   * @returns The frame.
   */
  pack(batch: unknown[]): Uint8Array<ArrayBuffer> {
    const out = this.#packr.pack(batch, RESERVE_START_SPACE | FRAME_HEADER_BYTES) as Uint8Array<
      ArrayBuffer
    >;
    const size = out.byteLength - FRAME_HEADER_BYTES;
    out[0] = size >>> 24;
    out[1] = (size >>> 16) & 0xff;
    out[2] = (size >>> 8) & 0xff;
    out[3] = size & 0xff;
    return out;
  }
}

/**
 * Splits a byte stream into frame bodies. A frame that fits in one chunk is
 * returned as a view of it (no copy); a longer one is gathered into a buffer
 * of its announced size, so reading it costs one copy however it is cut.
 */
export class FrameReader {
  readonly #maxFrameBytes: number;
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerFill = 0;
  #frame: Uint8Array | null = null;
  #frameFill = 0;

  /**
   * @param maxFrameBytes The largest frame body accepted.
   */
  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /**
   * Takes the next chunk of the stream.
   *
   * @param chunk Bytes, in order; the reader may keep views of them.
   * @returns The frame bodies completed by this chunk, in order.
   * @throws {RangeError} when a frame announces more than `maxFrameBytes`.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let at = 0;
    const end = chunk.byteLength;
    while (at < end) {
      if (this.#frame === null) {
        let size: number;
        if (this.#headerFill === 0 && end - at >= FRAME_HEADER_BYTES) {
          size = ((chunk[at]! << 24) >>> 0) + (chunk[at + 1]! << 16) + (chunk[at + 2]! << 8) +
            chunk[at + 3]!;
          at += FRAME_HEADER_BYTES;
        } else {
          const n = Math.min(FRAME_HEADER_BYTES - this.#headerFill, end - at);
          this.#header.set(chunk.subarray(at, at + n), this.#headerFill);
          this.#headerFill += n;
          at += n;
          if (this.#headerFill < FRAME_HEADER_BYTES) break;
          this.#headerFill = 0;
          const h = this.#header;
          size = ((h[0]! << 24) >>> 0) + (h[1]! << 16) + (h[2]! << 8) + h[3]!;
        }
        if (size > this.#maxFrameBytes) {
          throw new RangeError(
            `A frame of ${size} bytes is over the limit of ${this.#maxFrameBytes}`,
          );
        }
        if (end - at >= size) {
          out.push(chunk.subarray(at, at + size));
          at += size;
          continue;
        }
        this.#frame = new Uint8Array(size);
        this.#frameFill = 0;
      }
      const frame = this.#frame;
      const n = Math.min(frame.byteLength - this.#frameFill, end - at);
      frame.set(chunk.subarray(at, at + n), this.#frameFill);
      this.#frameFill += n;
      at += n;
      if (this.#frameFill === frame.byteLength) {
        out.push(frame);
        this.#frame = null;
      }
    }
    return out;
  }
}
