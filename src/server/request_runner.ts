// Copyright 2026 the mpreg authors. MIT license.
/**
 * Runs requests: validates the graph, routes each step to this node or
 * another member, and calls the functions here through a
 * {@linkcode FunctionCaller}.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { isPromise, type MaybePromise } from "../_util/maybe_promise.ts";
import type { Principal } from "../auth/authenticator.ts";
import type { GrantAgreement } from "../cluster/grant_agreement.ts";
import type { ForwardOptions, RelayOutcome, RelayStep } from "../cluster/cluster_node_types.ts";
import { executeNow } from "../engine/execute.ts";
import { RequestGraph } from "../engine/graph.ts";
import { streamPlan } from "../engine/stream_plan.ts";
import { handoffPlan } from "../engine/handoff_plan.ts";
import { type ChainLink, chainPlan } from "../engine/chain_plan.ts";
import { planOf } from "../engine/graph.ts";
import { resolveEntries, resolveItems } from "../engine/references.ts";
import { hasHeld, type HeldValue } from "../cluster/held_value.ts";
import { FunctionNotFoundError, NotStartedError, ProtocolError } from "../protocol/errors.ts";
import type { RequestId } from "../protocol/messages.ts";
import type { Step } from "../protocol/step.ts";
import type { CallContext, FunctionRegistry, RegisteredFunction } from "../registry/registry.ts";
import { inRequestContext } from "./_log_context.ts";
import { settledAtEnd } from "./_settled_at_end.ts";
import { FunctionCaller, type StreamMode } from "./function_call.ts";
import type { Metrics } from "./metrics.ts";
import { ignoreProgress, ProgressReporter } from "../registry/progress_reporter.ts";
import {
  endWith,
  failSpan,
  startRequestSpan,
  startSpan,
  traceparentOf,
  tracingEnabled,
  withSpan,
} from "./tracing.ts";

/** Where steps run when they do not run here. */
export interface StepRouter {
  /** Whether a step this node offers always runs here. */
  readonly preferLocal: boolean;
  /** The member to run a step, `{ self: true }` for this node, or `null` for none. */
  choose(fun: string, locs: readonly string[]): { readonly self: boolean } | null;
  /** Runs a step elsewhere (or here via `runLocal`), with retries when it provably did not start. */
  runElsewhere(
    step: Step,
    first: { readonly self: boolean; readonly name: string } | null,
    signal: AbortSignal,
    deadline: number,
    runLocal: () => unknown,
    options: ForwardOptions,
  ): Promise<unknown>;
  /**
   * Runs a chain of steps as a relay, member to member; `null` when it
   * cannot (then it runs step by step).
   */
  relay(
    chain: readonly RelayStep[],
    signal: AbortSignal,
    deadline: number,
    options: Pick<ForwardOptions, "requestId" | "principal" | "traceparent">,
  ): Promise<RelayOutcome> | null;
  /**
   * Fetches the values held on other members among a step's arguments
   * (direct handoff), for a step this node runs itself.
   */
  fetchHeld(
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<{ args: unknown[]; kwargs: Record<string, unknown> }>;
  /** The permission kinds other members declare for `fun` (their union). */
  declaredElsewhere(fun: string): readonly string[];
  /**
   * Whether every other known member that offers `fun` registered it
   * idempotent; `undefined` when none offers it.
   */
  idempotentElsewhere(fun: string): boolean | undefined;
  /**
   * Before any step starts: makes sure every member that may run one of
   * `steps` agrees that `principal` may run it there. `null` (at once, in
   * the common case) when no member had to be asked.
   */
  admit(
    principal: string,
    steps: readonly Step[],
    signal: AbortSignal,
    deadline: number,
  ): MaybePromise<GrantAgreement | null>;
}

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
  /** Where calls are counted. */
  metrics: Metrics;
}

