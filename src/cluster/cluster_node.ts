// Copyright 2026 the mpreg authors. MIT license.
/**
 * The cluster side of a node: membership driven by a timer and peer links,
 * routing of steps to members, and forwarding with at-most-once retries.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { abortable } from "../_util/abortable.ts";
import { expandedSize } from "../_util/expanded_size.ts";
import { IdTable } from "../_util/id_table.ts";
import { backoffDelay, DEFAULT_BACKOFF } from "../transport/backoff.ts";
import {
  CancelledError,
  ConnectionError,
  FunctionNotFoundError,
  LimitExceededError,
  NotStartedError,
  PermissionDeniedError,
  RpcError,
  toRpcError,
  UnavailableError,
} from "../protocol/errors.ts";
import { ErrorCode } from "../protocol/codes.ts";
import type { Limits } from "../protocol/limits.ts";
import { publicError } from "../protocol/public_error.ts";
import type { Step } from "../protocol/step.ts";
import { candidatesFor, pickCandidate } from "../registry/router.ts";
import {
  type GossipMessage,
  Membership,
  type MembershipEvent,
  type MembershipOptions,
  type MemberView,
  type NodeRecord,
  type Outbound,
} from "./membership.ts";
import { GrantAgreement } from "./grant_agreement.ts";
import { isRefusedUnstarted } from "./refused.ts";
import { type HostResolver, seedTargets, systemResolver } from "./_seeds.ts";
import { PeerLink, type PeerLinkHost, Unstarted } from "./peer_link.ts";
import type { AuthorizeMessage, AuthorizeStep, RunMessage } from "./peer_protocol.ts";

const log = getLogger(["mpreg", "cluster"]);

/** How the cluster layer runs steps that peers send to this node. */
export interface LocalRunner {
  /** Whether the node takes new work (false while it drains). */
  accepting(): boolean;
  /** Whether the node offers `fun` with every resource in `locs`. */
  offers(fun: string, locs: readonly string[]): boolean;
  /** Why the step's principal may not run it here, or `null` when it may. */
  authorize(step: Pick<RunMessage, "step" | "fun" | "principal">): RpcError | null;
  /** Runs a forwarded step: a value, a promise, or a thrown RpcError. */
  run(message: RunMessage, signal: AbortSignal): unknown;
  /** Called once the answer to a step that `run` took has been sent. */
  answered(): void;
}

/** Settings of a {@linkcode ClusterNode}. */
export interface ClusterNodeOptions {
  /** This node's record (incarnation, catalog, urls) at start. */
  record: NodeRecord;
  /** The cluster id peers must share. */
  clusterId: string;
  /** The shared secret peers must prove, or `null`. */
  secret: string | null;
  /**
   * URLs to join through; a `ws://` seed whose host is a name stands for
   * every address it resolves to, resolved again on every attempt.
   */
  seeds: string[];
  /** The gossip interval in milliseconds. */
  intervalMs: number;
  /**
   * How often dead members and seeds that are not live members are tried
   * again, in milliseconds (±25 %).
   */
  reconnectIntervalMs: number;
  /** How long dead members are kept and tried again, in milliseconds. */
  reconnectTimeoutMs: number;
  /** Resolves seed host names (default: the system's resolver). */
  resolve?: HostResolver;
  /** Run a step locally whenever this node is a candidate. */
  preferLocal: boolean;
  /** Decoding limits for peer frames. */
  limits: Limits;
  /** Refuse to dial `ws://` URLs (seeds and URLs learned from gossip): peer links only over TLS. */
  requireTls: boolean;
  /** How long a peer handshake may take. */
  handshakeTimeoutMs: number;
  /** Membership tuning. */
  membership?: Partial<Omit<MembershipOptions, "intervalMs" | "onEvent">>;
  /** Runs forwarded steps. */
  local: LocalRunner;
}

interface DialState {
  attempt: number;
  notBefore: number;
  pending: Promise<PeerLink> | null;
  /** Why the last dial failed, for the errors of calls made while backing off. */
  failure: string;
}

const MAX_QUEUED = 64;

/** The candidates for a function and resources, and whether one agrees unasked. */
interface Route {
  candidates: MemberView[];
  /** Computed on first use: see `#agreesUnasked`. */
  unasked: boolean | undefined;
}

const GOSSIP_TYPES = new Set(["ping", "ack", "ping-req", "gossip", "sync", "pull", "records"]);

/**
 * Traffic and link counters of a {@linkcode ClusterNode}, for metrics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ClusterStats, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * const cluster: ClusterStats | null = server.stats().cluster;
 * assert.equal(cluster?.links, 0); // no peers yet
 * assert.equal(cluster?.forwarded, 0);
 * ```
 */
