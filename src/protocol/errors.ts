// Copyright 2026 the mpreg authors. MIT license.
/**
 * Error classes shared by the server and the client.
 *
 * Every error mpreg raises is an {@linkcode RpcError}: it has a stable `name`,
 * a numeric `code` from {@linkcode ErrorCode}, a `message`, optional
 * `details` (plain data, safe to send on the wire) and an optional `cause`.
 * A subclass exists for each code so callers can use `instanceof`.
 *
 * @module
 */
import { ErrorCode } from "./codes.ts";

/**
 * The `error` object of a response on the wire.
 *
 * @example Send an error and rebuild it
 * ```ts
 * import assert from "node:assert/strict";
 * import { RpcError, TimeoutError, type WireError } from "@mpreg/mpreg";
 * const wire: WireError = new TimeoutError("too slow", { details: { timeout: 5 } }).toWire();
 * assert.deepEqual(wire, { code: 1006, message: "too slow", details: { timeout: 5 } });
 * assert.ok(RpcError.fromWire(wire) instanceof TimeoutError);
 * ```
 */
export interface WireError {
  /** A code from {@linkcode ErrorCode}. */
  code: number;
  /** A human-readable message. */
  message: string;
  /** Structured data about the failure, or `null`. */
  details: unknown;
}

/**
 * Options accepted by every error constructor.
 *
 * @example Keep the cause local, send the details
 * ```ts
 * import assert from "node:assert/strict";
 * import { InternalError, type RpcErrorOptions } from "@mpreg/mpreg";
 * const options: RpcErrorOptions = { details: { id: "e1" }, cause: new Error("disk full") };
 * const err = new InternalError("the node failed", options);
 * assert.equal(err.cause, options.cause);
 * assert.deepEqual(err.toWire().details, { id: "e1" });
 * ```
 */
export interface RpcErrorOptions {
  /** Structured, wire-safe data about the failure. */
  details?: unknown;
  /** The underlying error. It stays local: it is never sent on the wire. */
  cause?: unknown;
}

/**
 * An error with a numeric code, as carried in a response.
 *
 * @example Catch a failed call
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, FunctionNotFoundError, RpcError, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * await using client = new Client(server.url);
 * try {
 *   await client.call("missing");
 *   assert.fail("expected an error");
 * } catch (err) {
 *   assert.ok(err instanceof RpcError && err instanceof FunctionNotFoundError);
 *   assert.equal(err.code, 1001);
 *   assert.match(err.message, /missing/);
 * }
 * ```
 */
export class RpcError extends Error {
  /** A code from {@linkcode ErrorCode}. */
  readonly code: number;
  /** Structured, wire-safe data about the failure, or `null`. */
  readonly details: unknown;

  /**
   * Creates an error with the given code.
   *
   * @param code A code from {@linkcode ErrorCode}.
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(code: number, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RpcError";
    this.code = code;
    this.details = options.details ?? null;
  }

  /**
   * The wire form of this error.
   *
   * @returns `{ code, message, details }`.
   */
  toWire(): WireError {
    return { code: this.code, message: this.message, details: this.details };
  }

  /**
   * Builds the matching subclass from an error received on the wire.
   *
   * @param error The `error` field of a response.
   * @returns An instance of the subclass for `error.code` (an `AppError` for
   *   2000–9999), or a plain `RpcError` for a code this version does not know.
   *
   * @example Rebuild a received error
   * ```ts
   * import assert from "node:assert/strict";
   * import { FunctionNotFoundError, RpcError } from "@mpreg/mpreg";
   * const err = RpcError.fromWire({ code: 1001, message: "no node offers f", details: null });
   * assert.ok(err instanceof FunctionNotFoundError);
   * const unknown = RpcError.fromWire({ code: 1099, message: "?", details: null });
   * assert.equal(unknown.constructor, RpcError);
   * ```
   */
  static fromWire(error: WireError): RpcError {
    const make = byCode.get(error.code);
    const options = { details: error.details };
    if (make) return make(error.message, options);
    if (isAppErrorCode(error.code)) return new AppError(error.code, error.message, options);
    return new RpcError(error.code, error.message, options);
  }
}

