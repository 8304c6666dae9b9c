// Copyright 2026 the mpreg authors. MIT license.
// The errors that replace an answer its receiver could not take: the same
// for a client's answer and for a step's result sent to another node.
import { FunctionError, LimitExceededError } from "./errors.ts";

/**
 * A result the codec refused (a symbol, a BigInt past 64 bits, a cycle): the
 * function's fault, as if it had thrown.
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
 */
export function tooManyValues(max: number): LimitExceededError {
  return new LimitExceededError(`The answer would hold more than ${max} values once encoded`, {
    details: { limit: "maxElements", max },
  });
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
