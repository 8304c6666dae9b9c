// Copyright 2026 the mpreg authors. MIT license.
/**
 * Numeric error codes carried in the `error.code` field of a response.
 *
 * Codes 1001 to 1005 keep the numbers of the original Python MPREG where the
 * meaning is the same; the rest are new. Codes are stable: a code is never
 * reused for another meaning. `docs/protocol.md` describes each one.
 *
 * @example Check a code
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode } from "@mpreg/mpreg";
 * assert.equal(ErrorCode.FunctionNotFound, 1001);
 * ```
 *
 * @module
 */

/**
 * The error codes of wire protocol v1. Each key is the name of its error
 * class without `Error`: `ErrorCode.Timeout` is the code of `TimeoutError`,
 * `ErrorCode.Function` the code of `FunctionError`.
 *
 * @example Compare an error's code
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, FunctionError, RpcError } from "@mpreg/mpreg";
 * const err = RpcError.fromWire({ code: 1003, message: "it threw", details: null });
 * assert.equal(err.code, ErrorCode.Function);
 * assert.ok(err instanceof FunctionError);
 * ```
 */
export const ErrorCode = {
  /** No member offers the function with the requested resources (`locs`). */
  FunctionNotFound: 1001,
  /** The node failed in a way that is not the function's fault. */
  Internal: 1002,
  /** The function threw; `details` holds the step, the error name and message. */
  Function: 1003,
  /** Malformed request: bad shape, wrong types or an unknown `role`. */
  Protocol: 1004,
  /** A peer presented another `cluster_id`. */
  ClusterMismatch: 1005,
  /** The request's deadline passed before it finished. */
  Timeout: 1006,
  /** The request was cancelled by its caller. */
  Cancelled: 1007,
  /** The steps do not form a valid graph: a cycle, a duplicate or empty name, a bad reference. */
  Graph: 1008,
  /** The caller or the function is not allowed to do this. */
  PermissionDenied: 1009,
  /** The caller did not authenticate, or its credentials are wrong. */
  Unauthenticated: 1010,
  /** A limit was exceeded: frame bytes, nesting depth, steps, calls in flight. */
  LimitExceeded: 1011,
  /** The node is too busy to take the request now; retry later or elsewhere. */
  Overloaded: 1012,
  /**
   * The connection to the node (or to the node running a step) was lost, or
   * the node stopped while the request ran: it may have run.
   */
  Connection: 1013,
  /** The node is shutting down and takes no new requests. */
  Unavailable: 1014,
  /**
   * A step provably never started: no member could be reached or took it
   * (it was refused unstarted by every candidate). Other steps of its
   * request may have run.
   */
  NotStarted: 1015,
} as const;

/**
 * One of the numeric codes in {@linkcode ErrorCode}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode } from "@mpreg/mpreg";
 * const retryable: ErrorCode[] = [ErrorCode.Overloaded, ErrorCode.Unavailable];
 * assert.ok(retryable.includes(1012));
 * ```
 */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];