/**
 * No member offers the function with the requested resources (code 1001).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, ErrorCode, FunctionNotFoundError, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * await using client = new Client(server.url);
 * const err = await client.call("missing").catch((e) => e);
 * assert.ok(err instanceof FunctionNotFoundError);
 * assert.equal(err.code, ErrorCode.FunctionNotFound);
 * ```
 */
export class FunctionNotFoundError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.FunctionNotFound, message, options);
    this.name = "FunctionNotFoundError";
  }
}

/**
 * The node failed for a reason that is not the function's fault (code 1002).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, RpcError, InternalError } from "@mpreg/mpreg";
 * const err = new InternalError("the node failed");
 * assert.ok(err instanceof RpcError);
 * assert.equal(err.code, ErrorCode.Internal);
 * assert.equal(err.name, "InternalError");
 * ```
 */
export class InternalError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.Internal, message, options);
    this.name = "InternalError";
  }
}

/**
 * The function threw (code 1003). `details` is `{ step, name, message }`, plus
 * `stack` when the node runs with `debug` on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, FunctionError, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 })
 *   .register("fail", () => {
 *     throw new RangeError("out of range");
 *   })
 *   .start();
 * await using client = new Client(server.url);
 * const err = await client.call("fail").catch((e) => e);
 * assert.ok(err instanceof FunctionError);
 * const { name, message } = err.details as { name: string; message: string };
 * assert.deepEqual([name, message], ["RangeError", "out of range"]);
 * ```
 */
export class FunctionError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.Function, message, options);
    this.name = "FunctionError";
  }
}

/**
 * The request was malformed (code 1004).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, RpcError, ProtocolError } from "@mpreg/mpreg";
 * const err = new ProtocolError("bad request");
 * assert.ok(err instanceof RpcError);
 * assert.equal(err.code, ErrorCode.Protocol);
 * assert.equal(err.name, "ProtocolError");
 * ```
 */
export class ProtocolError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.Protocol, message, options);
    this.name = "ProtocolError";
  }
}

/**
 * A peer presented another cluster id (code 1005).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, RpcError, ClusterMismatchError } from "@mpreg/mpreg";
 * const err = new ClusterMismatchError("other cluster");
 * assert.ok(err instanceof RpcError);
 * assert.equal(err.code, ErrorCode.ClusterMismatch);
 * assert.equal(err.name, "ClusterMismatchError");
 * ```
 */
export class ClusterMismatchError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.ClusterMismatch, message, options);
    this.name = "ClusterMismatchError";
  }
}

/**
 * The request's deadline passed (code 1006).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, RpcError, TimeoutError } from "@mpreg/mpreg";
 * const err = new TimeoutError("too slow");
 * assert.ok(err instanceof RpcError);
 * assert.equal(err.code, ErrorCode.Timeout);
 * assert.equal(err.name, "TimeoutError");
 * ```
 */
export class TimeoutError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.Timeout, message, options);
    this.name = "TimeoutError";
  }
}

/**
 * The request was cancelled by its caller (code 1007).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, RpcError, CancelledError } from "@mpreg/mpreg";
 * const err = new CancelledError("stop");
 * assert.ok(err instanceof RpcError);
 * assert.equal(err.code, ErrorCode.Cancelled);
 * assert.equal(err.name, "CancelledError");
 * ```
 */
export class CancelledError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.Cancelled, message, options);
    this.name = "CancelledError";
  }
}

/**
 * The steps do not form a valid graph (code 1008): a cycle, a duplicate or
 * empty name, an empty request, or a reference into a missing key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, GraphError, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * await using client = new Client(server.url);
 * const cycle = client.request([
 *   { name: "a", fun: "echo", args: ["b"] },
 *   { name: "b", fun: "echo", args: ["a"] },
 * ]);
 * await assert.rejects(cycle, GraphError);
 * ```
 */
export class GraphError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.Graph, message, options);
    this.name = "GraphError";
  }
}

/**
 * The caller or the function is not allowed to do this (code 1009).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, RpcError, PermissionDeniedError } from "@mpreg/mpreg";
 * const err = new PermissionDeniedError("no");
 * assert.ok(err instanceof RpcError);
 * assert.equal(err.code, ErrorCode.PermissionDenied);
 * assert.equal(err.name, "PermissionDeniedError");
 * ```
 */
export class PermissionDeniedError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.PermissionDenied, message, options);
    this.name = "PermissionDeniedError";
  }
}

