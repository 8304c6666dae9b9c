// Copyright 2026 the mpreg authors. MIT license.
/**
 * The cluster side of a node: membership driven by a timer and peer links,
 * routing of steps to members, and forwarding with at-most-once retries.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { expandedSize } from "../_util/expanded_size.ts";
import { ConnectionError, LimitExceededError, type RpcError } from "../protocol/errors.ts";
import type { Limits } from "../protocol/limits.ts";
import type { Step } from "../protocol/step.ts";
import { pickCandidate } from "../registry/router.ts";
import {
  type GossipMessage,
  Membership,
  type MembershipEvent,
  type MemberView,
  type NodeRecord,
  type Outbound,
} from "./membership.ts";
import type { GrantAgreement } from "./grant_agreement.ts";
import { PeerLink, type PeerLinkHost, Unstarted } from "./peer_link.ts";
import type {
  AuthorizeMessage,
  FetchMessage,
  HopDoneMessage,
  HopFailedMessage,
  HopMessage,
  HopStep,
  InputEndMessage,
  InputErrorMessage,
  InputMessage,
  RunMessage,
} from "./peer_protocol.ts";
import { splitInputs } from "./_stream_inputs.ts";
import { HeldValue, splitHeld } from "./held_value.ts";
import { ARGUMENT_STREAM_CREDIT } from "../registry/stream_source.ts";
import type {
  ClusterNodeOptions,
  ClusterStats,
  ForwardOptions,
  RelayOutcome,
  RelayStep,
} from "./cluster_node_types.ts";
import { type AdmissionContext, agree } from "./_admission.ts";
import { CatalogRefresh } from "./_catalog_refresh.ts";
import { Routes } from "./_routes.ts";
import { Dialer } from "./_dialer.ts";
import { RunsForPeers } from "./_runs_for_peers.ts";
import { Hops } from "./_hops.ts";
import { Relays } from "./_relays.ts";
import { neverStarted, noRoute, notAgreed } from "./_step_errors.ts";

export type {
  ClusterNodeOptions,
  ClusterStats,
  ForwardOptions,
  LocalRunner,
  RelayOutcome,
  RelayStep,
} from "./cluster_node_types.ts";

const log = getLogger(["mpreg", "cluster"]);

const MAX_QUEUED = 64;

const GOSSIP_TYPES = new Set(["ping", "ack", "ping-req", "gossip", "sync", "pull", "records"]);

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
  readonly #queued = new Map<string, GossipMessage[]>();
  readonly #load = new Map<string, number>();
  readonly #listeners = new Set<(event: MembershipEvent) => void>();
  readonly #catalogs: CatalogRefresh;
  readonly #routes: Routes;
  /** The digest of this node's grants (fixed for the life of the process). */
  readonly #grants: string;
  #timer: ReturnType<typeof setInterval> | null = null;
  readonly #dialer: Dialer;
  readonly #runs: RunsForPeers;
  /** The steps of relayed chains this node runs for their coordinators. */
  readonly #hops: Hops;
  /** The relayed chains this node coordinates. */
  readonly #relays: Relays;
  readonly #admission: AdmissionContext;
  #stopped = false;
  readonly #stats: ClusterStats = {
    gossipMessagesOut: 0,
    gossipMessagesIn: 0,
    gossipBytesOut: 0,
    gossipBytesIn: 0,
    peerBytesOut: 0,
    peerBytesIn: 0,
    forwarded: 0,
    retried: 0,
    runsForPeers: 0,
    grantChecks: 0,
    grantChecksForPeers: 0,
    links: 0,
    held: 0,
    relayed: 0,
    hops: 0,
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
    this.#routes = new Routes(this.#membership, this.#links, this.#grants);
    this.#catalogs = new CatalogRefresh(this, this.#membership, this.#links);
    this.#dialer = new Dialer(this, options, this.#membership, this.#links, this.#allLinks);
    this.#runs = new RunsForPeers(this, options.local, this.#grants, async (name) => {
      const ready = this.#links.get(name);
      if (ready?.ready) return ready;
      // Links are dialed when first needed: a value held on a member this
      // node never ran a step on.
      const link = await this.#dialer.linkTo(name);
      return link.retired ? this.#links.get(name) ?? link : link;
    });
    this.#hops = new Hops({
      name: options.record.name,
      grants: this.#grants,
      local: options.local,
      ready: (name) => this.#readyLink(name),
      dial: async (name, urls) => {
        const link = await this.#dialer.linkTo(name, urls);
        return link.retired ? this.#links.get(name) ?? link : link;
      },
    });
    this.#relays = new Relays((node, request) => {
      this.#readyLink(node)?.send({ t: "halt", request });
    });
    this.#admission = {
      name: options.record.name,
      grants: this.#grants,
      links: this.#links,
      membership: this.#membership,
      route: (fun, locs) => this.#routes.route(fun, locs),
      agreesUnasked: (fun, locs) => this.#routes.agreesUnasked(fun, locs),
      refreshCatalogs: (ms, signal) => this.#catalogs.refresh(ms, signal),
      linkTo: (name) => this.#dialer.linkTo(name),
    };
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
    return {
      ...this.#stats,
      links: this.#links.size,
      held: this.#runs.held,
      hops: this.#hops.count,
      awareness: this.#membership.awareness,
    };
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
    this.#dialer.joinSeeds();
  }

  /**
   * Updates this node's catalog and pushes the change to every live member
   * at once (and through gossip to the rest).
   *
   * @param change New urls, resources or functions.
   */
  updateSelf(
    change: Partial<
      Pick<
        NodeRecord,
        "urls" | "resources" | "functions" | "permissions" | "idempotent" | "described"
      >
    >,
  ): void {
    this.#routes.invalidate();
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

  /**
   * Stops timers and closes every link.
   *
   * @param timeoutMs The longest wait for the peers to answer the close frames.
   * @returns When every link's socket has closed (each peer answered its
   *   close frame, or its connection ended), or the time is up.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#dialer.stop();
    this.#timer = null;
    const links = [...this.#allLinks];
    for (const link of links) link.close("node stopping");
    this.#catalogs.stop();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(links.map((link) => link.released)),
      new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs)),
    ]);
    clearTimeout(timer);
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
    let candidates = this.#routes.route(fun, locs).candidates;
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
   * @param options The request, the principal, and how the step streams,
   *   reports progress or holds its value (see {@linkcode ForwardOptions}).
   * @returns The step's value.
   */
  async runElsewhere(
    step: Step,
    first: { readonly self: boolean; readonly name: string } | null,
    signal: AbortSignal,
    deadline: number,
    runLocal: () => unknown,
    options: ForwardOptions,
  ): Promise<unknown> {
    const { requestId, principal, traceparent, agreement = null, stream, streamBytes } = options;
    const { progress, mayStream = false, keep } = options;
    const max = this.limits.maxElements;
    const held = splitHeld(step.args, step.kwargs);
    const inputs = splitInputs(held?.args ?? step.args, held?.kwargs ?? step.kwargs);
    const args = inputs?.args ?? held?.args ?? step.args;
    const kwargs = inputs?.kwargs ?? held?.kwargs ?? step.kwargs;
    if (expandedSize([args, kwargs], max) > max) {
      // Arguments built from earlier results can expand exponentially once
      // encoded for the wire: refuse instead of blocking the event loop.
      throw new LimitExceededError(
        `Step "${step.name}": its arguments would hold more than ${max} values once encoded`,
        { details: { limit: "maxElements", max, step: step.name } },
      );
    }
    // The members that refused it or may have run it: made at the first.
    let exclude: Set<string> | undefined;
    let target = first;
    let refused: RpcError | null = null;
    // The failure of a try that may have run the step, once an idempotent
    // step was sent again: what the caller gets if no member is left.
    let mayHaveRun: RpcError | null = null;
    let refreshed = false;
    while (true) {
      if (signal.aborted) throw signal.reason;
      if (target === null) {
        if (mayHaveRun !== null) throw mayHaveRun;
        if (!refreshed && this.#membership.liveNames().length > 0) {
          refreshed = true;
          await this.#catalogs.refresh(Math.min(250, deadline - Date.now()), signal);
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
        let link = ready?.ready ? ready : await this.#dialer.linkTo(name);
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
          args,
          timeout: Math.max(1, deadline - Date.now()),
          request: requestId,
          principal,
        };
        // This node's own digest goes without saying: the runner has it
        // from this link's handshake.
        if (grants !== this.#grants) message.grants = grants;
        if (traceparent !== undefined) message.trace = traceparent;
        if (Object.keys(kwargs).length > 0) message.kwargs = kwargs;
        if (step.locs.length > 0) message.locs = step.locs;
        if (stream !== undefined) {
          message.stream = stream;
          // The client's byte credit goes on unchanged: the runner keeps to it.
          if (streamBytes !== undefined) message.streamBytes = streamBytes;
        } else if (mayStream) {
          message.stream = ARGUMENT_STREAM_CREDIT;
          message.may = true;
        }
        if (inputs !== null) message.ins = inputs.ins;
        if (held !== null) message.held = held.held;
        if (keep !== undefined) message.keep = true;
        this.#stats.forwarded++;
        const value = await link.run(message, signal, progress, inputs?.sources);
        if (keep !== undefined && value instanceof HeldValue) keep(value);
        return value;
      } catch (err) {
        if (
          err instanceof ConnectionError && !signal.aborted && stream === undefined &&
          inputs === null && this.#idempotentOn(name, step.fun)
        ) {
          // It may have run there; it is safe to run twice: another member.
          // (A stream, or a step that read one, is never sent again:
          // docs/protocol.md, Streams.)
          mayHaveRun = err;
          (exclude ??= new Set()).add(name);
          this.#stats.retried++;
          log.debug("Step {step} may have run on {node}: {error}; idempotent, sending it again", {
            step: step.name,
            node: name,
            error: err.message,
          });
          target = this.choose(step.fun, step.locs, exclude);
          continue;
        }
        if (!(err instanceof Unstarted)) throw err;
        refused = err.error;
        (exclude ??= new Set()).add(name);
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
   * Runs a chain of steps as a relay (docs/cluster.md, "Relayed chains"):
   * the first member gets the whole chain, each passes the next step on
   * with its value, and the last answers this node. This node keeps the
   * request's deadline and cancel (it halts the chain on every member), and
   * fails it at once when the link to one of the chain's members closes.
   *
   * @param chain The steps, first first, each with its member.
   * @param signal The request's signal (cancel, deadline).
   * @param deadline The request's deadline, in milliseconds since the epoch.
   * @param options The request's id and principal (and `traceparent`).
   * @returns The outcome, or `null` when the chain is not relayed (the node's
   *   `relayChains` is off, a member has no ready link, or its grants differ
   *   from this node's): run it step by step instead.
   */
  relay(
    chain: readonly RelayStep[],
    signal: AbortSignal,
    deadline: number,
    options: Pick<ForwardOptions, "requestId" | "principal" | "traceparent">,
  ): Promise<RelayOutcome> | null {
    if (this.#options.relayChains === false) return null;
    if (signal.aborted) return Promise.reject(signal.reason);
    const links: PeerLink[] = [];
    for (const { node } of chain) {
      const link = this.#readyLink(node);
      if (link === null || link.retired || link.record?.grants !== this.#grants) return null;
      links.push(link);
    }
    const request = String(options.requestId);
    if (this.#relays.has(request)) return null;
    const [first, ...rest] = chain;
    const step = first!.step;
    const hop: HopMessage = {
      t: "hop",
      request,
      coordinator: this.name,
      principal: options.principal,
      grants: this.#grants,
      timeout: Math.max(1, deadline - Date.now()),
      step: step.name,
      fun: step.fun,
      args: step.args as unknown[],
      then: rest.map((later): HopStep => {
        const next: HopStep = {
          node: later.node,
          step: later.step.name,
          fun: later.step.fun,
          args: later.step.args as unknown[],
          at: later.at,
        };
        if (Object.keys(later.step.kwargs).length > 0) next.kwargs = later.step.kwargs;
        if (later.step.locs.length > 0) next.locs = later.step.locs as string[];
        const urls = this.#membership.member(later.node)?.urls;
        if (urls !== undefined && urls.length > 0) next.urls = [...urls];
        return next;
      }),
    };
    if (Object.keys(step.kwargs).length > 0) hop.kwargs = step.kwargs;
    if (step.locs.length > 0) hop.locs = step.locs as string[];
    if (options.traceparent !== undefined) hop.trace = options.traceparent;
    const outcome = this.#relays.start(request, chain.map((s) => s.node), signal);
    if (links[0]!.hop(hop) !== null) {
      this.#relays.forget(request);
      return null;
    }
    this.#stats.relayed++;
    return outcome;
  }

  /**
   * Whether the other members this node knows of (dead and departed ones
   * too: one of them may be the member that ran it) that offer `fun` all
   * registered it idempotent.
   *
   * @param fun The function.
   * @returns `undefined` when no other known member offers it.
   */
  idempotentElsewhere(fun: string): boolean | undefined {
    let offered = false;
    for (const member of this.#membership.members()) {
      if (member.self || !Object.hasOwn(member.functions, fun)) continue;
      if (!(member.idempotent?.includes(fun) ?? false)) return false;
      offered = true;
    }
    return offered ? true : undefined;
  }

  /** Whether member `name` registered `fun` idempotent (safe to send again). */
  #idempotentOn(name: string, fun: string): boolean {
    return this.#membership.member(name)?.idempotent?.includes(fun) ?? false;
  }

  /**
   * The permission kinds other live members declare for `fun`.
   *
   * @param fun The function.
   * @returns The union of their declarations.
   */
  declaredElsewhere(fun: string): readonly string[] {
    return this.#routes.declaredElsewhere(fun);
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
      if (!this.#routes.agreesUnasked(step.fun, step.locs)) {
        return agree(this.#admission, principal, steps.slice(i), signal, deadline);
      }
    }
    return null;
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
      if (link.dialed) this.#dialer.reachedSelf(link.address);
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
    this.#routes.invalidate();
    this.#dialer.linked(name);
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
    this.#runs.linkClosed(link);
    const name = link.peer;
    if (name === null || this.#links.get(name) !== link) return;
    this.#links.delete(name);
    this.#relays.linkClosed(name);
    this.#hops.linkClosed(name);
    this.#routes.invalidate();
    if (this.#stopped) return;
    log.info("Link to {peer} closed: {reason}", { peer: name, reason: link.closeReason });
    this.#deliver(this.#membership.linkLost(name, Date.now()));
  }

  gossip(_link: PeerLink, message: GossipMessage): void {
    this.#deliver(this.#membership.receive(message, Date.now()));
    if (message.t === "records") this.#catalogs.received(message.from);
  }

  run(link: PeerLink, message: RunMessage): void {
    this.#runs.run(link, message);
  }

  authorize(link: PeerLink, message: AuthorizeMessage): void {
    this.#runs.authorize(link, message);
  }

  traffic(direction: "in" | "out", type: string, bytes: number): void {
    if (direction === "in") this.#stats.peerBytesIn += bytes;
    else this.#stats.peerBytesOut += bytes;
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
    this.#runs.cancelRun(link, id);
  }

  creditRun(link: PeerLink, id: number, n: number, bytes?: number): void {
    this.#runs.creditRun(link, id, n, bytes);
  }

  input(link: PeerLink, message: InputMessage | InputEndMessage | InputErrorMessage): boolean {
    return this.#runs.input(link, message);
  }

  fetch(link: PeerLink, message: FetchMessage): void {
    this.#runs.fetch(link, message);
  }

  drop(link: PeerLink, ref: number): void {
    this.#runs.drop(link, ref);
  }

  hop(_link: PeerLink, message: HopMessage): void {
    this.#hops.hop(message);
  }

  hopAnswer(_link: PeerLink, message: HopDoneMessage | HopFailedMessage): void {
    this.#relays.answer(message);
  }

  halt(_link: PeerLink, request: string): void {
    this.#hops.halt(request);
  }

  /** The ready link to a member, or `null`. */
  #readyLink(name: string): PeerLink | null {
    const link = this.#links.get(name);
    return link?.ready ? link : null;
  }

  /**
   * Fetches the values held elsewhere among a step's arguments (direct
   * handoff), for a step this node runs itself.
   *
   * @param args The positional arguments.
   * @param kwargs The keyword arguments.
   * @param signal Aborting it stops the fetches.
   * @returns The arguments with the values in their places.
   */
  fetchHeld(
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<{ args: unknown[]; kwargs: Record<string, unknown> }> {
    return this.#runs.fetchHeld(args, kwargs, signal);
  }

  // ---- internals -------------------------------------------------------

  #tick(): void {
    const now = Date.now();
    this.#routes.invalidate();
    this.#deliver(this.#membership.tick(now));
    if (this.#membership.liveNames().length === 0 || now >= this.#dialer.nextSeedCheck) {
      this.#dialer.joinSeeds();
    }
  }

  #onEvent(event: MembershipEvent): void {
    const { type, member } = event;
    this.#routes.invalidate();
    // A member that left closes its links itself once its drain is over.
    if (type === "dead") {
      const silent = ((Date.now() - member.lastHeard) / 1000).toFixed(1);
      this.#links.get(member.name)?.close(
        `member "${member.name}" was declared dead (nothing heard from it for ${silent} s)`,
      );
    }
    if (type === "alive" || type === "joined") {
      // News that it is alive (a refutation, a restart) ends the backoff.
      this.#dialer.alive(member.name);
    }
    if (type !== "alive" || member.self === false) {
      log.info("Member {member} {type}", { member: member.name, type });
    }
    if (type === "catalog" || type === "joined" || type === "alive") this.#catalogs.wake();
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
      this.#dialer.linkTo(to).catch(() => this.#queued.delete(to));
    }
  }
}
