// Copyright 2026 the mpreg authors. MIT license.
/**
 * The mpreg client. Browser-safe: it uses only Web APIs (WebSocket, timers,
 * AbortSignal) and the pure-JS msgpack codec.
 *
 * @module
 */
import { Batcher } from "../transport/batcher.ts";
import { CLOSE_DRAINED } from "../protocol/close_codes.ts";
import { AUTH_PROTOCOL_PREFIX, type Codec, createCodec } from "../protocol/codec.ts";
import { ErrorCode } from "../protocol/codes.ts";
import {
  CancelledError,
  ConnectionError,
  ProtocolError,
  RpcError,
  TimeoutError,
  UnavailableError,
  type WireError,
} from "../protocol/errors.ts";
import { findForbiddenKey, LITERAL_KEY, type Step } from "../protocol/step.ts";
import { backoffDelay, type BackoffOptions, DEFAULT_BACKOFF } from "../transport/backoff.ts";
import { type Call, CallTable } from "../transport/calls.ts";
import { type Channel, OPEN } from "../transport/channel.ts";
import { isNoDelay, openChannel } from "../transport/open.ts";

export type { BackoffOptions } from "../transport/backoff.ts";
export { openWebSocket } from "../transport/open.ts";

/**
 * Options for `new Client(url, options)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type ClientOptions, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * const options: ClientOptions = { timeoutMs: 5_000, encoding: "json" };
 * await using client = new Client(server.url, options);
 * assert.equal(await client.call("echo", ["hi"]), "hi");
 * ```
 */
export interface ClientOptions {
  /**
   * The deadline of each call or request, in milliseconds, unless the call
   * gives its own. The node gets the same budget and stops the work when it
   * passes.
   *
   * @default {30000}
   */
  timeoutMs?: number;
  /**
   * The wire encoding: `"msgpack"` (binary frames, carries bytes and dates),
   * `"json"` (text frames), or `"mpreg-json"`: exactly the original (Python)
   * MPREG protocol, to call an original server (no subprotocol, string ids,
   * no deadline sent, no cancel message: a timeout or an abort is local only
   * and the late answer is dropped; no `all`, no `literal()`, no `token`).
   * In the JSON encodings an integer beyond 2^53 travels exactly, as a
   * `BigInt`.
   *
   * @default {"msgpack"}
   */
  encoding?: "msgpack" | "json" | "mpreg-json";
  /**
   * A token that authenticates the client as a principal of the node's
   * `auth` config. It travels as the subprotocol entry `mpreg.auth.<token>`,
   * so it works from browsers too; it may hold letters, digits and `-._~`.
   *
   * @default {undefined (anonymous)}
   */
  token?: string;
  /**
   * How long to wait between rounds of connection attempts (each URL once,
   * one after the other without waiting), and before reconnecting after a
   * lost connection: capped exponential backoff with full jitter.
   *
   * @default {{ initialMs: 100, maxMs: 5000, factor: 2 }}
   */
  backoff?: Partial<BackoffOptions>;
}

/**
 * A step as callers write it; `args`, `kwargs` and `locs` may be left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, Server, type StepInput } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * await using client = new Client(server.url);
 * const steps: StepInput[] = [
 *   { name: "a", fun: "echo", args: ["hi"] },
 *   { name: "b", fun: "echos", args: ["a", "a"] },
 * ];
 * assert.deepEqual(await client.request(steps), { b: ["hi", "hi"] });
 * ```
 */
export interface StepInput {
  /** The step's name, unique in the request; other steps refer to it by it. */
  name: string;
  /** The function to call. */
  fun: string;
  /**
   * Positional arguments.
   *
   * @default {[]}
   */
  args?: unknown[];
  /**
   * Keyword arguments, passed to the function as one trailing object.
   *
   * @default {{}}
   */
  kwargs?: Record<string, unknown>;
  /**
   * Resources the node running the step must offer.
   *
   * @default {[]}
   */
  locs?: string[];
}

