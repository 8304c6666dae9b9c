// Copyright 2026 the mpreg authors. MIT license.
/**
 * Cluster membership as a pure state machine: SWIM probing, Lifeguard's
 * suspicion and local health awareness, Moleculer-style digests and
 * anti-entropy, and Serf's reconnection of dead members.
 *
 * {@linkcode Membership} does no I/O, arms no timer and reads no clock or
 * random source of its own: the caller passes the time (`now`, milliseconds)
 * to every method, injects `random`, and sends the {@linkcode Outbound}
 * messages each method returns. The real node drives it from its sockets and
 * a `setInterval` of `intervalMs`; `testing/gossip_simulator.ts` drives a thousand of them in
 * virtual time.
 *
 * ## The model
 *
 * - **Records and digests.** Every member has a {@linkcode NodeRecord}: its
 *   URLs, resources and functions, versioned by `(incarnation,
 *   catalogVersion)`. Gossip carries only {@linkcode Update}s (name,
 *   incarnation, catalog version, state); a node that learns of a catalog
 *   version it does not hold sends a `pull` for the record to whoever told it
 *   and gets `records` back. A held record is stale when an update carries the
 *   same incarnation and a higher catalog version, or a higher incarnation and
 *   a different catalog version (a restart that reset its counter). A record
 *   is replaced by one whose `(incarnation, catalogVersion)` is higher.
 *   Starting `catalogVersion` at the process start time, like the
 *   incarnation, makes every restart visible as a catalog change.
 * - **Probing (SWIM).** Each {@linkcode Membership.tick | tick} first judges
 *   the probes of earlier rounds: a probe not acked whose indirect probes were
 *   sent makes its target suspect; a probe not acked yet gets `ping-req`s to
 *   `indirectProbes` other live members, which ping the target and relay its
 *   ack back (same `seq`, `from` the target). Then it pings the next target
 *   of a shuffled round-robin over the live members, so every member is
 *   probed by every other once per pass (SWIM's bounded detection time).
 *   A member that falls silent is suspected two ticks after the first ping
 *   it misses, and dead everywhere at the first tick at or after the
 *   deadline; a closed socket ({@linkcode Membership.linkLost | linkLost})
 *   starts the suspicion at once.
 * - **Suspicion (Lifeguard).** A suspicion carries `by`, the members that
 *   suspected it on their own evidence (a probe or a link that failed; at
 *   most `suspicionMult - 1` names). Its timeout starts at
 *   `suspicionMaxTimeoutMult · min`, with `min = suspicionMult · max(1,
 *   log10 n) · intervalMs`, and shrinks toward `min` as the
 *   `k = suspicionMult - 2` expected independent confirmations arrive
 *   (`max - (max - min) · log(c + 1) / log(k + 1)`; memberlist drops `k` to 0
 *   in clusters of fewer than `k + 2` members, mpreg does not: a pause in a
 *   three-node cluster gets 11.4 intervals, not 4). A node whose own probe
 *   of a member already suspect fails adds itself to `by` and gossips it
 *   again. Updates about a suspect carry `deadlineIn`, the milliseconds left:
 *   a receiver reckons the suspicion's start from it, and keeps the earlier
 *   of its own deadline and `now + deadlineIn`, so all nodes declare the
 *   member `dead` together. The suspicion is also sent straight to the
 *   suspect (the buddy system), and any message to a member held suspect or
 *   dead carries that news first, so it can refute quickly.
 * - **Local health (Lifeguard).** {@linkcode Membership.awareness} (0 is
 *   healthy) multiplies the probe period and the rounds a probe waits for its
 *   ack before ping-reqs and before a suspicion. A tick that comes a whole
 *   interval late (the node's event loop was blocked: what arrived meanwhile
 *   is still unread) raises it by the intervals missed and judges no probe
 *   and declares no suspect dead that time; refuting a suspicion of itself
 *   raises it by one; each ack to one of its probes lowers it by one. (A
 *   failed probe does not raise it, unlike memberlist without nacks: across
 *   a partition every probe fails, and the node is not at fault.)
 * - **Refutation.** A node told it is suspect, dead or left at an incarnation
 *   at least its own, or alive at a higher one, sets its incarnation to
 *   `max(own, told) + 1` and gossips itself alive.
 * - **Precedence.** Higher incarnation wins; at equal incarnation `left` >
 *   `dead` > `suspect` > `alive`. A restarted node's incarnation (its start
 *   time) outranks its old tombstone.
 * - **Dissemination.** Changes are queued and piggybacked on pings, acks and
 *   ping-reqs, least-sent and most recent first, at most
 *   `maxUpdatesPerMessage` per message (four times as many while more than
 *   that are queued, as after a partition) and `retransmitMult ·
 *   ceil(log10(n + 1))` times each. While anything is queued, each tick also sends a
 *   `gossip` to `fanout` random live members. With nothing queued the only
 *   traffic is one ping and one ack per member per round.
 * - **Anti-entropy.** Pings and acks carry `view`, an order-independent hash
 *   of the live members' `(name, incarnation, catalogVersion)`, self
 *   included. A pinger whose view still differs from the acker's after
 *   applying the ack's updates sends a `sync` (its full digest) when the
 *   exchange was quiet (neither the ping nor the ack carried updates, so
 *   gossip will not settle the difference) or when acks have shown a
 *   different view for `syncEveryRounds` rounds, and never more than once per
 *   `syncEveryRounds` rounds. (Syncing on every difference costs a full
 *   digest each time news is still spreading: at 1,000 members and 5% loss it
 *   was 750 syncs of 75 KB in 100 rounds, against 8 with this rule.) The other
 *   side answers with its own digest, and both apply the entries they did not
 *   know (pulling stale records). What a sync teaches is not gossiped again:
 *   the other side already knows it, and every other node repairs itself
 *   through its own syncs. Suspicion and tombstones are left out of the hash:
 *   a suspicion is settled by gossip within its timeout, and tombstones
 *   expiring a round apart on two nodes must not cost a sync; a member one
 *   node holds live and another dead still makes the views differ.
 * - **Split views.** A sync's digest, and the updates of a member held dead
 *   here (it is talking, so the views split: a partition, a pause), come from
 *   another view of the cluster: a member held live here that they report
 *   dead or suspect becomes suspect here with the full timeout, no
 *   suspector, and is told at once (memberlist's merge of remote state).
 *   Such a _disputed_ suspicion ends only by a refutation or its own
 *   deadline: later reports of the same death from the other side do not
 *   make it dead.
 * - **Reconnection (Serf).** Dead members are kept, with their records, for
 *   `reconnectTimeoutMs`, never probed nor gossiped to. Every
 *   `reconnectIntervalMs` (±25 %), with probability `3 · dead / live`, the
 *   node sends one dead member, picked at random, its full digest as a
 *   `sync`: the answer merges the two views, and each side learns it is held
 *   dead by the other and refutes. A partition therefore heals, and a member
 *   that restarted with nobody to join through is found again.
 * - **Leaving and tombstones.** {@linkcode Membership.leave | leave} bumps the
 *   incarnation and sends the `left` update to every live member at once.
 *   Members that left are kept for `tombstoneMs` (by default as long as dead
 *   ones), never tried again, so a late rumour of them alive at their old
 *   incarnation loses to the tombstone; then they are forgotten. Updates
 *   saying a member unknown here is dead or left are ignored, so forgotten
 *   members stay forgotten; an update saying one is alive or suspect brings
 *   it back (pulling its record), and a restarted node's incarnation (its
 *   start time) outranks anything said of it before.
 *
 * Members appear in {@linkcode Membership.members | members()} once their
 * record is held; an update about an unknown member creates a hidden entry
 * that takes part in precedence and dissemination until its record arrives
 * (it is forgotten if no record comes after a few pulls).
 *
 * @module
 */
