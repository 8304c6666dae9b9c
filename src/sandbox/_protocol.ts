// Copyright 2026 the mpreg authors. MIT license.
/**
 * The messages between a `WorkerPool` and its sandbox processes, and the
 * helpers both sides share. Messages travel as msgpack frames (see
 * `_frames.ts`) on a Unix socket that the process connects to when it
 * starts, batched: every frame carries an array of the messages queued
 * before the microtask queue drained, in both directions (so the calls of
 * one incoming frame go as one frame, at once).
 *
 * To a process: `[id, fn, args, step, requestId, node, deadline, kwargs?,
 * streamed?, inputs?]` calls, `{ define }`, `{ cancel }`, `{ check }`,
 * `{ exports }`, `{ credit }` and `{ input }`. From a process: `{ ready }`
 * first (with the token it was started with), then `[id, value]` answers,
 * `{ id, error }` failures, `{ progress, value }` progress reports of a call
 * (`this.progress()`, coalesced in the process as on a node: at most one
 * every 50 ms per call, the last one before its answer, none after it), for
 * a streamed call `{ stream }` then `{ chunk, value }` chunks (see
 * {@linkcode StreamMessage}), and for a call's stream arguments `{ more }`
 * and `{ drop }` (see {@linkcode InputCreditMessage}). Anything else from a
 * process is a protocol violation: the pool treats the process as crashed.
 * A process that is about to exit says why on its stderr, in a line that
 * starts with {@linkcode EXIT_MARKER}.
 *
 * @module
 */
import { AppError, type WireError } from "../protocol/errors.ts";

/** The start of the stderr line in which a sandbox process says why it exits. */
export const EXIT_MARKER = "[mpreg sandbox] exiting: ";

/** Defines function `define` in the process, from a module loader or from source. */
export interface DefineMessage {
  /** The function's id, unique in its pool. */
  define: number;
  /** The function's name, for messages. */
  name: string;
  /** Index of the module loader in the process's generated main module. */
  module?: number;
  /** The export to call from that module. */
  exportName?: string;
  /** The source of a self-contained function (`fn.toString()`). */
  source?: string;
}

/**
 * Calls function `fn` as call `id`: a tuple, because cloning an array is
 * about three times cheaper than cloning the same fields as nested objects.
 * The process rebuilds the call's `this` from `step`, `requestId`, `node`
 * and `deadline`, with a signal of its own that a {@linkcode CancelMessage}
 * aborts.
 * `kwargs` is passed as a trailing argument when present (the pool only
 * sends it when not empty; `null` when absent before `streamed`).
 * `streamed` (1) asks for the function's stream rather than a value: see
 * {@linkcode StreamMessage}; (2) allows one: a function that returns a
 * stream answers as a streamed call, any other value as a plain one (a step
 * that may stream into the one step that takes it). `inputs` lists the
 * arguments that are streams (an index in `args`, or a key of `kwargs`;
 * sent as `null`): the function gets each as a `ReadableStream`, fed by
 * {@linkcode InputMessage}s.
 */
export type CallMessage = [
  id: number,
  fn: number,
  args: unknown[],
  step: string,
  requestId: string | number,
  node: string,
  deadline: number,
  kwargs?: Record<string, unknown> | null,
  streamed?: 0 | 1 | 2,
  inputs?: (number | string)[],
];

/**
 * Stream argument `k` (its index in the call's `inputs`) of call `input`:
 * a chunk (`value`), its end (`end`) or its failure (`error`). The pool
 * sends no chunk past the credit the process granted with
 * {@linkcode InputCreditMessage}s.
 */
export interface InputMessage {
  /** The call's id. */
  input: number;
  /** Which of the call's stream arguments. */
  k: number;
  /** A chunk. */
  value?: unknown;
  /** The stream ended. */
  end?: true;
  /** The stream failed. */
  error?: WireError;
}

