// Copyright 2026 the mpreg authors. MIT license.
/**
 * The node's side of one streamed request on a client connection: sends
 * the source's chunks while the client's credit lasts, passes the client's
 * further credit on to the source (less what it holds), and ends with the
 * usual answer.
 *
 * @module
 */
import type { StreamSink, StreamSource } from "../registry/stream_source.ts";
import { MAX_STREAM_CREDIT } from "../protocol/messages.ts";

/** Where a {@linkcode StreamSender} writes. */
export interface StreamOutput {
  /** Sends one chunk to the client (an `EncodedValue` for one relayed as its bytes). */
  chunk(value: unknown): void;
  /** Ends the stream: `count` chunks were sent. */
  end(count: number): void;
  /** Fails the stream. */
  error(err: unknown): void;
}

/**
 * Counts of the streams a node serves: open streams, and chunks held
 * because they arrived past the client's credit (a source that keeps to its
 * credit never makes any).
 *
 * @example
 * ```ts
 * import { streamStats } from "./stream_sender.ts";
 * console.log(streamStats.open >= 0, streamStats.buffered >= 0);
 * ```
 */
export const streamStats: { open: number; buffered: number } = { open: 0, buffered: 0 };

/**
 * Sends a {@linkcode StreamSource} to a client under its credit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProducerSource } from "../registry/stream_source.ts";
 * import { StreamSender } from "./stream_sender.ts";
 * const got: unknown[] = [];
 * const { promise, resolve } = Promise.withResolvers<number>();
 * const source = new ProducerSource([1, 2, 3][Symbol.iterator](), new AbortController().signal, (e) => e);
 * const sender = new StreamSender(source, 2, { chunk: (v) => got.push(v), end: resolve, error: () => {} });
 * await new Promise((r) => setTimeout(r, 10));
 * assert.deepEqual(got, [1, 2]); // no more than the credit
 * sender.grant(2);
 * assert.equal(await promise, 3);
 * assert.deepEqual(got, [1, 2, 3]);
 * ```
 */
export class StreamSender implements StreamSink {
  /** Relayed chunks stay encoded: the connection's codec writes them as they are. */
  readonly takesEncoded = true;
  readonly #source: StreamSource;
  readonly #out: StreamOutput;
  /** Chunks the client still allows. */
  #credit: number;
  /** Chunks that arrived past the credit. */
  readonly #held: unknown[] = [];
  #sent = 0;
  /** The source's end (`null`) or error, held until the held chunks are sent. */
  #ending: { error: unknown } | null | undefined = undefined;
  #over = false;

  /**
   * Starts the source.
   *
   * @param source The stream.
   * @param credit The client's initial credit.
   * @param out Where to send.
   * @param bytes The client's initial byte credit, passed on to the source
   *   (which asks its producer for no chunk past it); none: chunks only.
   */
  constructor(source: StreamSource, credit: number, out: StreamOutput, bytes?: number) {
    this.#source = source;
    this.#credit = credit;
    this.#out = out;
    streamStats.open++;
    source.start(this, credit, bytes);
  }

  /**
   * The client granted `n` more chunks (and `bytes` more bytes): the held
   * ones go first, the rest of the credit passes to the source, the bytes
   * all of them (the source keeps to them).
   *
   * @param n How many.
   * @param bytes How many more bytes.
   */
  grant(n: number, bytes?: number): void {
    if (this.#over) return;
    let rest = n;
    while (rest > 0 && this.#held.length > 0) {
      rest--;
      streamStats.buffered--;
      this.#send(this.#held.shift());
    }
    if (this.#held.length === 0 && this.#ending !== undefined) return this.#close();
    // Never more outstanding than a stream may have: the excess is dropped.
    rest = Math.max(0, Math.min(rest, MAX_STREAM_CREDIT - this.#credit));
    if (rest === 0 && bytes === undefined) return;
    this.#credit += rest;
    if (bytes === undefined) this.#source.credit(rest);
    else this.#source.credit(rest, bytes);
  }

  /**
   * A chunk from the source.
   *
   * @param value The chunk.
   */
  chunk(value: unknown): void {
    if (this.#over) return;
    if (this.#credit > 0) {
      this.#credit--;
      this.#send(value);
    } else {
      streamStats.buffered++;
      this.#held.push(value);
    }
  }

  /** The source ended. */
  end(): void {
    this.#ending ??= null;
    if (this.#held.length === 0) this.#close();
  }

  /**
   * The source failed.
   *
   * @param err Why.
   */
  error(err: unknown): void {
    this.#ending ??= { error: err };
    // An error need not wait for the client to read what is held.
    streamStats.buffered -= this.#held.length;
    this.#held.length = 0;
    this.#close();
  }

  /** Stops sending (the request was cancelled or the connection closed). */
  stop(): void {
    if (this.#over) return;
    this.#over = true;
    streamStats.open--;
    streamStats.buffered -= this.#held.length;
    this.#held.length = 0;
  }

  #send(value: unknown): void {
    this.#sent++;
    this.#out.chunk(value);
  }

  #close(): void {
    if (this.#over) return;
    const ending = this.#ending;
    this.stop();
    if (ending === null || ending === undefined) this.#out.end(this.#sent);
    else this.#out.error(ending.error);
  }
}