/**
 * Options for {@linkcode Client.request}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type RequestOptions, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * await using client = new Client(server.url);
 * const options: RequestOptions = { timeoutMs: 1_000, all: true };
 * const out = await client.request([
 *   { name: "a", fun: "echo", args: [1] },
 *   { name: "b", fun: "echo", args: ["a"] },
 * ], options);
 * assert.deepEqual(out, { a: 1, b: 1 });
 * ```
 */
export interface RequestOptions {
  /**
   * The deadline in milliseconds.
   *
   * @default {the client's `timeoutMs`}
   */
  timeoutMs?: number;
  /**
   * Cancels the request, here and on the node.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Return every step's result instead of only the sinks' (steps no other
   * step refers to).
   *
   * @default {false}
   */
  all?: boolean;
}

/**
 * Options for {@linkcode Client.call}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CallOptions, Client, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0, resources: ["gpu"] })
 *   .register("scale", (x: number, opts: { by: number }) => x * opts.by)
 *   .start();
 * await using client = new Client(server.url);
 * const options: CallOptions = { locs: ["gpu"], kwargs: { by: 10 } };
 * assert.equal(await client.call("scale", [4], options), 40);
 * ```
 */
export interface CallOptions {
  /**
   * Resources the node running the call must offer.
   *
   * @default {[]}
   */
  locs?: string[];
  /**
   * Keyword arguments, passed to the function as one trailing object.
   *
   * @default {{}}
   */
  kwargs?: Record<string, unknown>;
  /**
   * The deadline in milliseconds.
   *
   * @default {the client's `timeoutMs`}
   */
  timeoutMs?: number;
  /**
   * Cancels the call, here and on the node.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** The steps as sent: empty `kwargs` and `locs` are left out (the node defaults them). */
type WireStep = Pick<Step, "name" | "fun" | "args"> & Partial<Pick<Step, "kwargs" | "locs">>;

interface Pending extends Call {
  readonly id: number;
  readonly frame: { role: "rpc"; u: number; cmds: WireStep[]; timeout: number; all?: boolean };
  readonly resolve: (value: unknown) => void;
  /** For `call()`: answer with this step's value instead of the whole result. */
  readonly pick: string | undefined;
  readonly reject: (error: RpcError) => void;
  /** The channel it was sent on; `null` while it waits to be sent. */
  socket: Channel | null;
  /** While it waits: the first round of connection attempts it saw whole (see `#connectFailed`). */
  round: number;
  /** A node's refusal (1014) that sent it to the next URL: its error if no node takes it. */
  refusal?: WireError;
}

/** A batch never grows past this many bytes (see `#enqueue`). */
const MAX_BATCH_BYTES = 960;
/**
 * The same on a no-delay TCP socket. Small batches keep several frames in
 * flight, so both ends work at once instead of taking turns: 4 KB measured
 * best (100 in flight: ~100,000 calls/s, against ~70,000 with 16 KB).
 */
const MAX_BATCH_BYTES_TCP = 4096;

function toWireStep(
  name: string,
  fun: string,
  args: unknown[] | undefined,
  kwargs: Record<string, unknown> | undefined,
  locs: string[] | undefined,
): WireStep {
  const step: WireStep = { name, fun, args: args ?? [] };
  if (kwargs !== undefined && Object.keys(kwargs).length > 0) step.kwargs = kwargs;
  if (locs !== undefined && locs.length > 0) step.locs = locs;
  return step;
}

function fromInput(input: StepInput, index: number): WireStep {
  if (input === null || typeof input !== "object") {
    throw new TypeError(`Step ${index} is not an object`);
  }
  if (typeof input.name !== "string") throw new TypeError(`Step ${index} has no name`);
  if (typeof input.fun !== "string") throw new TypeError(`Step "${input.name}" has no fun`);
  return toWireStep(input.name, input.fun, input.args, input.kwargs, input.locs);
}

// In a one-step call the only possible reference is to the step itself: wrap
// strings that would read as one so they arrive verbatim.
function escapeSelf(value: unknown, name: string): unknown {
  if (typeof value === "string") {
    // `name` itself, or `name.` and a path (checked without allocating).
    const self = value.length === name.length
      ? value === name
      : value.length > name.length && value.charCodeAt(name.length) === 46 &&
        value.startsWith(name);
    return self ? { [LITERAL_KEY]: value } : value;
  }
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v = escapeSelf(value[i], name);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? value;
  }
  if (
    value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype
  ) {
    const record = value as Record<string, unknown>;
    let out: Record<string, unknown> | null = null;
    for (const key of Object.keys(record)) {
      const v = escapeSelf(record[key], name);
      if (v !== record[key]) (out ??= { ...record })[key] = v;
    }
    if (out === null && Object.keys(record).length === 1 && LITERAL_KEY in record) {
      return { [LITERAL_KEY]: record };
    }
    return out ?? value;
  }
  return value;
}

