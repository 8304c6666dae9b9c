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
