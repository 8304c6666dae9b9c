// Copyright 2026 the mpreg authors. MIT license.
/**
 * A stream passed to a sandboxed function as an argument, on the process's
 * side: a {@linkcode StreamSource} fed by the pool's `{ input }` messages,
 * which asks the pool for chunks (`{ more }`) only as its reader reads, and
 * tells it of a cancel (`{ drop }`). The function gets it as a
 * `ReadableStream` (see `readableOf`). Runs in the sandbox process only.
 *
 * @module
 */
import { MAX_STREAM_CREDIT } from "../protocol/messages.ts";
import type { StreamSink, StreamSource } from "../registry/stream_source.ts";
import type { InputCreditMessage } from "./_protocol.ts";

/**
 * Stream argument `k` of call `id`, in the sandbox process.
 *
 * @example
 * ```ts
 * import { readableOf } from "../registry/stream_source.ts";
 * import { HostInput } from "./_host_input.ts";
 * const sent: unknown[] = [];
 * const input = new HostInput(1, 0, (m) => sent.push(m));
 * const readable = readableOf(input, 4);
 * input.chunk("a");
 * input.end();
 * console.log(await Array.fromAsync(readable)); // [ "a" ]
 * console.log(sent[0]); // { more: 1, k: 0, n: 4 }
 * ```
 */
export class HostInput implements StreamSource {
  /** Marks a stream source. */
  readonly streamSource = true as const;
  readonly #id: number;
  readonly #k: number;
  readonly #send: (message: InputCreditMessage) => void;
  #sink: StreamSink | null = null;
  #over = false;

  /**
   * @param id The call's id.
   * @param k Which of its stream arguments.
   * @param send Sends a message to the pool.
   */
  constructor(id: number, k: number, send: (message: InputCreditMessage) => void) {
    this.#id = id;
    this.#k = k;
    this.#send = send;
  }

  /**
   * Starts reading: asks the pool for `credit` chunks.
   *
   * @param sink Where chunks go.
   * @param credit How many.
   */
  start(sink: StreamSink, credit: number): void {
    this.#sink = sink;
    this.credit(credit);
  }

  /**
   * Asks the pool for `n` more chunks.
   *
   * @param n How many.
   */
  credit(n: number): void {
    const grant = Math.min(Math.floor(n), MAX_STREAM_CREDIT);
    if (this.#over || !(grant >= 1)) return;
    this.#send({ more: this.#id, k: this.#k, n: grant });
  }

  /**
   * The function cancelled it: the pool cancels the stream.
   *
   * @param _reason Why.
   */
  cancel(_reason: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.#sink = null;
    this.#send({ drop: this.#id, k: this.#k });
  }

  /**
   * A chunk from the pool.
   *
   * @param value The chunk.
   */
  chunk(value: unknown): void {
    if (!this.#over) this.#sink?.chunk(value);
  }

  /** The stream ended. */
  end(): void {
    if (this.#over) return;
    this.#over = true;
    this.#sink?.end();
  }

  /**
   * The stream failed, or its call ended before it did.
   *
   * @param err Why.
   */
  error(err: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.#sink?.error(err);
  }
}