/**
 * A connection to an mpreg cluster through any one of its nodes.
 *
 * The client connects lazily on the first call (or on `connect()`), runs
 * any number of requests concurrently over one WebSocket, and reconnects
 * after a lost connection. Calls in flight when the connection drops fail at
 * once with a {@linkcode ConnectionError} (they may have run); calls made
 * while it connects wait for the connection, and fail at once with a
 * `ConnectionError` naming each URL and why when every URL refused it.
 * Nothing that reached a node is lost when the node stops gracefully: the
 * calls it runs are answered on their connection, and the calls it refused
 * unstarted (1014 with `details.started: false`), or never read before its
 * drained close, go to the next URL.
 *
 * @example Call a function and run a request of dependent steps
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 })
 *   .register("add", (a: number, b: number) => a + b)
 *   .start();
 * await using client = new Client(server.url);
 * assert.equal(await client.call("add", [1, 2]), 3);
 * const out = await client.request([
 *   { name: "sum", fun: "add", args: [1, 2] },
 *   { name: "twice", fun: "add", args: ["sum", "sum"] },
 * ]);
 * assert.deepEqual(out, { twice: 6 });
 * ```
 */
export class Client {
  readonly #urls: string[];
  readonly #timeoutMs: number;
  readonly #codec: Codec;
  readonly #backoff: BackoffOptions;
  readonly #protocols: string[];
  readonly #pending = new CallTable<Pending>();
  readonly #batcher: Batcher;
  /** The socket new calls go out on. */
  #socket: Channel | null = null;
  /**
   * Sockets to a node that refused calls because it is stopping: no new
   * call goes there, but the answers to the calls it runs still come back.
   */
  readonly #retiring = new Set<Channel>();
  #urlIndex = 0;
  #attempt = 0;
  /** Why each URL tried in this round of connection attempts could not be connected to. */
  #failures: Array<{ url: string; reason: string }> = [];
  /** Rounds of connection attempts (each URL once) started so far. */
  #rounds = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  #openWaiters: Array<{ resolve: () => void; reject: (e: RpcError) => void; round: number }> = [];

