// Copyright 2026 the mpreg authors. MIT license.
/**
 * How a peer link frames what it sends: answers encoded within the limits
 * the peer decodes with, and messages batched per turn. Private to the
 * cluster layer.
 *
 * @module
 */
import { AnswerEncoder } from "../transport/answers.ts";
import { Batcher } from "../transport/batcher.ts";
import { type Channel, OPEN } from "../transport/channel.ts";
import { isNoDelay } from "../transport/open.ts";
import type { Codec } from "../protocol/codec.ts";
import type { Limits } from "../protocol/limits.ts";
import type { WireError } from "../protocol/errors.ts";
import { scanMsgpack } from "../protocol/scan.ts";
import { forAnswers } from "./_peer_messages.ts";
import { encodeChunkFrame } from "./_chunk_frame.ts";
import { encodeResult } from "./_peer_envelopes.ts";

/** A batch is sent as soon as it holds this many bytes (as for clients, 4 KB). */
const MAX_BATCH_BYTES = 4096;
/**
 * The same for a link dialed with Deno's built-in WebSocket client (wss://),
 * which stalls ~40 ms on frames over ~1 KB (see `transport/_tcp_websocket.ts`).
 */
const MAX_BATCH_BYTES_NATIVE_CLIENT = 900;

/**
 * The encoder of a link's answers, within `limits` until the peer announces
 * its own (one level of depth kept for a batch's array).
 *
 * @param codec The link's codec.
 * @param limits This node's limits.
 * @param peer The peer's name, for errors.
 * @param chunks For a stream's chunks (sent as their encoding, see
 *   `_chunk_frame.ts`): their type, and what to call when one goes as an
 *   error instead.
 * @returns The encoder.
 */
export function answerEncoder(
  codec: Codec,
  limits: Limits,
  peer: () => string | null,
  chunks?: { t: "chunk"; failed: () => void },
): AnswerEncoder<number> {
  const error = (id: number, error: unknown, started: boolean) => {
    chunks?.failed();
    return codec.encode({ t: "error", id, error, started });
  };
  const options = { scan: true, receiver: () => `node "${peer()}"` };
  if (chunks === undefined) {
    return new AnswerEncoder<number>(
      codec,
      {
        result: (id, value) => encodeResult(id, value) ?? codec.encode({ t: "result", id, value }),
        error,
      },
      forAnswers(limits),
      options,
    );
  }
  const encoder: AnswerEncoder<number> = new AnswerEncoder<number>(
    codec,
    {
      result: (id, value) => {
        const { frame, at } = encodeChunkFrame(id, value);
        // The frame's own scan stops at the bin: the chunk inside it is
        // checked as it would be in place of the bin (one level down).
        const { maxDepth, maxElements, maxStringBytes } = encoder.limits;
        scanMsgpack(frame.subarray(at), { maxDepth: maxDepth - 1, maxElements, maxStringBytes });
        return frame;
      },
      error,
    },
    forAnswers(limits),
    options,
  );
  return encoder;
}

/**
 * Encodes the chunks of a run's input streams (`in`), coordinator → member,
 * within the member's limits like the answers: a chunk it could not take
 * goes as the stream's `in-error` instead (1003, 1011), and `failed` is called.
 *
 * @param codec The link's codec.
 * @param limits The member's limits.
 * @param peer The member's name, for errors.
 * @param failed Called when a chunk went as an error.
 * @returns The encoder; its id is `[run id, stream index]`.
 */
export function inputEncoder(
  codec: Codec,
  limits: Limits,
  peer: () => string | null,
  failed: () => void,
): AnswerEncoder<readonly [number, number]> {
  return new AnswerEncoder<readonly [number, number]>(
    codec,
    {
      result: ([id, i], value) => codec.encode({ t: "in", id, i, value }),
      error: ([id, i], error) => {
        failed();
        return codec.encode({ t: "in-error", id, i, error });
      },
    },
    forAnswers(limits),
    { scan: true, receiver: () => `node "${peer()}"` },
  );
}

/**
 * The encoder of a link's progress reports, within the same limits as its
 * answers: a report the peer could not take throws instead (it is dropped;
 * the run goes on).
 *
 * @param codec The link's codec.
 * @param limits This node's limits.
 * @param peer The peer's name, for errors.
 * @returns The encoder.
 */
export function progressEncoder(
  codec: Codec,
  limits: Limits,
  peer: () => string | null,
): AnswerEncoder<number> {
  return new AnswerEncoder<number>(
    codec,
    {
      result: (id, value) => codec.encode({ t: "progress", id, value }),
      error: () => {
        throw new RangeError("The progress report cannot be sent");
      },
    },
    forAnswers(limits),
    { scan: true, receiver: () => `node "${peer()}"` },
  );
}

/**
 * The batcher of a link's messages after the handshake.
 *
 * @param codec The link's codec.
 * @param socket The link's socket.
 * @param dialed Whether this node dialed the link.
 * @returns The batcher.
 */
export function peerBatcher(codec: Codec, socket: Channel, dialed: boolean): Batcher {
  return new Batcher(
    codec,
    (frame) => {
      if (socket.readyState === OPEN) socket.send(frame);
    },
    dialed && !isNoDelay(socket) ? MAX_BATCH_BYTES_NATIVE_CLIENT : MAX_BATCH_BYTES,
  );
}

/** Which step of which relayed chain a `hop-done` answers. */
export interface HopKey {
  /** The request's id on the coordinator. */
  request: string;
  /** The last step's name. */
  step: string;
}

/**
 * Encodes the last value of a relayed chain (`hop-done`) within the limits
 * the coordinator decodes with: a value it could not take goes as the
 * step's `hop-failed` instead (1003, 1011), as a run's result would.
 *
 * @param codec The link's codec.
 * @param limits This node's limits.
 * @param peer The peer's name, for errors.
 * @returns The encoder.
 */
export function hopDoneEncoder(
  codec: Codec,
  limits: Limits,
  peer: () => string | null,
): AnswerEncoder<HopKey> {
  return new AnswerEncoder<HopKey>(
    codec,
    {
      result: ({ request, step }, value) => codec.encode({ t: "hop-done", request, step, value }),
      error: ({ request, step }, error, started) =>
        codec.encode({ t: "hop-failed", request, step, error, started }),
    },
    forAnswers(limits),
    { scan: true, receiver: () => `node "${peer()}"` },
  );
}

/**
 * Encodes a step of a relayed chain (`hop`, the value of the step before
 * in its arguments) within the limits the next member decodes with: one it
 * could not take is not sent, and `refused` gets the error instead (the
 * step before fails with it, 1003 or 1011).
 *
 * @param codec The link's codec.
 * @param limits This node's limits.
 * @param peer The peer's name, for errors.
 * @param refused Takes the error of a hop that could not be sent.
 * @returns The encoder (its id is unused; the value is the whole message).
 */
export function hopEncoder(
  codec: Codec,
  limits: Limits,
  peer: () => string | null,
  refused: (error: WireError) => void,
): AnswerEncoder<null> {
  return new AnswerEncoder<null>(
    codec,
    {
      result: (_, message) => codec.encode(message),
      error: (_, error) => {
        refused(error);
        return new Uint8Array(0);
      },
    },
    forAnswers(limits),
    { scan: true, receiver: () => `node "${peer()}"` },
  );
}
