// Copyright 2026 the mpreg authors. MIT license.
/**
 * The mpreg client. Browser-safe: it uses only Web APIs (WebSocket, timers,
 * AbortSignal) and the pure-JS msgpack codec.
 *
 * @module
 */
import { AUTH_PROTOCOL_PREFIX, type Codec, createCodec } from "../protocol/codec.ts";
import { ErrorCode } from "../protocol/codes.ts";
import {
  CancelledError,
  ConnectionError,
  ProtocolError,
  RpcError,
  TimeoutError,
  type WireError,
} from "../protocol/errors.ts";
import { findForbiddenKey } from "../protocol/step.ts";
import { DEFAULT_BACKOFF } from "../transport/backoff.ts";
import { Batcher } from "../transport/batcher.ts";
import { CallTable } from "../transport/calls.ts";
import { type Channel, OPEN } from "../transport/channel.ts";
import { isNoDelay } from "../transport/open.ts";
import { Connections, type Routed } from "./_connections.ts";
import { escapeSelf, fromInput, toWireStep, type WireStep } from "./_steps.ts";
import { activeTraceparent, invalidTraceparent } from "./_trace_context.ts";
import type {
  CallOptions,
  ClientOptions,
  RequestOptions,
  StepInput,
  StreamOptions,
} from "./options.ts";
import { openStream, STREAM_TIMEOUT_MS, type StreamHooks } from "./_streams.ts";
import {
  type TakenUploads,
  takeUploads,
  Upload,
  type UploadMessage,
  type UploadPosition,
} from "./_uploads.ts";
import { type Typed, TypedRequest } from "./typed.ts";

export type { BackoffOptions } from "../transport/backoff.ts";
export { openWebSocket } from "../transport/open.ts";

export type {
  CallOptions,
  ClientOptions,
  RequestOptions,
  StepInput,
  StreamOptions,
} from "./options.ts";

interface Pending extends Routed {
  readonly frame: {
    role: "rpc";
    u: number;
    cmds: WireStep[];
    timeout: number;
    all?: boolean;
    retry?: boolean;
    tp?: string;
    stream?: number;
    streamBytes?: number;
    ins?: UploadPosition[];
    progress?: true;
  };
  /** How many more times it may be sent again after a may-have-run failure. */
  retries: number;
  /** The first failure that may have run it, once it was sent again. */
  mayHaveRun?: RpcError;
  readonly resolve: (value: unknown) => void;
  /** For `call()`: answer with this step's value instead of the whole result. */
  readonly pick: string | undefined;
  readonly reject: (error: RpcError) => void;
  /** For `stream()`: takes each chunk. */
  readonly chunk?: ((value: unknown) => void) | undefined;
  /** Its uploads, by their index in `frame.ins`. */
  uploads?: Upload[];
  /** The caller's `onProgress`. */
  readonly progress?: ((value: unknown, step: string) => void) | undefined;
}

/** A batch never grows past this many bytes (see `#enqueue`). */
const MAX_BATCH_BYTES = 960;
/**
 * The same on a no-delay TCP socket. Small batches keep several frames in
 * flight, so both ends work at once instead of taking turns: 4 KB measured
 * best (100 in flight: ~100,000 calls/s, against ~70,000 with 16 KB).
 */
const MAX_BATCH_BYTES_TCP = 4096;