export interface ClusterStats {
  /** Gossip messages sent. */
  gossipMessagesOut: number;
  /** Gossip messages received. */
  gossipMessagesIn: number;
  /** Bytes of gossip messages sent. */
  gossipBytesOut: number;
  /** Bytes of gossip messages received. */
  gossipBytesIn: number;
  /** Steps forwarded to other members. */
  forwarded: number;
  /** Steps run here for other members. */
  runsForPeers: number;
  /**
   * Grant checks sent to other members: one per member per request, only
   * for members whose grants differ from this node's.
   */
  grantChecks: number;
  /** Grant checks answered for other members. */
  grantChecksForPeers: number;
  /** Peer links open and past their handshake. */
  links: number;
  /**
   * Local health awareness (Lifeguard), 0 when healthy: the node's probe
   * period and probe timeouts are multiplied by `1 + awareness`.
   */
  awareness: number;
}

/** The cluster side of a node. */
export class ClusterNode implements PeerLinkHost {
  readonly clusterId: string;
  readonly secret: string | null;
  readonly limits: Limits;
  readonly handshakeTimeoutMs: number;
  readonly #options: ClusterNodeOptions;
  readonly #membership: Membership;
  readonly #links = new Map<string, PeerLink>();
  readonly #allLinks = new Set<PeerLink>();
  readonly #dials = new Map<string, DialState>();
  readonly #queued = new Map<string, GossipMessage[]>();
  readonly #incoming = new Map<PeerLink, IdTable<AbortController>>();
  readonly #load = new Map<string, number>();
  readonly #listeners = new Set<(event: MembershipEvent) => void>();
  readonly #catalogWaiters = new Set<() => void>();
  readonly #awaitingRecords = new Set<string>();
  /**
   * Candidates by function and resources, and whether one of them agrees
   * without being asked; cleared on every membership, catalog or link change.
   */
  readonly #routes = new Map<string, Route>();
  /** The digest of this node's grants (fixed for the life of the process). */
  readonly #grants: string;
  /** `ws://` URLs already reported as refused under `requireTls`. */
  readonly #refusedUrls = new Set<string>();
  /** Permission kinds other members declare, by function; cleared with the routes. */
  readonly #declared = new Map<string, readonly string[]>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #seedTimer: ReturnType<typeof setTimeout> | null = null;
  #seedAttempt = 0;
  #joining = false;
  /** When to go back to the seeds that are not live members. */
  #nextSeedCheck = 0;
  /** The member that answered at each seed URL dialed. */
  readonly #seedMembers = new Map<string, string>();
  /** URLs dialed that turned out to reach this node itself. */
  readonly #selfUrls = new Set<string>();
  #stopped = false;
  readonly #stats: ClusterStats = {
    gossipMessagesOut: 0,
    gossipMessagesIn: 0,
    gossipBytesOut: 0,
    gossipBytesIn: 0,
    forwarded: 0,
    runsForPeers: 0,
    grantChecks: 0,
    grantChecksForPeers: 0,
    links: 0,
    awareness: 0,
  };

  /** @param options Settings. */
  constructor(options: ClusterNodeOptions) {
    this.#options = options;
    this.clusterId = options.clusterId;
    this.secret = options.secret;
    this.limits = options.limits;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs;
    this.#grants = options.record.grants ?? "";
    this.#membership = new Membership(options.record, {
      random: Math.random,
      reconnectIntervalMs: options.reconnectIntervalMs,
      reconnectTimeoutMs: options.reconnectTimeoutMs,
      ...options.membership,
      intervalMs: options.intervalMs,
      onEvent: (event) => this.#onEvent(event),
    });
  }

  /** Whether steps this node offers always run here. */
  get preferLocal(): boolean {
    return this.#options.preferLocal;
  }

  /** This node's name. */
  get name(): string {
    return this.#membership.self.name;
  }

  /** Traffic and link counters. */
  stats(): ClusterStats {
    return { ...this.#stats, links: this.#links.size, awareness: this.#membership.awareness };
  }

  /** Every member known, this node first. */
  members(): MemberView[] {
    return this.#membership.members();
  }

  /**
   * Listens to membership events.
   *
   * @param listener Called for each event.
   * @returns A function that removes the listener.
   */
  onEvent(listener: (event: MembershipEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Starts gossiping and joins through the seeds. */
  start(): void {
    this.#timer = setInterval(() => this.#tick(), this.#options.intervalMs);
    this.#joinSeeds();
  }

  /**
   * Updates this node's catalog and pushes the change to every live member
   * at once (and through gossip to the rest).
   *
   * @param change New urls, resources or functions.
   */
  updateSelf(
    change: Partial<Pick<NodeRecord, "urls" | "resources" | "functions" | "permissions">>,
  ): void {
    this.#invalidate();
    this.#deliver(this.#membership.updateSelf(change, Date.now()));
  }

  /**
   * Announces a graceful leave: the leave update goes to every live member,
   * then each linked peer is asked to confirm it sends no more steps here.
   *
   * @param timeoutMs The longest wait for the confirmations.
   * @returns When every linked peer confirmed, or the time is up.
   */
  async leave(timeoutMs: number): Promise<void> {
    this.#deliver(this.#membership.leave(Date.now()));
    const acks = [...this.#allLinks].filter((l) => l.ready).map((l) => l.announceLeave());
    if (acks.length === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(acks),
      new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs)),
    ]);
    clearTimeout(timer);
  }

  /** Stops timers and closes every link. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    if (this.#seedTimer !== null) clearTimeout(this.#seedTimer);
    this.#timer = this.#seedTimer = null;
    for (const link of [...this.#allLinks]) link.close("node stopping");
    for (const wake of this.#catalogWaiters) wake();
  }

  /**
   * Serves a socket upgraded with the peer subprotocol.
   *
   * @param socket The socket.
   * @param address The remote address, for logs.
   */
  accept(socket: WebSocket, address: string): void {
    if (this.#stopped) {
      socket.close(1001, "node stopping");
      return;
    }
    this.#allLinks.add(PeerLink.accept(socket, this, address));
  }

  /**
   * Where a step should run: this node's own view (`self: true`), another
   * member, or `null` when no member offers it. Only live members get new
   * steps; a suspect member is chosen only when no live member qualifies
   * (better a try that may be refused than a certain failure).
   *
   * @param fun The function.
   * @param locs The required resources.
   * @param exclude Members not to choose.
   * @returns The member, or `null`.
   */
  choose(fun: string, locs: readonly string[], exclude?: ReadonlySet<string>): MemberView | null {
    let candidates = this.#route(fun, locs).candidates;
    if (exclude !== undefined && exclude.size > 0) {
      candidates = candidates.filter((m) => !exclude.has(m.name));
    }
    if (candidates.length === 0) return null;
    return pickCandidate(candidates, {
      preferLocal: this.#options.preferLocal,
      load: (name) => this.#load.get(name) ?? 0,
      random: Math.random,
    });
  }

  /**
   * Runs a step on another member, choosing again when it provably did not
   * start, and refreshing the catalog once when no member offers it.
   *
   * @param step The step, with resolved arguments.
   * @param first The member chosen first, or `null` when none was found.
   * @param signal Aborts the step (cancel, deadline, a sibling's failure).
   * @param deadline The request's deadline, in milliseconds since the epoch.
   * @param runLocal Runs the step here, when routing lands on this node.
   * @param requestId The client's request id, for logs.
   * @param principal The caller's principal.
   * @param traceparent The step span's `traceparent`, when tracing.
   * @param agreement The members that agreed to the request's steps (from
   *   {@linkcode ClusterNode.admit}); a member whose grants differ from this
   *   node's gets the step only if it agreed to it there.
   * @returns The step's value.
   */
  async runElsewhere(
    step: Step,
    first: { readonly self: boolean; readonly name: string } | null,
    signal: AbortSignal,
    deadline: number,
    runLocal: () => unknown,
    requestId: string | number,
    principal: string,
    traceparent?: string,
    agreement: GrantAgreement | null = null,
  ): Promise<unknown> {
    const max = this.limits.maxElements;
    if (expandedSize([step.args, step.kwargs], max) > max) {
      // Arguments built from earlier results can expand exponentially once
      // encoded for the wire: refuse instead of blocking the event loop.
      throw new LimitExceededError(
        `Step "${step.name}": its arguments would hold more than ${max} values once encoded`,
        { details: { limit: "maxElements", max, step: step.name } },
      );
    }
    const exclude = new Set<string>();
    let target = first;
    let refused: RpcError | null = null;
    let refreshed = false;
    while (true) {
      if (signal.aborted) throw signal.reason;
      if (target === null) {
        if (!refreshed && this.#membership.liveNames().length > 0) {
          refreshed = true;
          await this.#refreshCatalogs(Math.min(250, deadline - Date.now()), signal);
          target = this.choose(step.fun, step.locs, exclude);
          continue;
        }
        throw refused === null ? noRoute(step, this.name) : neverStarted(step, refused);
      }
      if (target.self) return await runLocal();
      const name = target.name;
      this.#load.set(name, (this.#load.get(name) ?? 0) + 1);
      try {
        const ready = this.#links.get(name);
        let link = ready?.ready ? ready : await this.#linkTo(name);
        // A duplicate retired while it was dialed: the link kept instead.
        if (link.retired) link = this.#links.get(name) ?? link;
        // The member's grants as it presented them in this link's handshake:
        // equal to this node's (then this node's check decided for it), or
        // the very grants under which it agreed to this step.
        const grants = link.record?.grants;
        if (
          grants === undefined ||
          (grants !== this.#grants && agreement?.covers(name, grants, step.name) !== true)
        ) {
          throw new Unstarted(notAgreed(step, name, principal));
        }
        const message: Omit<RunMessage, "id" | "t"> = {
          step: step.name,
          fun: step.fun,
          args: step.args,
          timeout: Math.max(1, deadline - Date.now()),
          request: requestId,
          principal,
        };
        // This node's own digest goes without saying: the runner has it
        // from this link's handshake.
        if (grants !== this.#grants) message.grants = grants;
        if (traceparent !== undefined) message.trace = traceparent;
        if (Object.keys(step.kwargs).length > 0) message.kwargs = step.kwargs;
        if (step.locs.length > 0) message.locs = step.locs;
        this.#stats.forwarded++;
        return await link.run(message, signal);
      } catch (err) {
        if (!(err instanceof Unstarted)) throw err;
        refused = err.error;
        exclude.add(name);
        log.debug("Step {step} not started on {node}: {error}; choosing again", {
          step: step.name,
          node: name,
          error: err.message,
        });
        target = this.choose(step.fun, step.locs, exclude);
      } finally {
        this.#load.set(name, (this.#load.get(name) ?? 1) - 1);
      }
    }
  }

  /**
   * The permission kinds other live members declare for `fun`.
   *
   * @param fun The function.
   * @returns The union of their declarations.
   */
  declaredElsewhere(fun: string): readonly string[] {
    let declared = this.#declared.get(fun);
    if (declared === undefined) {
      const kinds = new Set<string>();
      for (const member of this.#membership.members()) {
        if (member.self || member.state === "dead" || member.state === "left") continue;
        for (const kind of member.permissions?.[fun] ?? []) kinds.add(kind);
      }
      declared = [...kinds];
      this.#declared.set(fun, declared);
    }
    return declared;
  }

  /**
   * Makes sure, before any step of a request starts, that every member that
   * may run one of `steps` agrees that `principal` may run it there.
   *
   * A step agrees without a message when this node is one of its candidates
   * or when one of them presented, in the handshake of its open link, grants
   * equal to this node's: this node's own check of the request then decided
   * for it (the common case, one config everywhere, decided from a cache).
   * Otherwise its candidates are asked with one `authorize` message per
   * member (all in parallel): first those with an open link, then, only for
   * steps still without an agreeing candidate, the others, dialed first. A
   * step no candidate agrees to fails the request before anything starts,
   * with a member's denial (1009) when there was one.
   *
   * @param principal The caller's principal.
   * @param steps The request's steps that may run elsewhere.
   * @param signal The request's signal.
   * @param deadline The request's deadline, in milliseconds since the epoch.
   * @returns `null` when no member had to be asked, else the agreements.
   * @throws {RpcError} (the promise rejects) when a step has no agreeing candidate.
   */
  admit(
    principal: string,
    steps: readonly Step[],
    signal: AbortSignal,
    deadline: number,
  ): GrantAgreement | null | Promise<GrantAgreement | null> {
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      if (!this.#agreesUnasked(step.fun, step.locs)) {
        return this.#agree(principal, steps.slice(i), signal, deadline);
      }
    }
    return null;
  }

  async #agree(
    principal: string,
    steps: readonly Step[],
    signal: AbortSignal,
    deadline: number,
  ): Promise<GrantAgreement | null> {
    if (
      steps.some((step) => this.#route(step.fun, step.locs).candidates.length === 0) &&
      this.#membership.liveNames().length > 0
    ) {
      // As routing would: a function registered elsewhere a moment ago.
      await this.#refreshCatalogs(Math.min(250, deadline - Date.now()), signal);
    }
    let pending = steps.filter((step) => !this.#agreesUnasked(step.fun, step.locs));
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
        const candidates = this.#route(step.fun, step.locs).candidates;
        if (candidates.length === 0) fail(step.name, noRoute(step, this.name));
        for (const member of candidates) {
          if (member.self || (this.#links.get(member.name)?.ready === true) !== linked) continue;
          let list = asks.get(member.name);
          if (list === undefined) asks.set(member.name, list = []);
          list.push(step);
        }
      }
      await Promise.all(
        [...asks].map(([name, list]) =>
          this.#ask(name, principal, list, signal).then(
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
    throw errors.get(step.name) ?? noRoute(step, this.name);
  }

  /**
   * One member's verdicts on `steps` for `principal`, over its link (dialed
   * when needed). A member whose link presents this node's grants agrees to
   * them all without a message.
   */
  async #ask(
    name: string,
    principal: string,
    steps: readonly Step[],
    signal: AbortSignal,
  ): Promise<{ grants: string; verdicts: Array<RpcError | null> }> {
    const open = this.#links.get(name);
    const link = open?.ready ? open : await abortable(this.#linkTo(name), signal);
    const grants = link.record?.grants;
    if (grants === this.#grants) return { grants, verdicts: steps.map(() => null) };
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

  /**
   * Whether a step of `fun` with `locs` has a candidate that agrees without
   * being asked: this node, or a member whose open link presented this
   * node's grants. Cached with the route.
   */
  #agreesUnasked(fun: string, locs: readonly string[]): boolean {
    const route = this.#route(fun, locs);
    if (route.unasked === undefined) {
      route.unasked = route.candidates.some((member) =>
        member.self || this.#links.get(member.name)?.record?.grants === this.#grants
      );
    }
    return route.unasked;
  }

  /** The candidates for `fun` with `locs`: live members, else suspect ones; cached. */
  #route(fun: string, locs: readonly string[]): Route {
    const key = locs.length === 0 ? fun : `${fun}\u0000${locs.join("\u0000")}`;
    let route = this.#routes.get(key);
    if (route === undefined) {
      const members = this.#membership.members();
      let candidates = candidatesFor(members, fun, locs, "alive");
      if (candidates.length === 0) candidates = candidatesFor(members, fun, locs, "suspect");
      this.#routes.set(key, route = { candidates, unasked: undefined });
    }
    return route;
  }

  #invalidate(): void {
    this.#routes.clear();
    this.#declared.clear();
  }

  // ---- PeerLinkHost ----------------------------------------------------

  localRecord(): NodeRecord {
    return this.#membership.self;
  }

  linkReady(link: PeerLink): void {
    const record = link.record!;
    const name = record.name;
    if (name === this.name) {
      // A seed name that resolves to this node too.
      if (link.dialed) this.#selfUrls.add(link.address);
      link.close("a link to this node itself");
      return;
    }
    const existing = this.#links.get(name);
    if (existing !== undefined && existing !== link && existing.ready) {
      // Both nodes dialed at once: both keep the same link (see outranks()).
      if (!link.outranks(existing, this.name)) {
        link.retire();
        return;
      }
      // The successor first: retiring may close the old link at once.
      this.#links.set(name, link);
      existing.retire();
    }
    this.#links.set(name, link);
    this.#invalidate();
    const dial = this.#dials.get(name);
    if (dial) {
      dial.attempt = 0;
      dial.notBefore = 0;
    }
    this.#seedAttempt = 0;
    log.debug("Linked to {peer} ({address})", { peer: name, address: link.address });
    // A full digest for a member this node did not know (a join) or held
    // dead (a partition healing, a pause, a restart): the two views merge.
    const state = this.#membership.member(name)?.state;
    const bootstrap = state === undefined || state === "dead" || state === "left";
    this.#deliver(this.#membership.observe(record, Date.now(), { bootstrap }));
    const queued = this.#queued.get(name);
    if (queued) {
      this.#queued.delete(name);
      for (const msg of queued) link.send(msg);
    }
  }

  linkClosed(link: PeerLink): void {
    this.#allLinks.delete(link);
    const incoming = this.#incoming.get(link);
    if (incoming) {
      this.#incoming.delete(link);
      for (const controller of incoming.values()) {
        controller.abort(new CancelledError("The coordinating node's link closed"));
      }
    }
    const name = link.peer;
    if (name === null || this.#links.get(name) !== link) return;
    this.#links.delete(name);
    this.#invalidate();
    if (this.#stopped) return;
    log.info("Link to {peer} closed: {reason}", { peer: name, reason: link.closeReason });
    this.#deliver(this.#membership.linkLost(name, Date.now()));
  }

  gossip(_link: PeerLink, message: GossipMessage): void {
    this.#deliver(this.#membership.receive(message, Date.now()));
    if (message.t === "records" && this.#awaitingRecords.delete(message.from)) {
      if (this.#awaitingRecords.size === 0) this.#wakeCatalogWaiters();
    }
  }

  run(link: PeerLink, message: RunMessage): void {
    const local = this.#options.local;
    // An internal failure's text stays in this node's log, under an id.
    const wire = (error: RpcError) =>
      publicError(error, this.name, {
        requestId: message.request === undefined ? undefined : String(message.request),
        step: message.step,
        fun: message.fun,
      }).toWire();
    const refuse = (error: RpcError): void => {
      link.answer({ t: "error", id: message.id, error: wire(error), started: false });
    };
    if (!local.accepting()) {
      return refuse(new UnavailableError(`Node "${this.name}" is shutting down`));
    }
    // The digest the coordinator relied on: stated, or its own from this
    // link's handshake.
    if ((message.grants ?? link.record?.grants) !== this.#grants) {
      return refuse(
        new PermissionDeniedError(
          `Step "${message.step}": node "${this.name}" refused "${message.fun}" unstarted: ` +
            "the request was authorized against other grants than this node holds",
          {
            details: {
              step: message.step,
              fun: message.fun,
              principal: message.principal ?? "anonymous",
              node: this.name,
              missing: "agreement",
            },
          },
        ),
      );
    }
    const locs = message.locs ?? [];
    if (!local.offers(message.fun, locs)) {
      return refuse(
        noRoute({ name: message.step, fun: message.fun, locs }, this.name),
      );
    }
    const denied = local.authorize(message);
    if (denied !== null) return refuse(denied);
    const controller = new AbortController();
    let runs = this.#incoming.get(link);
    if (runs === undefined) this.#incoming.set(link, runs = new IdTable());
    runs.set(message.id, controller);
    // The node counts the step as in flight until its answer is on the wire,
    // so a drain never closes the link under an answer.
    const answer = (reply: Parameters<PeerLink["answer"]>[0]) => {
      if (runs.delete(message.id)) link.answer(reply);
      local.answered();
    };
    const fail = (err: unknown) =>
      answer({
        t: "error",
        id: message.id,
        error: wire(toRpcError(err)),
        started: !isRefusedUnstarted(err),
      });
    let value: unknown;
    try {
      value = local.run(message, controller.signal);
    } catch (err) {
      return fail(err);
    }
    if (value instanceof Promise) {
      value.then((v) => answer({ t: "result", id: message.id, value: v }), fail);
    } else {
      answer({ t: "result", id: message.id, value });
    }
  }

  authorize(link: PeerLink, message: AuthorizeMessage): void {
    const local = this.#options.local;
    const verdicts = message.steps.map((step) => {
      const locs = step.locs ?? [];
      if (!local.accepting()) {
        return new UnavailableError(`Node "${this.name}" is shutting down`).toWire();
      }
      if (!local.offers(step.fun, locs)) {
        return noRoute({ name: step.step, fun: step.fun, locs }, this.name).toWire();
      }
      const denied = local.authorize({
        step: step.step,
        fun: step.fun,
        principal: message.principal,
      });
      return denied === null ? null : denied.toWire();
    });
    link.send({ t: "authorized", id: message.id, grants: this.#grants, verdicts });
  }

  traffic(direction: "in" | "out", type: string, bytes: number): void {
    if (type === "run") {
      if (direction === "in") this.#stats.runsForPeers++;
      return;
    }
    if (type === "authorize") {
      if (direction === "in") this.#stats.grantChecksForPeers++;
      else this.#stats.grantChecks++;
      return;
    }
    if (!GOSSIP_TYPES.has(type)) return;
    if (direction === "in") {
      this.#stats.gossipMessagesIn++;
      this.#stats.gossipBytesIn += bytes;
    } else {
      this.#stats.gossipMessagesOut++;
      this.#stats.gossipBytesOut += bytes;
    }
  }

  cancelRun(link: PeerLink, id: number): void {
    this.#incoming.get(link)?.get(id)?.abort(
      new CancelledError("Cancelled by the coordinating node"),
    );
  }

  // ---- internals -------------------------------------------------------

  #tick(): void {
    const now = Date.now();
    this.#invalidate();
    this.#deliver(this.#membership.tick(now));
    if (this.#membership.liveNames().length === 0 || now >= this.#nextSeedCheck) this.#joinSeeds();
  }

  #onEvent(event: MembershipEvent): void {
    const { type, member } = event;
    this.#invalidate();
    // A member that left closes its links itself once its drain is over.
    if (type === "dead") {
      const silent = ((Date.now() - member.lastHeard) / 1000).toFixed(1);
      this.#links.get(member.name)?.close(
        `member "${member.name}" was declared dead (nothing heard from it for ${silent} s)`,
      );
    }
    if (type === "alive" || type === "joined") {
      // News that it is alive (a refutation, a restart) ends the backoff.
      const dial = this.#dials.get(member.name);
      if (dial !== undefined) dial.notBefore = dial.attempt = 0;
    }
    if (type !== "alive" || member.self === false) {
      log.info("Member {member} {type}", { member: member.name, type });
    }
    if (type === "catalog" || type === "joined" || type === "alive") this.#wakeCatalogWaiters();
    for (const listener of this.#listeners) listener(event);
  }

  #deliver(outbound: Outbound[]): void {
    for (const { to, msg } of outbound) {
      const link = this.#links.get(to);
      if (link?.ready) {
        link.send(msg);
        continue;
      }
      let queue = this.#queued.get(to);
      if (queue === undefined) this.#queued.set(to, queue = []);
      if (queue.length < MAX_QUEUED) queue.push(msg);
      this.#linkTo(to).catch(() => this.#queued.delete(to));
    }
  }

  /** A ready link to a member, dialing its URLs when needed. */
  #linkTo(name: string): Promise<PeerLink> {
    const link = this.#links.get(name);
    if (link?.ready) return Promise.resolve(link);
    let dial = this.#dials.get(name);
    if (dial === undefined) {
      this.#dials.set(name, dial = { attempt: 0, notBefore: 0, pending: null, failure: "" });
    }
    if (dial.pending) return dial.pending;
    const member = this.#membership.member(name);
    if (this.#stopped || member === undefined || member.state === "left") {
      return Promise.reject(notStarted(`Member "${name}" is not reachable`));
    }
    // A member held dead is only sent the membership's reconnection tries,
    // on the reconnect interval: they are not held back by the backoff.
    if (member.state !== "dead" && Date.now() < dial.notBefore) {
      return Promise.reject(
        notStarted(`Member "${name}" is not reachable (backing off after: ${dial.failure})`),
      );
    }
    const state = dial;
    state.pending = this.#dialUrls(member.urls).then(
      (link) => {
        state.pending = null;
        return link;
      },
      (err) => {
        state.pending = null;
        state.notBefore = Date.now() + backoffDelay(state.attempt++, DEFAULT_BACKOFF);
        state.failure = (err as Error).message;
        throw err;
      },
    );
    return state.pending;
  }

  async #dialUrls(urls: readonly string[]): Promise<PeerLink> {
    let last = "no URL";
    for (const url of urls) {
      const link = await this.#dialOne(url);
      if (typeof link !== "string") return link;
      last = link;
    }
    throw notStarted(`Cannot link to ${urls.join(", ")}: ${last}`);
  }

  /** Dials one URL; resolves with the ready link or a reason it failed. */
  async #dialOne(url: string): Promise<PeerLink | string> {
    if (this.#options.requireTls && !url.toLowerCase().startsWith("wss:")) {
      const reason = `refusing to dial "${url}": require_tls is set and it is not a wss:// URL`;
      if (!this.#refusedUrls.has(url)) {
        this.#refusedUrls.add(url);
        log.warn("Refusing to dial {url}: require_tls is set and it is not a wss:// URL", { url });
      }
      return reason;
    }
    let link: PeerLink;
    try {
      link = PeerLink.dial(url, this);
    } catch (err) {
      return String(err);
    }
    this.#allLinks.add(link);
    if (!(await link.handshake)) return link.closeReason || "closed";
    // A duplicate link may have lost to one the peer dialed at the same time.
    return this.#links.get(link.peer!) ?? link;
  }

  /**
   * Dials every seed URL that is not a live member (Consul's `retry_join`),
   * resolving seed names again each time. Alone, the node retries with
   * backoff until one answers; otherwise it comes back every reconnect
   * interval. One attempt at a time.
   */
  #joinSeeds(): void {
    if (this.#stopped || this.#joining || this.#options.seeds.length === 0) return;
    this.#joining = true;
    const interval = this.#options.reconnectIntervalMs;
    this.#nextSeedCheck = Date.now() + interval * (0.75 + 0.5 * Math.random());
    this.#dialSeeds().then((reasons) => {
      if (this.#stopped) return;
      if (reasons === null || this.#membership.liveNames().length > 0) {
        this.#joining = false;
        return;
      }
      const delay = backoffDelay(this.#seedAttempt++, DEFAULT_BACKOFF);
      log.warn("Cannot reach any seed ({reason}); retrying in {delay} ms", {
        reason: reasons.join("; "),
        delay,
      });
      this.#seedTimer = setTimeout(() => {
        this.#seedTimer = null;
        this.#joining = false;
        this.#joinSeeds();
      }, delay);
    });
  }

  /**
   * Dials the seed URLs that are not live members.
   *
   * @returns `null` when one answered or none had to be dialed, else why each failed.
   */
  async #dialSeeds(): Promise<string[] | null> {
    const { urls, failures } = await seedTargets(
      this.#options.seeds,
      this.#options.resolve ?? systemResolver,
    );
    const own = new Set(this.#membership.self.urls);
    const due = urls.filter((url) =>
      !own.has(url) && !this.#selfUrls.has(url) && !this.#seedIsLive(url)
    );
    if (due.length === 0) return urls.length === 0 ? failures : null;
    const results = await Promise.all(due.map(async (url) => {
      const link = await this.#dialOne(url);
      if (typeof link === "string") return `${url}: ${link}`;
      this.#seedMembers.set(url, link.peer!);
      return null;
    }));
    if (results.includes(null)) return null;
    log.debug("Seeds not reached: {reasons}", { reasons: results.join("; ") });
    return [...failures, ...results as string[]];
  }

  /** Whether a live member advertises `url`, or answered there last time. */
  #seedIsLive(url: string): boolean {
    const live = (m: MemberView | undefined) => m?.state === "alive" || m?.state === "suspect";
    const answered = this.#seedMembers.get(url);
    if (answered !== undefined && live(this.#membership.member(answered))) return true;
    return this.#membership.members().some((m) => !m.self && live(m) && m.urls.includes(url));
  }

  #wakeCatalogWaiters(): void {
    for (const wake of this.#catalogWaiters) wake();
    this.#catalogWaiters.clear();
  }

  /**
   * Asks every linked member for its current record and waits until they
   * all answered, one catalog changed, or `ms` passed: a step sent right
   * after a registration elsewhere finds it instead of failing with 1001.
   */
  async #refreshCatalogs(ms: number, signal: AbortSignal): Promise<void> {
    if (ms <= 0) return;
    for (const name of this.#membership.liveNames()) {
      if (this.#links.get(name)?.send({ t: "pull", from: this.name, names: [name] })) {
        this.#awaitingRecords.add(name);
      }
    }
    if (this.#awaitingRecords.size === 0) return;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#catalogWaiters.add(resolve);
    const timer = setTimeout(resolve, ms);
    const onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
    await promise;
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    this.#catalogWaiters.delete(resolve);
    if (this.#catalogWaiters.size === 0) this.#awaitingRecords.clear();
  }
}

function noRoute(step: Pick<Step, "name" | "fun" | "locs">, node: string): FunctionNotFoundError {
  const locs = step.locs.length === 0 ? "" : ` with resources ${JSON.stringify(step.locs)}`;
  return new FunctionNotFoundError(
    `No node offers function "${step.fun}"${locs} (step "${step.name}")`,
    { details: { step: step.name, fun: step.fun, locs: step.locs, node } },
  );
}

/** A step that would go to a member whose grants differ from this node's and that did not agree. */
function notAgreed(step: Pick<Step, "name" | "fun">, node: string, principal: string): RpcError {
  return new PermissionDeniedError(
    `Step "${step.name}": node "${node}" has not agreed that principal "${principal}" may run ` +
      `"${step.fun}" there (its grants differ from this node's)`,
    { details: { step: step.name, fun: step.fun, principal, node, missing: "agreement" } },
  );
}

function notStarted(message: string): Unstarted {
  return new Unstarted(new NotStartedError(message));
}

/**
 * What the caller gets for a step that no member started: a member's own
 * verdict (1001, 1009, 1012) as it is, but a lost link or a member shutting
 * down as a {@linkcode NotStartedError} naming the step: a 1013 would say it
 * may have run, and a 1014 would say the node the client called is leaving.
 */
function neverStarted(step: Pick<Step, "name" | "fun">, error: RpcError): RpcError {
  const code = error.code;
  if (
    code !== ErrorCode.NotStarted && code !== ErrorCode.Connection &&
    code !== ErrorCode.Unavailable
  ) {
    return error;
  }
  const details = error.details !== null && typeof error.details === "object" ? error.details : {};
  return new NotStartedError(`Step "${step.name}" (${step.fun}) did not start: ${error.message}`, {
    details: { ...details, step: step.name, fun: step.fun },
    cause: error,
  });
}
