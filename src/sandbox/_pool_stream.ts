// Copyright 2026 the mpreg authors. MIT license.
/**
 * Streams of sandboxed calls, as the node sees them. The stream of a
 * streamed sandboxed call is a
 * {@linkcode StreamSource} whose credit is passed into the sandbox process
 * (which reads its producer no further than that), and whose chunks arrive
 * as `{ chunk }` messages. The call holds its slot in the pool (see
 * `PendingCall`) until the stream ends, fails or is cancelled. A stream
 * passed to a sandboxed call as an argument is a {@linkcode SandboxInput}:
 * read only as far as the process grants. Private to the pool.
 *
 * @module
 */
import { ErrorCode } from "../protocol/codes.ts";
import { InternalError, RpcError, type WireError } from "../protocol/errors.ts";
import { MAX_STREAM_CREDIT } from "../protocol/messages.ts";
import type { StreamSink, StreamSource } from "../registry/stream_source.ts";
import { send } from "./_pool_messages.ts";
import type { PendingCall, PoolState, PoolWorker } from "./_pool_state.ts";
import type { InputMessage } from "./_protocol.ts";

/**
 * A sandboxed producer's stream. The pool feeds it (`chunk`, `end`, `fail`);
 * the node reads it like any {@linkcode StreamSource}.
 *
 * @example
 * ```ts ignore
 * // Made by the pool when a process answers a streamed call with `{ stream }`.
 * const source = new SandboxStream(s, worker, pending, cancel);
 * source.start(sink, 16); // sends { credit: id, n: 16 } to the process
 * ```
 */
export class SandboxStream implements StreamSource {
  /** Marks a stream source. */
  readonly streamSource = true as const;
  readonly #s: PoolState;
  readonly #worker: PoolWorker;
  readonly #pending: PendingCall;
  readonly #cancel: (reason: unknown) => void;
  #sink: StreamSink | null = null;
  /** Credit granted to the process and not used yet. */
  #outstanding = 0;
  #started = false;
  #done = false;
  /** A failure before `start()`, delivered then. */
  #early: { error: unknown } | undefined;

  /**
   * @param s The pool.
   * @param worker The process running the producer.
   * @param pending The call, whose slot the stream holds.
   * @param cancel Cancels the call in its process (its producer is closed).
   */
  constructor(
    s: PoolState,
    worker: PoolWorker,
    pending: PendingCall,
    cancel: (reason: unknown) => void,
  ) {
    this.#s = s;
    this.#worker = worker;
    this.#pending = pending;
    this.#cancel = cancel;
  }

  /**
   * Starts the stream, with `credit` chunks allowed.
   *
   * @param sink Where chunks go.
   * @param credit The initial credit.
   */
  start(sink: StreamSink, credit: number): void {
    if (this.#started) return;
    this.#started = true;
    if (this.#early !== undefined) return sink.error(this.#early.error);
    if (this.#done) return;
    this.#sink = sink;
    this.credit(credit);
  }

  /**
   * Allows `n` more chunks: passed on to the process.
   *
   * @param n How many.
   */
  credit(n: number): void {
    if (this.#done || !this.#started) return;
    // Never more outstanding than a stream may have, whatever the granter says.
    const grant = Math.min(n, MAX_STREAM_CREDIT - this.#outstanding);
    if (!(grant > 0)) return;
    this.#outstanding += grant;
    send(this.#s, this.#worker, { credit: this.#pending.id, n: grant });
  }

  /**
   * The reader reads no more: the call is cancelled in its process (the
   * producer's `return()` runs, its `this.signal` aborts).
   *
   * @param reason Why.
   */
  cancel(reason: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#sink = null;
    this.#cancel(reason);
  }

  /**
   * A chunk from the process.
   *
   * @param value The chunk.
   * @returns False when the process had no credit for it (a protocol violation).
   */
  chunk(value: unknown): boolean {
    if (this.#outstanding <= 0) return false;
    this.#outstanding--;
    this.#sink?.chunk(value);
    return true;
  }

  /** The producer ended. */
  end(): void {
    if (this.#done) return;
    this.#done = true;
    const sink = this.#sink;
    this.#sink = null;
    sink?.end();
  }

  /**
   * The stream failed: the producer's error, a cancel through the call's
   * signal, or the process's end.
   *
   * @param error Why.
   */
  fail(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    const sink = this.#sink;
    this.#sink = null;
    if (sink === null) this.#early = { error };
    else sink.error(error);
  }
}

/**
 * A stream passed as an argument to a sandboxed call: read only as far as
 * the process grants (`{ more }` messages), its chunks sent to the process
 * as `{ input }` messages. Cancelled when the process's reader cancels it
 * (`{ drop }`), and when the call ends.
 *
 * @example
 * ```ts ignore
 * // Made by the pool for each StreamSource among a call's arguments.
 * const input = new SandboxInput(s, worker, pending.id, 0, source);
 * input.grant(16); // the process's reader asked for 16 chunks
 * ```
 */
export class SandboxInput {
  readonly #s: PoolState;
  readonly #worker: PoolWorker;
  readonly #id: number;
  readonly #k: number;
  readonly #source: StreamSource;
  /** Chunks the process allowed that were not sent yet. */
  #outstanding = 0;
  #started = false;
  #over = false;

  /**
   * @param s The pool.
   * @param worker The process running the call.
   * @param id The call's id.
   * @param k Which of the call's stream arguments.
   * @param source The stream.
   */
  constructor(s: PoolState, worker: PoolWorker, id: number, k: number, source: StreamSource) {
    this.#s = s;
    this.#worker = worker;
    this.#id = id;
    this.#k = k;
    this.#source = source;
  }

  /**
   * The process allows `n` more chunks: the source is started (the first
   * time) or granted them.
   *
   * @param n How many.
   */
  grant(n: number): void {
    // Never more outstanding than a stream may have, whatever the process grants.
    const grant = Math.min(n, MAX_STREAM_CREDIT - this.#outstanding);
    if (this.#over || !(grant > 0)) return;
    this.#outstanding += grant;
    if (this.#started) return this.#source.credit(grant);
    this.#started = true;
    this.#source.start({
      chunk: (value) => {
        this.#outstanding--;
        this.#send({ input: this.#id, k: this.#k, value });
      },
      end: () => {
        if (this.#over) return;
        this.#send({ input: this.#id, k: this.#k, end: true });
        this.#over = true;
      },
      error: (err) => {
        if (this.#over) return;
        this.#send({ input: this.#id, k: this.#k, error: wireOf(err) });
        this.#over = true;
      },
    }, n);
  }

  /**
   * Cancels the stream: its reader in the process cancelled it, or the
   * call ended. Does nothing once it ended.
   *
   * @param reason Why.
   */
  cancel(reason: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.#source.cancel(reason);
  }

  #send(message: InputMessage): void {
    if (this.#over || this.#worker.dead) return;
    send(this.#s, this.#worker, message);
  }
}

/**
 * What the process is told of a stream argument's failure: a caller's
 * error as it is, anything else (the node's own failures) as a generic
 * internal error, since the process runs untrusted code.
 */
function wireOf(err: unknown): WireError {
  if (err instanceof RpcError && !(err instanceof InternalError)) return err.toWire();
  return { code: ErrorCode.Internal, message: "The stream failed on the node", details: null };
}
