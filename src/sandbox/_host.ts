// Copyright 2026 the mpreg authors. MIT license.
/**
 * The runtime inside a sandbox process.
 *
 * A {@linkcode WorkerPool} starts each sandbox as a child Deno process, run
 * with exactly the permission flags its functions declare (and nothing
 * else: no prompt, no environment beyond what it declares, a V8 heap limit),
 * from a generated `data:` URL main module:
 *
 * ```ts ignore
 * import { serve } from "file:///.../src/sandbox/_host.ts";
 * serve([
 *   () => import("file:///srv/functions/a.ts"),
 *   () => import("file:///srv/functions/b.ts"),
 * ]);
 * ```
 *
 * ## Why the module graph is checked first (verified on Deno 2.9.6)
 *
 * Deno loads a process's *main module graph* (its static imports, and the
 * dynamic imports written as string literals) without permission checks,
 * whatever the process's flags: a module with no `read` that imports
 * `../node.yaml` as text gets the file. Imports computed at run time, and
 * everything they import in turn, are checked against the process's own
 * flags. So the pool lets a module into a main module only after
 * `checkModuleGraph()` found every module and file its graph reaches to be
 * within what the function may read (`docs/security.md` gives the rule).
 *
 * The literal `import()`s run the first time a function from their module is
 * defined: a module that fails to load (a throw, a permission denial at its
 * top level) fails only its own functions, and the process stays up.
 *
 * Functions given as source (`fn.toString()`) are compiled here with
 * `new Function`: they must be self-contained.
 *
 * ## The channel
 *
 * The process connects to the Unix socket its pool listens on (it is started
 * with `read`, `write` and `net` grants for that one path, revoked as soon as it
 * is connected, before any function loads) and says `ready` with the token it
 * was given. Frames (see `_frames.ts`) go both ways on that socket; stdout and
 * stderr are the node's, so a function's output shows up there. The process
 * ends when the socket closes (its node is gone).
 *
 * The process says how it ends: it wraps `close()` and `Deno.exit()` and
 * catches uncaught errors and unhandled rejections, writes a line starting
 * with {@linkcode EXIT_MARKER} to stderr (synchronously, so it is never lost),
 * then exits.
 *
 * @module
 */
import { Unpackr } from "npm:msgpackr@^2.1.4/unpack";
import { concatBytes } from "../_util/concat.ts";
import { type Arity, arityOf, arityProblem } from "../registry/arity.ts";
import { unsupportedResult, unsupportedResultMessage } from "../registry/result_kind.ts";
import { RpcError } from "../protocol/errors.ts";
import {
  closeProducer,
  producerOf,
  ProducerSource,
  readableOf,
} from "../registry/stream_source.ts";
import { HostInput } from "./_host_input.ts";
import { IdTable } from "../_util/id_table.ts";
import { ProgressReporter } from "../registry/progress_reporter.ts";
import { FramePacker, FrameReader } from "./_frames.ts";
import {
  type CallMessage,
  type CancelMessage,
  type CreditMessage,
  type DefineMessage,
  EXIT_MARKER,
  type FromWorker,
  functionFromSource,
  type HostArgs,
  type InputMessage,
  type LoadFailure,
  toWireError,
  type ToWorker,
  type WireFunctionError,
} from "./_protocol.ts";

/** Loads one user module; written as a literal `import()` in the generated main module. */
export type ModuleLoader = () => Promise<Record<string, unknown>>;

type AnyFunction = (...args: unknown[]) => unknown;

interface Entry {
  name: string;
  fn: AnyFunction | undefined;
  loading: Promise<void> | undefined;
  error: WireFunctionError | undefined;
  /** Read from `fn` on its first call. */
  arity?: Arity;
  /** Compiled from its source text (`register()` with permissions), not imported. */
  fromSource?: boolean;
}