  /**
   * Creates a client. Nothing connects until the first call or `connect()`.
   *
   * @param urls One node's URL, or several to try in turn.
   * @param options Timeouts, encoding and backoff.
   */
  constructor(urls: string | string[], options: ClientOptions = {}) {
    this.#urls = typeof urls === "string" ? [urls] : [...urls];
    if (this.#urls.length === 0) throw new TypeError("Client needs at least one URL");
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#codec = createCodec(options.encoding ?? "msgpack");
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#protocols = this.#codec.protocol === null ? [] : [this.#codec.protocol];
    // A socket that closed meanwhile fails the calls it carried (onclose).
    // The first frame of a turn leaves at once (one call at a time never
    // waits for the end of the turn); the frames after it share one.
    this.#batcher = new Batcher(
      this.#codec,
      (frame) => {
        if (this.#socket?.readyState === OPEN) this.#socket.send(frame);
      },
      MAX_BATCH_BYTES,
      { leading: true },
    );
    if (options.token !== undefined) {
      if (this.#codec.protocol === null) {
        throw new TypeError("The original MPREG protocol has no token");
      }
      if (!/^[A-Za-z0-9._~-]+$/.test(options.token)) {
        throw new TypeError("A token may hold only letters, digits and -._~");
      }
      this.#protocols.push(AUTH_PROTOCOL_PREFIX + options.token);
    }
  }

  /** True while the WebSocket is open. */
  get connected(): boolean {
    return this.#socket?.readyState === OPEN;
  }

  /** The URL of the current (or last tried) connection. */
  get url(): string {
    return this.#urls[this.#urlIndex]!;
  }

  /**
   * Connects now instead of on the first call.
   *
   * @param options `timeoutMs`: how long to keep trying (default: the client's timeout).
   * @returns When the connection is open.
   * @throws {ConnectionError} when no URL answered in time, every URL refused the
   *   connection (the error names each one and why), or the client is closed.
   */
  connect(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new ConnectionError("Client is closed"));
    if (this.connected) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const ms = options.timeoutMs ?? this.#timeoutMs;
    const timer = setTimeout(() => {
      const i = this.#openWaiters.indexOf(waiter);
      if (i >= 0) this.#openWaiters.splice(i, 1);
      reject(new ConnectionError(`Could not connect to ${this.#urls.join(", ")} in ${ms} ms`));
    }, ms);
    const waiter = {
      resolve: () => {
        clearTimeout(timer);
        resolve();
      },
      reject: (e: RpcError) => {
        clearTimeout(timer);
        reject(e);
      },
      round: this.#rounds + 1,
    };
    this.#openWaiters.push(waiter);
    this.#ensureSocket();
    return promise;
  }

