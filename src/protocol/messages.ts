// Copyright 2026 the mpreg authors. MIT license.
/**
 * The messages of wire protocol v1 between clients and nodes, and their
 * validation. `docs/protocol.md` is the full description.
 *
 * @module
 */
import { stringifyExactJson } from "./_exact_json.ts";
import { intern } from "./_intern.ts";
import type { Step } from "./step.ts";
import { LimitExceededError, ProtocolError, type WireError } from "./errors.ts";
import { parseTraceparent, TRACEPARENT_FORMAT } from "./traceparent.ts";
import { isByteCredit, MAX_STREAM_BYTES } from "./chunk_size.ts";

/**
 * A request id chosen by the sender: a string or a non-negative safe integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CallContext, Client, type RequestId, Server } from "@mpreg/mpreg";
 * const ids: RequestId[] = [];
 * await using server = await new Server({ port: 0 })
 *   .register("id", function (this: CallContext) {
 *     ids.push(this.requestId);
 *     return typeof this.requestId;
 *   })
 *   .start();
 * await using client = new Client(server.url);
 * assert.equal(await client.call("id"), typeof ids[0]);
 * ```
 */
export type RequestId = string | number;

/**
 * `{role: "rpc"}`: run a request of steps and answer with one response.
 *
 * @example
 * ```ts
 * import type { RpcRequest } from "./messages.ts";
 * const msg: RpcRequest = {
 *   role: "rpc",
 *   u: 1,
 *   cmds: [{ name: "a", fun: "echo", args: ["hi"], kwargs: {}, locs: [] }],
 *   timeout: 5000,
 * };
 * console.log(msg.cmds.length);
 * ```
 */
export interface RpcRequest {
  /** Always `"rpc"`. */
  role: "rpc";
  /** The request id, echoed in the response. */
  u: RequestId;
  /** The steps. */
  cmds: Step[];
  /** The deadline budget in milliseconds from receipt; the node's default when absent. */
  timeout?: number;
  /** When true, answer every step's result, not only the sinks'. */
  all?: boolean;
  /**
   * When true, this is the request sent again after a failure that may have
   * run it: the node runs it only if every step's function is registered
   * idempotent on every member that offers it, and otherwise refuses it
   * unstarted (1015 with `details.idempotent: false`).
   */
  retry?: boolean;
  /**
   * The W3C `traceparent` of the caller's span
   * (`00-<32 hex>-<16 hex>-<2 hex>`, lowercase, ids not all zeros): the
   * node's span of the request is its child. Never sent in the original
   * protocol.
   */
  tp?: string;
  /**
   * A streamed request and its initial credit, in chunks: the stream is the
   * value of its one result step (its only step, or its only sink; never
   * with `all`). The node answers with `{u, chunk}` frames, at most as many as the credit
   * granted, then the usual answer (see {@linkcode CreditRequest}).
   */
  stream?: number;
  /**
   * With `stream`: the initial byte credit (see `protocol/chunk_size.ts`):
   * the node sends a chunk only while it holds chunk credit and byte credit
   * (so it may pass this budget by one chunk), and asks its producer for
   * none it could not send. Without it, the credit is in chunks only.
   */
  streamBytes?: number;
  /**
   * The client takes progress reports: the node sends `{u, step, progress}`
   * frames (see {@linkcode ProgressReport}) while the request runs. Not in
   * the original protocol.
   */
  progress?: boolean;
  /**
   * The uploads of the request: each names a top-level position of a step's
   * arguments (`{step, arg: n}` or `{step, kwarg: k}`) whose value is `null`
   * on the wire and is, on the node, the stream the client sends with
   * {@linkcode InMessage}s (upload `i` is `ins[i]`).
   */
  ins?: UploadPosition[];
}

/**
 * `{u, step, progress}`: a progress report of a step of request `u`, node →
 * client, sent only to a client that asked (`progress: true` in its `rpc`).
 * A step's reports are coalesced (at most one every 50 ms, the latest
 * winning) and its last one comes before the answer.
 *
 * @example
 * ```ts
 * import type { ProgressReport } from "./messages.ts";
 * const msg: ProgressReport = { u: 1, step: "train", progress: { done: 3, total: 10 } };
 * console.log(msg.step);
 * ```
 */
export interface ProgressReport {
  /** The id of the request. */
  u: RequestId;
  /** The step that reported it. */
  step: string;
  /** The report, as the function made it. */
  progress: unknown;
}

/**
 * Where an upload goes: a step's positional argument `arg`, or its keyword
 * argument `kwarg` (exactly one of them).
 *
 * @example
 * ```ts
 * import type { UploadPosition } from "./messages.ts";
 * const at: UploadPosition = { step: "hash", arg: 0 };
 * console.log(at.arg); // 0
 * ```
 */