import { isRecord } from "./_gossip_checks.ts";
import { Entry, MembershipState, rehash, rehashSelf, selfView, viewOf } from "./_member_table.ts";
import { describedOf, freezeData, permissionsOf } from "./_record_data.ts";
import { enqueue, selfUpdate, syncMessage, tell, toEveryLive } from "./_dissemination.ts";
import { setState, suspect, suspicionTimeoutAfter, suspicionTimeoutMs } from "./_suspicion.ts";
import { acceptData } from "./_merge.ts";
import { runTick } from "./_probing.ts";
import { handleMessage } from "./_receive.ts";
import type {
  GossipMessage,
  MembershipOptions,
  MemberState,
  MemberView,
  NodeRecord,
  Outbound,
} from "./membership_types.ts";

export type {
  GossipMessage,
  MembershipEvent,
  MembershipOptions,
  MemberState,
  MemberView,
  NodeRecord,
  Outbound,
  Update,
} from "./membership_types.ts";
export { isNodeRecord } from "./_gossip_checks.ts";

/**
 * The membership of one node: who is in the cluster, in which state, and what
 * each member offers. A pure state machine: see the module documentation for
 * the protocol.
 *
 * @example Two nodes, messages delivered by hand
 * ```ts ignore
 * import { Membership, type NodeRecord, type Outbound } from "./membership.ts";
 *
 * const record = (name: string): NodeRecord => ({
 *   name, incarnation: 1, catalogVersion: 1, urls: [`ws://${name}:9001`], resources: [], functions: {},
 * });
 * const nodes = new Map([
 *   ["a", new Membership(record("a"), { intervalMs: 1000, random: Math.random })],
 *   ["b", new Membership(record("b"), { intervalMs: 1000, random: Math.random })],
 * ]);
 * const deliver = (out: Outbound[], now: number): void => {
 *   for (const { to, msg } of out) deliver(nodes.get(to)!.receive(msg, now), now);
 * };
 * // The link handshake: each side observes the other; b joins through a.
 * deliver(nodes.get("a")!.observe(nodes.get("b")!.self, 0), 0);
 * deliver(nodes.get("b")!.observe(nodes.get("a")!.self, 0, { bootstrap: true }), 0);
 * for (let round = 1; round <= 3; round++) {
 *   for (const m of nodes.values()) deliver(m.tick(round * 1000), round * 1000);
 * }
 * console.log(nodes.get("b")!.liveNames()); // [ "a" ]
 * ```
 */