/**
 * Allows the producer of streamed call `credit` `n` more chunks: the
 * process never asks the producer for a chunk (its `next()`, or its
 * stream's `read()`) past the credit it was given.
 */
export interface CreditMessage {
  /** The call's id. */
  credit: number;
  /** How many more chunks. */
  n: number;
}

/** Aborts the signal of call `cancel`. */
export interface CancelMessage {
  /** The call's id. */
  cancel: number;
  /** The abort reason's name (`AbortError`, `TimeoutError`, …). */
  name: string;
  /** The abort reason's message. */
  message: string;
}

/** Asks which defined functions failed to load; answered like a call. */
export interface CheckMessage {
  /** The id of the answer. */
  check: number;
}

/**
 * Asks for the names of the functions module `module` exports (without
 * `default`); answered like a call, with the sorted names, or with a load
 * failure.
 */
export interface ExportsMessage {
  /** The id of the answer. */
  exports: number;
  /** Index of the module loader in the process's generated main module. */
  module: number;
}

/**
 * What a sandbox process is told on its command line (`Deno.args[0]`, as
 * JSON), before anything else runs.
 */
export interface HostArgs {
  /** The largest frame the process may send; a larger answer fails its call alone. */
  maxFrameBytes: number;
  /** The Unix socket to connect to. */
  socket: string;
  /** Sent back in the `ready` message: proves the connection is this process's. */
  token: string;
  /**
   * The grants the process was given only to connect to `socket` (`read`,
   * `write`, `net`), revoked once it is connected, before any function loads.
   */
  revoke: ("read" | "write" | "net")[];
}

/** A message to a sandbox process. */
export type ToWorker =
  | DefineMessage
  | CallMessage
  | CancelMessage
  | CheckMessage
  | ExportsMessage
  | CreditMessage
  | InputMessage;

/** An error as the process reports it. */
export interface WireFunctionError {
  /** The error's name (`TypeError`, …), or `typeof` of a thrown non-error. */
  name: string;
  /** The error's message. */
  message: string;
  /** What was denied, as in `net access to "example.com:443"`, for a permission error. */
  denied?: string;
  /**
   * `load` when the function could not be loaded, `arguments` when the call
   * did not match the function's parameters (it did not run), else the call
   * failed.
   */
  phase?: "load" | "call" | "arguments";
  /**
   * For `arguments`: what the function accepts (`max` `null` when unbounded)
   * and what the call sent.
   */
  call?: { required: number; max: number | null; received: number; kwargs: boolean };
  /** The stack, when there is one. */
  stack?: string;
  /** For an `AppError`: its code and details, sent to the caller as they are. */
  app?: { code: number; details: unknown };
}

/** The value of call or check `id`: a tuple, like calls. */
export type OkReply = [id: number, value: unknown];

/** The failure of call `id`. */
export interface ErrorReply {
  /** The call's id. */
  id: number;
  /** What the function threw, or why it could not be loaded. */
  error: WireFunctionError;
}

/** A progress report of call `progress` (the function's `this.progress(value)`). */
export interface ProgressReply {
  /** The call's id. */
  progress: number;
  /** The report. */
  value: unknown;
}

/** Sent first, once the process is connected and its runtime is up. */
export interface ReadyMessage {
  /** The token of {@linkcode HostArgs}. */
  ready: string;
}

/**
 * The messages of a streamed call `id` (a call sent with `streamed`), from
 * the process: `{ stream: id }` once the function returned a producer (a
 * `ReadableStream`, an async iterable or a generator; any other value fails
 * the call with `{ id, error }`, or with `streamed` 2 is answered as the
 * call's value, `[id, value]`), then `{ chunk: id, value }` for each
 * chunk, no more than the credit granted by {@linkcode CreditMessage}s;
 * the stream ends with `[id, count]` (the number of chunks sent) or
 * `{ id, error }`. A `{ cancel }` closes the producer (a generator's
 * `return()` runs) and is answered with `{ id, error }`.
 */
