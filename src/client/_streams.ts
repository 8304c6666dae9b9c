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
import { chunkSize, isByteCredit, MAX_STREAM_BYTES } from "../protocol/chunk_size.ts";
import type { StreamOptions } from "./options.ts";

/** The initial credit of a stream, in chunks, when the caller gives none. */
export const STREAM_CREDIT = 16;
/**
 * The initial byte credit of a stream when the caller gives none: 128 KiB.
 * gRPC's HTTP/2 stream window is 64 KiB, a Node stream's highWaterMark
 * 16-64 KiB; twice the larger keeps one 64 KiB chunk on its way while the
 * reader reads another (bytes go back every 64 KiB read). A stream moves at
 * most this much per round trip: raise it (`creditBytes`) for one fast
 * reader far away, lower it for many slow ones.
 */
export const STREAM_CREDIT_BYTES = 128 * 1024;
/** The idle timeout of a stream, when the caller gives none. */
export const STREAM_IDLE_TIMEOUT_MS = 30_000;
/** The total deadline of a stream, when the caller gives none. */
export const STREAM_TIMEOUT_MS = 300_000;

/** What the client's `#send` needs to carry a stream, and fills in. */
export interface StreamHooks {
  /** The initial credit. */
  readonly credit: number;
  /** The initial byte credit, when the stream counts bytes. */
  readonly bytes: number | undefined;
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
 * @param grant Grants `n` more chunks (and `bytes` more bytes) to request `id`.
 * @param countsBytes The encoding carries bytes as bytes (msgpack), so that
 *   node and client count a chunk alike: the stream has a byte credit too.
 * @returns The stream the caller reads.
 */
export function openStream(
  options: StreamOptions,
  send: (hooks: StreamHooks, signal: AbortSignal) => Promise<unknown>,
  grant: (id: number, n: number, bytes?: number) => void,
  countsBytes = true,
): ReadableStream<unknown> {
  const credit = options.credit ?? STREAM_CREDIT;
  if (!Number.isSafeInteger(credit) || credit < 1) {
    throw new RangeError(`Stream credit must be a positive integer: got ${credit}`);
  }
  let budget = countsBytes ? options.creditBytes ?? STREAM_CREDIT_BYTES : undefined;
  if (budget !== undefined && !isByteCredit(budget)) {
    throw new RangeError(
      `Stream byte credit must be a positive integer of at most ${MAX_STREAM_BYTES}: got ${budget}`,
    );
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
  // Bytes, counted as the node counts them: granted in all, received in
  // all, and the sizes of the chunks queued (not read yet), oldest first.
  let grantedBytes = budget ?? 0;
  let receivedBytes = 0;
  let queuedBytes = 0;
  const sizes: number[] = [];
  let read = 0;
  const byteBatch = budget === undefined ? 0 : Math.max(1, Math.floor(budget / 2));
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
    bytes: budget,
    id: 0,
    chunk: (value) => {
      if (ended) return;
      received++;
      if (budget !== undefined && grantedBytes - receivedBytes <= 0) {
        // A chunk the node could not have sent under the byte credit: it
        // keeps to chunk credit only (an older node, or a sandboxed
        // function's stream), and so does the client from now on.
        budget = undefined;
        sizes.length = 0;
      }
      if (budget !== undefined) {
        const size = chunkSize(value);
        receivedBytes += size;
        queuedBytes += size;
        sizes.push(size);
      }
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
      const queued = credit - (c.desiredSize ?? 0);
      const outstanding = granted - received;
      let want = (c.desiredSize ?? 0) - outstanding;
      let wantBytes = 0;
      let balance = Infinity;
      if (budget !== undefined) {
        // The reader has read the chunks no longer queued.
        for (; read < received - queued; read++) queuedBytes -= sizes.shift()!;
        // What the node may still send (below 0: it passed the budget by its last chunk).
        balance = grantedBytes - receivedBytes;
        wantBytes = budget - queuedBytes - balance;
        // Bytes go back when half the budget was read (or the node holds
        // none and the reader read all): never a stall while bytes wait.
        if (wantBytes < byteBatch && !(balance <= 0 && queued === 0 && wantBytes > 0)) {
          wantBytes = 0;
        }
      }
      if (want >= batch || (outstanding === 0 && want > 0) || wantBytes > 0) {
        want = Math.max(0, want);
        granted += want;
        if (wantBytes > 0) {
          // Never more than a grant may carry: the rest goes with the next one.
          wantBytes = Math.min(wantBytes, MAX_STREAM_BYTES);
          grantedBytes += wantBytes;
          balance += wantBytes;
          grant(hooks.id, want, wantBytes);
        } else if (want > 0) {
          grant(hooks.id, want);
        }
      }
      // The node stopped for bytes the reader has not read yet: the next
      // read pulls again (a pull that waited here for a chunk would miss it).
      if (balance <= 0 && queued > 0) return;
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