export interface UploadPosition {
  /** The step's name. */
  step: string;
  /** The index of a positional argument. */
  arg?: number;
  /** The name of a keyword argument. */
  kwarg?: string;
}

/**
 * `{role: "in"}`: upload `i` of request `u`, client → node: one `chunk`
 * (sent only under the credit the node granted with `{u, i, credit}`), or
 * its `end`, or the `error` that ended the caller's stream. In
 * `mpreg.json.v1` a chunk of bytes travels as base64 in `bytes` and
 * arrives as a `Uint8Array` in `chunk`.
 *
 * @example
 * ```ts
 * import type { InMessage } from "./messages.ts";
 * const msg: InMessage = { role: "in", u: 1, i: 0, chunk: new Uint8Array(4) };
 * console.log(msg.i); // 0
 * ```
 */
export interface InMessage {
  /** Always `"in"`. */
  role: "in";
  /** The id of the request. */
  u: RequestId;
  /** The index of the upload in the request's `ins`. */
  i: number;
  /** A chunk (present, even `null`, when the message carries one). */
  chunk?: unknown;
  /** The caller's stream ended. */
  end?: true;
  /** The caller's stream failed: its message. */
  error?: string;
}

/**
 * The most uploads one request may carry.
 *
 * @example
 * ```ts
 * import { MAX_UPLOADS } from "./messages.ts";
 * console.log(MAX_UPLOADS); // 64
 * ```
 */
export const MAX_UPLOADS = 64;

/**
 * `{role: "credit"}`: lets the node send `n` more chunks of stream `u`.
 *
 * @example
 * ```ts
 * import type { CreditRequest } from "./messages.ts";
 * const msg: CreditRequest = { role: "credit", u: 1, n: 8 };
 * console.log(msg.n);
 * ```
 */
export interface CreditRequest {
  /** Always `"credit"`. */
  role: "credit";
  /** The id of the streamed request. */
  u: RequestId;
  /** How many more chunks it may send (a positive integer; 0 with `bytes`). */
  n: number;
  /** How many more bytes it may send (see `protocol/chunk_size.ts`). */
  bytes?: number;
}

/**
 * `{u, chunk}`: one chunk of a streamed request, node → client.
 *
 * @example
 * ```ts
 * import type { StreamChunk } from "./messages.ts";
 * const msg: StreamChunk = { u: 1, chunk: "tick" };
 * console.log(msg.chunk);
 * ```
 */
export interface StreamChunk {
  /** The id of the streamed request. */
  u: RequestId;
  /** The chunk. */
  chunk: unknown;
}

/**
 * The most chunks a stream may have granted and not yet sent, at its start
 * and at any time after: a node never holds more credit than this for one
 * stream (more is refused in a message, or not passed on).
 *
 * @example
 * ```ts
 * import { MAX_STREAM_CREDIT } from "./messages.ts";
 * console.log(MAX_STREAM_CREDIT); // 256
 * ```
 */
export const MAX_STREAM_CREDIT = 256;

/**
 * Whether `n` is a valid credit: a positive safe integer up to
 * {@linkcode MAX_STREAM_CREDIT}.
 *
 * @param n The value.
 * @returns True when it is one.
 *
 * @example
 * ```ts
 * import { isCredit } from "./messages.ts";
 * console.log(isCredit(16), isCredit(0), isCredit(1e6)); // true false false
 * ```
 */
export function isCredit(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0 && n <= MAX_STREAM_CREDIT;
}

/**
 * `{role: "cancel"}`: stop a request in flight. No response is sent for a
 * cancelled request.
 *
 * @example
 * ```ts
 * import type { CancelRequest } from "./messages.ts";
 * const msg: CancelRequest = { role: "cancel", u: 1 };
 * console.log(msg.role);
 * ```
 */
export interface CancelRequest {
  /** Always `"cancel"`. */
  role: "cancel";
  /** The id of the request to cancel. */
  u: RequestId;
}

/** A message a client sends to a node. */
export type ClientMessage = RpcRequest | CancelRequest | CreditRequest | InMessage;

/**
 * The answer to an `rpc` request: `r` holds `{ [step]: value }` on success,
 * `error` the failure otherwise.
 *
 * @example
 * ```ts
 * import type { RpcResponse } from "./messages.ts";
 * const ok: RpcResponse = { u: 1, r: { a: "hi" }, error: null };
 * console.log(ok.r);
 * ```
 */
