// Copyright 2026 the mpreg authors. MIT license.
/**
 * Coalesces encoded messages into batch frames.
 *
 * @module
 */
import type { Codec } from "../protocol/codec.ts";

/**
 * An encoded message or frame, as {@linkcode Codec.encode} returns it.
 *
 * @example
 * ```ts ignore
 * const frame: EncodedFrame = createCodec("json").encode({ u: 1 });
 * ```
 */
export type EncodedFrame = string | Uint8Array<ArrayBuffer>;

/** Options for a {@linkcode Batcher}. */
export interface BatcherOptions {
  /**
   * Send the first frame of a turn at once, and batch only what follows it
   * in the same turn: one message at a time then leaves without waiting for
   * the end of the turn (where the transport writes at once, the work the
   * caller does after sending overlaps the peer's), while many still share
   * frames.
   *
   * @default {false}
   */
  leading?: boolean;
}

/**
 * Collects the frames written in one turn of the event loop and sends them
 * as one batch frame (see `docs/protocol.md`), or as soon as the batch
 * would grow past `maxBytes`: small batches keep several frames in flight,
 * so both ends work at once. With `leading`, the first frame of a turn goes
 * out at once and only the frames after it are batched.
 *
 * @example
 * ```ts ignore
 * import { Batcher } from "./batcher.ts";
 * import { createCodec } from "../protocol/codec.ts";
 * const codec = createCodec("json");
 * const sent: unknown[] = [];
 * const batcher = new Batcher(codec, (frame) => sent.push(frame), 4096);
 * batcher.push(codec.encode({ u: 1 }));
 * batcher.push(codec.encode({ u: 2 }));
 * await Promise.resolve();
 * console.log(sent); // [ '[{"u":1},{"u":2}]' ]
 * ```
 */
export class Batcher {
  readonly #codec: Codec;
  readonly #send: (frame: EncodedFrame) => void;
  #maxBytes: number;
  #frames: EncodedFrame[] = [];
  #bytes = 0;
  #corked = false;
  readonly #leading: boolean;
  /** With `leading`: a frame went out this turn, so the next ones wait for its end. */
  #holding = false;

  /**
   * Creates a batcher.
   *
   * @param codec The connection's codec; with one that does not batch, each frame is sent alone at once.
   * @param send Sends one frame on the socket.
   * @param maxBytes The largest batch.
   * @param options Whether the first frame of a turn goes out at once.
   */
  constructor(
    codec: Codec,
    send: (frame: EncodedFrame) => void,
    maxBytes: number,
    options: BatcherOptions = {},
  ) {
    this.#codec = codec;
    this.#send = send;
    this.#maxBytes = maxBytes;
    this.#leading = options.leading ?? false;
  }

  /** The largest batch, in bytes. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  set maxBytes(value: number) {
    this.#maxBytes = value;
  }

  /**
   * Queues a frame; the queue is sent at the end of the turn (or by
   * {@linkcode Batcher.uncork} while corked), or now when it would grow past
   * the limit. With `leading`, the turn's first frame is sent now.
   *
   * @param frame An encoded message.
   */
  push(frame: EncodedFrame): void {
    // An encoding without batches (the original MPREG protocol): every frame alone, at once.
    if (!this.#codec.batches) {
      this.#send(frame);
      return;
    }
    if (this.#leading && !this.#holding && !this.#corked) {
      this.#holding = true;
      queueMicrotask(this.#releaseTask);
      this.#send(frame);
      return;
    }
    const size = typeof frame === "string" ? frame.length : frame.byteLength;
    if (this.#frames.length > 0 && this.#bytes + size > this.#maxBytes) this.flush();
    this.#frames.push(frame);
    this.#bytes += size;
    if (this.#frames.length === 1 && !this.#corked && !this.#holding) {
      queueMicrotask(this.#flushTask);
    }
  }

  /**
   * Holds what is pushed from now on until {@linkcode Batcher.uncork}, which
   * sends it at once instead of in a microtask: a connection corks while it
   * handles one incoming frame, so the answers that frame produces at once go
   * out as soon as it is handled (still together, and still early past
   * `maxBytes`).
   */
  cork(): void {
    this.#corked = true;
  }

  /** Ends {@linkcode Batcher.cork} and sends what is queued. */
  uncork(): void {
    this.#corked = false;
    this.flush();
  }

  /** Sends what is queued now. */
  flush(): void {
    const frames = this.#frames;
    if (frames.length === 0) return;
    let frame: EncodedFrame;
    if (frames.length === 1) {
      // The queue is emptied in place when it holds one frame (the usual
      // case one call at a time): pop() is cheap where setting `length`
      // goes through V8's runtime.
      frame = frames.pop()!;
    } else {
      frame = this.#codec.encodeBatch(frames);
      this.#frames = [];
    }
    this.#bytes = 0;
    this.#send(frame);
  }

  readonly #flushTask = (): void => this.flush();

  readonly #releaseTask = (): void => {
    this.#holding = false;
    this.flush();
  };
}
