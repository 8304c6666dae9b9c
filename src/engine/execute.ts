// Copyright 2026 the mpreg authors. MIT license.
/**
 * Runs a request graph as a dataflow: each step starts as soon as every step
 * it refers to has finished, and independent steps run at the same time.
 *
 * @module
 */
import { planOf, type RequestGraph } from "./graph.ts";
import { resolveEntries, resolveItems, walkPath } from "./references.ts";
import type { Step } from "../protocol/step.ts";

/**
 * Runs one step: calls its function, locally or elsewhere.
 *
 * `args` and `kwargs` are the step's own, with references replaced by
 * results and literal wrappers unwrapped. `signal` is aborted when the
 * request fails or is aborted while the step runs; its `reason` says why.
 * Return the result, or a promise of it; throw or reject to fail the request.
 *
 * @example An echo step runner
 * ```ts
 * import type { RunStep } from "./execute.ts";
 * const run: RunStep = (step, args) => step.fun === "echo" ? args[0] : Promise.reject(new Error("?"));
 * console.log(typeof run);
 * ```
 */
export type RunStep = (
  step: Step,
  args: unknown[],
  kwargs: Record<string, unknown>,
  signal: AbortSignal,
) => unknown;

/** Options for {@linkcode execute}. */
export interface ExecuteOptions {
  /**
   * Aborts the request: the promise rejects with `signal.reason` and the
   * running steps' signals are aborted with it. Without one, the request only
   * stops when a step fails.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Return every step's result, not only those of the sinks (the steps no
   * other step refers to).
   *
   * @default {false}
   */
  all?: boolean;
}

/**
 * Runs the steps of a graph with `run` and collects their results.
 *
 * Each step starts as soon as all the steps it refers to have finished, not
 * level by level; steps that do not depend on each other run concurrently.
 * Right before a step starts, its arguments are resolved once against the
 * results so far (steps without references or literal wrappers are passed
 * their own `args` and `kwargs`, untouched).
 *
 * On the first failure (`run` throws or rejects, or a reference walks into a
 * missing key) the returned promise rejects at once with that very error,
 * the signal given to the steps still running is aborted with it as the
 * reason, and no other step starts. The error is not wrapped: the caller
 * knows which step it came from.
 *
 * @param graph The request, checked by {@linkcode RequestGraph.build}.
 * @param run Runs one step.
 * @param options Abort signal and which results to return.
 * @returns The results of the sinks, or of every step with `all: true`, keyed
 * by step name in request order (except that, as in every JavaScript object,
 * integer-like names such as `"2"` come first, in ascending order).
 * @throws The error of the first step that fails, a {@linkcode GraphError} for a
 * reference into a missing key, or `options.signal.reason` when aborted (the
 * promise rejects; `execute` itself never throws).
 *
 * @example The README example
 * ```ts
 * import { execute, type RunStep } from "./execute.ts";
 * import { RequestGraph } from "./graph.ts";
 * const graph = RequestGraph.build([
 *   { name: "|first", fun: "echo", args: ["hi there!"], kwargs: {}, locs: [] },
 *   { name: "|second", fun: "echo", args: ["|first"], kwargs: {}, locs: [] },
 *   { name: "|third", fun: "echos", args: ["|first", "AND ME TOO"], kwargs: {}, locs: [] },
 * ]);
 * const run: RunStep = (step, args) => step.fun === "echo" ? args[0] : args;
 * console.log(await execute(graph, run));
 * // { "|second": "hi there!", "|third": [ "hi there!", "AND ME TOO" ] }
 * ```
 */
