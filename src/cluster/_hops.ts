// Copyright 2026 the mpreg authors. MIT license.
/**
 * The members' side of relayed chains (docs/cluster.md, "Relayed chains"):
 * a member runs its step of a chain, then passes the next step, with the
 * value, straight to the next member; the last one answers the
 * coordinator. A failure, or a step refused before it started, goes to the
 * coordinator, which keeps the request's deadline and failure rules.
 * Private to the cluster layer.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  CancelledError,
  NotStartedError,
  PermissionDeniedError,
  type RpcError,
  toRpcError,
  UnavailableError,
  type WireError,
} from "../protocol/errors.ts";
import { publicError } from "../protocol/public_error.ts";
import {
  ARGUMENT_STREAM_CREDIT,
  isStreamSource,
  type StreamSource,
} from "../registry/stream_source.ts";
import type { LocalRunner } from "./cluster_node_types.ts";
import type { PeerLink } from "./peer_link.ts";
import { Unstarted } from "./peer_link_host.ts";
import type {
  HopFailedMessage,
  HopMessage,
  HopStep,
  RunMessage,
  ValuePosition,
} from "./peer_protocol.ts";
import { isRefusedUnstarted } from "./refused.ts";
import { logStepEnded } from "./_step_log.ts";
import { noRoute } from "./_step_errors.ts";
import { splitInputs } from "./_stream_inputs.ts";

const log = getLogger(["mpreg", "cluster", "runs"]);

/** How long a member remembers a halted chain, to drop a step of it that comes late. */
const HALTED_MS = 60_000;

/** What a member needs to run the steps of relayed chains. */
export interface HopsContext {
  /** This node's name. */
  readonly name: string;
  /** The digest of this node's grants. */
  readonly grants: string;
  /** Runs the steps. */
  readonly local: LocalRunner;
  /** The ready link to a member, or `null`. */
  ready(name: string): PeerLink | null;
  /** A link to a member, dialed if need be (at `urls` when this node does not know it yet). */
  dial(name: string, urls?: readonly string[]): Promise<PeerLink>;
}

/** The value at the first of `at` in a step's arguments. */
function valueAt(
  args: readonly unknown[],
  kwargs: Record<string, unknown> | undefined,
  at: readonly ValuePosition[],
): unknown {
  const first = at[0]!;
  return "arg" in first ? args[first.arg] : kwargs?.[first.kwarg];
}

/** A chain's step running on this member. */
interface Running {
  /** Aborts the step. */
  readonly controller: AbortController;
  /** The chain's coordinator. */
  readonly coordinator: string;
  /** This member is done with it (counted once). */
  ended: boolean;
}

/**
 * A relayed step as the `run` of a forwarded one, with `args` and `kwargs`
 * in place of its own: run here, or sent on to the member that reads its
 * input stream. A step before another may stream into it, as in any request.
 */
function runOf(
  hop: HopMessage,
  args: unknown[],
  kwargs: Record<string, unknown> | undefined,
  timeout: number,
): RunMessage {
  const run: RunMessage = {
    t: "run",
    id: 0,
    step: hop.step,
    fun: hop.fun,
    args,
    timeout,
    request: hop.request,
    principal: hop.principal,
    grants: hop.grants,
  };
  if (kwargs !== undefined) run.kwargs = kwargs;
  if (hop.locs !== undefined) run.locs = hop.locs;
  if (hop.trace !== undefined) run.trace = hop.trace;
  if (hop.then !== undefined) {
    run.stream = ARGUMENT_STREAM_CREDIT;
    run.may = true;
  }
  return run;
}

/** The steps of relayed chains this member runs, and those it must not. */
export class Hops {
  readonly #ctx: HopsContext;
  /** The step of each chain running here, by request, and its coordinator. */
  readonly #running = new Map<string, Running>();
  /** Chains their coordinators ended, by request, until when they are remembered. */
  readonly #halted = new Map<string, number>();
  #count = 0;

  /** @param ctx This node's name, grants, runner and links. */
  constructor(ctx: HopsContext) {
    this.#ctx = ctx;
  }

  /** How many steps of relayed chains this node ran. */
  get count(): number {
    return this.#count;
  }