  /**
   * Calls one function and returns its value.
   *
   * @param fun The function's name.
   * @param args Its positional arguments, passed verbatim.
   * @param options Resources, keyword arguments, deadline and signal.
   * @returns The function's result.
   * @throws {RpcError} the node's error (see `ErrorCode`), {@linkcode TimeoutError}
   *   when the deadline passes, {@linkcode CancelledError} when the signal
   *   aborts, {@linkcode ConnectionError} when the connection drops.
   */
  call(fun: string, args: unknown[] = [], options: CallOptions = {}): Promise<unknown> {
    let step: WireStep;
    try {
      step = toWireStep(
        fun,
        fun,
        escapeSelf(args, fun) as unknown[],
        options.kwargs && escapeSelf(options.kwargs, fun) as Record<string, unknown>,
        options.locs,
      );
    } catch (err) {
      // A cycle in the arguments overflows the stack.
      return Promise.reject(this.#unencodable(err));
    }
    return this.#send([step], options.timeoutMs, options.signal, false, fun);
  }

  /**
   * Runs a request of named steps in one round trip. A step uses another's
   * result by writing its name (or `name.key.0.key`) as an argument; wrap a
   * string in `literal()` to pass it verbatim.
   *
   * @param steps The steps.
   * @param options Deadline, signal, and `all`.
   * @returns `{ [name]: value }` for the sink steps, or every step with `all`.
   * @throws {RpcError} as for {@linkcode Client.call}; a failed step names itself
   *   in `details.step`.
   */
  request(steps: StepInput[], options: RequestOptions = {}): Promise<Record<string, unknown>> {
    let cmds: WireStep[];
    try {
      cmds = steps.map(fromInput);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#send(cmds, options.timeoutMs, options.signal, options.all ?? false) as Promise<
      Record<string, unknown>
    >;
  }

  /**
   * Closes the connection and stops reconnecting. Calls still pending fail
   * with a {@linkcode ConnectionError}.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const error = new ConnectionError("Client closed");
    for (const pending of this.#pending.values()) this.#settle(pending, error);
    for (const waiter of this.#openWaiters.splice(0)) waiter.reject(error);
    this.#pending.clear();
    const sockets = [...this.#retiring, ...(this.#socket === null ? [] : [this.#socket])];
    this.#socket = null;
    this.#retiring.clear();
    for (const socket of sockets) {
      socket.onopen = socket.onmessage = socket.onerror = null;
      socket.onclose = null;
      socket.close(1000, "Client closed");
    }
  }

  /** Closes the client; the same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  #send(
    cmds: WireStep[],
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
    all: boolean,
    pick?: string,
  ): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ConnectionError("Client is closed"));
    if (signal?.aborted) {
      return Promise.reject(new CancelledError("Call aborted", { cause: signal.reason }));
    }
    const budget = timeoutMs ?? this.#timeoutMs;
    const now = Date.now();
    const id = this.#pending.nextId();
    // The node takes a positive deadline; a budget of 0 still gets an answer
    // (a timeout, unless the node is quicker than the client's own timer).
    const timeout = Math.max(1, budget);
    const frame: Pending["frame"] = { role: "rpc", u: id, cmds, timeout };
    if (all) frame.all = true;
    // Checked and encoded before anything is registered, so a value the
    // codec cannot take (a symbol, a BigInt past 64 bits, a cycle) fails
    // this call alone.
    let encoded: string | Uint8Array<ArrayBuffer>;
    try {
      for (const step of cmds) {
        const key = findForbiddenKey(step.args) ?? findForbiddenKey(step.kwargs);
        if (key !== null) {
          // The node would close the connection (and every call on it).
          return Promise.reject(
            new ProtocolError(`Step "${step.name}": arguments may not use the key "${key}"`, {
              details: { step: step.name, key },
            }),
          );
        }
      }
      const only = cmds.length === 1 && !all ? cmds[0]! : null;
      encoded = only !== null && only.kwargs === undefined && only.locs === undefined
        ? this.#codec.encodeCall(id, only.name, only.fun, only.args, timeout)
        : this.#codec.encode(frame);
    } catch (err) {
      return Promise.reject(this.#unencodable(err));
    }
    // Sent before it is registered: the batcher sends a turn's first frame
    // at once, and the TCP WebSocket writes it at once, so the bookkeeping
    // below overlaps the node's work (no answer can be read before it ends).
    const socket = this.#socket;
    const connected = socket !== null && socket.readyState === OPEN;
    if (connected) this.#enqueue(encoded);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const pending: Pending = {
      id,
      frame,
      resolve,
      pick,
      reject,
      at: now + budget,
      expire: () =>
        this.#cancel(
          pending,
          new TimeoutError(`Request timed out after ${budget} ms`, {
            details: { timeout: budget },
          }),
        ),
      deadline: 0,
      socket: connected ? socket : null,
      round: this.#rounds + 1,
    };
    this.#pending.add(
      id,
      pending,
      signal,
      signal &&
        (() => this.#cancel(pending, new CancelledError("Call aborted", { cause: signal.reason }))),
    );
    if (!connected) this.#ensureSocket();
    return promise;
  }

  /** Sends a call that waited for the connection, with the time it has left. */
  #transmit(pending: Pending): void {
    pending.frame.timeout = Math.max(1, pending.at - Date.now());
    let encoded: string | Uint8Array<ArrayBuffer>;
    try {
      encoded = this.#codec.encode(pending.frame);
    } catch (err) {
      // Its arguments changed into something the codec cannot take.
      this.#settle(pending, this.#unencodable(err));
      return;
    }
    pending.socket = this.#socket;
    this.#enqueue(encoded);
  }

  #unencodable(cause: unknown): ProtocolError {
    const encoding = this.#codec.encoding;
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new ProtocolError(`The call's arguments cannot be encoded as ${encoding}: ${reason}`, {
      details: { encoding },
      cause,
    });
  }

