// Copyright 2026 the mpreg authors. MIT license.
/**
 * Grant agreement before a request starts: asking the members whose grants
 * differ from this node's whether a principal may run its steps there.
 * Private to the cluster layer; {@linkcode ClusterNode.admit} takes the fast
 * path itself and calls {@linkcode agree} only when a member must be asked.
 *
 * @module
 */
import { abortable } from "../_util/abortable.ts";
import { ErrorCode } from "../protocol/codes.ts";
import { ConnectionError, RpcError, toRpcError } from "../protocol/errors.ts";
import type { Step } from "../protocol/step.ts";
import { GrantAgreement } from "./grant_agreement.ts";
import type { Membership, MemberView } from "./membership.ts";
import { type PeerLink, Unstarted } from "./peer_link.ts";
import type { AuthorizeStep } from "./peer_protocol.ts";
import { neverStarted, noRoute } from "./_step_errors.ts";

/** The candidates for a function and resources, and whether one agrees unasked. */
export interface Route {
  candidates: MemberView[];
  /** Computed on first use: see `ClusterNode#agreesUnasked`. */
  unasked: boolean | undefined;
}

/** What grant agreement reads of its node. */
export interface AdmissionContext {
  /** This node's name. */
  readonly name: string;
  /** The digest of this node's grants. */
  readonly grants: string;
  /** The node's ready links by member name. */
  readonly links: ReadonlyMap<string, PeerLink>;
  /** The node's membership. */
  readonly membership: Membership;
  /** The candidates for `fun` with `locs` (cached). */
  route(fun: string, locs: readonly string[]): Route;
  /** Whether a candidate for `fun` with `locs` agrees without being asked. */
  agreesUnasked(fun: string, locs: readonly string[]): boolean;
  /** Asks the linked members for their records and waits a little for them. */
  refreshCatalogs(ms: number, signal: AbortSignal): Promise<void>;
  /** A ready link to a member, dialing it when needed. */
  linkTo(name: string): Promise<PeerLink>;
}

/**
 * The slow path of {@linkcode ClusterNode.admit}: asks the candidates of
 * `steps` that do not agree unasked, those with an open link first.
 */
export async function agree(
  ctx: AdmissionContext,
  principal: string,
  steps: readonly Step[],
  signal: AbortSignal,
  deadline: number,
): Promise<GrantAgreement | null> {
  if (
    steps.some((step) => ctx.route(step.fun, step.locs).candidates.length === 0) &&
    ctx.membership.liveNames().length > 0
  ) {
    // As routing would: a function registered elsewhere a moment ago.
    await ctx.refreshCatalogs(Math.min(250, deadline - Date.now()), signal);
  }
  let pending = steps.filter((step) => !ctx.agreesUnasked(step.fun, step.locs));
  if (pending.length === 0) return null;
  const agreement = new GrantAgreement();
  const agreed = new Set<string>();
  const errors = new Map<string, RpcError>();
  const fail = (step: string, error: RpcError): void => {
    const known = errors.get(step);
    const denial = ErrorCode.PermissionDenied;
    if (known === undefined || (error.code === denial && known.code !== denial)) {
      errors.set(step, error);
    }
  };
  // Members with an open link first; the others only for steps still
  // without an agreeing candidate.
  for (const linked of [true, false]) {
    const asks = new Map<string, Step[]>();
    for (const step of pending) {
      const candidates = ctx.route(step.fun, step.locs).candidates;
      if (candidates.length === 0) fail(step.name, noRoute(step, ctx.name));
      for (const member of candidates) {
        if (member.self || (ctx.links.get(member.name)?.ready === true) !== linked) continue;
        let list = asks.get(member.name);
        if (list === undefined) asks.set(member.name, list = []);
        list.push(step);
      }
    }
    await Promise.all(
      [...asks].map(([name, list]) =>
        ask(ctx, name, principal, list, signal).then(
          ({ grants, verdicts }) => {
            list.forEach((step, i) => {
              const verdict = verdicts[i];
              if (verdict === null) {
                agreement.add(name, grants, step.name);
                agreed.add(step.name);
              } else {
                fail(step.name, neverStarted(step, verdict ?? noRoute(step, name)));
              }
            });
          },
          (err: unknown) => {
            if (signal.aborted) return;
            // No step of the request has started: a grant check is all that failed.
            const error = err instanceof Unstarted ? err.error : toRpcError(err);
            for (const step of list) fail(step.name, neverStarted(step, error));
          },
        )
      ),
    );
    if (signal.aborted) throw signal.reason;
    pending = pending.filter((step) => !agreed.has(step.name));
    if (pending.length === 0) return agreement;
  }
  const step = pending[0]!;
  throw errors.get(step.name) ?? noRoute(step, ctx.name);
}

/**
 * One member's verdicts on `steps` for `principal`, over its link (dialed
 * when needed). A member whose link presents this node's grants agrees to
 * them all without a message.
 */
async function ask(
  ctx: AdmissionContext,
  name: string,
  principal: string,
  steps: readonly Step[],
  signal: AbortSignal,
): Promise<{ grants: string; verdicts: Array<RpcError | null> }> {
  const open = ctx.links.get(name);
  const link = open?.ready ? open : await abortable(ctx.linkTo(name), signal);
  const grants = link.record?.grants;
  if (grants === ctx.grants) return { grants, verdicts: steps.map(() => null) };
  const answer = await link.authorize({
    principal,
    steps: steps.map((step): AuthorizeStep =>
      step.locs.length === 0
        ? { step: step.name, fun: step.fun }
        : { step: step.name, fun: step.fun, locs: [...step.locs] }
    ),
  }, signal);
  if (answer.grants !== grants || answer.verdicts.length !== steps.length) {
    // Not the grants its handshake presented: no agreement to rely on.
    const error = new ConnectionError(`Member "${name}" answered a grant check inconsistently`);
    return { grants: answer.grants, verdicts: steps.map(() => error) };
  }
  return {
    grants,
    verdicts: answer.verdicts.map((v) => v === null ? null : RpcError.fromWire(v)),
  };
}
