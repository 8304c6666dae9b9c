// Copyright 2026 the mpreg authors. MIT license.
/**
 * Streamed results on a node: a function's `ReadableStream`, async iterable
 * or generator read under credit-based flow control. A
 * {@linkcode StreamSource} hands chunks to a {@linkcode StreamSink} only
 * while it holds credit: the producer's `next()` (or the stream's `read()`)
 * is never called past it, and an abort of the call's signal calls the
 * iterator's `return()` (or cancels the stream's reader).
 *
 * @module
 */
import { MAX_STREAM_CREDIT } from "../protocol/messages.ts";
import { chunkSize, MAX_STREAM_BYTES } from "../protocol/chunk_size.ts";

/**
 * Where a {@linkcode StreamSource} delivers: chunks in order, then exactly
 * one `end()` or `error()`.
 *
 * @example
 * ```ts
 * import type { StreamSink } from "./stream_source.ts";
 * const got: unknown[] = [];
 * const sink: StreamSink = { chunk: (v) => got.push(v), end: () => {}, error: () => {} };
 * sink.chunk(1);
 * console.log(got); // [1]
 * ```
 */
export interface StreamSink {
  /**
   * Takes a chunk relayed from another member as an `EncodedValue` (its
   * msgpack bytes, see `protocol/encoded_value.ts`), to pass it on without
   * decoding it; without it, every chunk is the value itself.
   */
  readonly takesEncoded?: boolean;
  /** One chunk. */
  chunk(value: unknown): void;
  /** The stream ended after its last chunk. */
  end(): void;
  /** The stream failed (an RpcError or the signal's reason). */
  error(err: unknown): void;
}

/**
 * A streamed result: a local producer, or a stream relayed from another
 * member. Nothing flows before `start()`, and never more chunks than the
 * credit granted in total.
 *
 * @example
 * ```ts
 * import { ProducerSource, isStreamSource } from "./stream_source.ts";
 * const source = new ProducerSource([1, 2][Symbol.iterator](), new AbortController().signal, (e) => e);
 * console.log(isStreamSource(source)); // true
 * ```
 */
export interface StreamSource {
  /** Marks a stream source among other results. */
  readonly streamSource: true;
  /**
   * Starts delivering to `sink`, with `credit` chunks allowed, and with
   * `bytes`, that many bytes too (see `protocol/chunk_size.ts`): a source
   * that honours a byte credit delivers a chunk only while it holds both,
   * so it may pass the byte credit by one chunk. A source may ignore
   * `bytes` (its credit is then in chunks only).
   *
   * @param sink Where chunks go.
   * @param credit The initial credit, in chunks.
   * @param bytes The initial byte credit; none: chunks only.
   */
  start(sink: StreamSink, credit: number, bytes?: number): void;
  /**
   * Allows `n` more chunks (0 with `bytes`), and `bytes` more bytes.
   *
   * @param n How many.
   * @param bytes How many more bytes.
   */
  credit(n: number, bytes?: number): void;
  /**
   * Its reader will read no more: the producer is closed (a generator's
   * `return()` runs, a `ReadableStream` is cancelled, a relayed one is
   * cancelled where it runs) and the sink hears nothing more. Does nothing
   * once the stream ended.
   *
   * @param reason Why.
   */
  cancel(reason: unknown): void;
}

/**
 * Whether `value` is a {@linkcode StreamSource}.
 *
 * @example
 * ```ts
 * import { isStreamSource } from "./stream_source.ts";
 * console.log(isStreamSource({})); // false
 * console.log(isStreamSource({ streamSource: true })); // false: data, not a stream
 * ```
 *
 * @param value Any value.
 * @returns True for a stream source.
 */
export function isStreamSource(value: unknown): value is StreamSource {
  // Its methods too: a client's `{streamSource: true}` (data has no
  // functions) is a plain value, not a stream.
  return typeof value === "object" && value !== null &&
    (value as { streamSource?: unknown }).streamSource === true &&
    typeof (value as { start?: unknown }).start === "function";
}

type Next = () => unknown;

/** What a function may return to stream: a `ReadableStream` or an iterator. */
export type Producer = ReadableStream<unknown> | Iterator<unknown> | AsyncIterator<unknown>;

/**
 * The producer a streamed function's value stands for: a `ReadableStream`,
 * an iterator (what a generator returns), or the iterator of an async or
 * sync iterable that is not a plain collection; `undefined` for any other
 * value (an array, a string, a map are values, not streams).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { producerOf } from "./stream_source.ts";
 * async function* ticks() {
 *   yield 1;
 * }
 * assert.ok(producerOf(ticks()) !== undefined);
 * assert.equal(producerOf([1, 2]), undefined);
 * ```
 *
 * @param value A function's result.
 * @returns The producer, or `undefined`.
 */
