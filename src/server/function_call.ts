// Copyright 2026 the mpreg authors. MIT license.
/**
 * Calls one registered function on this node: the schemas' checks around
 * it, its arguments against its parameters, metrics, the stream of a
 * streamed step, and its failures as {@linkcode RpcError}s that name the
 * step. What routes the step here is the `RequestRunner`'s.
 *
 * @module
 */
import { abortable } from "../_util/abortable.ts";
import { isPromise, type MaybePromise } from "../_util/maybe_promise.ts";
import { isRefusedUnstarted, refusedUnstarted } from "../cluster/refused.ts";
import {
  AppError,
  CancelledError,
  FunctionError,
  OverloadedError,
  ProtocolError,
  RpcError,
} from "../protocol/errors.ts";
import type { Step } from "../protocol/step.ts";
import { arityProblem } from "../registry/arity.ts";
import type { CallContext, RegisteredFunction } from "../registry/registry.ts";
import { unsupportedResult, unsupportedResultMessage } from "../registry/result_kind.ts";
import {
  ARGUMENT_STREAM_CREDIT,
  closeProducer,
  isStreamSource,
  type Producer,
  producerOf,
  ProducerSource,
  readableOf,
  type StreamSource,
} from "../registry/stream_source.ts";
import type { CheckedInput, FunctionChecks } from "../registry/validation.ts";
import type { Metrics } from "./metrics.ts";
import { settledAtEnd } from "./_settled_at_end.ts";

/** What a {@linkcode FunctionCaller} needs from its node. */
export interface FunctionCallerOptions {
  /** Include stack traces in function errors. */
  debug: boolean;
  /** Where calls are counted. */
  metrics: Metrics;
}

/**
 * How a step's stream result is taken: `true`, a streamed step (read with
 * `client.stream()`); `"may"`, a step that may stream into the one step
 * that takes it (a producer becomes a `ProducerSource`, any other value is
 * the value); `false`, a step whose stream result is refused, or
 * `{ why }` refused for a reason the request's graph gives.
 */
export type StreamMode = boolean | "may" | { readonly why: string };

/** Calls this node's functions for the `RequestRunner`. */
export class FunctionCaller {
  readonly #options: FunctionCallerOptions;

  /** @param options Stack traces, and where calls are counted. */
  constructor(options: FunctionCallerOptions) {
    this.#options = options;
  }

  /**
   * Calls a registered function: its schemas' checks around it, its
   * arguments checked against its parameters, its time and outcome counted,
   * its failures made {@linkcode RpcError}s that name the step; a streamed
   * step's value becomes a {@linkcode ProducerSource}.
   *
   * @param entry The function.
   * @param step The step, for errors.
   * @param args Its arguments, resolved.
   * @param kwargs Its keyword arguments, resolved.
   * @param context What the function sees as `this`.
   * @param streamed How a stream result is taken (see {@linkcode StreamMode}).
   * @returns The value, or a promise of it.
   * @throws {RpcError} the function's failure, naming the step.
   */
  call(
    entry: RegisteredFunction,
    step: Step,
    args: unknown[],
    kwargs: Record<string, unknown>,
    context: CallContext,
    streamed: StreamMode = false,
  ): MaybePromise<unknown> {
    if (hasStreamArgument(args, kwargs)) {
      return this.#callWithStreams(entry, step, args, kwargs, context, streamed);
    }
    return this.#dispatch(entry, step, args, kwargs, context, streamed);
  }

