// Copyright 2026 the mpreg authors. MIT license.
/**
 * The runtime inside a sandbox worker.
 *
 * ## How user modules load without extra permissions (verified on Deno 2.9.6)
 *
 * A worker created with `deno: { permissions: "none" }` (or every kind
 * `false`) cannot `import()` a local file whose specifier is computed at
 * run time: Deno checks the worker's own `read` permission and throws
 * `TypeError: Requires read access to "/abs/user.ts"`. But the worker's
 * *main module graph* (its static imports, and dynamic imports written as
 * string literals) is fetched with the parent's rights, while the code still
 * *runs* with the worker's: a module that reads a file at its top level
 * still gets `NotCapable` in the worker.
 *
 * So a {@linkcode WorkerPool} never points a worker at a user module. It
 * starts each worker from a generated `data:` URL module:
 *
 * ```ts ignore
 * import { serve } from "file:///.../src/sandbox/_worker.ts";
 * serve([
 *   () => import("file:///srv/functions/a.ts"),
 *   () => import("file:///srv/functions/b.ts"),
 * ]);
 * ```
 *
 * The literal `import()`s are resolved with the module graph, and each runs
 * the first time a function from its module is defined: a module that fails
 * to load (missing file, a top-level permission denial, a throw) fails only
 * its own functions, and the worker stays up. The worker is granted exactly
 * the function's declared permissions and nothing to load it. The same holds
 * when the runtime itself is a remote module (verified with an `http:`
 * module served locally) and with `import: false`. A pool that learns a new module starts new
 * workers from a new main module and retires the old ones.
 *
 * Functions given as source (`fn.toString()`) are compiled in the worker with
 * `new Function`: they must be self-contained. Closures over the caller's
 * variables and the caller's imports are not available; use a module for
 * anything that needs imports.
 *
 * The worker also reports its own end: it wraps `close()` and `Deno.exit()`
 * and catches uncaught errors and unhandled rejections, posts an
 * {@linkcode ExitMessage}, then closes, so the pool can fail the worker's
 * calls and replace it (Deno gives the parent no event when a worker
 * closes itself).
 *
 * @module
 */
import { IdTable } from "../_util/id_table.ts";
import {
  type CallMessage,
  type CancelMessage,
  type DefineMessage,
  type FromWorker,
  functionFromSource,
  type LoadFailure,
  toWireError,
  type ToWorker,
  type WireFunctionError,
} from "./_protocol.ts";

/** Loads one user module; written as a literal `import()` in the generated main module. */
export type ModuleLoader = () => Promise<Record<string, unknown>>;

/** The parts of a worker's global scope the runtime uses, typed structurally. */
interface WorkerScope {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: MessageEvent<ToWorker[]>) => void) | null;
  addEventListener(type: string, listener: (event: Event) => void): void;
}

type AnyFunction = (...args: unknown[]) => unknown;

interface Entry {
  name: string;
  fn: AnyFunction | undefined;
  loading: Promise<void> | undefined;
  error: WireFunctionError | undefined;
}