/** One request to run. */
export interface RunRequest {
  /**
   * The request's id, unique on the node it entered (`<node>#<n>`): what
   * its log lines carry, on every node that runs one of its steps.
   */
  id: string;
  /** The request id the client chose. */
  u: RequestId;
  /** The steps. */
  steps: readonly Step[];
  /** Return every step, not only the sinks. */
  all: boolean;
  /** Aborted on cancel or deadline; its reason is the error to answer. */
  signal: AbortSignal;
  /** The deadline, in milliseconds since the epoch. */
  deadline: number;
  /** Who is calling; every step is checked against its grant first. */
  principal: Principal;
  /**
   * Sent again after a failure that may have run it: runs only when every
   * step's function is idempotent wherever it is offered.
   */
  retry?: boolean;
  /**
   * The W3C `traceparent` of the caller's span: the request's span is its
   * child (without it, the root of a trace of its own).
   */
  traceparent?: string;
  /**
   * A streamed request: its initial credit, in chunks. Its one result step
   * (its only step, or its only sink) then has a `StreamSource` as its
   * value instead of a refusal.
   */
  stream?: number | undefined;
  /** With `stream`: its initial byte credit (none: chunks only). */
  streamBytes?: number | undefined;
  /**
   * Takes the progress reports of the request's steps (already coalesced:
   * see {@linkcode ProgressReporter}), when the caller asked for them.
   */
  progress?: ((step: string, value: unknown) => void) | undefined;
}

const log = getLogger(["mpreg", "server", "request"]);

/** How one step of a request runs, beyond its arguments. */
interface StepPlan {
  /** How a stream result is taken. */
  readonly mode: StreamMode;
  /**
   * A step whose value may stay on the member that makes it (direct
   * handoff): takes the {@linkcode HeldValue} the member answers instead.
   */
  readonly keep?: ((held: HeldValue) => void) | undefined;
  /** Values of the request may be held elsewhere: fetch those among the arguments here. */
  readonly holds?: boolean;
}

/** A lone step's plans, shared (the hot path of every `client.call()`). */
const PLAIN: StepPlan = { mode: false };
const STREAMED: StepPlan = { mode: true };

/**
 * `{ [name]: value }`, built by assignment: V8 sends a computed key in an
 * object literal through its runtime on every call, 3 % of the node's time
 * per call in a `--prof` profile (one call at a time). Step names are never
 * `"__proto__"` (the graph refuses it), so assignment defines an own
 * property here just as the literal would.
 */
function resultOf(name: string, value: unknown): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  result[name] = value;
  return result;
}

/** Runs requests on this node and, through a {@linkcode StepRouter}, across the cluster. */
export class RequestRunner {
  readonly #options: RunnerOptions;
  readonly #caller: FunctionCaller;
  #router: StepRouter | null = null;

  /** @param options The node's registry, resources and settings. */
  constructor(options: RunnerOptions) {
    this.#options = options;
    this.#caller = new FunctionCaller({ debug: options.debug, metrics: options.metrics });
  }

  /** Routes steps through the cluster from now on; `null` runs everything here. */
  set router(router: StepRouter | null) {
    this.#router = router;
  }