/**
 * The caller is not authenticated (code 1010).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, RpcError, UnauthenticatedError } from "@mpreg/mpreg";
 * const err = new UnauthenticatedError("who?");
 * assert.ok(err instanceof RpcError);
 * assert.equal(err.code, ErrorCode.Unauthenticated);
 * assert.equal(err.name, "UnauthenticatedError");
 * ```
 */
export class UnauthenticatedError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.Unauthenticated, message, options);
    this.name = "UnauthenticatedError";
  }
}

/**
 * A limit was exceeded (code 1011). `details.limit` names it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, RpcError, LimitExceededError } from "@mpreg/mpreg";
 * const err = new LimitExceededError("too many steps");
 * assert.ok(err instanceof RpcError);
 * assert.equal(err.code, ErrorCode.LimitExceeded);
 * assert.equal(err.name, "LimitExceededError");
 * ```
 */
export class LimitExceededError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.LimitExceeded, message, options);
    this.name = "LimitExceededError";
  }
}

/**
 * The node is too busy to take the request (code 1012).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, RpcError, OverloadedError } from "@mpreg/mpreg";
 * const err = new OverloadedError("busy");
 * assert.ok(err instanceof RpcError);
 * assert.equal(err.code, ErrorCode.Overloaded);
 * assert.equal(err.name, "OverloadedError");
 * ```
 */
export class OverloadedError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.Overloaded, message, options);
    this.name = "OverloadedError";
  }
}

/**
 * The connection was lost before the answer arrived, or the node stopped
 * while the request ran (code 1013): the call may have run. The client also
 * raises it for a call it could not send because every URL refused the
 * connection (`details.failures` says why, per URL).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, RpcError, ConnectionError } from "@mpreg/mpreg";
 * const err = new ConnectionError("closed");
 * assert.ok(err instanceof RpcError);
 * assert.equal(err.code, ErrorCode.Connection);
 * assert.equal(err.name, "ConnectionError");
 * ```
 */
export class ConnectionError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.Connection, message, options);
    this.name = "ConnectionError";
  }
}

/**
 * The node is shutting down (code 1014). With `details.started: false` the
 * node refused the request before any of it ran, and the `Client` sends it
 * to its next URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, RpcError, UnavailableError } from "@mpreg/mpreg";
 * const err = new UnavailableError("draining");
 * assert.ok(err instanceof RpcError);
 * assert.equal(err.code, ErrorCode.Unavailable);
 * assert.equal(err.name, "UnavailableError");
 * ```
 */
export class UnavailableError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.Unavailable, message, options);
    this.name = "UnavailableError";
  }
}

/**
 * A step provably never started (code 1015): no member offering it could be
 * reached, or every one refused it unstarted. Unlike a
 * {@linkcode ConnectionError} (1013, may have run), the step did not run
 * anywhere; other steps of the same request may have.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, RpcError, NotStartedError } from "@mpreg/mpreg";
 * const err = new NotStartedError('Step "a" did not start: member "b" is not reachable');
 * assert.ok(err instanceof RpcError);
 * assert.equal(err.code, ErrorCode.NotStarted);
 * assert.equal(err.name, "NotStartedError");
 * ```
 */