/**
 * A connection to an mpreg cluster through any one of its nodes.
 *
 * The client connects lazily on the first call (or on `connect()`), runs
 * any number of requests concurrently over one WebSocket, and reconnects
 * after a lost connection. Calls in flight when the connection drops fail
 * with a {@linkcode ConnectionError} (they may have run), unless every
 * function they call is registered `idempotent`: those are sent again
 * (`retries`, see {@linkcode ClientOptions}); calls made
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
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #codec: Codec;
  readonly #pending = new CallTable<Pending>();
  readonly #batcher: Batcher;
  /** The connections to the nodes: failover, and the calls that go to the next node. */
  readonly #links: Connections<Pending>;

  /**
   * Creates a client. Nothing connects until the first call or `connect()`.
   *
   * @param urls One node's URL, or several to try in turn.
   * @param options Timeouts, encoding and backoff.
   */
  constructor(urls: string | string[], options: ClientOptions = {}) {
    const list = typeof urls === "string" ? [urls] : [...urls];
    if (list.length === 0) throw new TypeError("Client needs at least one URL");
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#codec = createCodec(options.encoding ?? "msgpack");
    const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    const protocols = this.#codec.protocol === null ? [] : [this.#codec.protocol];
    // A socket that closed meanwhile fails the calls it carried (onclose).
    // The first frame of a turn leaves at once (one call at a time never
    // waits for the end of the turn); the frames after it share one.
    this.#batcher = new Batcher(
      this.#codec,
      (frame) => {
        const socket = this.#links.socket;
        if (socket?.readyState === OPEN) socket.send(frame);
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
      protocols.push(AUTH_PROTOCOL_PREFIX + options.token);
    }
    this.#retries = this.#codec.protocol === null ? 0 : options.retries ?? 2;
    this.#links = new Connections(list, this.#codec.protocol, protocols, backoff, this.#pending, {
      settle: (pending, error) => this.#settle(pending, error),
      retry: (pending, error) => this.#retry(pending, error),
      transmit: (pending) => this.#transmit(pending),
      flush: () => this.#batcher.flush(),
      receive: (data, socket) => this.#onFrame(data, socket),
    });
  }

  /** True while the WebSocket is open. */
  get connected(): boolean {
    return this.#links.connected;
  }

  /** The URL of the current (or last tried) connection. */
  get url(): string {
    return this.#links.url;
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
    return this.#links.connect(options.timeoutMs ?? this.#timeoutMs);
  }

  /**
   * Calls one function and returns its value.
   *
   * A `ReadableStream` (or a `Blob`: its `stream()`) passed as an argument
   * or a keyword argument is uploaded: the function gets a `ReadableStream`
   * of its chunks, and the client reads the caller's stream only as the
   * node grants credit (16 chunks ahead of the function at most). When the
   * function cancels its stream or returns without reading it all, or the
   * call ends first (its `signal`, its deadline, a lost connection), the
   * caller's stream is cancelled. A call with an upload is never sent again
   * (`retries`), and not in `"mpreg-json"`.
   *
   * @example Upload a stream
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, Server } from "@mpreg/mpreg";
   * await using server = await new Server({ port: 0 })
   *   .register("size", async (file: ReadableStream<Uint8Array>) => {
   *     let bytes = 0;
   *     for await (const chunk of file) bytes += chunk.length;
   *     return bytes;
   *   })
   *   .start();
   * await using client = new Client(server.url);
   * const chunks = [new Uint8Array(1024), new Uint8Array(1024)];
   * assert.equal(await client.call("size", [ReadableStream.from(chunks)]), 2048);
   * assert.equal(await client.call("size", [new Blob(["hello"])]), 5);
   * ```
   *
   * @param fun The function's name.
   * @param args Its positional arguments, passed verbatim (streams and blobs uploaded).
   * @param options Resources, keyword arguments, deadline and signal.
   * @returns The function's result.
   * @throws {RpcError} the node's error (see `ErrorCode`), {@linkcode TimeoutError}
   *   when the deadline passes, {@linkcode CancelledError} when the signal
   *   aborts, {@linkcode ConnectionError} when the connection drops.
   * @throws {TypeError} for an upload on `"mpreg-json"`, or of a locked stream.
   */
  call(fun: string, args: unknown[] = [], options: CallOptions = {}): Promise<unknown> {
    let step: WireStep;
    try {
      step = this.#oneStep(fun, args, options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#send([step], options, false, fun);
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
    return this.#send(cmds, options, options.all ?? false) as Promise<Record<string, unknown>>;
  }

  /**
   * A typed view of this client: one method per function of the API `A`
   * (the type of the node's object or module of functions), taking the
   * function's own parameters and answering a `Promise` of its awaited
   * result. A name `A` has no function for does not compile. Each call is
   * one {@linkcode Client.call} (arguments by position); the view is a
   * `Proxy` and costs nothing more.
   *
   * @typeParam A The API: `typeof api` for the object the node registers.
   * @param options `locs`, `timeoutMs` and `signal` for every call of the view.
   * @returns The view.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, Server } from "@mpreg/mpreg";
   * const api = {
   *   add: (a: number, b: number) => a + b,
   *   async greet(name: string) {
   *     return `hello ${name}`;
   *   },
   * };
   * await using server = await new Server({ port: 0 }).registerAll(api).start();
   * await using client = new Client(server.url);
   * const remote = client.typed<typeof api>();
   * const sum: number = await remote.add(2, 3);
   * assert.equal(sum, 5);
   * assert.equal(await remote.greet("deno"), "hello deno");
   * ```
   */
  typed<A>(options: Omit<CallOptions, "kwargs"> = {}): Typed<A> {
    // One caller per name, made on first use; symbols and `then` are no
    // functions (so the view is never taken for a promise).
    const callers = new Map<string, (...args: unknown[]) => Promise<unknown>>();
    return new Proxy(Object.freeze(Object.create(null)), {
      get: (_target, name) => {
        if (typeof name !== "string" || name === "then") return undefined;
        let caller = callers.get(name);
        if (caller === undefined) {
          caller = (...args) => this.call(name, args, options);
          callers.set(name, caller);
        }
        return caller;
      },
    }) as Typed<A>;
  }

  /**
   * Starts a request of dependent steps over the API `A` whose references
   * the compiler checks; see {@linkcode TypedRequest}. `run()` sends it as
   * {@linkcode Client.request} would the same plain steps.
   *
   * @typeParam A The API: `typeof api` for the object the node registers.
   * @returns An empty request.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, Server } from "@mpreg/mpreg";
   * const api = {
   *   user: (id: number) => ({ id, name: `user ${id}` }),
   *   greet: (name: string) => `hello ${name}`,
   * };
   * await using server = await new Server({ port: 0 }).registerAll(api).start();
   * await using client = new Client(server.url);
   * const out = await client.steps<typeof api>()
   *   .step("u", (f) => f.user(7))
   *   .step("hello", (f, s) => f.greet(s.u.at("name")))
   *   .run();
   * assert.deepEqual(out, { hello: "hello user 7" });
   * ```
   */
  steps<A>(): TypedRequest<A> {
    return new TypedRequest<A>(this);
  }

  /**
   * Calls a function that streams (returns a `ReadableStream`, an async
   * iterable or a generator) and reads its chunks as they are produced. The
   * node sends at most `credit` chunks ahead of the reader, and asks the
   * producer for no more; the reader's `cancel()` (or `signal`) stops the
   * producer. Never sent again after a lost connection. Not in
   * `"mpreg-json"` (the original protocol has no streams).
   *
   * @example Read a generator's chunks
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, Server } from "@mpreg/mpreg";
   * await using server = await new Server({ port: 0 })
   *   .register("ticks", async function* (n: number) {
   *     for (let i = 1; i <= n; i++) yield `tick ${i}`;
   *   })
   *   .start();
   * await using client = new Client(server.url);
   * const got: unknown[] = [];
   * for await (const chunk of client.stream("ticks", [3])) got.push(chunk);
   * assert.deepEqual(got, ["tick 1", "tick 2", "tick 3"]);
   * ```
   *
   * @param fun The function's name.
   * @param args Its positional arguments, passed verbatim.
   * @param options Resources, keyword arguments, credit, deadlines and signal.
   * @returns The stream of chunks. It fails with the node's {@linkcode RpcError}
   *   (1003 for the producer's own error), a {@linkcode TimeoutError} when a
   *   deadline passes, or a {@linkcode ConnectionError} when the connection drops.
   * @throws {TypeError} on the `"mpreg-json"` encoding.
   * @throws {RangeError} for a credit that is not a positive integer, or a
   *   `creditBytes` that is not one of at most 64 MiB.
   */
  stream(fun: string, args: unknown[] = [], options: StreamOptions = {}): ReadableStream<unknown> {
    return this.#openStream(options, () => [this.#oneStep(fun, args, options)]);
  }

  /**
   * Runs a request of several steps whose one result step (the step no
   * other step takes) streams, and reads its chunks as {@linkcode stream}
   * does. Its other steps run as in {@linkcode request}; a step may stream
   * into the one step that takes it whole, as there.
   *
   * @example Read the stream at the end of a request
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, Server } from "@mpreg/mpreg";
   * await using server = await new Server({ port: 0 })
   *   .register("lines", function* (n: number) {
   *     for (let i = 1; i <= n; i++) yield `line ${i}`;
   *   })
   *   .register("upper", async function* (input: ReadableStream<string>) {
   *     for await (const line of input) yield line.toUpperCase();
   *   })
   *   .start();
   * await using client = new Client(server.url);
   * const stream = client.streamRequest([
   *   { name: "raw", fun: "lines", args: [2] },
   *   { name: "loud", fun: "upper", args: ["raw"] },
   * ]);
   * assert.deepEqual(await Array.fromAsync(stream), ["LINE 1", "LINE 2"]);
   * ```
   *
   * @param steps The steps; exactly one of them is not taken by another.
   * @param options Credit, deadlines, signal and progress (the steps carry
   *   their own resources and keyword arguments).
   * @returns The stream of the result step's chunks; it fails as
   *   {@linkcode stream}'s does, or with a `ProtocolError` (1004) for a
   *   request of several result steps.
   * @throws {TypeError} on the `"mpreg-json"` encoding.
   * @throws {RangeError} for a credit that is not a positive integer, or a
   *   `creditBytes` that is not one of at most 64 MiB.
   */
  streamRequest(
    steps: StepInput[],
    options: Omit<StreamOptions, "kwargs" | "locs"> = {},
  ): ReadableStream<unknown> {
    return this.#openStream(options, () => steps.map(fromInput));
  }

  /**
   * Opens the stream of a request whose steps `cmds` builds (a step it
   * cannot build fails the stream), for {@linkcode stream} and
   * {@linkcode streamRequest}.
   */
  #openStream(
    options: Omit<StreamOptions, "kwargs" | "locs">,
    cmds: () => WireStep[],
  ): ReadableStream<unknown> {
    if (this.#codec.protocol === null) {
      throw new TypeError("The original MPREG protocol has no streams: use msgpack or json");
    }
    return openStream(
      options,
      (hooks, signal) => {
        let steps: WireStep[];
        try {
          steps = cmds();
        } catch (err) {
          return Promise.reject(err);
        }
        return this.#send(
          steps,
          {
            timeoutMs: options.timeoutMs ?? STREAM_TIMEOUT_MS,
            signal,
            onProgress: options.onProgress,
          },
          false,
          undefined,
          hooks,
        );
      },
      this.#grant,
      this.#codec.encoding === "msgpack",
    );
  }

  /**
   * Closes the connection and stops reconnecting. Calls still pending fail
   * with a {@linkcode ConnectionError}.
   */
  close(): void {
    if (this.#links.closed) return;
    this.#links.close(new ConnectionError("Client closed"));
  }

  /** Closes the client; the same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  #send(
    cmds: WireStep[],
    options: CallOptions | RequestOptions,
    all: boolean,
    pick?: string,
    stream?: StreamHooks,
  ): Promise<unknown> {
    const { timeoutMs, signal } = options;
    const links = this.#links;
    if (links.closed) return Promise.reject(new ConnectionError("Client is closed"));
    if (signal?.aborted) {
      return Promise.reject(new CancelledError("Call aborted", { cause: signal.reason }));
    }
    let taken: TakenUploads | null;
    try {
      taken = takeUploads(cmds);
    } catch (err) {
      return Promise.reject(err);
    }
    if (taken !== null) {
      if (this.#codec.protocol === null) {
        return Promise.reject(
          new TypeError("The original MPREG protocol has no uploads: use msgpack or json"),
        );
      }
      cmds = taken.cmds;
    }
    const budget = timeoutMs ?? this.#timeoutMs;
    const now = Date.now();
    const id = this.#pending.nextId();
    // The node takes a positive deadline; a budget of 0 still gets an answer
    // (a timeout, unless the node is quicker than the client's own timer).
    const timeout = Math.max(1, budget);
    const frame: Pending["frame"] = { role: "rpc", u: id, cmds, timeout };
    if (all) frame.all = true;
    let tp = options.traceparent;
    if (tp !== undefined) {
      const invalid = invalidTraceparent(tp);
      if (invalid !== null) return Promise.reject(invalid);
    } else if (this.#codec.protocol !== null) {
      // Not in the original protocol (the codec would refuse it there).
      tp = activeTraceparent();
    }
    if (tp !== undefined) frame.tp = tp;
    if (taken !== null) frame.ins = taken.ins;
    if (stream !== undefined) {
      frame.stream = stream.credit;
      if (stream.bytes !== undefined) frame.streamBytes = stream.bytes;
      stream.id = id;
    }
    const onProgress = options.onProgress;
    if (onProgress !== undefined) {
      if (this.#codec.protocol === null) {
        return Promise.reject(
          new ProtocolError(
            "The original MPREG protocol has no progress reports: use msgpack or json for onProgress",
          ),
        );
      }
      frame.progress = true;
    }
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
      encoded = only !== null && only.kwargs === undefined && only.locs === undefined &&
          tp === undefined && stream === undefined && onProgress === undefined &&
          taken === null
        ? this.#codec.encodeCall(id, only.name, only.fun, only.args, timeout)
        : this.#codec.encode(frame);
    } catch (err) {
      return Promise.reject(this.#unencodable(err));
    }
    // Sent before it is registered: the batcher sends a turn's first frame
    // at once, and the TCP WebSocket writes it at once, so the bookkeeping
    // below overlaps the node's work (no answer can be read before it ends).
    const socket = links.socket;
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
      round: links.rounds + 1,
      // A stream is never sent again: its reader may have chunks already;
      // nor an upload: the node may have read some of it.
      retries: stream === undefined && taken === null ? this.#retries : 0,
      chunk: stream?.chunk,
      progress: onProgress,
    };
    if (taken !== null) {
      const base64 = this.#codec.encoding === "json";
      pending.uploads = taken.streams.map((source, i) =>
        new Upload(source, (message) => this.#sendUpload(pending, i, message), base64)
      );
    }
    this.#pending.add(
      id,
      pending,
      signal,
      signal &&
        (() => this.#cancel(pending, new CancelledError("Call aborted", { cause: signal.reason }))),
    );
    if (!connected) links.ensure();
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
    pending.socket = this.#links.socket;
    this.#enqueue(encoded);
  }

  /**
   * The one step of a `call()` or `stream()`, named after its function, its
   * arguments escaped where a node would read them as references to it.
   *
   * @throws {ProtocolError} when the arguments cannot be walked (a cycle).
   */
  #oneStep(
    fun: string,
    args: unknown[],
    options: { kwargs?: Record<string, unknown>; locs?: string[] },
  ): WireStep {
    try {
      return toWireStep(
        fun,
        fun,
        escapeSelf(args, fun) as unknown[],
        options.kwargs && escapeSelf(options.kwargs, fun) as Record<string, unknown>,
        options.locs,
      );
    } catch (err) {
      // A cycle in the arguments overflows the stack.
      throw this.#unencodable(err);
    }
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
    const socket = this.#links.socket;
    this.#batcher.maxBytes = socket !== null && isNoDelay(socket)
      ? MAX_BATCH_BYTES_TCP
      : MAX_BATCH_BYTES;
    this.#batcher.push(frame);
  }

  #cancel(pending: Pending, error: RpcError): void {
    if (!this.#pending.has(pending.id)) return;
    if (this.#codec.cancels) this.#signal(pending.id, { role: "cancel", u: pending.id });
    this.#settle(pending, error);
  }

  /**
   * Sends a message of upload `i` of a call on the socket that carries it.
   *
   * @throws {Error} when the codec cannot encode its chunk.
   */
  #sendUpload(pending: Pending, i: number, message: UploadMessage): void {
    if (this.#pending.get(pending.id) !== pending) return;
    this.#signal(pending.id, { role: "in", u: pending.id, i, ...message });
  }

  /** Sends a `cancel`, `credit` or `in` message about call `id` on the socket that carries it. */
  /** Grants a stream `n` more chunks (and `bytes` more bytes). */
  readonly #grant = (id: number, n: number, bytes?: number): void => {
    if (bytes === undefined) this.#signal(id, { role: "credit", u: id, n });
    else this.#signal(id, { role: "credit", u: id, n, bytes });
  };

  #signal(id: number, message: { role: string; u: number; [key: string]: unknown }): void {
    const socket = this.#pending.get(id)?.socket ?? null;
    if (socket === null || socket.readyState !== OPEN) return;
    const frame = this.#codec.encode(message);
    if (socket === this.#links.socket) this.#enqueue(frame);
    else socket.send(frame);
  }

  /**
   * A call failed in a way that may have run it: marks it to be sent again
   * (the node then runs it only if it is idempotent everywhere), while it has
   * retries and time left.
   */
  #retry(pending: Pending, error: RpcError): boolean {
    if (pending.retries <= 0 || pending.at - Date.now() <= 0) return false;
    pending.retries--;
    pending.mayHaveRun ??= error;
    pending.frame.retry = true;
    return true;
  }

  #settle(pending: Pending, error: RpcError | null, value?: Record<string, unknown>): void {
    this.#pending.delete(pending.id, pending);
    this.#links.settled(pending.socket);
    // The caller's streams not read to their end are cancelled.
    if (pending.uploads !== undefined) {
      const reason = error ?? new CancelledError("The call ended before its upload did");
      for (const upload of pending.uploads) upload.stop(reason);
    }
    if (error !== null) {
      // A connection failure while it was sent again: the first one says more.
      pending.reject(
        error.code === ErrorCode.Connection ? pending.mayHaveRun ?? error : error,
      );
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
    const message = decoded as {
      u?: unknown;
      r?: unknown;
      error?: WireError | null;
      chunk?: unknown;
      i?: unknown;
      credit?: unknown;
      stop?: unknown;
      progress?: unknown;
      step?: unknown;
    };
    if (message === null || typeof message !== "object") return;
    const pending = this.#pending.get(message.u as number);
    if (pending === undefined) return;
    if (message.i !== undefined) {
      // The node grants credit for an upload, or says stop: never an answer.
      const upload = pending.uploads?.[message.i as number];
      if (message.stop === true) upload?.stop(new CancelledError("The node read no more"));
      else upload?.credit(message.credit as number);
      return;
    }
    if (pending.chunk !== undefined && "chunk" in message) return pending.chunk(message.chunk);
    if ("progress" in message || "step" in message) {
      // Never an answer: a report this call did not ask for is dropped.
      if (pending.progress === undefined || typeof message.step !== "string") return;
      try {
        pending.progress(message.progress, message.step);
      } catch {
        // The caller's callback failed: the call goes on.
      }
      return;
    }
    const error = message.error;
    if (!error) {
      this.#settle(pending, null, message.r as Record<string, unknown>);
    } else if (
      error.code === ErrorCode.Unavailable &&
      (error.details as { started?: unknown } | null)?.started === false
    ) {
      pending.refusal = error;
      this.#links.refused(pending);
    } else if (
      error.code === ErrorCode.NotStarted && pending.mayHaveRun !== undefined &&
      (error.details as { idempotent?: unknown } | null)?.idempotent === false
    ) {
      // Sent again, but not safe to run twice: the failure that may have run it.
      this.#settle(pending, pending.mayHaveRun);
    } else if (
      error.code === ErrorCode.Connection && this.#retry(pending, RpcError.fromWire(error))
    ) {
      this.#links.again(pending);
    } else {
      this.#settle(pending, RpcError.fromWire(error));
    }
  }
}