  /**
   * A call whose arguments are ready for the function: through its
   * schemas' checks when it has some (a sandboxed call's stream sources are
   * passed on as they are).
   */
  #dispatch(
    entry: RegisteredFunction,
    step: Step,
    args: unknown[],
    kwargs: Record<string, unknown>,
    context: CallContext,
    streamed: StreamMode,
  ): MaybePromise<unknown> {
    let hasKwargs = false;
    for (const _ in kwargs) {
      hasKwargs = true;
      break;
    }
    const checks = entry.checks;
    if (checks !== undefined) {
      return this.#callChecked(
        checks,
        entry,
        step,
        args,
        hasKwargs ? kwargs : undefined,
        context,
        streamed,
      );
    }
    return this.#callPlain(entry, step, args, kwargs, hasKwargs, context, streamed);
  }

  /**
   * A call whose arguments hold streams (a client's upload, or another
   * step's streamed value): each is given to the function as a
   * `ReadableStream` read under credit (a sandboxed function's in its
   * process, which grants the credit). A stream the function did not read
   * to its end is cancelled once its call settles; when the call's value is
   * itself a stream (its producer may still be reading them), once that
   * stream ends, fails or is cancelled. A call refused unstarted (a
   * sandbox at its cap) leaves them untouched, for the member the step goes
   * to next.
   */
  #callWithStreams(
    entry: RegisteredFunction,
    step: Step,
    args: unknown[],
    kwargs: Record<string, unknown>,
    context: CallContext,
    streamed: StreamMode,
  ): MaybePromise<unknown> {
    const sources: StreamSource[] = [];
    // A sandboxed function's pool passes the sources into its process.
    const sandboxed = entry.invoke !== undefined;
    const readable = (value: unknown): unknown => {
      if (!isStreamSource(value)) return value;
      sources.push(value);
      return sandboxed ? value : readableOf(value, ARGUMENT_STREAM_CREDIT, context.signal);
    };
    const signal = context.signal;
    const onAbort = (): void => cancelAll(signal.reason);
    let over = false;
    // Once: the call (or its stream) is over; its inputs are cancelled
    // unless it was refused unstarted.
    const end = (reason: unknown, cancel: boolean): void => {
      if (over) return;
      over = true;
      signal.removeEventListener("abort", onAbort);
      if (cancel) { for (const source of sources) source.cancel(reason); }
    };
    const cancelAll = (reason: unknown): void => end(reason, true);
    const failed = (err: unknown): never => {
      end(err, !isRefusedUnstarted(err));
      throw err;
    };
    const callArgs = args.map(readable);
    const callKwargs: Record<string, unknown> = {};
    for (const key in kwargs) callKwargs[key] = readable(kwargs[key]);
    signal.addEventListener("abort", onAbort, { once: true });
    const settled = (value: unknown): unknown =>
      settledAtEnd(value, () => cancelAll(new CancelledError("The call ended")));
    let value: MaybePromise<unknown>;
    try {
      value = this.#dispatch(entry, step, callArgs, callKwargs, context, streamed);
    } catch (err) {
      return failed(err);
    }
    if (!isPromise(value)) return settled(value);
    return value.then(settled, failed);
  }

  /**
   * A call of a function with schemas: its arguments checked (and
   * transformed) before, its result after; here, on the node that runs it
   * (a sandboxed function's too: schemas cannot cross into its process).
   * A streamed step's chunks are not checked against the result schema.
   */
  #callChecked(
    checks: FunctionChecks,
    entry: RegisteredFunction,
    step: Step,
    args: unknown[],
    kwargs: Record<string, unknown> | undefined,
    context: CallContext,
    streamed: StreamMode,
  ): MaybePromise<unknown> {
    const site = { step: step.name, fun: step.fun };
    const call = (input: CheckedInput): MaybePromise<unknown> => {
      const value = this.#callPlain(
        entry,
        step,
        input.args,
        input.kwargs ?? {},
        input.kwargs !== undefined,
        context,
        streamed,
      );
      if (!checks.checksResult || streamed === true) return value;
      const output = (v: unknown): MaybePromise<unknown> =>
        isStreamSource(v) ? v : checks.output(v, site);
      return isPromise(value) ? value.then(output) : output(value);
    };
    const input = checks.input(args, kwargs, site);
    return isPromise(input) ? abortable(input.then(call), context.signal) : call(input);
  }

  #callPlain(
    entry: RegisteredFunction,
    step: Step,
    args: unknown[],
    kwargs: Record<string, unknown>,
    hasKwargs: boolean,
    context: CallContext,
    streamed: StreamMode,
  ): MaybePromise<unknown> {
    const metrics = this.#options.metrics;
    if (entry.invoke !== undefined) {
      // Sandboxed, so asynchronous: timed with the clock of its turns.
      const done = metrics.callStarted(entry.name, true);
      // Its errors are already mpreg errors naming the step; a streamed
      // step's value is its stream, read under credit in its process, as is
      // that of a step that may stream and returns one (any other value is
      // its value). Other stream results are refused in its process.
      const mode = streamed === true || streamed === "may" ? streamed : false;
      return entry.invoke(context, args, hasKwargs ? kwargs : undefined, mode).then(
        (value) => {
          done("ok", true);
          return value;
        },
        (err: RpcError) => {
          done(err.name, true);
          // Only the sandbox's refusal at its cap is an OverloadedError here
          // (a sandboxed function's own errors arrive as 1003): it did not
          // start, and another member may take it.
          throw err instanceof OverloadedError ? refusedUnstarted(err) : err;
        },
      );
    }
    const problem = arityProblem(entry.arity, args.length, hasKwargs);
    if (problem !== undefined) {
      throw this.#argumentsError(entry, step, args.length, hasKwargs, problem);
    }
    const done = metrics.callStarted(entry.name);
    const callArgs = hasKwargs ? [...args, kwargs] : args;
    let result: unknown;
    try {
      result = entry.fn.apply(context, callArgs as never[]);
    } catch (err) {
      const error = this.#functionError(step, err);
      done(error.name);
      throw error;
    }
    if (isPromise(result)) {
      // An async function may ignore its signal: the call still ends when
      // the signal aborts (its late result is dropped).
      return abortable(
        result.then(
          (value) => {
            if (streamed === true) {
              const source = this.#source(step, value, context.signal);
              done(source instanceof ProducerSource ? "ok" : source.name, true);
              if (source instanceof ProducerSource) return source;
              throw source;
            }
            if (streamed === "may") {
              const producer = producerOf(value);
              if (producer !== undefined) {
                done("ok", true);
                return this.#producerSource(step, producer, context.signal);
              }
            }
            const kind = unsupportedResult(value);
            if (kind !== undefined) {
              const error = this.#unsupported(step, kind, value, streamed);
              done(error.name, true);
              throw error;
            }
            done("ok", true);
            return value;
          },
          (err: unknown) => {
            const error = this.#functionError(step, err);
            done(error.name, true);
            throw error;
          },
        ),
        context.signal,
      );
    }
    if (streamed === true) {
      const source = this.#source(step, result, context.signal);
      done(source instanceof ProducerSource ? "ok" : source.name);
      if (source instanceof ProducerSource) return source;
      throw source;
    }
    if (streamed === "may") {
      const producer = producerOf(result);
      if (producer !== undefined) {
        done("ok");
        return this.#producerSource(step, producer, context.signal);
      }
    }
    const kind = unsupportedResult(result);
    if (kind !== undefined) {
      const error = this.#unsupported(step, kind, result, streamed);
      done(error.name);
      throw error;
    }
    done("ok");
    return result;
  }

  /**
   * A streamed step's producer, read under credit (see `ProducerSource`), or
   * the error for a value that is not one.
   */
  #source(step: Step, value: unknown, signal: AbortSignal): ProducerSource | RpcError {
    const producer = producerOf(value);
    if (producer === undefined) return this.#notStream(step, value);
    return this.#producerSource(step, producer, signal);
  }

  #producerSource(step: Step, producer: Producer, signal: AbortSignal): ProducerSource {
    return new ProducerSource(producer, signal, (err) => this.#functionError(step, err));
  }

  #notStream(step: Step, value: unknown): RpcError {
    const what = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    return this.#functionError(
      step,
      new TypeError(
        `returned ${what}, not a stream: a function read with client.stream() returns a ` +
          "ReadableStream, an async iterable or a generator; call it with call() instead",
      ),
    );
  }

  #argumentsError(
    entry: RegisteredFunction,
    step: Step,
    received: number,
    kwargs: boolean,
    problem: string,
  ): ProtocolError {
    const { required, max } = entry.arity;
    return new ProtocolError(`Function "${entry.name}" ${problem} (step "${step.name}")`, {
      details: {
        step: step.name,
        fun: step.fun,
        expected: { required, max: max === Infinity ? null : max },
        received,
        kwargs,
      },
    });
  }

  /**
   * The error for a result that cannot be sent; a stream in it is closed
   * (nobody will read it). A step of a request says why it may not stream.
   */
  #unsupported(step: Step, kind: string, value: unknown, streamed: StreamMode): RpcError {
    closeProducer(value);
    const why = typeof streamed === "object" ? streamed.why : undefined;
    return this.#functionError(step, new TypeError(unsupportedResultMessage(kind, why)));
  }

  #functionError(step: Step, err: unknown): RpcError {
    if (err instanceof RpcError) return err;
    const app = AppError.from(err);
    if (app !== undefined) return app;
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

/** Whether a step's arguments hold a stream (top level only: a stream is never nested). */
function hasStreamArgument(args: readonly unknown[], kwargs: Record<string, unknown>): boolean {
  for (const value of args) if (isStreamSource(value)) return true;
  for (const key in kwargs) if (isStreamSource(kwargs[key])) return true;
  return false;
}