export class NotStartedError extends RpcError {
  /**
   * Creates the error.
   *
   * @param message A human-readable message.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(ErrorCode.NotStarted, message, options);
    this.name = "NotStartedError";
  }
}

/** The lowest error code an application may use (see {@linkcode AppError}). */
export const APP_ERROR_MIN = 2000;
/** The highest error code an application may use (see {@linkcode AppError}). */
export const APP_ERROR_MAX = 9999;

/**
 * Whether `code` is in the application range, {@linkcode APP_ERROR_MIN} to
 * {@linkcode APP_ERROR_MAX}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isAppErrorCode } from "./errors.ts";
 * assert.equal(isAppErrorCode(2001), true);
 * assert.equal(isAppErrorCode(1003), false);
 * ```
 *
 * @param code A number.
 * @returns True for an integer in the application range.
 */
export function isAppErrorCode(code: unknown): code is number {
  return Number.isInteger(code) && (code as number) >= APP_ERROR_MIN &&
    (code as number) <= APP_ERROR_MAX;
}

/**
 * An error of the application's own, thrown by a function: its `code` (in
 * the application range, 2000–9999) and `details` reach the caller intact —
 * across nodes, from sandboxes, in both encodings — where anything else a
 * function throws becomes a {@linkcode FunctionError} (1003). mpreg never
 * uses codes in this range itself. `details` must be encodable (plain data).
 *
 * An error from another copy of this module (an `Error` whose `name` is
 * `"AppError"` with a `code` in the range) is recognized too.
 *
 * @example Throw it from a function, catch it in the caller
 * ```ts
 * import assert from "node:assert/strict";
 * import { AppError } from "./errors.ts";
 * const err = new AppError(2001, "Out of stock", { details: { sku: "A-1", left: 0 } });
 * assert.equal(err.code, 2001);
 * assert.equal(err.name, "AppError");
 * assert.deepEqual(err.details, { sku: "A-1", left: 0 });
 * ```
 */
export class AppError extends RpcError {
  /**
   * Creates the error.
   *
   * @param code The application's code, 2000–9999.
   * @param message A human-readable message.
   * @param options Details (plain data, sent to the caller) and cause (kept here).
   * @throws {RangeError} when `code` is outside the application range.
   */
  constructor(code: number, message: string, options: RpcErrorOptions = {}) {
    if (!isAppErrorCode(code)) {
      throw new RangeError(
        `An AppError's code must be an integer from ${APP_ERROR_MIN} to ${APP_ERROR_MAX}, got ${code}`,
      );
    }
    super(code, message, options);
    this.name = "AppError";
  }

  /**
   * `err` as an {@linkcode AppError} when it is one (also from another copy
   * of this module), else `undefined`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AppError } from "./errors.ts";
   * const foreign = Object.assign(new Error("no"), { name: "AppError", code: 2002, details: 1 });
   * assert.equal(AppError.from(foreign)?.code, 2002);
   * assert.equal(AppError.from(new Error("no")), undefined);
   * ```
   *
   * @param err Anything thrown.
   * @returns The AppError, or `undefined`.
   */
  static from(err: unknown): AppError | undefined {
    if (err instanceof AppError) return err;
    if (!(err instanceof Error) || err.name !== "AppError") return undefined;
    const { code, details } = err as Error & { code?: unknown; details?: unknown };
    if (!isAppErrorCode(code)) return undefined;
    return new AppError(code, err.message, { details, cause: err });
  }
}

const byCode = new Map<number, (message: string, options: RpcErrorOptions) => RpcError>([
  [ErrorCode.FunctionNotFound, (m, o) => new FunctionNotFoundError(m, o)],
  [ErrorCode.Internal, (m, o) => new InternalError(m, o)],
  [ErrorCode.Function, (m, o) => new FunctionError(m, o)],
  [ErrorCode.Protocol, (m, o) => new ProtocolError(m, o)],
  [ErrorCode.ClusterMismatch, (m, o) => new ClusterMismatchError(m, o)],
  [ErrorCode.Timeout, (m, o) => new TimeoutError(m, o)],
  [ErrorCode.Cancelled, (m, o) => new CancelledError(m, o)],
  [ErrorCode.Graph, (m, o) => new GraphError(m, o)],
  [ErrorCode.PermissionDenied, (m, o) => new PermissionDeniedError(m, o)],
  [ErrorCode.Unauthenticated, (m, o) => new UnauthenticatedError(m, o)],
  [ErrorCode.LimitExceeded, (m, o) => new LimitExceededError(m, o)],
  [ErrorCode.Overloaded, (m, o) => new OverloadedError(m, o)],
  [ErrorCode.Connection, (m, o) => new ConnectionError(m, o)],
  [ErrorCode.Unavailable, (m, o) => new UnavailableError(m, o)],
  [ErrorCode.NotStarted, (m, o) => new NotStartedError(m, o)],
]);

/**
 * Turns anything thrown into an {@linkcode RpcError}, keeping RpcErrors as
 * they are and wrapping the rest as {@linkcode InternalError} with a cause.
 *
 * @param err What was thrown.
 * @returns An RpcError.
 *
 * @example
 * ```ts
 * import { toRpcError } from "./errors.ts";
 * console.log(toRpcError(new Error("x")).code); // 1002
 * ```
 */
export function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(message, { cause: err });
}