  /**
   * Sends a frame: the first of a turn at once, those after it in the same
   * turn together in one batch frame.
   */
  #enqueue(frame: string | Uint8Array<ArrayBuffer>): void {
    // Deno's built-in WebSocket client stalls ~40 ms (Nagle's algorithm
    // meeting delayed ACKs) on frames over ~1 KB: browsers and wss:// keep
    // batches under that; the no-delay TCP socket takes larger ones.
    this.#batcher.maxBytes = this.#socket !== null && isNoDelay(this.#socket)
      ? MAX_BATCH_BYTES_TCP
      : MAX_BATCH_BYTES;
    this.#batcher.push(frame);
  }

  #cancel(pending: Pending, error: RpcError): void {
    if (!this.#pending.has(pending.id)) return;
    const socket = pending.socket;
    if (this.#codec.cancels && socket !== null && socket.readyState === OPEN) {
      const frame = this.#codec.encode({ role: "cancel", u: pending.id });
      if (socket === this.#socket) this.#enqueue(frame);
      else socket.send(frame);
    }
    this.#settle(pending, error);
  }

  #settle(pending: Pending, error: RpcError | null, value?: Record<string, unknown>): void {
    this.#pending.delete(pending.id, pending);
    if (this.#retiring.size > 0 && pending.socket !== null && this.#retiring.has(pending.socket)) {
      this.#closeIfIdle(pending.socket);
    }
    if (error !== null) {
      pending.reject(error);
    } else if (pending.pick === undefined) {
      pending.resolve(value);
    } else if (value !== null && typeof value === "object") {
      pending.resolve(value[pending.pick]);
    } else {
      pending.reject(
        new ProtocolError(`The node's answer holds no result for "${pending.pick}"`, {
          details: { step: pending.pick },
        }),
      );
    }
  }

  #ensureSocket(): void {
    if (this.#closed || this.#socket !== null || this.#retryTimer !== null) return;
    const url = this.#urls[this.#urlIndex]!;
    if (this.#failures.length === 0) this.#rounds++;
    let socket: Channel;
    try {
      socket = openChannel(url, this.#protocols);
    } catch (err) {
      this.#connectFailed(url, reasonOf(err));
      return;
    }
    this.#socket = socket;
    let opened = false;
    let failure = "";
    socket.onopen = () => {
      if (socket.protocol !== (this.#codec.protocol ?? "")) {
        failure = `the node did not accept the subprotocol ${this.#codec.protocol ?? "(none)"}`;
        socket.close(1002, "Subprotocol not accepted");
        return;
      }
      opened = true;
      this.#attempt = 0;
      this.#failures = [];
      for (const waiter of this.#openWaiters.splice(0)) waiter.resolve();
      this.#sendWaiting();
    };
    socket.onmessage = (event: MessageEvent) => this.#onFrame(event.data, socket);
    socket.onerror = (event: Event) => {
      // The no-delay TCP WebSocket says why; a browser's WebSocket never does.
      failure ||= reasonOf((event as ErrorEvent).error ?? "");
    };
    socket.onclose = (event: CloseEvent) => {
      if (opened) {
        this.#onClosed(socket, url, event);
      } else if (this.#socket === socket) {
        this.#socket = null;
        this.#connectFailed(
          url,
          failure || `the connection closed (${event.code}) before it opened`,
        );
      }
    };
  }

  /**
   * A connection could not be opened: try the next URL at once. When every
   * URL has failed in this round, fail now the calls that waited for a
   * connection through the whole round (they were never sent; a call made
   * during the round waits for the next one) and start the next round after
   * a backoff.
   */
  #connectFailed(url: string, reason: string): void {
    if (this.#closed) return;
    this.#failures.push({ url, reason });
    this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
    if (this.#failures.length < this.#urls.length) {
      this.#ensureSocket();
      return;
    }
    const failures = this.#failures;
    this.#failures = [];
    const error = new ConnectionError(
      `Cannot connect to ${failures.map((f) => `"${f.url}": ${f.reason}`).join("; ")}`,
      { details: { failures } },
    );
    const round = this.#rounds;
    for (const pending of this.#pending.values()) {
      if (pending.socket !== null || pending.round > round) continue;
      const refusal = pending.refusal;
      this.#settle(
        pending,
        refusal === undefined
          ? error
          : new UnavailableError(refusal.message, { details: refusal.details, cause: error }),
      );
    }
    this.#openWaiters = this.#openWaiters.filter((waiter) => {
      if (waiter.round > round) return true;
      waiter.reject(error);
      return false;
    });
    this.#retryLater();
  }

  #retryLater(): void {
    if (this.#closed || this.#retryTimer !== null) return;
    const delay = backoffDelay(this.#attempt++, this.#backoff);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#ensureSocket();
    }, delay);
  }

  /**
   * An open connection closed. A node that stopped gracefully closes with
   * {@linkcode CLOSE_DRAINED} once it has answered every call it read:
   * the calls still unanswered never reached it and go to the next URL.
   * Otherwise they may have run, and fail.
   */
  #onClosed(socket: Channel, url: string, event: CloseEvent): void {
    const drained = event.code === CLOSE_DRAINED;
    const reason = event.reason ? `: ${event.reason}` : "";
    const error = new ConnectionError(`Connection to ${url} closed (${event.code})${reason}`, {
      details: { url, code: event.code, reason: event.reason },
    });
    for (const pending of this.#pending.values()) {
      if (pending.socket !== socket) continue;
      if (drained) this.#unsent(pending);
      else this.#settle(pending, error);
    }
    this.#retiring.delete(socket);
    if (this.#socket === socket) {
      this.#socket = null;
      this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
      // A node that left on purpose: the next URL at once.
      if (!drained) {
        this.#retryLater();
        return;
      }
    }
    this.#sendWaiting();
  }

  /** Sends the calls waiting to be sent, or opens a connection for them. */
  #sendWaiting(): void {
    if (!this.connected) {
      this.#ensureSocket();
      return;
    }
    for (const pending of this.#pending.values()) {
      if (pending.socket === null) this.#transmit(pending);
    }
  }

  /**
   * The node refused a call unstarted because it is stopping (1014 with
   * `started: false`): the call goes to the next URL, and so do the calls
   * after it. The socket stays open for the answers to the calls the node
   * still runs; the node closes it when its drain is over.
   */
  #refused(pending: Pending): void {
    const socket = pending.socket;
    this.#unsent(pending);
    if (socket !== null && socket === this.#socket) {
      // What is queued goes to this node: it is answered, or refused too.
      this.#batcher.flush();
      this.#socket = null;
      this.#retiring.add(socket);
      this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
      this.#closeIfIdle(socket);
    }
    this.#sendWaiting();
  }

  /** A call that provably did not reach the node it was sent to waits to be sent again. */
  #unsent(pending: Pending): void {
    pending.socket = null;
    pending.round = this.#rounds + 1;
  }

  /** Closes a retiring socket once no call waits for an answer on it. */
  #closeIfIdle(socket: Channel): void {
    for (const pending of this.#pending.values()) if (pending.socket === socket) return;
    this.#retiring.delete(socket);
    socket.onopen =
      socket.onmessage =
      socket.onerror =
      socket.onclose =
        null;
    socket.close(1000, "Client moved to another node");
  }

  #onFrame(data: unknown, socket: Channel): void {
    let decoded: unknown;
    try {
      decoded = this.#codec.decode(data as ArrayBuffer | string);
    } catch (err) {
      // An answer that cannot be read would leave its call hanging to its
      // deadline: drop the connection instead, failing its calls at once.
      socket.close(1000, `Unreadable frame: ${(err as Error).message}`.slice(0, 120));
      return;
    }
    if (Array.isArray(decoded)) {
      for (const message of decoded) this.#onMessage(message);
    } else {
      this.#onMessage(decoded);
    }
  }

  #onMessage(decoded: unknown): void {
    const message = decoded as { u?: unknown; r?: unknown; error?: WireError | null };
    if (message === null || typeof message !== "object") return;
    const pending = this.#pending.get(message.u as number);
    if (pending === undefined) return;
    const error = message.error;
    if (!error) {
      this.#settle(pending, null, message.r as Record<string, unknown>);
    } else if (
      error.code === ErrorCode.Unavailable &&
      (error.details as { started?: unknown } | null)?.started === false
    ) {
      pending.refusal = error;
      this.#refused(pending);
    } else {
      this.#settle(pending, RpcError.fromWire(error));
    }
  }
}

/** Why a connection attempt failed, from what the socket threw or reported. */
function reasonOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === "string" ? err : String(err);
}