  /**
   * Runs a request to completion.
   *
   * A request of one step with nothing to resolve (the shape of every
   * `client.call()`) skips the dataflow scheduler. A request whose steps all
   * run here synchronously is answered synchronously.
   *
   * @param request The request.
   * @returns `{ [step]: value }` for the sinks, or every step with `all`; a
   *   plain object when every function answered synchronously.
   * @throws {RpcError} the first failure, naming the step (thrown or rejected).
   */
  run(request: RunRequest): MaybePromise<Record<string, unknown>> {
    // With LogTape's context storage configured (server.ts does), every log
    // line written while the request runs, by mpreg or by its functions,
    // carries the request's id.
    return inRequestContext(request.id, this.#options.node, () => {
      if (log.isEnabledFor("debug")) {
        log.debug("Request {requestId} from {principal}: {steps}", {
          requestId: request.id,
          u: request.u,
          principal: request.principal.name,
          node: this.#options.node,
          steps: request.steps.map((step) => `${step.name}:${step.fun}`),
        });
      }
      return this.#traced(request);
    });
  }

  #traced(request: RunRequest): MaybePromise<Record<string, unknown>> {
    if (!tracingEnabled()) return this.#run(request);
    const span = startRequestSpan("mpreg.request", {
      "mpreg.request_id": request.id,
      "mpreg.steps": request.steps.length,
      "mpreg.principal": request.principal.name,
      "mpreg.node": this.#options.node,
    }, request.traceparent);
    try {
      return endWith(span, withSpan(span, () => this.#run(request)));
    } catch (err) {
      failSpan(span, err);
      throw err;
    }
  }

  #run(request: RunRequest): MaybePromise<Record<string, unknown>> {
    const steps = request.steps;
    if (request.retry === true) this.#checkIdempotent(steps);
    // A lone step whose arguments need no resolving (every `client.call()`)
    // is checked as a graph would check it, and skips the dataflow scheduler.
    if (steps.length === 1 && !RequestGraph.checkAlone(steps[0]!)) {
      const only = steps[0]!;
      this.#authorize(request);
      const agreement = this.#agree(request);
      if (isPromise(agreement)) {
        return agreement.then((agreed) => this.#runAlone(request, only, agreed));
      }
      return this.#runAlone(request, only, agreement);
    }
    const graph = RequestGraph.build(steps);
    if (request.stream !== undefined && graph.sinks.length !== 1) {
      throw new ProtocolError(
        `A streamed request has exactly one result step (a step no other step takes), ` +
          `not ${graph.sinks.length}: ${graph.sinks.map((s) => JSON.stringify(s)).join(", ")}`,
        { details: { sinks: graph.sinks } },
      );
    }
    this.#authorize(request);
    const agreement = this.#agree(request);
    if (isPromise(agreement)) {
      return agreement.then((agreed) => this.#execute(request, graph, agreed, true));
    }
    return this.#execute(request, graph, agreement, true);
  }

  #runAlone(
    request: RunRequest,
    only: Step,
    agreement: GrantAgreement | null,
  ): MaybePromise<Record<string, unknown>> {
    if (request.signal.aborted) throw request.signal.reason;
    const value = this.#route(
      request,
      only,
      only.args,
      only.kwargs,
      request.signal,
      agreement,
      request.stream === undefined ? PLAIN : STREAMED,
    );
    if (!isPromise(value)) return resultOf(only.name, value);
    // Every path that returns a promise (inline, sandboxed, forwarded)
    // already settles when the signal aborts.
    return value.then((v) => resultOf(only.name, v));
  }

  #execute(
    request: RunRequest,
    graph: RequestGraph,
    agreement: GrantAgreement | null,
    relay: boolean,
  ): MaybePromise<Record<string, unknown>> {
    if (relay) {
      const relayed = this.#relayChain(request, graph, agreement);
      if (relayed !== null) return relayed;
    }
    // A step whose value only one other step takes, whole, may stream into
    // it; the sink of a streamed request streams to the client.
    const plan = streamPlan(graph, request.all);
    const streamed = request.stream !== undefined;
    const modes = new Map<Step, StreamMode>();
    graph.steps.forEach((step, i) => {
      const may = plan[i]!;
      modes.set(
        step,
        may === true ? "may" : streamed && graph.sinks.includes(step.name) ? true : { why: may },
      );
    });
    // Direct handoff: which steps' large values may stay where they are made.
    const keeps = this.#router === null ? null : handoffPlan(graph, request.all);
    if (keeps === null || !keeps.includes(true)) {
      const plans = new Map<Step, StepPlan>();
      for (const [step, mode] of modes) plans.set(step, mode === false ? PLAIN : { mode });
      const run = (
        step: Step,
        args: unknown[],
        kwargs: Record<string, unknown>,
        signal: AbortSignal,
      ) => this.#route(request, step, args, kwargs, signal, agreement, plans.get(step) ?? PLAIN);
      // Synchronous steps answer in this turn, like a lone step.
      return executeNow(graph, run, { signal: request.signal, all: request.all });
    }
    return this.#executeHolding(request, graph, agreement, modes, keeps);
  }

  /**
   * Runs a chain of steps (see {@linkcode chainPlan}) as a relay, member to
   * member (docs/cluster.md, "Relayed chains"), when every step runs on
   * another member whose grants are this node's, and the request neither
   * streams, reports progress nor is traced. A step refused before it
   * started hands the rest of the chain back: it runs here step by step,
   * from that step, with the value it was to take.
   *
   * @returns The sink's value, or `null` when the request is not relayed.
   */
  #relayChain(
    request: RunRequest,
    graph: RequestGraph,
    agreement: GrantAgreement | null,
  ): Promise<Record<string, unknown>> | null {
    const router = this.#router;
    if (
      router === null || agreement !== null || request.stream !== undefined ||
      request.progress !== undefined || tracingEnabled()
    ) return null;
    // A step this node offers may run here: no relay (checked first, as a
    // request of local steps is the common one).
    for (const step of graph.steps) {
      if (this.#offered(step.fun, step.locs) !== undefined) return null;
    }
    const chain = chainPlan(graph, request.all);
    if (chain === null) return null;
    const { refs } = planOf(graph);
    const substitute = (s: string): unknown => refs.has(s) ? null : s;
    const relay: RelayStep[] = [];
    for (const link of chain) {
      const step = graph.steps[link.index]!;
      const target = router.choose(step.fun, step.locs) as { self: boolean; name: string } | null;
      if (target === null || target.self) return null;
      const args = resolveItems(step.args, substitute);
      const kwargs = resolveEntries(step.kwargs, substitute);
      relay.push({
        step: { name: step.name, fun: step.fun, args, kwargs, locs: step.locs },
        node: target.name,
        at: link.at,
      });
    }
    const outcome = router.relay(relay, request.signal, request.deadline, {
      requestId: request.id,
      principal: request.principal.name,
    });
    if (outcome === null) return null;
    const last = graph.steps[chain[chain.length - 1]!.index]!.name;
    return outcome.then((ended) =>
      ended.done
        ? resultOf(last, ended.value)
        : this.#resume(request, graph, chain, ended.step, ended.input, agreement)
    );
  }

  /**
   * Runs the rest of a relayed chain here, step by step, from the step that
   * did not start, which takes `input` (the value of the step before it).
   */
  #resume(
    request: RunRequest,
    graph: RequestGraph,
    chain: readonly ChainLink[],
    from: string,
    input: unknown,
    agreement: GrantAgreement | null,
  ): MaybePromise<Record<string, unknown>> {
    const start = chain.findIndex((link) => graph.steps[link.index]!.name === from);
    if (start < 0) {
      throw new ProtocolError(`A member handed back step "${from}", which is not in the chain`);
    }
    if (log.isEnabledFor("debug")) {
      log.debug("Request {requestId}: the chain runs here from step {step}", {
        requestId: request.id,
        node: this.#options.node,
        step: from,
      });
    }
    const rest = chain.slice(start).map((link) => graph.steps[link.index]!);
    if (start > 0) {
      // The value it was to take, as a literal: taken as is.
      const first = rest[0]!;
      const args = [...first.args];
      const kwargs = { ...first.kwargs };
      for (const at of chain[start]!.at) {
        if ("arg" in at) args[at.arg] = { $literal: input };
        else kwargs[at.kwarg] = { $literal: input };
      }
      rest[0] = { ...first, args, kwargs };
    }
    return this.#execute(request, RequestGraph.build(rest), agreement, false);
  }

  /**
   * Runs a request some of whose steps may leave their value on the member
   * that made it: the members drop them when the request ends, however it ends.
   */
  #executeHolding(
    request: RunRequest,
    graph: RequestGraph,
    agreement: GrantAgreement | null,
    modes: Map<Step, StreamMode>,
    keeps: readonly boolean[],
  ): MaybePromise<Record<string, unknown>> {
    const held: HeldValue[] = [];
    let over = false;
    const end = (): void => {
      over = true;
      for (const value of held) value.drop();
    };
    const keep = (value: HeldValue): void => {
      if (over) value.drop();
      else held.push(value);
    };
    const plans = new Map<Step, StepPlan>();
    graph.steps.forEach((step, i) => {
      plans.set(step, {
        mode: modes.get(step) ?? false,
        keep: keeps[i] ? keep : undefined,
        holds: true,
      });
    });
    const run = (
      step: Step,
      args: unknown[],
      kwargs: Record<string, unknown>,
      signal: AbortSignal,
    ): MaybePromise<unknown> =>
      this.#route(request, step, args, kwargs, signal, agreement, plans.get(step) ?? PLAIN);
    let out: MaybePromise<Record<string, unknown>>;
    try {
      out = executeNow(graph, run, { signal: request.signal, all: request.all });
    } catch (err) {
      end();
      throw err;
    }
    if (!isPromise(out)) {
      end();
      return out;
    }
    return out.then((result) => {
      end();
      return result;
    }, (err: unknown) => {
      end();
      throw err;
    });
  }

  /** Authorizes the whole request, against this node's grants, before any step runs. */
  #authorize(request: RunRequest): void {
    for (const step of request.steps) {
      request.principal.authorize(step.name, step.fun, this.#declared(step.fun));
    }
  }

  /**
   * Then, before any step runs, every other member that may run a step
   * agrees (see `ClusterNode.admit`). Steps this node runs itself
   * (`preferLocal` and offered here) need nothing more.
   */
  #agree(request: RunRequest): MaybePromise<GrantAgreement | null> {
    const router = this.#router;
    if (router === null) return null;
    const steps = request.steps;
    let here = 0;
    if (router.preferLocal) {
      for (const step of steps) if (this.#offered(step.fun, step.locs) !== undefined) here++;
    }
    if (here === steps.length) return null;
    const elsewhere = here === 0
      ? steps
      : steps.filter((step) => this.#offered(step.fun, step.locs) === undefined);
    return router.admit(request.principal.name, elsewhere, request.signal, request.deadline);
  }

  /**
   * Refuses, before anything runs, a request sent again whose steps are not
   * all known to be safe to run twice: a function not registered idempotent
   * here or on another member that offers it (dead ones included), or
   * offered by no member this node knows.
   */
  #checkIdempotent(steps: readonly Step[]): void {
    for (const step of steps) {
      const here = this.#options.registry.get(step.fun);
      const elsewhere = this.#router?.idempotentElsewhere(step.fun);
      const safe = here === undefined ? elsewhere === true : here.idempotent && elsewhere !== false;
      if (safe) continue;
      throw new NotStartedError(
        `Step "${step.name}" was not sent again: "${step.fun}" is not registered idempotent ` +
          "on every member that offers it, and it may have run",
        { details: { step: step.name, fun: step.fun, started: false, idempotent: false } },
      );
    }
  }

  /**
   * The permission kinds declared for `fun` here and by other members: a
   * caller needs all of them, wherever the step ends up running.
   */
  #declared(fun: string): readonly string[] {
    const local = this.#options.registry.get(fun)?.permissionKinds ?? [];
    const remote = this.#router?.declaredElsewhere(fun) ?? [];
    if (remote.length === 0) return local;
    if (local.length === 0) return remote;
    return [...new Set([...local, ...remote])];
  }

  /**
   * Runs one step here, as a peer asked (its arguments are resolved).
   *
   * @param step The step.
   * @param context What the function sees as `this`.
   * @param streamed The step is streamed (`true`: a stream result becomes a
   *   `StreamSource`; `"may"`: it may stream into the step that takes it).
   * @returns The value, or a promise of it.
   * @throws {RpcError} when the function is not offered here or throws.
   */
  runLocal(step: Step, context: CallContext, streamed: StreamMode = false): MaybePromise<unknown> {
    return this.#caller.call(this.#find(step), step, step.args, step.kwargs, context, streamed);
  }

  /**
   * The permission kinds this node's `fun` declares.
   *
   * @param fun The function.
   * @returns The kinds; empty when it declares none or is not registered.
   */
  declaredHere(fun: string): readonly string[] {
    return this.#options.registry.get(fun)?.permissionKinds ?? [];
  }

  /**
   * Whether this node offers `fun` with every resource in `locs`.
   *
   * @param fun The function.
   * @param locs The required resources.
   * @returns True when it does.
   */
  offers(fun: string, locs: readonly string[]): boolean {
    return this.#offered(fun, locs) !== undefined;
  }

  #route(
    request: RunRequest,
    step: Step,
    args: unknown[],
    kwargs: Record<string, unknown>,
    signal: AbortSignal,
    agreement: GrantAgreement | null,
    plan: StepPlan,
  ): MaybePromise<unknown> {
    if (!tracingEnabled()) {
      return this.#routeStep(request, step, args, kwargs, signal, agreement, plan);
    }
    const span = startSpan(`mpreg.step ${step.name}`, {
      "mpreg.step": step.name,
      "mpreg.function": step.fun,
    });
    try {
      return endWith(
        span,
        withSpan(
          span,
          () =>
            this.#routeStep(
              request,
              step,
              args,
              kwargs,
              signal,
              agreement,
              plan,
              traceparentOf(span),
            ),
        ),
      );
    } catch (err) {
      failSpan(span, err);
      throw err;
    }
  }

  #routeStep(
    request: RunRequest,
    step: Step,
    args: unknown[],
    kwargs: Record<string, unknown>,
    signal: AbortSignal,
    agreement: GrantAgreement | null,
    plan: StepPlan,
    traceparent?: string,
  ): MaybePromise<unknown> {
    const sink = request.progress;
    if (sink === undefined) {
      return this.#routeTo(request, step, args, kwargs, signal, agreement, plan, traceparent, null);
    }
    // The step's reports, coalesced; its last one leaves before its value.
    const reporter = new ProgressReporter((value) => sink(step.name, value));
    let value: MaybePromise<unknown>;
    try {
      value = this.#routeTo(
        request,
        step,
        args,
        kwargs,
        signal,
        agreement,
        plan,
        traceparent,
        reporter,
      );
    } catch (err) {
      reporter.end();
      throw err;
    }
    const mode = plan.mode;
    if (mode !== true && mode !== "may") return reporter.endWith(value);
    // A streamed step (or one that may stream into another) reports until its stream is over.
    const end = () => reporter.end();
    if (!isPromise(value)) return settledAtEnd(value, end);
    return value.then((v) => settledAtEnd(v, end), (err: unknown) => {
      end();
      throw err;
    });
  }

  #routeTo(
    request: RunRequest,
    step: Step,
    args: unknown[],
    kwargs: Record<string, unknown>,
    signal: AbortSignal,
    agreement: GrantAgreement | null,
    plan: StepPlan,
    traceparent: string | undefined,
    reporter: ProgressReporter | null,
  ): MaybePromise<unknown> {
    const context: CallContext = {
      signal,
      deadline: request.deadline,
      step: step.name,
      requestId: request.id,
      node: this.#options.node,
      progress: reporter === null ? ignoreProgress : (value) => reporter.report(value),
    };
    const router = this.#router;
    const debug = log.isEnabledFor("debug");
    const { mode, holds = false } = plan;
    if (router === null) {
      if (debug) this.#routed(request, step, this.#options.node);
      return this.#caller.call(this.#find(step), step, args, kwargs, context, mode);
    }
    if (router.preferLocal) {
      const entry = this.#offered(step.fun, step.locs);
      if (entry !== undefined) {
        if (debug) this.#routed(request, step, this.#options.node);
        return this.#callHere(entry, step, args, kwargs, context, mode, holds);
      }
    }
    const target = router.choose(step.fun, step.locs);
    if (target?.self) {
      const entry = this.#offered(step.fun, step.locs);
      if (entry !== undefined) {
        if (debug) this.#routed(request, step, this.#options.node);
        return this.#callHere(entry, step, args, kwargs, context, mode, holds);
      }
    }
    if (debug) this.#routed(request, step, (target as { name?: string } | null)?.name ?? null);
    const resolved: Step = { name: step.name, fun: step.fun, args, kwargs, locs: step.locs };
    return router.runElsewhere(
      resolved,
      target as { self: boolean; name: string } | null,
      signal,
      request.deadline,
      () => this.#callHere(this.#find(step), step, args, kwargs, context, mode, holds),
      {
        requestId: request.id,
        principal: request.principal.name,
        traceparent,
        agreement,
        stream: mode === true ? request.stream : undefined,
        streamBytes: mode === true ? request.streamBytes : undefined,
        progress: reporter === null ? undefined : (value) => reporter.report(value),
        mayStream: mode === "may",
        keep: plan.keep,
      },
    );
  }

  /**
   * Calls a step here; in a request whose values may be held elsewhere
   * (`holds`), fetches those among its arguments first.
   */
  #callHere(
    entry: RegisteredFunction,
    step: Step,
    args: unknown[],
    kwargs: Record<string, unknown>,
    context: CallContext,
    streamed: StreamMode,
    holds: boolean,
  ): MaybePromise<unknown> {
    if (!holds || !hasHeld(args, kwargs)) {
      return this.#caller.call(entry, step, args, kwargs, context, streamed);
    }
    return this.#router!.fetchHeld(args, kwargs, context.signal).then((fetched) =>
      this.#caller.call(entry, step, fetched.args, fetched.kwargs, context, streamed)
    );
  }

  /** Logs, at debug, the member a step goes to (`null`: none found yet). */
  #routed(request: RunRequest, step: Step, route: string | null): void {
    log.debug("Step {step} ({fun}) of request {requestId} goes to {route}", {
      requestId: request.id,
      node: this.#options.node,
      step: step.name,
      fun: step.fun,
      route,
    });
  }

  #offered(fun: string, locs: readonly string[]): RegisteredFunction | undefined {
    const entry = this.#options.registry.get(fun);
    if (entry === undefined) return undefined;
    const resources = this.#options.resources;
    for (const loc of locs) {
      if (!resources.has(loc) && !entry.resources.has(loc)) return undefined;
    }
    return entry;
  }

  #find(step: Step): RegisteredFunction {
    const entry = this.#offered(step.fun, step.locs);
    if (entry !== undefined) return entry;
    const locs = step.locs.length === 0 ? "" : ` with resources ${JSON.stringify(step.locs)}`;
    throw new FunctionNotFoundError(
      `No node offers function "${step.fun}"${locs} (step "${step.name}")`,
      { details: { step: step.name, fun: step.fun, locs: step.locs, node: this.#options.node } },
    );
  }
}
