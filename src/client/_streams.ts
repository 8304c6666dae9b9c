// Copyright 2026 the mpreg authors. MIT license.
/**
 * The caller's side of a streamed call: a `ReadableStream` whose queue is
 * the stream's credit. It grants the node more credit as the reader pulls,
 * fails on an idle timeout, and cancels the call when the reader cancels.
 * Browser-safe. Private to the client.
 *
 * @module
 */
import { CancelledError, ProtocolError, TimeoutError } from "../protocol/errors.ts";
import type { StreamOptions } from "./options.ts";

/** The initial credit of a stream, in chunks, when the caller gives none. */
export const STREAM_CREDIT = 16;
/** The idle timeout of a stream, when the caller gives none. */
export const STREAM_IDLE_TIMEOUT_MS = 30_000;
/** The total deadline of a stream, when the caller gives none. */
export const STREAM_TIMEOUT_MS = 300_000;

/** What the client's `#send` needs to carry a stream, and fills in. */
export interface StreamHooks {
  /** The initial credit. */
  readonly credit: number;
  /** Called for each chunk, in order. */
  readonly chunk: (value: unknown) => void;
  /** The request's id, set when it is sent. */
  id: number;
}

/**
 * Opens a stream: `send` sends the request and resolves with the node's
 * count of chunks when the stream ends (or rejects with its error);
 * `grant` sends more credit.
 *
 * @param options The caller's options.
 * @param send Sends the streamed request.
 * @param grant Grants `n` more chunks to request `id`.
 * @returns The stream the caller reads.
 */
export function openStream(
  options: StreamOptions,
  send: (hooks: StreamHooks, signal: AbortSignal) => Promise<unknown>,
  grant: (id: number, n: number) => void,
): ReadableStream<unknown> {
  const credit = options.credit ?? STREAM_CREDIT;
  if (!Number.isSafeInteger(credit) || credit < 1) {
    throw new RangeError(`Stream credit must be a positive integer: got ${credit}`);
  }
  const idleMs = options.idleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS;
  // Credit goes back in batches of half the window (one frame per chunk
  // otherwise), or at once when the node holds none.
  const batch = Math.max(1, Math.floor(credit / 2));
  const own = new AbortController();
  const signal = options.signal === undefined
    ? own.signal
    : AbortSignal.any([own.signal, options.signal]);
  let controller!: ReadableStreamDefaultController<unknown>;
  let granted = credit;
  let received = 0;
  let ended = false;
  /** An error that waits for the reader to read the chunks queued before it. */
  let failed: { error: unknown } | null = null;
  let wake: (() => void) | null = null;
  let idle: ReturnType<typeof setTimeout> | undefined;
  const woken = () => {
    clearTimeout(idle);
    idle = undefined;
    const resolve = wake;
    wake = null;
    resolve?.();
  };
  const finish = (error?: unknown) => {
    if (ended) return;
    ended = true;
    woken();
    if (error === undefined) controller.close();
    // `error()` would drop the queued chunks: it waits until they are read.
    else if ((controller.desiredSize ?? 0) >= credit) controller.error(error);
    else failed = { error };
  };
  const hooks: StreamHooks = {
    credit,
    id: 0,
    chunk: (value) => {
      if (ended) return;
      received++;
      controller.enqueue(value);
      woken();
    },
  };
  return new ReadableStream<unknown>({
    start(c) {
      controller = c;
      send(hooks, signal).then((count) => {
        if (count === received) return finish();
        finish(
          new ProtocolError(
            `The stream ended after ${received} chunks, but the node sent ${count}`,
          ),
        );
      }, finish);
    },
    pull(c) {
      if (failed !== null) {
        if ((c.desiredSize ?? 0) >= credit) c.error(failed.error);
        return;
      }
      if (ended) return;
      const outstanding = granted - received;
      const want = (c.desiredSize ?? 0) - outstanding;
      if (want >= batch || (outstanding === 0 && want > 0)) {
        granted += want;
        grant(hooks.id, want);
      }
      const { promise, resolve } = Promise.withResolvers<void>();
      wake = resolve;
      idle = setTimeout(() => {
        finish(
          new TimeoutError(`No chunk for ${idleMs} ms: the stream is idle`, {
            details: { idleTimeout: idleMs },
          }),
        );
        own.abort(new CancelledError("Stream idle"));
      }, idleMs);
      return promise;
    },
    cancel(reason) {
      ended = true;
      woken();
      own.abort(new CancelledError("Stream cancelled by its reader", { cause: reason }));
    },
  }, { highWaterMark: credit, size: () => 1 });
}