export interface RpcResponse {
  /** The id of the request answered. */
  u: RequestId;
  /** The results, or `null` on error. */
  r: unknown;
  /** The error, or `null` on success. */
  error: WireError | null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

/**
 * Reads the request id of a decoded message, if it has a valid one.
 *
 * @param message A decoded message.
 * @returns The id, or `null`.
 *
 * @example
 * ```ts
 * import { readRequestId } from "./messages.ts";
 * console.log(readRequestId({ u: "01J" }), readRequestId({ u: [] })); // 01J null
 * ```
 */
export function readRequestId(message: unknown): RequestId | null {
  if (!isRecord(message)) return null;
  const u = message.u;
  if (typeof u === "string") return u;
  if (typeof u === "number" && Number.isSafeInteger(u) && u >= 0) return u;
  return null;
}

function bad(message: string, details?: unknown): ProtocolError {
  return new ProtocolError(message, { details: details ?? null });
}

function parseStep(value: unknown, index: number): Step {
  if (!isRecord(value)) throw bad(`cmds[${index}] is not an object`);
  const { name, fun, args, kwargs, locs } = value;
  if (typeof name !== "string") throw bad(`cmds[${index}].name is not a string`);
  if (typeof fun !== "string") throw bad(`cmds[${index}].fun is not a string`);
  if (args !== undefined && args !== null && !Array.isArray(args)) {
    throw bad(`cmds[${index}].args is not an array`);
  }
  if (kwargs !== undefined && kwargs !== null && !isRecord(kwargs)) {
    throw bad(`cmds[${index}].kwargs is not an object`);
  }
  if (locs !== undefined && locs !== null) {
    if (!Array.isArray(locs) || !locs.every((l) => typeof l === "string")) {
      throw bad(`cmds[${index}].locs is not an array of strings`);
    }
  }
  return {
    name: intern(name),
    fun: intern(fun),
    args: (args as unknown[] | undefined | null) ?? [],
    kwargs: (kwargs as Record<string, unknown> | undefined | null) ?? {},
    locs: (locs as string[] | undefined | null) ?? [],
  };
}

function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** A request's `ins`: each names a step and one of its arguments, `null` on the wire. */
function parseIns(value: unknown, steps: Step[]): UploadPosition[] {
  if (!Array.isArray(value)) throw bad('"ins" is not an array');
  if (value.length === 0 || value.length > MAX_UPLOADS) {
    throw bad(`"ins" holds ${value.length} uploads: from 1 to ${MAX_UPLOADS} are allowed`);
  }
  const seen = new Set<string>();
  return value.map((item, index): UploadPosition => {
    if (!isRecord(item) || typeof item.step !== "string") {
      throw bad(`ins[${index}] is not {step, arg} or {step, kwarg}`);
    }
    const step = steps.find((s) => s.name === item.step);
    if (step === undefined) throw bad(`ins[${index}] names no step of the request: "${item.step}"`);
    const { arg, kwarg } = item;
    let at: UploadPosition;
    let current: unknown;
    if (isIndex(arg) && kwarg === undefined) {
      if (arg >= step.args.length) {
        throw bad(`ins[${index}]: step "${step.name}" has no argument ${arg}`);
      }
      at = { step: step.name, arg };
      current = step.args[arg];
    } else if (typeof kwarg === "string" && arg === undefined) {
      if (!Object.hasOwn(step.kwargs, kwarg)) {
        throw bad(`ins[${index}]: step "${step.name}" has no keyword argument "${kwarg}"`);
      }
      at = { step: step.name, kwarg };
      current = step.kwargs[kwarg];
    } else {
      throw bad(`ins[${index}] is not {step, arg} or {step, kwarg}`);
    }
    if (current !== null) {
      throw bad(`ins[${index}]: the argument an upload takes is null on the wire`);
    }
    const key = JSON.stringify([at.step, at.arg ?? null, at.kwarg ?? null]);
    if (seen.has(key)) throw bad(`ins[${index}] names a position another upload takes`);
    seen.add(key);
    return at;
  });
}

/** `{role: "in", u, i}` and exactly one of `chunk`, `bytes` (base64), `end: true`, `error`. */
function parseIn(message: Record<string, unknown>, u: RequestId): InMessage {
  const i = message.i;
  if (!isIndex(i) || i >= MAX_UPLOADS) throw bad('"i" is not the index of an upload');
  const parts = ["chunk", "bytes", "end", "error"].filter((k) => k in message);
  if (parts.length !== 1) throw bad('An "in" message holds one of chunk, bytes, end or error');
  if ("chunk" in message) return { role: "in", u, i, chunk: message.chunk };
  if ("bytes" in message) {
    const bytes = message.bytes;
    if (typeof bytes !== "string") throw bad('"bytes" is not a base64 string');
    let chunk: Uint8Array;
    try {
      chunk = Uint8Array.fromBase64(bytes);
    } catch {
      throw bad('"bytes" is not valid base64');
    }
    return { role: "in", u, i, chunk };
  }
  if ("end" in message) {
    if (message.end !== true) throw bad('"end" is not true');
    return { role: "in", u, i, end: true };
  }
  if (typeof message.error !== "string") throw bad('"error" is not a string');
  return { role: "in", u, i, error: message.error };
}

/**
 * Validates a decoded message from a client.
 *
 * @param message A decoded message.
 * @param maxSteps The most steps one request may hold.
 * @returns The typed message.
 * @throws {ProtocolError} for a wrong shape or an unknown role (code 1004).
 * @throws {LimitExceededError} for too many steps (code 1011).
 *
 * @example
 * ```ts
 * import { parseClientMessage } from "./messages.ts";
 * const msg = parseClientMessage({ role: "rpc", u: 1, cmds: [{ name: "a", fun: "echo", args: [1] }] }, 10);
 * console.log(msg.role); // rpc
 * ```
 */
export function parseClientMessage(message: unknown, maxSteps: number): ClientMessage {
  if (!isRecord(message)) throw bad("Message is not an object");
  const u = readRequestId(message);
  if (u === null) throw bad('Message has no valid "u"');
  const role = message.role;
  if (role === "rpc") {
    const cmds = message.cmds;
    if (!Array.isArray(cmds)) throw bad('"cmds" is not an array');
    if (cmds.length > maxSteps) {
      throw new LimitExceededError(
        `Request has ${cmds.length} steps, over the limit of ${maxSteps}`,
        {
          details: { limit: "maxSteps", max: maxSteps },
        },
      );
    }
    const steps = cmds.map(parseStep);
    const request: RpcRequest = { role, u, cmds: steps };
    const timeout = message.timeout;
    if (timeout !== undefined && timeout !== null) {
      if (typeof timeout !== "number" || !(timeout > 0) || !Number.isFinite(timeout)) {
        throw bad('"timeout" is not a positive number of milliseconds');
      }
      request.timeout = timeout;
    }
    if (message.all !== undefined && message.all !== null) {
      if (typeof message.all !== "boolean") throw bad('"all" is not a boolean');
      request.all = message.all;
    }
    if (message.retry !== undefined && message.retry !== null) {
      if (typeof message.retry !== "boolean") throw bad('"retry" is not a boolean');
      if (message.retry) request.retry = true;
    }
    const tp = message.tp;
    if (tp !== undefined && tp !== null) {
      if (parseTraceparent(tp) === null) {
        throw bad(`"tp" is not a W3C traceparent: expected ${TRACEPARENT_FORMAT}`);
      }
      request.tp = tp as string;
    }
    if (message.stream !== undefined && message.stream !== null) {
      if (!isCredit(message.stream)) {
        throw bad(`"stream" is not a positive integer credit of at most ${MAX_STREAM_CREDIT}`);
      }
      if (request.all === true) {
        throw bad("A streamed request returns the stream of its one result step, not all: true");
      }
      request.stream = message.stream;
      if (message.streamBytes !== undefined && message.streamBytes !== null) {
        if (!isByteCredit(message.streamBytes)) {
          throw bad(
            `"streamBytes" is not a positive integer byte credit of at most ${MAX_STREAM_BYTES}`,
          );
        }
        request.streamBytes = message.streamBytes;
      }
    }
    if (message.progress !== undefined && message.progress !== null) {
      if (typeof message.progress !== "boolean") throw bad('"progress" is not a boolean');
      if (message.progress) request.progress = true;
    }
    if (message.ins !== undefined && message.ins !== null) {
      request.ins = parseIns(message.ins, steps);
    }
    return request;
  }
  if (role === "cancel") return { role, u };
  if (role === "in") return parseIn(message, u);
  if (role === "credit") {
    const bytes = message.bytes;
    if (bytes !== undefined && bytes !== null && !isByteCredit(bytes)) {
      throw bad(`"bytes" is not a positive integer byte credit of at most ${MAX_STREAM_BYTES}`);
    }
    // With bytes, `n` may be 0: a grant of bytes alone.
    if (!isCredit(message.n) && !(isByteCredit(bytes) && message.n === 0)) {
      throw bad(`"n" is not a positive integer credit of at most ${MAX_STREAM_CREDIT}`);
    }
    const credit: CreditRequest = { role, u, n: message.n as number };
    if (isByteCredit(bytes)) credit.bytes = bytes;
    return credit;
  }
  // A role may be any JSON value, exact BigInts included.
  throw bad(
    `Invalid RPC request role: ${typeof role === "string" ? role : stringifyExactJson(role)}`,
    { role: role ?? null },
  );
}