export type StreamMessage = { stream: number } | { chunk: number; value: unknown };

/**
 * From the process, for stream argument `k` of call `more`: `n` (1 to 256)
 * more chunks may come, or with `drop`, its reader cancelled it.
 */
export type InputCreditMessage = { more: number; k: number; n: number } | {
  drop: number;
  k: number;
};

/** A message from a sandbox process. */
export type FromWorker =
  | OkReply
  | ErrorReply
  | ProgressReply
  | ReadyMessage
  | StreamMessage
  | InputCreditMessage;

/** The answer to a check: the functions that failed to load. */
export interface LoadFailure {
  /** The function's id. */
  fn: number;
  /** The function's name. */
  name: string;
  /** Why it failed. */
  error: WireFunctionError;
}

const DENIED = /Requires (\w+) access(?: to "((?:[^"\\]|\\.)*)")?/;

/**
 * What a permission error denied, as `net access to "example.com:443"`, or
 * `undefined` when `err` is not a permission error. Recognizes
 * `Deno.errors.NotCapable` and any error whose message (or whose cause's)
 * reads `Requires <kind> access ...`, as Deno's own denials do.
 */
export function deniedBy(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const match = DENIED.exec(current.message);
    if (match) {
      return match[2] === undefined ? `${match[1]} access` : `${match[1]} access to "${match[2]}"`;
    }
    if (current instanceof Deno.errors.NotCapable) return current.message;
    current = current.cause;
  }
  return undefined;
}

/** The wire form of anything thrown. */
export function toWireError(err: unknown, phase: "load" | "call"): WireFunctionError {
  const out: WireFunctionError = {
    name: err instanceof Error ? err.name : typeof err,
    message: err instanceof Error ? err.message : String(err),
    phase,
  };
  const denied = deniedBy(err);
  if (denied !== undefined) out.denied = denied;
  const app = AppError.from(err);
  if (app !== undefined) out.app = { code: app.code, details: app.details };
  if (err instanceof Error && typeof err.stack === "string") out.stack = err.stack;
  return out;
}

/**
 * Checks that `source` compiles as a function expression (or a method
 * shorthand) without evaluating anything: the node never runs sandboxed
 * code.
 *
 * @throws {TypeError} when it does not compile.
 */
export function checkSource(source: string): void {
  if (typeof source !== "string" || source.trim() === "") {
    throw new TypeError("Cannot compile a sandboxed function from source: the source is empty");
  }
  try {
    new Function(`"use strict"; return (${source}\n);`);
  } catch {
    try {
      new Function(`"use strict"; return ({ ${source}\n});`);
    } catch (err) {
      throw new TypeError(
        `Cannot compile a sandboxed function from source: ${
          err instanceof Error ? err.message : err
        }`,
      );
    }
  }
}

/**
 * Turns the source of a function (`fn.toString()`) into a function: plain,
 * async, arrow, generator and method-shorthand forms are accepted. Nothing
 * in the function runs. Closures are not kept: the function must be
 * self-contained. Runs in the sandbox process only.
 *
 * @throws {TypeError} when the source is not a function.
 */
export function functionFromSource(source: string): (...args: unknown[]) => unknown {
  let value: unknown;
  try {
    value = new Function(`"use strict"; return (${source}\n);`)();
  } catch {
    try {
      // A method shorthand such as `add(a, b) { ... }` or `async get() { ... }`.
      const holder = new Function(`"use strict"; return ({ ${source}\n});`)() as Record<
        string,
        unknown
      >;
      value = Object.values(holder)[0];
    } catch (err) {
      throw new TypeError(
        `Cannot compile a sandboxed function from source: ${
          err instanceof Error ? err.message : err
        }`,
      );
    }
  }
  if (typeof value !== "function") {
    throw new TypeError("Cannot compile a sandboxed function from source: not a function");
  }
  return value as (...args: unknown[]) => unknown;
}