  /**
   * Runs a step of a relayed chain, then passes the next one on.
   *
   * @param message The step.
   */
  hop(message: HopMessage): void {
    const request = message.request;
    if (this.#isHalted(request)) return;
    const refusal = this.#refusal(message);
    if (refusal !== null) return this.#failed(message, refusal, false);
    this.#count++;
    const controller = new AbortController();
    const running: Running = { controller, coordinator: message.coordinator, ended: false };
    this.#running.set(request, running);
    const deadline = Date.now() + message.timeout;
    const run = runOf(message, message.args, message.kwargs, message.timeout);
    const failed = (err: unknown): void => {
      this.#end(message, running);
      this.#failed(message, err, !isRefusedUnstarted(err));
    };
    let value: unknown;
    try {
      value = this.#ctx.local.run(run, controller.signal);
    } catch (err) {
      return failed(err);
    }
    const passOn = (v: unknown): void => {
      this.#passOn(message, v, deadline, running).catch(failed);
    };
    if (value instanceof Promise) value.then(passOn, failed);
    else passOn(value);
  }

  /**
   * The coordinator ended a chain: its step here stops, and none of it starts.
   *
   * @param request The request's id on the coordinator.
   */
  halt(request: string): void {
    const now = Date.now();
    for (const [old, until] of this.#halted) {
      if (until > now) break;
      this.#halted.delete(old);
    }
    this.#halted.set(request, now + HALTED_MS);
    this.#running.get(request)?.controller.abort(
      new CancelledError("Cancelled by the coordinating node"),
    );
  }

  /**
   * A link closed: the chains its member coordinated stop here.
   *
   * @param peer The member.
   */
  linkClosed(peer: string): void {
    for (const [request, running] of this.#running) {
      if (running.coordinator !== peer) continue;
      this.halt(request);
    }
  }