export function execute(
  graph: RequestGraph,
  run: RunStep,
  options: ExecuteOptions = {},
): Promise<Record<string, unknown>> {
  try {
    return Promise.resolve(executeNow(graph, run, options));
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Runs the steps of a graph like {@linkcode execute}, but answers in the
 * same turn when it can: when every step finishes synchronously it returns
 * the results themselves, and when a step throws synchronously (or `signal`
 * is already aborted) it throws; otherwise it returns a promise, as
 * `execute` does. A node uses it to answer a request of synchronous steps
 * without waiting for a later turn.
 *
 * @param graph The request, checked by {@linkcode RequestGraph.build}.
 * @param run Runs one step.
 * @param options Abort signal and which results to return.
 * @returns The results (see {@linkcode execute}), or a promise of them.
 * @throws The error of the first step that fails, when it fails before any
 * step has returned a promise; `options.signal.reason` when already aborted.
 *
 * @example Synchronous steps answer at once
 * ```ts
 * import { executeNow, type RunStep } from "./execute.ts";
 * import { RequestGraph } from "./graph.ts";
 * const graph = RequestGraph.build([
 *   { name: "a", fun: "echo", args: [1], kwargs: {}, locs: [] },
 *   { name: "b", fun: "echo", args: ["a"], kwargs: {}, locs: [] },
 * ]);
 * const run: RunStep = (_step, args) => args[0];
 * console.log(executeNow(graph, run)); // { b: 1 }
 * ```
 */
export function executeNow(
  graph: RequestGraph,
  run: RunStep,
  options: ExecuteOptions = {},
): Record<string, unknown> | Promise<Record<string, unknown>> {
  const { signal, all = false } = options;
  if (signal?.aborted) throw signal.reason;
  const { nodes, refs } = planOf(graph);
  const n = nodes.length;
  const results: unknown[] = new Array(n);
  const waiting: number[] = new Array(n);
  const ready: number[] = [];
  for (let i = 0; i < n; i++) {
    waiting[i] = nodes[i]!.deps.length;
    if (waiting[i] === 0) ready.push(i);
  }
  const controller = new AbortController();
  let left = n;
  let settled = false;
  let next = 0;
  let pumping = false;
  // Until a step returns a promise, the outcome is kept here; after, the
  // returned promise settles with it.
  let output: Record<string, unknown> | null = null;
  let failure: { error: unknown } | null = null;
  let resolveLater: ((out: Record<string, unknown>) => void) | null = null;
  let rejectLater: ((err: unknown) => void) | null = null;

  const onAbort = (): void => fail(signal!.reason);

  function fail(err: unknown): void {
    if (settled) return;
    settled = true;
    signal?.removeEventListener("abort", onAbort);
    if (rejectLater !== null) rejectLater(err);
    else failure = { error: err };
    controller.abort(err);
  }

  function finish(): void {
    settled = true;
    signal?.removeEventListener("abort", onAbort);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const node = nodes[i]!;
      // RequestGraph rejects the name "__proto__", so this always defines
      // an own property.
      if (all || node.dependents.length === 0) out[node.step.name] = results[i];
    }
    if (resolveLater !== null) resolveLater(out);
    else output = out;
  }

  function done(i: number, value: unknown): void {
    if (settled) return;
    results[i] = value;
    if (--left === 0) return finish();
    for (const d of nodes[i]!.dependents) if (--waiting[d]! === 0) ready.push(d);
    pump();
  }

  function start(i: number): void {
    const node = nodes[i]!;
    const step = node.step;
    let value: unknown;
    let thenable: boolean;
    try {
      let args = step.args;
      let kwargs = step.kwargs;
      if (node.resolve) {
        const substitute = (s: string): unknown => {
          const ref = refs.get(s);
          return ref === undefined ? s : walkPath(results[ref.index], ref.path, s, step.name);
        };
        args = resolveItems(args, substitute);
        kwargs = resolveEntries(kwargs, substitute);
      }
      value = run(step, args, kwargs, controller.signal);
      thenable = isThenable(value);
    } catch (err) {
      return fail(err);
    }
    if (thenable) Promise.resolve(value).then((v) => done(i, v), fail);
    else done(i, value);
  }

  // Starts the ready steps. A step that finishes synchronously queues its
  // dependents here instead of recursing, so long chains use no stack.
  function pump(): void {
    if (pumping) return;
    pumping = true;
    while (next < ready.length && !settled) {
      if (signal?.aborted) {
        fail(signal.reason);
        break;
      }
      start(ready[next++]!);
    }
    pumping = false;
  }

  pump();
  if (!settled && signal?.aborted) fail(signal.reason);
  // TypeScript does not see the closures assign these, hence the cast; the
  // box keeps a thrown `undefined` apart from no failure.
  if (failure !== null) throw (failure as { error: unknown }).error;
  if (output !== null) return output;
  return new Promise((resolve, reject) => {
    resolveLater = resolve;
    rejectLater = reject;
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}
