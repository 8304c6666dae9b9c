// Copyright 2026 the mpreg authors. MIT license.
/**
 * A stream that runs on another member, as the coordinator sees it: the
 * chunks its link receives, relayed as they come, and the credit its
 * reader grants, passed on to the member. It holds chunks only until the
 * connection's sender starts it (never more than the credit granted).
 * A chunk that came as its encoding stays encoded for a sink that takes it
 * so (a client connection's sender), and is decoded for any other.
 * Private to the cluster layer.
 *
 * @module
 */
import type { StreamSink, StreamSource } from "../registry/stream_source.ts";
import { EncodedValue } from "../protocol/encoded_value.ts";
import { ProtocolError } from "../protocol/errors.ts";

/** A stream relayed from the member that runs its producer. */
export class RelaySource implements StreamSource {
  /** Marks a stream source. */
  readonly streamSource = true as const;
  readonly #grant: (n: number, bytes?: number) => void;
  readonly #cancel: (reason: unknown) => void;
  /** Credit the member holds: chunks it may still send. */
  #outstanding: number;
  #sink: StreamSink | null = null;
  readonly #held: unknown[] = [];
  /** `undefined` while it runs; `null` once ended; else the error. */
  #ending: { error: unknown } | null | undefined = undefined;

  /**
   * @param grant Sends `n` more credit (and `bytes` more bytes) to the member.
   * @param credit The initial credit the member holds (its `run` carried it).
   * @param cancel Cancels the stream on the member.
   */
  constructor(
    grant: (n: number, bytes?: number) => void,
    credit: number,
    cancel: (reason: unknown) => void,
  ) {
    this.#grant = grant;
    this.#cancel = cancel;
    this.#outstanding = credit;
  }

  /**
   * Starts relaying to `sink`. The member already holds the initial credit
   * (the `run` message carried it).
   *
   * @param sink Where chunks go.
   */
  start(sink: StreamSink): void {
    this.#sink = sink;
    for (const value of this.#held.splice(0)) {
      if (this.#sink !== sink) return;
      this.#deliver(sink, value);
    }
    this.#deliverEnd();
  }

  /**
   * Passes `n` more credit (and `bytes` more bytes) on to the member,
   * which keeps to the byte credit itself (its `run` carried the initial
   * one): this node holds nothing for it.
   *
   * @param n How many.
   * @param bytes How many more bytes.
   */
  credit(n: number, bytes?: number): void {
    if (this.#ending !== undefined) return;
    this.#outstanding += n;
    this.#grant(n, bytes);
  }

  /**
   * Its reader will read no more: the member is told to stop, and nothing
   * more is relayed.
   *
   * @param reason Why.
   */
  cancel(reason: unknown): void {
    if (this.#ending !== undefined) return;
    this.#ending = { error: reason };
    this.#sink = null;
    this.#held.length = 0;
    this.#cancel(reason);
  }

  /**
   * A chunk from the member.
   *
   * @param value The chunk.
   * @returns False, and nothing relayed, when the member had no credit left
   *   for it: it broke the protocol (the link is to be closed).
   */
  push(value: unknown): boolean {
    if (this.#ending !== undefined) return true;
    if (this.#outstanding <= 0) return false;
    this.#outstanding--;
    if (this.#sink === null) this.#held.push(value);
    else this.#deliver(this.#sink, value);
    return true;
  }

  /** Hands a chunk to the sink, decoded unless it takes encodings. */
  #deliver(sink: StreamSink, value: unknown): void {
    if (!(value instanceof EncodedValue) || sink.takesEncoded === true) return sink.chunk(value);
    let decoded: unknown;
    try {
      decoded = value.decode();
    } catch (err) {
      // Checked by the link against the limits, but not a msgpack value.
      const error = new ProtocolError(`A relayed chunk is not valid msgpack: ${err}`);
      this.cancel(error);
      sink.error(error);
      return;
    }
    sink.chunk(decoded);
  }

  /**
   * The member's end (`null`) or failure, or the loss of its link.
   *
   * @param error Why it failed, or `null`.
   */
  finish(error: unknown): void {
    if (this.#ending !== undefined) return;
    this.#ending = error === null ? null : { error };
    this.#deliverEnd();
  }

  #deliverEnd(): void {
    const sink = this.#sink;
    const ending = this.#ending;
    if (sink === null || ending === undefined) return;
    this.#sink = null;
    if (ending === null) sink.end();
    else sink.error(ending.error);
  }
}
