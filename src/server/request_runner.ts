// Copyright 2026 the mpreg authors. MIT license.
/**
 * Runs one request: validates its graph, routes each step, calls the
 * functions, and turns failures into {@linkcode RpcError}s that name the step.
 *
 * @module
 */
import { abortable } from "../_util/abortable.ts";
import { execute, RequestGraph } from "../engine/mod.ts";
import type { Step } from "../protocol/step.ts";
import { FunctionError, FunctionNotFoundError, RpcError } from "../protocol/errors.ts";
import type { RequestId } from "../protocol/messages.ts";
import type { CallContext, FunctionRegistry, RegisteredFunction } from "../registry/registry.ts";

/** What a {@linkcode RequestRunner} needs from its node. */
export interface RunnerOptions {
  /** The node's name, given to functions as `this.node`. */
  node: string;
  /** The node's own resources. */
  resources: ReadonlySet<string>;
  /** The node's functions. */
  registry: FunctionRegistry;
  /** Include stack traces in function errors. */
  debug: boolean;
}

/** One request to run. */
export interface RunRequest {
  /** The request id. */
  u: RequestId;
  /** The steps. */
  steps: readonly Step[];
  /** Return every step, not only the sinks. */
  all: boolean;
  /** Aborted on cancel or deadline; its reason is the error to answer. */
  signal: AbortSignal;
  /** The deadline, in milliseconds since the epoch. */
  deadline: number;
}

function describeLocs(locs: readonly string[]): string {
  return locs.length === 0 ? "" : ` with resources ${JSON.stringify(locs)}`;
}

/** Runs requests on the local node. */
export class RequestRunner {
  #options: RunnerOptions;

  /** @param options The node's registry, resources and settings. */
  constructor(options: RunnerOptions) {
    this.#options = options;
  }

  /**
   * Runs a request to completion.
   *
   * A request of one step with nothing to resolve (the shape of every
   * `client.call()`) skips the dataflow scheduler, and answers synchronously
   * when its function does.
   *
   * @param request The request.
   * @returns `{ [step]: value }` for the sinks, or every step with `all`; a
   *   plain object when every function answered synchronously.
   * @throws {RpcError} the first failure, naming the step (thrown or rejected).
   */
  run(request: RunRequest): Record<string, unknown> | Promise<Record<string, unknown>> {
    const graph = RequestGraph.build(request.steps);
    const only = request.steps.length === 1 ? request.steps[0]! : undefined;
    if (only !== undefined && !graph.needsResolution(only.name)) {
      if (request.signal.aborted) throw request.signal.reason;
      const value = this.#runStep(request, only, only.args, only.kwargs, request.signal);
      if (!(value instanceof Promise)) return { [only.name]: value };
      return abortable(value, request.signal).then((v) => ({ [only.name]: v }));
    }
    const run = (
      step: Step,
      args: unknown[],
      kwargs: Record<string, unknown>,
      signal: AbortSignal,
    ) => this.#runStep(request, step, args, kwargs, signal);
    return execute(graph, run, { signal: request.signal, all: request.all });
  }

  #find(step: Step): RegisteredFunction {
    const { registry, resources, node } = this.#options;
    const entry = registry.get(step.fun);
    if (entry !== undefined) {
      let ok = true;
      for (const loc of step.locs) {
        if (!resources.has(loc) && !entry.resources.has(loc)) {
          ok = false;
          break;
        }
      }
      if (ok) return entry;
    }
    throw new FunctionNotFoundError(
      `No node offers function "${step.fun}"${describeLocs(step.locs)} (step "${step.name}")`,
      { details: { step: step.name, fun: step.fun, locs: step.locs, node } },
    );
  }

  #runStep(
    request: RunRequest,
    step: Step,
    args: unknown[],
    kwargs: Record<string, unknown>,
    signal: AbortSignal,
  ): unknown {
    const entry = this.#find(step);
    const context: CallContext = {
      signal,
      deadline: request.deadline,
      step: step.name,
      requestId: request.u,
      node: this.#options.node,
    };
    let callArgs = args;
    for (const _ in kwargs) {
      callArgs = [...args, kwargs];
      break;
    }
    let result: unknown;
    try {
      result = entry.fn.apply(context, callArgs as never[]);
    } catch (err) {
      throw this.#functionError(step, err);
    }
    if (result instanceof Promise) {
      return result.catch((err: unknown) => {
        throw this.#functionError(step, err);
      });
    }
    return result;
  }

  #functionError(step: Step, err: unknown): RpcError {
    if (err instanceof RpcError) return err;
    const name = err instanceof Error ? err.name : typeof err;
    const message = err instanceof Error ? err.message : String(err);
    const details: Record<string, unknown> = { step: step.name, fun: step.fun, name, message };
    if (this.#options.debug && err instanceof Error && err.stack) details.stack = err.stack;
    return new FunctionError(`Step "${step.name}" (${step.fun}) failed: ${name}: ${message}`, {
      details,
      cause: err,
    });
  }
}