  #isHalted(request: string): boolean {
    const until = this.#halted.get(request);
    return until !== undefined && until > Date.now();
  }

  /** Why this node refuses a step unstarted, or `null` when it takes it. */
  #refusal(message: HopMessage): RpcError | null {
    const { local, name, grants } = this.#ctx;
    if (!local.accepting()) return new UnavailableError(`Node "${name}" is shutting down`);
    if (message.grants !== grants) {
      return new PermissionDeniedError(
        `Step "${message.step}": node "${name}" refused "${message.fun}" unstarted: ` +
          "the request was authorized against other grants than this node holds",
        {
          details: {
            step: message.step,
            fun: message.fun,
            principal: message.principal,
            node: name,
            missing: "agreement",
          },
        },
      );
    }
    const locs = message.locs ?? [];
    if (!local.offers(message.fun, locs)) {
      return noRoute({ name: message.step, fun: message.fun, locs }, name);
    }
    return local.authorize(message);
  }

  /** This node is done with its step of the chain (once per step). */
  #end(message: HopMessage, running: Running): void {
    if (running.ended) return;
    running.ended = true;
    if (this.#running.get(message.request) === running) this.#running.delete(message.request);
    this.#ctx.local.answered();
  }

  /**
   * Passes the next step on with `value`, or answers the coordinator with
   * it after the last step.
   */
  async #passOn(
    message: HopMessage,
    value: unknown,
    deadline: number,
    running: Running,
  ): Promise<void> {
    const then = message.then;
    if (then === undefined) {
      this.#end(message, running);
      return this.#report(
        message.coordinator,
        message.request,
        (link) => link.hopDone({ request: message.request, step: message.step }, value),
      );
    }
    const next = then[0]!;
    const hop = this.#next(message, next, then.slice(1), value, deadline);
    if (isStreamSource(value)) {
      // The next step reads the stream where it runs: this node feeds it.
      return this.#streamInto(message, hop, next, value, deadline, running);
    }
    this.#end(message, running);
    if (next.node === this.#ctx.name) return this.hop(hop);
    let link = this.#ctx.ready(next.node);
    if (link === null) {
      try {
        link = await this.#ctx.dial(next.node, next.urls);
      } catch (err) {
        return this.#failed(hop, toRpcError(err), false);
      }
    }
    if (this.#isHalted(message.request)) return;
    const unsent = link.hop(hop);
    if (unsent === null) return;
    // Not sent: the next step did not start (its coordinator runs it), or
    // the value was too much for its member (this step fails with that).
    if (!unsent.open) return this.#failedWire(hop, unsent.error, false);
    this.#failedWire(message, unsent.error, true);
  }

  /** The hop of the step after `message`, `value` in its places. */
  #next(
    message: HopMessage,
    next: HopStep,
    rest: HopStep[],
    value: unknown,
    deadline: number,
  ): HopMessage {
    const args = [...next.args];
    const kwargs = next.kwargs === undefined ? undefined : { ...next.kwargs };
    for (const at of next.at) {
      if ("arg" in at) args[at.arg] = value;
      else kwargs![at.kwarg] = value;
    }
    const hop: HopMessage = {
      t: "hop",
      request: message.request,
      coordinator: message.coordinator,
      principal: message.principal,
      grants: message.grants,
      timeout: Math.max(1, deadline - Date.now()),
      step: next.step,
      fun: next.fun,
      args,
      at: next.at,
    };
    if (kwargs !== undefined) hop.kwargs = kwargs;
    if (next.locs !== undefined) hop.locs = next.locs;
    if (message.trace !== undefined) hop.trace = message.trace;
    if (rest.length > 0) hop.then = rest;
    return hop;
  }

  /**
   * A step that streamed into the next: the next step runs here, or on its
   * member as a run this node sends with the stream as its input (this
   * node its coordinator for that one step), and the chain goes on from
   * its value. A step whose input is a stream cannot be run elsewhere once
   * refused: the chain fails with the refusal.
   */
  async #streamInto(
    message: HopMessage,
    hop: HopMessage,
    next: HopStep,
    stream: StreamSource,
    deadline: number,
    running: Running,
  ): Promise<void> {
    if (next.node === this.#ctx.name) {
      this.#end(message, running);
      return this.hop(hop);
    }
    let value: unknown;
    try {
      const link = this.#ctx.ready(next.node) ?? await this.#ctx.dial(next.node, next.urls);
      const split = splitInputs(hop.args, hop.kwargs ?? {})!;
      const kwargs = hop.kwargs === undefined ? undefined : split.kwargs;
      const run = runOf(hop, split.args, kwargs, Math.max(1, deadline - Date.now()));
      run.ins = split.ins;
      value = await link.run(run, running.controller.signal, undefined, split.sources);
    } catch (err) {
      stream.cancel(err);
      this.#end(message, running);
      const error = err instanceof Unstarted ? err.error : toRpcError(err);
      // The next step's failure, named by it (refused: it never started,
      // but its stream cannot go to another member).
      return this.#failedWire(hop, publicError(error, this.#ctx.name).toWire(), true);
    }
    if (hop.then === undefined) {
      this.#end(message, running);
      return this.#report(
        message.coordinator,
        message.request,
        (link) => link.hopDone({ request: hop.request, step: hop.step }, value),
      );
    }
    // The chain goes on from the next step's value, as if it had run here
    // (this node's part ends once it passed it on).
    await this.#passOn(hop, value, deadline, running);
  }

  /** Tells the coordinator a step failed, or did not start (with its input, when it has one). */
  #failed(message: HopMessage, err: unknown, started: boolean): void {
    const error = toRpcError(err);
    const sent = publicError(error, this.#ctx.name, {
      requestId: message.request,
      step: message.step,
      fun: message.fun,
    }).toWire();
    logStepEnded(error, started, {
      requestId: message.request,
      coordinator: message.coordinator,
      node: this.#ctx.name,
      principal: message.principal,
      step: message.step,
      fun: message.fun,
      code: sent.code,
      error: sent.message,
    });
    this.#failedWire(message, sent, started);
  }

  #failedWire(message: HopMessage, error: WireError, started: boolean): void {
    const failed: HopFailedMessage = {
      t: "hop-failed",
      request: message.request,
      step: message.step,
      error,
      started,
    };
    if (!started && message.at !== undefined) {
      const input = valueAt(message.args, message.kwargs, message.at);
      // A stream cannot go back: the step fails instead.
      if (isStreamSource(input)) {
        input.cancel(new NotStartedError(error.message));
        failed.started = true;
      } else failed.input = input;
    }
    this.#report(message.coordinator, message.request, (link) => link.send(failed));
  }

  /** Sends a chain's answer to its coordinator (dialed if need be), unless it ended the chain. */
  #report(coordinator: string, request: string, send: (link: PeerLink) => unknown): void {
    if (this.#isHalted(request)) return;
    const ready = this.#ctx.ready(coordinator);
    if (ready !== null) {
      send(ready);
      return;
    }
    this.#ctx.dial(coordinator).then(send, (err) => {
      // Its own watch of the chain's members, or its deadline, ends the request.
      log.warn("Cannot answer node {coordinator} for request {requestId}: {error}", {
        coordinator,
        requestId: request,
        error: String(err),
      });
    });
  }
}
