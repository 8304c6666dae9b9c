// Copyright 2026 the mpreg authors. MIT license.
/**
 * Steps run on this node for other members: their grant check against this
 * node's own grants, and their run under the request lifecycle (budget,
 * deadline, cancel, count in flight).
 *
 * @module
 */
import type { Authenticator, Principal } from "../auth/authenticator.ts";
import type { LocalRunner } from "../cluster/cluster_node.ts";
import type { RunMessage } from "../cluster/peer_protocol.ts";
import { PermissionDeniedError, type RpcError, TimeoutError } from "../protocol/errors.ts";
import { inRequestContext } from "./_log_context.ts";
import { settledAtEnd } from "./_settled_at_end.ts";
import { ignoreProgress, ProgressReporter } from "../registry/progress_reporter.ts";
import type { RequestLifecycle } from "./request_lifecycle.ts";
import type { RequestRunner } from "./request_runner.ts";
import { endWith, failSpan, startRemoteChild, tracingEnabled, withSpan } from "./tracing.ts";

/** What runs for peers need from their node. */
export interface PeerRunHost {
  /** The node's name. */
  readonly node: string;
  /** Tokens, principals and grants. */
  readonly auth: Authenticator;
  /** Runs steps here. */
  readonly runner: RequestRunner;
  /** Budgets, deadlines and the count in flight. */
  readonly lifecycle: RequestLifecycle;
  /** Whether the node is draining (no new runs). */
  isDraining(): boolean;
}

/**
 * The node's side of the cluster layer: what it offers, its grant checks
 * and its runs for other members.
 *
 * @param host The node.
 * @returns The runner the cluster layer calls.
 *
 * @example
 * ```ts ignore
 * new ClusterNode({ ...settings, local: peerRunner(host) });
 * ```
 */
export function peerRunner(host: PeerRunHost): LocalRunner {
  return {
    accepting: () => !host.isDraining(),
    offers: (fun, locs) => host.runner.offers(fun, locs),
    authorize: (message) => authorizeForPeer(host, message),
    run: (message, signal, progress) => runForPeer(host, message, signal, progress),
    answered: () => host.lifecycle.ended(),
  };
}

/**
 * Checks a step a peer forwarded, or asks about, against this node's own
 * grants for its principal; a denial names this node.
 *
 * @param host The node.
 * @param message The step, its function and its principal.
 * @returns `null` when allowed, else the denial.
 */
export function authorizeForPeer(
  host: PeerRunHost,
  message: Pick<RunMessage, "step" | "fun" | "principal">,
): RpcError | null {
  const name = message.principal ?? "anonymous";
  const principal: Principal | undefined = host.auth.principal(name);
  const details = { step: message.step, fun: message.fun, principal: name, node: host.node };
  if (principal === undefined) {
    return new PermissionDeniedError(
      `Step "${message.step}": principal "${name}" is not known on node "${host.node}"`,
      { details: { ...details, missing: "principal" } },
    );
  }
  try {
    principal.authorize(message.step, message.fun, host.runner.declaredHere(message.fun));
    return null;
  } catch (err) {
    const denied = err as RpcError;
    return new PermissionDeniedError(`${denied.message} on node "${host.node}"`, {
      details: { ...(denied.details as Record<string, unknown>), ...details },
    });
  }
}

/**
 * Runs a step a peer forwarded, under its own deadline. It counts as in
 * flight (for the drain) from here until the cluster layer has sent its
 * answer and calls `answered()`.
 *
 * @param host The node.
 * @param message The step to run.
 * @param signal Aborts when the peer cancels or the link drops.
 * @param progress Sends a progress report to the coordinator, when it asked
 *   for them (`message.progress`): the step's reports are coalesced here,
 *   and the last one is sent before the value is returned.
 * @returns The value, a promise of it, or throws an RpcError.
 */
export function runForPeer(
  host: PeerRunHost,
  message: RunMessage,
  signal: AbortSignal,
  progress?: (value: unknown) => void,
): unknown {
  const live = host.lifecycle.begin({
    timeout: message.timeout,
    timedOut: (budget) => new TimeoutError(`Step "${message.step}" timed out after ${budget} ms`),
    parent: signal,
  });
  // A streamed step's reports go on until its stream ends (`done`).
  const reporter = progress === undefined ? null : new ProgressReporter(progress);
  const done = () => {
    reporter?.end();
    live.settle();
  };
  const step = {
    name: message.step,
    fun: message.fun,
    args: message.args,
    kwargs: message.kwargs ?? {},
    locs: message.locs ?? [],
  };
  const requestId = message.request ?? message.id;
  const streamed = message.stream !== undefined;
  const mode = message.may === true ? "may" : streamed;
  const run = () =>
    inRequestContext(message.request, host.node, () =>
      host.runner.runLocal(step, {
        signal: live.signal,
        deadline: live.deadline,
        step: step.name,
        requestId,
        node: host.node,
        progress: reporter === null ? ignoreProgress : (value) => reporter.report(value),
      }, mode));
  const span = message.trace !== undefined && tracingEnabled()
    ? startRemoteChild(`mpreg.run ${step.name}`, message.trace, {
      "mpreg.step": step.name,
      "mpreg.function": step.fun,
      "mpreg.node": host.node,
    })
    : null;
  let value: unknown;
  try {
    value = span === null ? run() : endWith(span, withSpan(span, run));
  } catch (err) {
    if (span !== null) failSpan(span, err);
    done();
    throw err;
  }
  if (streamed) {
    // A stream's deadline and cancel last until its end, not its start.
    if (!(value instanceof Promise)) return settledAtEnd(value, done);
    return value.then((v) => settledAtEnd(v, done), (err) => {
      done();
      throw err;
    });
  }
  if (!(value instanceof Promise)) {
    done();
    return value;
  }
  // Inline async functions, and sandboxed ones, already end when the signal aborts.
  return value.finally(done);
}