export function producerOf(value: unknown): Producer | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  if (typeof ReadableStream !== "undefined" && value instanceof ReadableStream) return value;
  if (typeof (value as { next?: unknown }).next === "function") return value as Iterator<unknown>;
  if (Symbol.asyncIterator in value) {
    return (value as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  }
  return undefined;
}

/**
 * Closes a producer nobody will read (a stream result refused by a plain
 * call): cancels a `ReadableStream`, or calls an iterator's `return()`.
 * Anything else is left alone.
 *
 * @param value The result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closeProducer } from "./stream_source.ts";
 * let cancelled = false;
 * closeProducer(new ReadableStream({ cancel: () => void (cancelled = true) }));
 * await Promise.resolve();
 * assert.ok(cancelled);
 * ```
 */
export function closeProducer(value: unknown): void {
  if (typeof value !== "object" || value === null) return;
  try {
    if (typeof ReadableStream !== "undefined" && value instanceof ReadableStream) {
      if (!value.locked) value.cancel().catch(() => {});
      return;
    }
    const returned = (value as { return?: () => unknown }).return?.();
    if (returned instanceof Promise) returned.catch(() => {});
  } catch {
    // A failing `return()` changes nothing: the result is refused anyway.
  }
}

/**
 * A function's own stream: reads a `ReadableStream`, an async iterator or
 * a sync iterator one chunk per unit of credit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProducerSource } from "./stream_source.ts";
 * async function* count() {
 *   yield 1;
 *   yield 2;
 * }
 * const got: unknown[] = [];
 * const { promise, resolve } = Promise.withResolvers<void>();
 * new ProducerSource(count(), new AbortController().signal, (e) => e)
 *   .start({ chunk: (v) => got.push(v), end: resolve, error: resolve }, 16);
 * await promise;
 * assert.deepEqual(got, [1, 2]);
 * ```
 */
export class ProducerSource implements StreamSource {
  /** Marks a stream source. */
  readonly streamSource = true as const;
  readonly #next: Next;
  readonly #close: () => unknown;
  readonly #signal: AbortSignal;
  readonly #toError: (err: unknown) => unknown;
  #sink: StreamSink | null = null;
  #credit = 0;
  /** The byte credit left (it may go below 0 by one chunk); Infinity without one. */
  #bytes = Infinity;
  #pulling = false;
  #done = false;
  readonly #onAbort = (): void => this.#stop(this.#signal.reason);