export class Membership {
  readonly #s: MembershipState;

  /**
   * Creates the membership of a node.
   *
   * @param self This node's record.
   * @param options Settings; `intervalMs` and `random` are required.
   */
  constructor(self: NodeRecord, options: MembershipOptions) {
    this.#s = new MembershipState(self, options);
  }

  /** This node's record as it stands (a copy). */
  get self(): NodeRecord {
    const d = this.#s.data;
    return {
      name: this.#s.name,
      incarnation: this.#s.incarnation,
      catalogVersion: this.#s.catalogVersion,
      urls: [...d.urls],
      resources: [...d.resources],
      functions: Object.fromEntries(Object.entries(d.functions).map(([k, v]) => [k, [...v]])),
      ...permissionsOf(d),
      ...(d.idempotent.length === 0 ? {} : { idempotent: [...d.idempotent] }),
      ...describedOf(d),
      ...(d.grants === undefined ? {} : { grants: d.grants }),
    };
  }

  /** How many times {@linkcode Membership.tick} has run. */
  get round(): number {
    return this.#s.round;
  }

  /** The current view hash (as sent on pings and acks). */
  get view(): string {
    return this.#s.hash.value;
  }

  /** How many updates wait to be piggybacked (0 at rest). */
  get pending(): number {
    return this.#s.queue.size;
  }