/** A call's `this`: a {@linkcode CallContext} whose signal is made on first use. */
class WorkerCallContext {
  readonly step: string;
  readonly requestId: string | number;
  readonly node: string;
  readonly deadline: number;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  constructor(call: CallMessage) {
    this.step = call[3];
    this.requestId = call[4];
    this.node = call[5];
    this.deadline = call[6];
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  static aborted(context: WorkerCallContext): boolean {
    return context.#aborted;
  }

  static abort(context: WorkerCallContext, reason: unknown): void {
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
 * Runs the worker side of the protocol: answers define, call, cancel and
 * check messages posted by the pool, batching the replies of one batch
 * of calls (everything answered before the microtask queue drains) into one
 * message.
 *
 * @param loaders One loader per user module, indexed as in define messages.
 */
export function serve(loaders: readonly ModuleLoader[]): void {
  const scope = globalThis as unknown as WorkerScope;
  const post = scope.postMessage.bind(scope);
  const realClose = scope.close.bind(scope);
  const realExit = Deno.exit;
  const functions = new Map<number, Entry>();
  const modules = new Map<number, Promise<Record<string, unknown>>>();
  const calls = new IdTable<WorkerCallContext>();
  let outbox: FromWorker[] = [];
  let scheduled = false;
  let exiting = false;

  const flush = (): void => {
    scheduled = false;
    if (outbox.length === 0) return;
    const batch = outbox;
    outbox = [];
    try {
      post(batch);
    } catch {
      // Some value cannot be cloned: send one by one, failing the culprits.
      for (const message of batch) {
        try {
          post([message]);
        } catch (err) {
          if (!Array.isArray(message)) continue;
          post([{
            id: message[0],
            error: {
              name: err instanceof Error ? err.name : "DataCloneError",
              message: `The result cannot be sent back: ${
                err instanceof Error ? err.message : err
              }`,
              phase: "call",
            },
          }]);
        }
      }
    }
  };
  const send = (message: FromWorker): void => {
    outbox.push(message);
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(flush);
    }
  };
  const exit = (why: string): void => {
    if (exiting) return;
    exiting = true;
    flush();
    post([{ exit: why }]);
  };

  // Deno tells the parent nothing when a worker closes itself: announce it.
  try {
    scope.close = (): void => {
      exit("called close()");
      realClose();
    };
    Object.defineProperty(Deno, "exit", {
      value: (code?: number): never => {
        exit(`called Deno.exit(${code ?? ""})`);
        return realExit(code);
      },
    });
  } catch {
    // Not replaceable in this Deno: the pool then only sees such a worker stop answering.
  }
  scope.addEventListener("error", (event) => {
    event.preventDefault();
    exit(`threw ${(event as ErrorEvent).message}`);
    realClose();
  });
  scope.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    const reason = (event as PromiseRejectionEvent).reason;
    exit(`left a rejected promise unhandled: ${reason instanceof Error ? reason.message : reason}`);
    realClose();
  });

  const loadModule = (index: number): Promise<Record<string, unknown>> => {
    let loading = modules.get(index);
    if (loading === undefined) {
      const loader = loaders[index];
      loading = loader === undefined
        ? Promise.reject(new RangeError(`No module loader #${index} in this worker`))
        : loader();
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

  const finish = (id: number, result: unknown, failed: boolean): void => {
    calls.delete(id);
    if (failed) send({ id, error: toWireError(result, "call") });
    else send([id, result]);
  };

  const run = (entry: Entry, message: CallMessage, context: WorkerCallContext): void => {
    const id = message[0];
    if (entry.error !== undefined) {
      calls.delete(id);
      send({ id, error: entry.error });
      return;
    }
    if (WorkerCallContext.aborted(context)) {
      // Cancelled before it started (while its module loaded): never run it.
      finish(id, context.signal.reason, true);
      return;
    }
    const kwargs = message[7];
    const args = kwargs === undefined ? message[2] : [...message[2], kwargs];
    let result: unknown;
    try {
      result = entry.fn!.apply(context, args);
    } catch (err) {
      finish(id, err, true);
      return;
    }
    if (isThenable(result)) {
      Promise.resolve(result).then(
        (value) => finish(id, value, false),
        (err: unknown) => finish(id, err, true),
      );
    } else {
      finish(id, result, false);
    }
  };

  const call = (message: CallMessage): void => {
    const entry = functions.get(message[1]);
    if (entry === undefined) {
      send({
        id: message[0],
        error: {
          name: "ReferenceError",
          message: `Function #${message[1]} is not defined in this worker`,
          phase: "load",
        },
      });
      return;
    }
    const context = new WorkerCallContext(message);
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
      WorkerCallContext.abort(context, new DOMException(message.message, message.name));
    }
  };

  const check = async (id: number): Promise<void> => {
    await Promise.all([...functions.values()].map((entry) => entry.loading));
    const failures: LoadFailure[] = [];
    for (const [fn, entry] of functions) {
      if (entry.error !== undefined) failures.push({ fn, name: entry.name, error: entry.error });
    }
    send([id, failures]);
  };

  scope.onmessage = (event: MessageEvent<ToWorker[]>): void => {
    for (const message of event.data) {
      if (Array.isArray(message)) call(message);
      else if ("cancel" in message) cancel(message);
      else if ("define" in message) define(message);
      else if ("check" in message) void check(message.check);
    }
  };
  post([{ ready: true }]);
}