/**
 * A call's `this`: a {@linkcode CallContext} whose signal is made on first
 * use, and whose progress reports go to the pool, coalesced.
 */
class HostCallContext {
  readonly step: string;
  readonly requestId: string | number;
  readonly node: string;
  readonly deadline: number;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  readonly #report: (value: unknown) => void;
  #reporter: ProgressReporter | undefined;
  #ended = false;

  constructor(call: CallMessage, report: (value: unknown) => void) {
    this.step = call[3];
    this.requestId = call[4];
    this.node = call[5];
    this.deadline = call[6];
    this.#report = report;
  }

  /** Reports the call's progress to the node (see `CallContext.progress`). */
  progress(value: unknown): void {
    if (this.#ended) return;
    (this.#reporter ??= new ProgressReporter(this.#report)).report(value);
  }

  /** The call ended: its last report goes now, before its answer; later ones are dropped. */
  static end(context: HostCallContext): void {
    context.#ended = true;
    context.#reporter?.end();
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  static aborted(context: HostCallContext): boolean {
    return context.#aborted;
  }

  static abort(context: HostCallContext, reason: unknown): void {
    if (context.#aborted) return;
    context.#aborted = true;
    context.#reason = reason;
    context.#controller?.abort(reason);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

/**
 * Runs the process side of the protocol: connects to the pool, then answers
 * define, call, cancel, check and exports messages, batching the replies of
 * one batch of calls (everything answered before the microtask queue
 * drains) into one frame.
 *
 * @param loaders One loader per user module, indexed as in define messages.
 * @returns Never: the process exits when its channel closes.
 */
export async function serve(loaders: readonly ModuleLoader[]): Promise<void> {
  const args = JSON.parse(Deno.args[0] ?? "{}") as HostArgs;
  const maxFrameBytes = args.maxFrameBytes;
  const realExit = Deno.exit;
  const encoder = new TextEncoder();
  const conn = await Deno.connect({ transport: "unix", path: args.socket });
  // The socket was this process's only reason for these grants.
  for (const name of args.revoke) {
    await Deno.permissions.revoke(
      name === "net" ? { name, host: `unix:${args.socket}` } : { name, path: args.socket },
    );
  }

  const packer = new FramePacker();
  const unpackr = new Unpackr({
    useRecords: false,
    mapsAsObjects: true,
    int64AsType: "number",
    copyBuffers: true,
  });
  const functions = new Map<number, Entry>();
  const modules = new Map<number, Promise<Record<string, unknown>>>();
  const calls = new IdTable<HostCallContext>();
  /** The producers of streamed calls, read under the credit their pool grants. */
  const streams = new Map<number, ProducerSource>();
  /** The stream arguments of calls under way, by call. */
  const inputs = new Map<number, HostInput[]>();
  let outbox: FromWorker[] = [];
  let scheduled = false;
  let exiting = false;

  // Frames written while a write is under way wait here and go out together.
  let queued: Uint8Array[] = [];
  let writing = false;
  const die = (why: string): never => {
    if (!exiting) {
      exiting = true;
      try {
        Deno.stderr.writeSync(encoder.encode(`${EXIT_MARKER}${why}\n`));
      } catch {
        // Nobody to tell.
      }
    }
    return realExit(1);
  };
  const drain = async (): Promise<void> => {
    writing = true;
    try {
      while (queued.length > 0) {
        const frames = queued;
        queued = [];
        const bytes = frames.length === 1 ? frames[0]! : concatBytes(frames);
        for (let at = 0; at < bytes.byteLength;) at += await conn.write(bytes.subarray(at));
      }
    } catch (err) {
      die(`lost its channel: ${err instanceof Error ? err.message : err}`);
    }
    writing = false;
  };
  const writeFrame = (frame: Uint8Array): void => {
    queued.push(frame);
    if (!writing) void drain();
  };

  /** A call ended: its stream arguments fail for a reader that still holds them. */
  const endInputs = (id: number): void => {
    const ended = inputs.get(id);
    if (ended === undefined) return;
    inputs.delete(id);
    for (const input of ended) input.error(new Error("The call ended"));
  };

  /** Writes a batch; a message that cannot be packed, or is too large, fails its call alone. */
  const write = (batch: FromWorker[], failed?: Set<number>): void => {
    let frame: Uint8Array | undefined;
    try {
      frame = packer.pack(batch);
    } catch {
      frame = undefined;
    }
    if (frame !== undefined && frame.byteLength - 4 <= maxFrameBytes) {
      writeFrame(frame);
      return;
    }
    if (batch.length === 1) {
      const message = batch[0]!;
      const id = idOf(message);
      if (id === undefined) return;
      const what = "chunk" in message ? "A chunk of the stream" : "The result";
      let why: string;
      try {
        const size = packer.pack([message]).byteLength - 4;
        why = `${what} is ${size} bytes, over the sandbox's limit of ${maxFrameBytes}`;
      } catch (err) {
        why = `${what} cannot be sent back: ${err instanceof Error ? err.message : err}`;
      }
      // A stream that cannot send a chunk ends with this error: its producer is closed.
      const stream = streams.get(id);
      if (stream !== undefined) {
        streams.delete(id);
        calls.delete(id);
        endInputs(id);
        stream.cancel(why);
      }
      writeFrame(
        packer.pack([{ id, error: { name: "DataCloneError", message: why, phase: "call" } }]),
      );
      failed?.add(id);
      return;
    }
    // One at a time; after a failure, nothing more of that call goes.
    const failedIds = new Set<number>();
    for (const message of batch) {
      const id = idOf(message);
      if (id === undefined || !failedIds.has(id)) write([message], failedIds);
    }
  };
  const flush = (): void => {
    scheduled = false;
    if (outbox.length === 0) return;
    const batch = outbox;
    outbox = [];
    write(batch);
  };
  const send = (message: FromWorker): void => {
    outbox.push(message);
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(flush);
    }
  };
  // Report every way this process can end, then end it.
  const g = globalThis as unknown as {
    close?: () => void;
    addEventListener(type: string, listener: (event: Event) => void): void;
  };
  g.close = (): void => {
    die("called close()");
  };
  Object.defineProperty(Deno, "exit", {
    value: (code?: number): never => {
      die(`called Deno.exit(${code ?? ""})`);
      return realExit(code);
    },
    configurable: true,
  });
  g.addEventListener("error", (event) => {
    event.preventDefault();
    die(`threw ${(event as ErrorEvent).message}`);
  });
  g.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    const reason = (event as PromiseRejectionEvent).reason;
    die(`left a rejected promise unhandled: ${reason instanceof Error ? reason.message : reason}`);
  });

  const loadModule = (index: number): Promise<Record<string, unknown>> => {
    let loading = modules.get(index);
    if (loading === undefined) {
      const loader = loaders[index];
      loading = loader === undefined
        ? Promise.reject(new RangeError(`No module loader #${index} in this process`))
        : loader();
      // Failures are read through `define` and `exports`; never unhandled.
      loading.catch(() => {});
      modules.set(index, loading);
    }
    return loading;
  };

  const define = (message: DefineMessage): void => {
    const entry: Entry = {
      name: message.name,
      fn: undefined,
      loading: undefined,
      error: undefined,
    };
    functions.set(message.define, entry);
    if (message.source !== undefined) {
      entry.fromSource = true;
      try {
        entry.fn = functionFromSource(message.source);
      } catch (err) {
        entry.error = toWireError(err, "load");
      }
      return;
    }
    const exportName = message.exportName ?? message.name;
    entry.loading = loadModule(message.module ?? -1).then((namespace) => {
      const fn = namespace[exportName];
      if (typeof fn !== "function") {
        throw new TypeError(
          `The module has no function export "${exportName}" (found ${typeof fn})`,
        );
      }
      entry.fn = fn as AnyFunction;
    }).catch((err: unknown) => {
      entry.error = toWireError(err, "load");
    });
  };

  const finish = (id: number, result: unknown, failed: boolean, entry?: Entry): void => {
    const context = calls.get(id);
    if (context !== undefined) HostCallContext.end(context);
    calls.delete(id);
    endInputs(id);
    if (!failed) {
      send([id, result]);
      return;
    }
    const error = toWireError(result, "call");
    if (entry?.fromSource && result instanceof ReferenceError) {
      // The usual cause: the function used a variable from around it, which
      // its source text does not carry into this process.
      error.message += `: "${entry.name}" runs in a sandbox (it was registered with ` +
        "permissions or sandbox: true), compiled from its source text in another process, " +
        "without the variables around it; pass what it needs " +
        "as arguments, or export it from a module and register that module " +
        "(registerModule(), or `functions: - module:` in the YAML)";
    }
    send({ id, error });
  };

  /** Sends a result, or the error for one that only a stream may return. */
  const finishChecked = (id: number, result: unknown): void => {
    const kind = unsupportedResult(result);
    if (kind === undefined) return finish(id, result, false);
    closeProducer(result);
    finish(id, new TypeError(unsupportedResultMessage(kind)), true);
  };

  /**
   * Starts the stream of a streamed call: says `stream`, then reads the
   * producer only as far as the pool's credit allows (none yet).
   */
  const startStream = (
    id: number,
    result: unknown,
    context: HostCallContext,
    entry: Entry,
  ): void => {
    const producer = producerOf(result);
    if (producer === undefined) {
      const what = result === null ? "null" : Array.isArray(result) ? "an array" : typeof result;
      return finish(
        id,
        new TypeError(
          `returned ${what}, not a stream: a function read with client.stream() returns a ` +
            "ReadableStream, an async iterable or a generator; call it with call() instead",
        ),
        true,
      );
    }
    if (HostCallContext.aborted(context)) {
      closeProducer(producer);
      return finish(id, context.signal.reason, true);
    }
    let count = 0;
    const source = new ProducerSource(producer, context.signal, (err) => err);
    streams.set(id, source);
    send({ stream: id });
    source.start({
      chunk(value): void {
        count++;
        send({ chunk: id, value });
      },
      end(): void {
        streams.delete(id);
        finish(id, count, false);
      },
      error(err): void {
        streams.delete(id);
        finish(id, err, true, entry);
      },
    }, 0);
  };

  const run = (entry: Entry, message: CallMessage, context: HostCallContext): void => {
    const id = message[0];
    if (entry.error !== undefined) {
      calls.delete(id);
      send({ id, error: entry.error });
      return;
    }
    if (HostCallContext.aborted(context)) {
      // Cancelled before it started (while its module loaded): never run it.
      finish(id, context.signal.reason, true);
      return;
    }
    const kwargs = message[7] ?? undefined;
    // 1: the function's stream; 2: its stream if it returns one, else its value.
    const streamed = message[8] === 1;
    const may = message[8] === 2;
    const arity = entry.arity ??= arityOf(entry.fn!);
    const problem = arityProblem(arity, message[2].length, kwargs !== undefined);
    if (problem !== undefined) {
      calls.delete(id);
      const { required, max } = arity;
      send({
        id,
        error: {
          name: "ProtocolError",
          message: problem,
          phase: "arguments",
          call: {
            required,
            max: max === Infinity ? null : max,
            received: message[2].length,
            kwargs: kwargs !== undefined,
          },
        },
      });
      return;
    }
    const where = message[9];
    if (where !== undefined) {
      // Its stream arguments, read as the function reads them.
      const made = where.map((_, k) => new HostInput(id, k, send));
      inputs.set(id, made);
      where.forEach((at, k) => {
        const readable = readableOf(made[k]!);
        if (typeof at === "number") message[2][at] = readable;
        else if (kwargs !== undefined) kwargs[at] = readable;
      });
    }
    const callArgs = kwargs === undefined ? message[2] : [...message[2], kwargs];
    let result: unknown;
    try {
      result = entry.fn!.apply(context, callArgs);
    } catch (err) {
      finish(id, err, true, entry);
      return;
    }
    const answer = (value: unknown): void => {
      if (streamed || (may && producerOf(value) !== undefined)) {
        startStream(id, value, context, entry);
      } else finishChecked(id, value);
    };
    if (isThenable(result)) {
      Promise.resolve(result).then(answer, (err: unknown) => finish(id, err, true, entry));
    } else answer(result);
  };

  const call = (message: CallMessage): void => {
    const entry = functions.get(message[1]);
    if (entry === undefined) {
      send({
        id: message[0],
        error: {
          name: "ReferenceError",
          message: `Function #${message[1]} is not defined in this process`,
          phase: "load",
        },
      });
      return;
    }
    const id = message[0];
    const context = new HostCallContext(message, (value) => send({ progress: id, value }));
    calls.set(message[0], context);
    if (entry.fn === undefined && entry.error === undefined) {
      entry.loading!.then(() => run(entry, message, context));
    } else {
      run(entry, message, context);
    }
  };

  const cancel = (message: CancelMessage): void => {
    const context = calls.get(message.cancel);
    if (context !== undefined) {
      HostCallContext.abort(context, new DOMException(message.message, message.name));
    }
  };

  const input = (message: InputMessage): void => {
    const target = inputs.get(message.input)?.[message.k];
    if (target === undefined) return;
    if (message.end) target.end();
    else if (message.error !== undefined) target.error(RpcError.fromWire(message.error));
    else target.chunk(message.value);
  };

  const credit = (message: CreditMessage): void => {
    streams.get(message.credit)?.credit(message.n);
  };

  const check = async (id: number): Promise<void> => {
    await Promise.all([...functions.values()].map((entry) => entry.loading));
    const failures: LoadFailure[] = [];
    for (const [fn, entry] of functions) {
      if (entry.error !== undefined) failures.push({ fn, name: entry.name, error: entry.error });
    }
    send([id, failures]);
  };

  const exports = async (id: number, index: number): Promise<void> => {
    try {
      const namespace = await loadModule(index);
      const names = Object.keys(namespace)
        .filter((name) => name !== "default" && typeof namespace[name] === "function")
        .sort();
      send([id, names]);
    } catch (err) {
      send({ id, error: toWireError(err, "load") });
    }
  };

  const dispatch = (batch: ToWorker[]): void => {
    for (const message of batch) {
      if (Array.isArray(message)) call(message);
      else if ("input" in message) input(message);
      else if ("credit" in message) credit(message);
      else if ("cancel" in message) cancel(message);
      else if ("define" in message) define(message);
      else if ("check" in message) void check(message.check);
      else if ("exports" in message) void exports(message.exports, message.module);
    }
  };

  write([{ ready: args.token }]);
  const reader = new FrameReader(Number.MAX_SAFE_INTEGER);
  const buffer = new Uint8Array(256 * 1024);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      // Every frame of this chunk is decoded before the next read reuses the buffer.
      for (const frame of reader.push(buffer.subarray(0, n))) {
        dispatch(unpackr.unpack(frame) as ToWorker[]);
      }
    }
  } catch (err) {
    die(`lost its channel: ${err instanceof Error ? err.message : err}`);
  }
  // The node closed the channel: it is gone or done with this process.
  realExit(0);
}

/** The call a message from the process is about, if any. */
function idOf(message: FromWorker): number | undefined {
  if (Array.isArray(message)) return message[0];
  if ("id" in message) return message.id;
  if ("chunk" in message) return message.chunk;
  if ("stream" in message) return message.stream;
  return undefined;
}