  /**
   * The shortest suspicion timeout for the current cluster size, in
   * milliseconds: a suspicion with every expected confirmation.
   */
  get suspicionTimeoutMs(): number {
    return suspicionTimeoutMs(this.#s);
  }

  /**
   * The suspicion timeout after `confirmations` independent confirmations
   * (Lifeguard): `max - (max - min) · log(c + 1) / log(k + 1)`, never below
   * `min` ({@linkcode Membership.suspicionTimeoutMs}), with `max` =
   * `suspicionMaxTimeoutMult · min` and `k = suspicionMult - 2` expected
   * confirmations.
   *
   * @param confirmations Suspectors beyond the first.
   * @returns Milliseconds from the start of the suspicion.
   */
  suspicionTimeoutAfter(confirmations: number): number {
    return suspicionTimeoutAfter(this.#s, confirmations);
  }

  /**
   * Local health awareness (Lifeguard), from 0 (healthy) up to
   * `awarenessMaxMultiplier - 1`: the probe period and the time a probe waits
   * for its ack are multiplied by `1 + awareness`. It rises when this node's
   * ticks come late (its event loop was blocked), when one of its probes
   * fails, and when it has to refute a suspicion of itself; each ack to one of
   * its probes lowers it by one.
   */
  get awareness(): number {
    return this.#s.awareness;
  }

  /**
   * Every member known: self first, then the others, suspect, dead and left
   * ones included until their tombstones expire.
   *
   * @returns The members.
   */
  members(): MemberView[] {
    const out = [selfView(this.#s)];
    for (const e of this.#s.members.values()) {
      if (e.data !== null) out.push(viewOf(e, e.data));
    }
    return out;
  }

  /**
   * One member, self included.
   *
   * @param name Its name.
   * @returns Its view, or `undefined` when unknown (or its record is not held yet).
   */
  member(name: string): MemberView | undefined {
    if (name === this.#s.name) return selfView(this.#s);
    const e = this.#s.members.get(name);
    return e?.data ? viewOf(e, e.data) : undefined;
  }

  /**
   * One member's state, without building its view (cheap enough to ask
   * about every member of a large cluster).
   *
   * @param name Its name.
   * @returns Its state, or `undefined` when unknown (or its record is not held yet).
   */
  stateOf(name: string): MemberState | undefined {
    if (name === this.#s.name) return this.#s.left ? "left" : "alive";
    const e = this.#s.members.get(name);
    return e?.data ? e.state : undefined;
  }

  /**
   * The members that are alive or suspect, without self.
   *
   * @returns Their names.
   */
  liveNames(): string[] {
    return [...this.#s.live];
  }

  /**
   * A link handshake told us a peer's full record (a join through a seed, or
   * a reconnect). Adds or refreshes it as alive (unless a tombstone has the
   * same or a higher incarnation: then the peer is told, so it refutes),
   * queues an update when that is news, and with `bootstrap` sends the peer a
   * `sync` digest (asking for its own back), so both learn everyone
   * transitively.
   *
   * @param record The peer's record.
   * @param now The current time in milliseconds.
   * @param options `bootstrap`: exchange full digests with the peer.
   * @returns The messages to send.
   */
  observe(record: NodeRecord, now: number, options: { bootstrap?: boolean } = {}): Outbound[] {
    this.#s.now = now;
    const out: Outbound[] = [];
    if (!isRecord(record) || record.name === this.#s.name) return out;
    let e = this.#s.members.get(record.name);
    if (e === undefined) {
      e = new Entry(record.name, record.incarnation, record.catalogVersion, "alive");
      e.lastHeard = now;
      this.#s.members.set(e.name, e);
      rehash(this.#s, e);
      acceptData(this.#s, e, record);
      enqueue(this.#s, e.name);
    } else {
      e.lastHeard = now;
      let news = false;
      if (record.incarnation > e.incarnation) {
        e.incarnation = record.incarnation;
        e.catalogVersion = record.catalogVersion;
        setState(this.#s, e, "alive", now);
        news = true;
      } else if (record.incarnation === e.incarnation && record.catalogVersion > e.catalogVersion) {
        e.catalogVersion = record.catalogVersion;
        rehash(this.#s, e);
        news = true;
      }
      acceptData(this.#s, e, record);
      if (news) enqueue(this.#s, e.name);
      else if (e.state !== "alive" && e.state !== "left") tell(this.#s, e, now, out);
    }
    if (options.bootstrap) {
      this.#s.lastSyncRound = this.#s.round;
      out.push({ to: record.name, msg: syncMessage(this.#s, now, true) });
    }
    return out;
  }

  /**
   * Runs one protocol period; call it once per `intervalMs`.
   *
   * @param now The current time in milliseconds.
   * @returns The messages to send.
   */
  tick(now: number): Outbound[] {
    return runTick(this.#s, now);
  }

  /**
   * Handles a message from another member. Malformed messages are ignored.
   *
   * @param msg The message.
   * @param now The current time in milliseconds.
   * @returns The messages to send (answers, relays, pulls).
   */
  receive(msg: GossipMessage, now: number): Outbound[] {
    return handleMessage(this.#s, msg, now);
  }

  /**
   * The local catalog changed: bumps `catalogVersion` and queues the update.
   *
   * @param change The new URLs, resources or functions.
   * @param now The current time in milliseconds.
   * @returns A `gossip` with the update for every live member, to send now.
   */
  updateSelf(
    change: Partial<
      Pick<
        NodeRecord,
        "urls" | "resources" | "functions" | "permissions" | "idempotent" | "described"
      >
    >,
    now: number,
  ): Outbound[] {
    this.#s.now = now;
    if (this.#s.left) return [];
    const next = freezeData({
      urls: change.urls ?? (this.#s.data.urls as string[]),
      resources: change.resources ?? (this.#s.data.resources as string[]),
      functions: change.functions ?? (this.#s.data.functions as Record<string, string[]>),
      permissions: change.permissions ??
        (this.#s.data.permissions as Record<string, string[]>),
      idempotent: change.idempotent ?? (this.#s.data.idempotent as string[]),
      described: change.described ?? describedOf(this.#s.data).described,
      grants: this.#s.data.grants,
    });
    this.#s.data = next;
    this.#s.catalogVersion++;
    rehashSelf(this.#s);
    enqueue(this.#s, this.#s.name);
    return toEveryLive(this.#s, selfUpdate(this.#s));
  }

  /**
   * Graceful leave: incarnation + 1 and state `left`. After it the node
   * probes and gossips no more (it still answers what it receives).
   *
   * @param now The current time in milliseconds.
   * @returns A `gossip` with the leave for every live member, to send now.
   */
  leave(now: number): Outbound[] {
    this.#s.now = now;
    if (this.#s.left) return [];
    this.#s.left = true;
    this.#s.incarnation++;
    rehashSelf(this.#s);
    enqueue(this.#s, this.#s.name);
    return toEveryLive(this.#s, selfUpdate(this.#s));
  }

  /**
   * The I/O layer lost its link to `name` unexpectedly (its socket closed):
   * suspect it now instead of waiting for probes.
   *
   * @param name The member.
   * @param now The current time in milliseconds.
   * @returns The messages to send (the suspicion, to the suspect itself).
   */
  linkLost(name: string, now: number): Outbound[] {
    this.#s.now = now;
    const out: Outbound[] = [];
    const e = this.#s.members.get(name);
    if (e !== undefined && !this.#s.left) suspect(this.#s, e, now, out);
    return out;
  }
}