  /**
   * Wraps a producer.
   *
   * @param producer A `ReadableStream` or an iterator (sync or async).
   * @param signal The call's signal: its abort stops the producer.
   * @param toError Turns the producer's own failure into the error to send.
   */
  constructor(
    producer: Producer,
    signal: AbortSignal,
    toError: (err: unknown) => unknown,
  ) {
    this.#signal = signal;
    this.#toError = toError;
    if (typeof ReadableStream !== "undefined" && producer instanceof ReadableStream) {
      const reader = producer.getReader();
      this.#next = () => reader.read();
      this.#close = () => reader.cancel(signal.reason).catch(() => {});
    } else {
      const iterator = producer as AsyncIterator<unknown>;
      this.#next = () => iterator.next();
      // A generator's `finally` runs now (or once its pending `next()` settles).
      this.#close = () => closeProducer(iterator);
    }
    // From now on, not only once started: a call that ends before its
    // stream is read (cancelled, past its deadline) still closes it.
    if (signal.aborted) this.#stop(signal.reason);
    else signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /**
   * Starts reading, with `credit` chunks allowed (and `bytes` bytes).
   *
   * @param sink Where chunks go.
   * @param credit The initial credit.
   * @param bytes The initial byte credit; none: chunks only.
   */
  start(sink: StreamSink, credit: number, bytes?: number): void {
    this.#sink = sink;
    this.#credit = credit;
    if (bytes !== undefined) this.#bytes = bytes;
    // Stopped before it started: its producer is closed already.
    if (this.#done) return sink.error(this.#signal.reason);
    this.#pump();
  }

  /**
   * Allows `n` more chunks (and `bytes` more bytes).
   *
   * @param n How many.
   * @param bytes How many more bytes.
   */
  credit(n: number, bytes?: number): void {
    // Never more outstanding than a stream may have, whatever the granter says.
    this.#credit = Math.min(this.#credit + n, MAX_STREAM_CREDIT);
    // A stream started without a byte credit keeps to chunks only.
    if (bytes !== undefined && this.#bytes !== Infinity) {
      this.#bytes = Math.min(this.#bytes + bytes, MAX_STREAM_BYTES);
    }
    this.#pump();
  }

  /**
   * Closes the producer: its reader will read no more.
   *
   * @param _reason Why.
   */
  cancel(_reason: unknown): void {
    if (this.#done) return;
    this.#finish();
    this.#closeQuietly();
  }

  async #pump(): Promise<void> {
    if (this.#pulling || this.#done || this.#sink === null) return;
    this.#pulling = true;
    const sink = this.#sink;
    try {
      // A chunk is asked for only while both credits last: one the node
      // could not send is never made.
      while (this.#credit > 0 && this.#bytes > 0 && !this.#done) {
        const result = (await this.#next()) as IteratorResult<unknown>;
        if (this.#done) return;
        if (result.done) {
          this.#finish();
          sink.end();
          return;
        }
        this.#credit--;
        if (this.#bytes !== Infinity) this.#bytes -= chunkSize(result.value);
        sink.chunk(result.value);
      }
    } catch (err) {
      if (this.#done) return;
      this.#finish();
      sink.error(this.#toError(err));
    } finally {
      this.#pulling = false;
    }
  }

  #finish(): void {
    this.#done = true;
    this.#signal.removeEventListener("abort", this.#onAbort);
  }

  #stop(reason: unknown): void {
    if (this.#done) return;
    this.#finish();
    this.#closeQuietly();
    this.#sink?.error(reason);
  }

  #closeQuietly(): void {
    try {
      this.#close();
    } catch {
      // A producer's failing `return()` changes nothing: the stream is over.
    }
  }
}

/**
 * The initial credit, in chunks, of a stream passed to a function as an
 * argument (see {@linkcode readableOf}).
 */
export const ARGUMENT_STREAM_CREDIT = 16;

/**
 * A {@linkcode StreamSource} as the `ReadableStream` a function reads: the
 * chunks the source delivers are queued, and the source is granted more
 * only as the reader reads, so at most `credit` chunks are queued or on
 * their way (granted in batches of half the credit). The source's end or
 * error comes after the chunks queued before it. Cancelling the stream
 * cancels the source; the abort of `signal` (the reader's call ended)
 * fails the stream with its reason and cancels the source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProducerSource, readableOf } from "./stream_source.ts";
 * async function* count() {
 *   yield 1;
 *   yield 2;
 *   yield 3;
 * }
 * const source = new ProducerSource(count(), new AbortController().signal, (e) => e);
 * assert.deepEqual(await Array.fromAsync(readableOf(source, 2)), [1, 2, 3]);
 * ```
 *
 * @param source The stream.
 * @param credit How many chunks may be queued or on their way (default 16).
 * @param signal The reader's call: its abort fails the stream.
 * @returns The stream to read.
 */
export function readableOf(
  source: StreamSource,
  credit: number = ARGUMENT_STREAM_CREDIT,
  signal?: AbortSignal,
): ReadableStream<unknown> {
  const queue: unknown[] = [];
  /** Chunks granted that have not arrived yet. */
  let inFlight = credit;
  /** `undefined` while it runs; `null` once ended; else the error. */
  let ending: { error: unknown } | null | undefined = undefined;
  /** The source is done with: cancelled, or its end or error delivered. */
  let over = false;
  let wake: (() => void) | null = null;
  const batch = Math.max(1, credit >> 1);
  const woken = (): void => {
    const resolve = wake;
    wake = null;
    resolve?.();
  };
  const stop = (reason: unknown): void => {
    if (over || ending !== undefined) return;
    ending = { error: reason };
    queue.length = 0;
    source.cancel(reason);
    woken();
  };
  const onAbort = (): void => stop(signal!.reason);
  return new ReadableStream<unknown>({
    start(): void {
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      source.start({
        chunk(value): void {
          if (over || ending !== undefined) return;
          inFlight--;
          queue.push(value);
          woken();
        },
        end(): void {
          if (over || ending !== undefined) return;
          ending = null;
          woken();
        },
        error(err): void {
          if (over || ending !== undefined) return;
          ending = { error: err };
          woken();
        },
      }, credit);
    },
    async pull(controller): Promise<void> {
      while (queue.length === 0 && ending === undefined && !over) {
        await new Promise<void>((resolve) => wake = resolve);
      }
      if (over) return;
      if (queue.length > 0) {
        controller.enqueue(queue.shift());
        // Queued plus on their way stays within the credit.
        const room = credit - queue.length - inFlight;
        if (room >= batch && ending === undefined) {
          inFlight += room;
          source.credit(room);
        }
        return;
      }
      over = true;
      signal?.removeEventListener("abort", onAbort);
      if (ending === null) controller.close();
      else controller.error(ending!.error);
    },
    cancel(reason): void {
      signal?.removeEventListener("abort", onAbort);
      if (over) return;
      over = true;
      queue.length = 0;
      woken();
      if (ending === undefined) source.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
