// Copyright 2026 the mpreg authors. MIT license.
/**
 * A client's upload on a node: the {@linkcode StreamSource} a function reads
 * (as a `ReadableStream`, see `readableOf`) while the client sends its
 * chunks. The node grants the client credit only as the reader asks for it
 * (`{u, i, credit}`), holds at most that many chunks, and tells the client
 * to stop (`{u, i, stop}`) when the reader cancels or the request ends
 * before the upload does.
 *
 * @module
 */
import { MAX_STREAM_CREDIT } from "../protocol/messages.ts";
import type { StreamSink, StreamSource } from "../registry/stream_source.ts";

/** What an {@linkcode UploadSource} sends its client. */
export interface UploadLink {
  /**
   * Lets the client send `n` more chunks.
   *
   * @param n How many.
   */
  credit(n: number): void;
  /** Tells the client to send no more (it cancels its stream). */
  stop(): void;
}

/**
 * One upload of a request: chunks the client sends arrive at the reader's
 * sink, never more than the credit granted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UploadSource } from "./upload_source.ts";
 * const granted: number[] = [];
 * const source = new UploadSource({ credit: (n) => granted.push(n), stop: () => {} });
 * const got: unknown[] = [];
 * source.start({ chunk: (v) => got.push(v), end: () => got.push("end"), error: () => {} }, 2);
 * assert.ok(source.push("a"));
 * source.end();
 * assert.deepEqual(granted, [2]);
 * assert.deepEqual(got, ["a", "end"]);
 * ```
 */
export class UploadSource implements StreamSource {
  /** Marks a stream source. */
  readonly streamSource = true as const;
  readonly #link: UploadLink;
  #sink: StreamSink | null = null;
  /** Chunks granted to the client and not yet received. */
  #credit = 0;
  #done = false;
  /** The end or the failure the client sent before the reader started. */
  #early: { error?: unknown } | null = null;

  /** @param link Sends the client credit, and the stop. */
  constructor(link: UploadLink) {
    this.#link = link;
  }

  /** Whether the upload is over: ended, failed, stopped or cancelled. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * The reader starts: the client may send `credit` chunks.
   *
   * @param sink Where chunks go.
   * @param credit The initial credit, in chunks.
   */
  start(sink: StreamSink, credit: number): void {
    this.#sink = sink;
    const early = this.#early;
    if (early !== null) {
      this.#early = null;
      if ("error" in early) sink.error(early.error);
      else sink.end();
      return;
    }
    this.#grant(credit);
  }

  /**
   * The reader lets the client send `n` more chunks.
   *
   * @param n How many.
   */
  credit(n: number): void {
    this.#grant(n);
  }

  /**
   * The reader reads no more: the client is told to stop, and a read still
   * waiting fails with `reason`.
   *
   * @param reason Why.
   */
  cancel(reason: unknown): void {
    this.fail(reason, true);
  }

  /**
   * A chunk from the client.
   *
   * @param chunk The chunk.
   * @returns False when it is past the credit granted (a protocol error);
   *   true otherwise, also when the upload is over (a chunk sent before the
   *   client heard the stop is dropped).
   */
  push(chunk: unknown): boolean {
    if (this.#done) return true;
    if (this.#credit === 0 || this.#sink === null) return false;
    this.#credit--;
    this.#sink.chunk(chunk);
    return true;
  }

  /** The client's stream ended. */
  end(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#sink === null) this.#early = {};
    else this.#sink.end();
  }

  /**
   * The upload fails: a read waiting (or the reader's first) fails with
   * `reason`.
   *
   * @param reason The error the reader sees.
   * @param stop Tell the client to stop sending.
   */
  fail(reason: unknown, stop: boolean): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#sink === null) this.#early = { error: reason };
    else this.#sink.error(reason);
    if (stop) this.#link.stop();
  }

  #grant(n: number): void {
    if (this.#done) return;
    // Never more outstanding than a stream may have, whatever the reader asks.
    const add = Math.min(n, MAX_STREAM_CREDIT - this.#credit);
    if (add <= 0) return;
    this.#credit += add;
    this.#link.credit(add);
  }
}
