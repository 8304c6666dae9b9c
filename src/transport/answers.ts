// Copyright 2026 the mpreg authors. MIT license.
/**
 * The guarded answer encoder: an answer its receiver could not take becomes
 * that call's error, and the channel and the other calls on it stay up. The
 * same for a client's answer on a node and for a step's result sent back to
 * the member that forwarded it.
 *
 * @module
 */
import { expandedSize } from "../_util/expanded_size.ts";
import type { Codec } from "../protocol/codec.ts";
import { FunctionError, LimitExceededError, type WireError } from "../protocol/errors.ts";
import type { Limits } from "../protocol/limits.ts";
import { scanJson, scanMsgpack } from "../protocol/scan.ts";
import type { Frame } from "./channel.ts";

/**
 * A result the codec refused (a symbol, a BigInt past 64 bits, a cycle): the
 * function's fault, as if it had thrown.
 *
 * @param encoding The codec's encoding.
 * @param cause What the codec threw.
 * @returns The error the call fails with.
 */
export function unencodableResult(encoding: string, cause: unknown): FunctionError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new FunctionError(`The result cannot be encoded as ${encoding}: ${reason}`, {
    details: { encoding },
    cause,
  });
}

/**
 * An answer that would expand past `max` values once encoded (results that
 * share structure double at every step that names the one before twice).
 *
 * @param max The receiver's `maxElements`.
 * @returns The error the call fails with.
 */
export function tooManyValues(max: number): LimitExceededError {
  return new LimitExceededError(`The answer would hold more than ${max} values once encoded`, {
    details: { limit: "maxElements", max },
  });
}

/** The limits the receiver of the answers decodes frames with. */
export type ReceiverLimits = Pick<
  Limits,
  "maxFrameBytes" | "maxDepth" | "maxElements" | "maxStringBytes"
>;

/** How a connection writes its two kinds of answer. */
export interface AnswerFormat<Id> {
  /** Encodes a call's result (may throw what the codec throws). */
  result(id: Id, value: unknown): Frame;
  /** Encodes a call's error; `started` is false for a call refused before it ran. */
  error(id: Id, error: WireError, started: boolean): Frame;
}

/** Options for an {@linkcode AnswerEncoder}. */
export interface AnswerEncoderOptions {
  /**
   * Check each frame against all of `limits` (its size, and a pre-scan of
   * its depth, values and strings), as a receiver that pre-scans every frame
   * would; else only `maxElements`, before encoding.
   *
   * @default {false}
   */
  scan?: boolean;
  /**
   * Who receives the answers, for the message of an answer over
   * `maxFrameBytes`.
   *
   * @default {() => "the receiver"}
   */
  receiver?: () => string;
}

/**
 * Encodes answers so that one the receiver could not take is answered with
 * the error a client would get for it: 1011 for a result the codec refuses,
 * 1003 for one over the receiver's limits. `maxElements` is checked before
 * encoding (a value that shares structure may expand exponentially, and
 * encoding it would block the event loop).
 *
 * @example Answer with an error instead of an unencodable result
 * ```ts ignore
 * const codec = createCodec("json");
 * const answers = new AnswerEncoder(codec, {
 *   result: (u, r) => codec.encodeAnswer(u, r),
 *   error: (u, error) => codec.encode({ u, r: null, error }),
 * }, DEFAULT_LIMITS);
 * console.log(answers.result(1, { n: 10n })); // {"u":1,"r":null,"error":{"code":1011,...}}
 * ```
 */
export class AnswerEncoder<Id> {
  /** The receiver's limits; a peer's may change once it announces its own. */
  limits: ReceiverLimits;
  readonly #codec: Codec;
  readonly #format: AnswerFormat<Id>;
  readonly #scan: boolean;
  readonly #receiver: () => string;

  /**
   * Creates an encoder.
   *
   * @param codec The channel's codec.
   * @param format Writes results and errors.
   * @param limits The receiver's limits.
   * @param options Whether to pre-scan frames, and the receiver's name.
   */
  constructor(
    codec: Codec,
    format: AnswerFormat<Id>,
    limits: ReceiverLimits,
    options: AnswerEncoderOptions = {},
  ) {
    this.#codec = codec;
    this.#format = format;
    this.limits = limits;
    this.#scan = options.scan ?? false;
    this.#receiver = options.receiver ?? (() => "the receiver");
  }

  /**
   * Encodes a result, or the error that replaces it.
   *
   * @param id The call's id.
   * @param value The result.
   * @returns The frame to send.
   */
  result(id: Id, value: unknown): Frame {
    try {
      const max = this.limits.maxElements;
      if (value !== null && typeof value === "object" && expandedSize(value, max) > max) {
        throw tooManyValues(max);
      }
      const frame = this.#format.result(id, value);
      return this.#scan ? this.#check(frame) : frame;
    } catch (err) {
      return this.#failed(id, err, true);
    }
  }

  /**
   * Encodes an error answer, or the error that replaces it when its details
   * cannot be taken.
   *
   * @param id The call's id.
   * @param error The error, as sent.
   * @param started False for a call refused before it ran (kept in the replacement).
   * @returns The frame to send.
   */
  error(id: Id, error: WireError, started = true): Frame {
    try {
      const frame = this.#format.error(id, error, started);
      return this.#scan ? this.#check(frame) : frame;
    } catch (err) {
      return this.#failed(id, err, started);
    }
  }

  /** Throws when the receiver would refuse the frame. */
  #check(frame: Frame): Frame {
    const limits = this.limits;
    const bytes = typeof frame === "string" ? frame.length : frame.byteLength;
    if (bytes > limits.maxFrameBytes) {
      throw new LimitExceededError(
        `The answer would be ${bytes} bytes, over the limit of ${limits.maxFrameBytes} of ${this.#receiver()}`,
        { details: { limit: "maxFrameBytes", max: limits.maxFrameBytes } },
      );
    }
    if (typeof frame === "string") scanJson(frame, limits);
    else scanMsgpack(frame, limits);
    return frame;
  }

  #failed(id: Id, err: unknown, started: boolean): Frame {
    const error = err instanceof LimitExceededError
      ? err
      : unencodableResult(this.#codec.encoding, err);
    return this.#format.error(id, error.toWire(), started);
  }
}

/**
 * The largest message the original MPREG client takes: it connects with
 * websockets' default `max_size`, 1 MiB.
 */
export const ORIGINAL_CLIENT_MAX_BYTES = 2 ** 20;

/**
 * An answer over {@linkcode ORIGINAL_CLIENT_MAX_BYTES} on a connection
 * without a subprotocol (the original client's). Sent, it would make the
 * original client fail its connection with 1009 and stop reading; the
 * node's answer to that close waits behind the unread frame, and Deno's
 * WebSocket server cannot abort it, so the client would wait about 20 s
 * (two of its close timeouts) before its connection is gone.
 */
export function tooBigForOriginalClient(size: number): LimitExceededError {
  const max = ORIGINAL_CLIENT_MAX_BYTES;
  return new LimitExceededError(
    `The answer of ${size} bytes is over the ${max} bytes (1 MiB) an original MPREG client ` +
      "accepts; use the mpreg client (json or msgpack) for larger results",
    { details: { limit: "originalClientMaxBytes", max, size } },
  );
}
