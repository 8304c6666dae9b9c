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
import { type EntryHash, entryHash, ViewHash } from "./_view_hash.ts";

/**
 * The state of a member as this node sees it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type MemberState, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * const state: MemberState = server.cluster.self.state;
 * assert.equal(state, "alive");
 * ```
 */
export type MemberState = "alive" | "suspect" | "dead" | "left";

/**
 * A member's full record; pulled only when a digest shows it is stale.
 *
 * @example
 * ```ts ignore
 * import type { NodeRecord } from "./membership.ts";
 * const record: NodeRecord = {
 *   name: "n1", incarnation: 1767225600000, catalogVersion: 1767225600000,
 *   urls: ["ws://10.0.0.1:9001"], resources: ["gpu"], functions: { infer: ["model-a"] },
 * };
 * ```
 */
export interface NodeRecord {
  /** The unique node name. */
  name: string;
  /**
   * Starts at the process start time in milliseconds (so a restart outranks
   * old tombstones); +1 on each refutation or leave.
   */
  incarnation: number;
  /** Bumped on every change of `urls`, `resources` or `functions`. */
  catalogVersion: number;
  /** The URLs the node advertises. */
  urls: string[];
  /** The node-level resources it offers. */
  resources: string[];
  /** Function name → the function's extra resources. */
  functions: Record<string, string[]>;
  /**
   * Function name → the permission kinds it declares (`net`, `read`, …);
   * functions that declare none are left out, and so is the whole map when
   * no function declares any.
   */
  permissions?: Record<string, string[]>;
  /**
   * A digest of the node's grants (its principals and anonymous grant): two
   * nodes with the same digest decide alike who may call what. Fixed for the
   * life of the process.
   */
  grants?: string;
}

/**
 * A member as this node sees it. Its arrays are shared and frozen: read only.
 *
 * @example
 * ```ts ignore
 * import type { MemberView } from "./membership.ts";
 * function describe(m: MemberView): string {
 *   return `${m.name} ${m.state}${m.self ? " (self)" : ""}`;
 * }
 * ```
 */
export interface MemberView extends NodeRecord {
  /** Its state. */
  state: MemberState;
  /** When it was last heard from (the `now` of that call). */
  lastHeard: number;
  /** Whether it is this node. */
  self: boolean;
}

/**
 * What gossip says about one member.
 *
 * @example
 * ```ts ignore
 * import type { Update } from "./membership.ts";
 * const u: Update = { name: "n2", incarnation: 7, catalogVersion: 3, state: "suspect", deadlineIn: 4000 };
 * ```
 */
export interface Update {
  /** The member. */
  name: string;
  /** Its incarnation. */
  incarnation: number;
  /** Its latest catalog version. */
  catalogVersion: number;
  /** Its state. */
  state: MemberState;
  /** For a suspect: milliseconds left before it is declared dead. */
  deadlineIn?: number;
  /**
   * For a suspect: the members that suspected it on their own evidence (a
   * probe or a link that failed), the first one first; each one after the
   * first is a confirmation that shortens the suspicion (Lifeguard).
   */
  by?: string[];
}

/**
 * The messages members exchange.
 *
 * @example
 * ```ts ignore
 * import type { GossipMessage } from "./membership.ts";
 * const ping: GossipMessage = { t: "ping", seq: 1, from: "n1", view: "1x2.3y4", updates: [] };
 * ```
 */
export type GossipMessage =
  | { t: "ping"; seq: number; from: string; view: string; updates: Update[] }
  | { t: "ack"; seq: number; from: string; view: string; updates: Update[] }
  | { t: "ping-req"; seq: number; from: string; target: string; updates: Update[] }
  | { t: "gossip"; from: string; updates: Update[] }
  | { t: "sync"; from: string; digest: Update[]; reply: boolean }
  | { t: "pull"; from: string; names: string[] }
  | { t: "records"; from: string; records: NodeRecord[] };

/**
 * A message to send, and to whom.
 *
 * @example
 * ```ts ignore
 * import type { Outbound } from "./membership.ts";
 * function send(out: Outbound[]): void {
 *   for (const { to, msg } of out) console.log(to, msg.t);
 * }
 * ```
 */
export interface Outbound {
  /** The member to send it to. */
  to: string;
  /** The message. */
  msg: GossipMessage;
}

/**
 * A change in the membership: `joined` (first seen), `alive` (recovered from
 * suspect or dead), `suspect`, `dead`, `left`, or `catalog` (its record
 * changed). Never emitted about this node itself.
 *
 * @example
 * ```ts ignore
 * import type { MembershipEvent } from "./membership.ts";
 * const log = (e: MembershipEvent) => console.log(e.type, e.member.name);
 * ```
 */
export type MembershipEvent = {
  type: "joined" | "alive" | "suspect" | "dead" | "left" | "catalog";
  member: MemberView;
};

/**
 * Settings of a {@linkcode Membership}.
 *
 * @example
 * ```ts ignore
 * import type { MembershipOptions } from "./membership.ts";
 * const options: MembershipOptions = { intervalMs: 1000, random: Math.random };
 * ```
 */
export interface MembershipOptions {
  /** The protocol period: the node's gossip interval. */
  intervalMs: number;
  /** Members asked to probe a target that did not ack (default 3). */
  indirectProbes?: number;
  /** Extra gossip targets per round while updates are pending (default 3). */
  fanout?: number;
  /**
   * The shortest suspicion timeout is `suspicionMult · max(1, log10(n)) ·
   * intervalMs`, n the live members; a suspicion waits for
   * `suspicionMult - 2` independent confirmations to get there (default 4).
   */
  suspicionMult?: number;
  /**
   * A suspicion without confirmations lasts this many times the shortest
   * timeout, and shrinks toward it as confirmations arrive (Lifeguard;
   * default 6, 1 for a fixed timer).
   */
  suspicionMaxTimeoutMult?: number;
  /**
   * Local health awareness (Lifeguard): a node that finds itself slow (its
   * ticks come late, its probes fail, it has to refute suspicions) probes
   * less often and waits longer for acks, up to this many times (default 8).
   */
  awarenessMaxMultiplier?: number;
  /** Each update is piggybacked `retransmitMult · ceil(log10(n + 1))` times (default 4). */
  retransmitMult?: number;
  /**
   * How often this node tries to reach a member it holds dead, with jitter
   * (±25 %), in milliseconds (default 30 s). Each try sends one dead member,
   * picked at random, this node's full digest; the cluster as a whole tries
   * each dead member about three times per interval.
   */
  reconnectIntervalMs?: number;
  /**
   * How long dead members are kept (with their records) and tried again,
   * in milliseconds (default 24 h).
   */
  reconnectTimeoutMs?: number;
  /**
   * How long members that left are kept, never tried again, so a late
   * rumour cannot bring them back (default `reconnectTimeoutMs`).
   */
  tombstoneMs?: number;
  /**
   * Anti-entropy at most once per this many rounds, and after views have
   * differed for this many rounds even while updates are spreading (default 10).
   */
  syncEveryRounds?: number;
  /** Most updates piggybacked on one message (default 16). */
  maxUpdatesPerMessage?: number;
  /** The random source, in [0, 1). */
  random: () => number;
  /** Called synchronously on every membership change. */
  onEvent?: (event: MembershipEvent) => void;
  /**
   * Members already known at start, as alive, without queuing updates about
   * them: the state of a cluster at rest (for simulations and tests).
   */
  members?: readonly NodeRecord[];
}

// ---------------------------------------------------------------------------

/** A record's data, frozen so it can be shared with views and messages. */
interface RecordData {
  readonly urls: readonly string[];
  readonly resources: readonly string[];
  readonly functions: Readonly<Record<string, readonly string[]>>;
  readonly permissions: Readonly<Record<string, readonly string[]>>;
  readonly grants: string | undefined;
}

const NO_PERMISSIONS: Readonly<Record<string, readonly string[]>> = Object.freeze({});

const RANK: Readonly<Record<MemberState, number>> = { alive: 0, suspect: 1, dead: 2, left: 3 };
const NO_HASH: EntryHash = [0, 0];
/** Pulls of a record for a member never seen before, before it is forgotten. */
const MAX_PULL_TRIES = 5;
/** How many times per reconnect interval the cluster tries each dead member, on average. */
const RECONNECT_TRIES = 3;
/** Rounds a relayed ping waits for its ack. */
const RELAY_ROUNDS = 2;

class Entry {
  name: string;
  incarnation: number;
  /** The latest catalog version heard of. */
  catalogVersion: number;
  state: MemberState;
  lastHeard: number;
  /** Suspicion deadline (state suspect). */
  deadline = 0;
  /** When the suspicion started, as this node reckons it (state suspect). */
  suspectedAt = 0;
  /** Who suspected it on their own evidence, the first one first (state suspect). */
  suspectors: string[] = [];
  /**
   * The suspicion came from a split view (a sync, or a member held dead):
   * only a refutation or its own deadline ends it, not more reports of the
   * death from the other side (state suspect).
   */
  disputed = false;
  /** Tombstone expiry (state dead or left). */
  expires = 0;
  data: RecordData | null = null;
  dataIncarnation = 0;
  dataVersion = 0;
  hash: EntryHash = NO_HASH;
  hashed = false;
  /** Who told us about the version we lack: where to pull it. */
  source: string | null = null;
  pullAt = -Infinity;
  pullTries = 0;
  toldRound = -1;

  constructor(name: string, incarnation: number, catalogVersion: number, state: MemberState) {
    this.name = name;
    this.incarnation = incarnation;
    this.catalogVersion = catalogVersion;
    this.state = state;
    this.lastHeard = 0;
  }

  get live(): boolean {
    return this.state === "alive" || this.state === "suspect";
  }

  /** Whether the held record is older than what gossip says. */
  get stale(): boolean {
    if (this.data === null) return true;
    if (this.dataIncarnation === this.incarnation) return this.dataVersion < this.catalogVersion;
    return this.dataIncarnation < this.incarnation && this.dataVersion !== this.catalogVersion;
  }
}

interface Probe {
  target: string;
  incarnation: number;
  /** The round the ping was sent. */
  sent: number;
  /** The round the ping-reqs were sent, or -1. */
  indirect: number;
  /** The ping carried no updates. */
  quiet: boolean;
}

/** An update waiting to be piggybacked. */
interface QueueItem {
  name: string;
  transmits: number;
}

interface Relay {
  requester: string;
  seq: number;
  target: string;
  round: number;
}

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === "string");
}

function isFiniteNumber(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function isUpdate(x: unknown): x is Update {
  if (!isObject(x)) return false;
  return typeof x.name === "string" && isFiniteNumber(x.incarnation) &&
    isFiniteNumber(x.catalogVersion) && typeof x.state === "string" && x.state in RANK &&
    (x.deadlineIn === undefined || (isFiniteNumber(x.deadlineIn) && x.deadlineIn >= 0)) &&
    (x.by === undefined || isStringArray(x.by));
}

/**
 * Whether a value has the shape of a {@linkcode NodeRecord} (used on
 * everything that arrives from a peer).
 *
 * @param x The value.
 * @returns True when it is a record.
 */
export function isNodeRecord(x: unknown): x is NodeRecord {
  return isRecord(x);
}

function isRecord(x: unknown): x is NodeRecord {
  if (!isObject(x)) return false;
  if (typeof x.name !== "string" || !isFiniteNumber(x.incarnation)) return false;
  if (!isFiniteNumber(x.catalogVersion) || !isStringArray(x.urls)) return false;
  if (!isStringArray(x.resources) || !isObject(x.functions)) return false;
  if (!Object.values(x.functions).every(isStringArray)) return false;
  if (x.grants != null && typeof x.grants !== "string") return false;
  return x.permissions === undefined ||
    (isObject(x.permissions) && Object.values(x.permissions).every(isStringArray));
}

function isMessage(x: unknown): x is GossipMessage {
  if (!isObject(x) || typeof x.from !== "string") return false;
  switch (x.t) {
    case "ping":
    case "ack":
      return isFiniteNumber(x.seq) && typeof x.view === "string" && Array.isArray(x.updates);
    case "ping-req":
      return isFiniteNumber(x.seq) && typeof x.target === "string" && Array.isArray(x.updates);
    case "gossip":
      return Array.isArray(x.updates);
    case "sync":
      return Array.isArray(x.digest) && typeof x.reply === "boolean";
    case "pull":
      return isStringArray(x.names);
    case "records":
      return Array.isArray(x.records);
    default:
      return false;
  }
}

function frozenList(list: readonly string[]): readonly string[] {
  return Object.isFrozen(list) ? list : Object.freeze([...list]);
}

function frozenMap(
  map: Readonly<Record<string, readonly string[]>>,
): Readonly<Record<string, readonly string[]>> {
  if (Object.isFrozen(map)) return map;
  return Object.freeze(Object.fromEntries(Object.entries(map).map(([k, v]) => [k, frozenList(v)])));
}

/** Freezes a record's data, copying what is not frozen yet (so callers' arrays are never frozen). */
function freezeData(
  record: Pick<NodeRecord, "urls" | "resources" | "functions" | "permissions" | "grants">,
): RecordData {
  return {
    urls: frozenList(record.urls),
    resources: frozenList(record.resources),
    functions: frozenMap(record.functions),
    permissions: record.permissions === undefined ? NO_PERMISSIONS : frozenMap(record.permissions),
    grants: typeof record.grants === "string" ? record.grants : undefined,
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}

function sameMap(
  a: Readonly<Record<string, readonly string[]>>,
  b: Readonly<Record<string, readonly string[]>>,
): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => {
    const other = b[k];
    return other !== undefined && sameList(a[k]!, other);
  });
}

function sameData(a: RecordData, b: RecordData): boolean {
  if (!sameList(a.urls, b.urls) || !sameList(a.resources, b.resources)) return false;
  if (a.grants !== b.grants) return false;
  return sameMap(a.functions, b.functions) && sameMap(a.permissions, b.permissions);
}

/** A record's data as the fields of a record or a view (shared, frozen arrays). */
function dataFields(
  d: RecordData,
): Pick<NodeRecord, "urls" | "resources" | "functions" | "permissions" | "grants"> {
  return {
    urls: d.urls as string[],
    resources: d.resources as string[],
    functions: d.functions as Record<string, string[]>,
    ...permissionsOf(d),
    ...(d.grants === undefined ? {} : { grants: d.grants }),
  };
}

/** The permissions map of a record, left out when empty. */
function permissionsOf(d: RecordData): { permissions?: Record<string, string[]> } {
  return d.permissions === NO_PERMISSIONS || Object.keys(d.permissions).length === 0
    ? {}
    : { permissions: d.permissions as Record<string, string[]> };
}

function index(random: () => number, n: number): number {
  return Math.min(n - 1, Math.max(0, Math.floor(random() * n)));
}

function shuffle<T>(list: T[], random: () => number): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = index(random, i + 1);
    const t = list[i]!;
    list[i] = list[j]!;
    list[j] = t;
  }
  return list;
}

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
  #name: string;
  #incarnation: number;
  #catalogVersion: number;
  #data: RecordData;
  #left = false;
  #selfHash: EntryHash;

  #interval: number;
  #indirectProbes: number;
  #fanout: number;
  #suspicionMult: number;
  #suspicionMaxMult: number;
  #maxAwareness: number;
  #retransmitMult: number;
  #reconnectInterval: number;
  #reconnectTimeout: number;
  #tombstoneMs: number;
  #syncEveryRounds: number;
  #maxUpdates: number;
  #random: () => number;
  #onEvent: ((event: MembershipEvent) => void) | undefined;

  #now = 0;
  #round = 0;
  #seq = 0;
  #lastSyncRound = -Infinity;
  /** The round since which acks have shown a different view, or -1. */
  #divergedSince = -1;
  /** The time of the last tick, or -1 before the first. */
  #lastTick = -1;
  /** The round of the last probe sent. */
  #lastProbeRound = -Infinity;
  /** Local health: 0 is healthy; timeouts and the probe period scale by `1 + awareness`. */
  #awareness = 0;
  /** When to try the next dead member; NaN before the first tick. */
  #nextReconnect = NaN;
  /** The earliest time a tombstone may expire. */
  #tombstoneCheck = Infinity;

  #members = new Map<string, Entry>();
  /** Visible (record held) live members, not self: probe and gossip targets. */
  #live: string[] = [];
  #liveIndex = new Map<string, number>();
  #probeOrder: string[] = [];
  #probeIndex = 0;
  #probes = new Map<number, Probe>();
  #relays = new Map<number, Relay>();
  #suspects = new Set<string>();
  #tombstones = new Set<string>();
  #stale = new Set<string>();
  #queue = new Map<string, QueueItem>();
  /**
   * The queued updates by times sent, each a stack (most recent on top);
   * an item no longer in `#queue` is skipped when it comes up.
   */
  #buckets: QueueItem[][] = [];
  #hash = new ViewHash();

  /**
   * Creates the membership of a node.
   *
   * @param self This node's record.
   * @param options Settings; `intervalMs` and `random` are required.
   */
  constructor(self: NodeRecord, options: MembershipOptions) {
    if (!isRecord(self)) throw new TypeError("Membership: invalid self record");
    if (!isFiniteNumber(options.intervalMs) || options.intervalMs <= 0) {
      throw new RangeError("Membership: intervalMs must be a positive number");
    }
    if (typeof options.random !== "function") {
      throw new TypeError("Membership: options.random is required");
    }
    this.#name = self.name;
    this.#incarnation = self.incarnation;
    this.#catalogVersion = self.catalogVersion;
    this.#data = freezeData(self);
    this.#interval = options.intervalMs;
    this.#indirectProbes = options.indirectProbes ?? 3;
    this.#fanout = options.fanout ?? 3;
    this.#suspicionMult = options.suspicionMult ?? 4;
    this.#suspicionMaxMult = Math.max(1, options.suspicionMaxTimeoutMult ?? 6);
    this.#maxAwareness = Math.max(1, Math.floor(options.awarenessMaxMultiplier ?? 8)) - 1;
    this.#retransmitMult = options.retransmitMult ?? 4;
    this.#reconnectInterval = options.reconnectIntervalMs ?? 30_000;
    this.#reconnectTimeout = options.reconnectTimeoutMs ?? 86_400_000;
    this.#tombstoneMs = options.tombstoneMs ?? this.#reconnectTimeout;
    this.#syncEveryRounds = options.syncEveryRounds ?? 10;
    this.#maxUpdates = Math.max(1, options.maxUpdatesPerMessage ?? 16);
    this.#random = options.random;
    this.#onEvent = options.onEvent;
    this.#selfHash = entryHash(this.#name, this.#incarnation, this.#catalogVersion);
    this.#hash.add(this.#selfHash);
    for (const record of options.members ?? []) {
      if (!isRecord(record) || record.name === this.#name || this.#members.has(record.name)) {
        continue;
      }
      const e = new Entry(record.name, record.incarnation, record.catalogVersion, "alive");
      e.data = freezeData(record);
      e.dataIncarnation = record.incarnation;
      e.dataVersion = record.catalogVersion;
      this.#members.set(e.name, e);
      this.#rehash(e);
      this.#liveIndex.set(e.name, this.#live.length);
      this.#live.push(e.name);
    }
    this.#probeOrder = shuffle([...this.#live], this.#random);
  }

  /** This node's record as it stands (a copy). */
  get self(): NodeRecord {
    const d = this.#data;
    return {
      name: this.#name,
      incarnation: this.#incarnation,
      catalogVersion: this.#catalogVersion,
      urls: [...d.urls],
      resources: [...d.resources],
      functions: Object.fromEntries(Object.entries(d.functions).map(([k, v]) => [k, [...v]])),
      ...permissionsOf(d),
      ...(d.grants === undefined ? {} : { grants: d.grants }),
    };
  }

  /** How many times {@linkcode Membership.tick} has run. */
  get round(): number {
    return this.#round;
  }

  /** The current view hash (as sent on pings and acks). */
  get view(): string {
    return this.#hash.value;
  }

  /** How many updates wait to be piggybacked (0 at rest). */
  get pending(): number {
    return this.#queue.size;
  }

  /**
   * The shortest suspicion timeout for the current cluster size, in
   * milliseconds: a suspicion with every expected confirmation.
   */
  get suspicionTimeoutMs(): number {
    const n = this.#live.length + 1;
    return this.#suspicionMult * Math.max(1, Math.log10(n)) * this.#interval;
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
    const min = this.suspicionTimeoutMs;
    const max = min * this.#suspicionMaxMult;
    const k = this.#suspicionMult - 2;
    if (k < 1 || max <= min) return min;
    const fraction = Math.log(Math.max(0, confirmations) + 1) / Math.log(k + 1);
    return Math.max(min, Math.floor(max - fraction * (max - min)));
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
    return this.#awareness;
  }

  /**
   * Every member known: self first, then the others, suspect, dead and left
   * ones included until their tombstones expire.
   *
   * @returns The members.
   */
  members(): MemberView[] {
    const out = [this.#selfView()];
    for (const e of this.#members.values()) if (e.data !== null) out.push(this.#view(e, e.data));
    return out;
  }

  /**
   * One member, self included.
   *
   * @param name Its name.
   * @returns Its view, or `undefined` when unknown (or its record is not held yet).
   */
  member(name: string): MemberView | undefined {
    if (name === this.#name) return this.#selfView();
    const e = this.#members.get(name);
    return e?.data ? this.#view(e, e.data) : undefined;
  }

  /**
   * One member's state, without building its view (cheap enough to ask
   * about every member of a large cluster).
   *
   * @param name Its name.
   * @returns Its state, or `undefined` when unknown (or its record is not held yet).
   */
  stateOf(name: string): MemberState | undefined {
    if (name === this.#name) return this.#left ? "left" : "alive";
    const e = this.#members.get(name);
    return e?.data ? e.state : undefined;
  }

  /**
   * The members that are alive or suspect, without self.
   *
   * @returns Their names.
   */
  liveNames(): string[] {
    return [...this.#live];
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
    this.#now = now;
    const out: Outbound[] = [];
    if (!isRecord(record) || record.name === this.#name) return out;
    let e = this.#members.get(record.name);
    if (e === undefined) {
      e = new Entry(record.name, record.incarnation, record.catalogVersion, "alive");
      e.lastHeard = now;
      this.#members.set(e.name, e);
      this.#rehash(e);
      this.#acceptData(e, record);
      this.#enqueue(e.name);
    } else {
      e.lastHeard = now;
      let news = false;
      if (record.incarnation > e.incarnation) {
        e.incarnation = record.incarnation;
        e.catalogVersion = record.catalogVersion;
        this.#setState(e, "alive", now);
        news = true;
      } else if (record.incarnation === e.incarnation && record.catalogVersion > e.catalogVersion) {
        e.catalogVersion = record.catalogVersion;
        this.#rehash(e);
        news = true;
      }
      this.#acceptData(e, record);
      if (news) this.#enqueue(e.name);
      else if (e.state !== "alive" && e.state !== "left") this.#tell(e, now, out);
    }
    if (options.bootstrap) {
      this.#lastSyncRound = this.#round;
      out.push({ to: record.name, msg: this.#sync(now, true) });
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
    this.#now = now;
    this.#round++;
    const out: Outbound[] = [];
    if (this.#left) return out;
    // A tick a whole interval late: this node's event loop was blocked, and
    // what arrived meanwhile is still unread. It judges no probe and declares
    // no suspect dead this time, and is slower to accuse for a while.
    const late = this.#lastTick < 0 ? 0 : now - this.#lastTick - this.#interval;
    this.#lastTick = now;
    const stalled = late >= this.#interval;
    if (stalled) this.#aware(Math.floor(late / this.#interval));
    this.#expire(now, stalled);
    if (!stalled) this.#judgeProbes(now, out);
    this.#retryPulls(now, out);
    const due = this.#round - this.#lastProbeRound > this.#awareness;
    const target = due ? this.#nextProbeTarget() : undefined;
    if (target !== undefined) {
      const e = this.#members.get(target)!;
      const seq = ++this.#seq;
      const updates = this.#takeUpdates(now, target);
      const quiet = updates.length === 0;
      this.#lastProbeRound = this.#round;
      this.#probes.set(seq, {
        target,
        incarnation: e.incarnation,
        sent: this.#round,
        indirect: -1,
        quiet,
      });
      out.push({
        to: target,
        msg: { t: "ping", seq, from: this.#name, view: this.#hash.value, updates },
      });
    }
    if (this.#queue.size > 0) {
      for (const to of this.#randomLive(this.#fanout, target)) {
        const updates = this.#takeUpdates(now, to);
        if (updates.length === 0) break;
        out.push({ to, msg: { t: "gossip", from: this.#name, updates } });
      }
    }
    this.#reconnect(now, out);
    return out;
  }

  /**
   * Handles a message from another member. Malformed messages are ignored.
   *
   * @param msg The message.
   * @param now The current time in milliseconds.
   * @returns The messages to send (answers, relays, pulls).
   */
  receive(msg: GossipMessage, now: number): Outbound[] {
    this.#now = now;
    const out: Outbound[] = [];
    if (!isMessage(msg) || msg.from === this.#name) return out;
    const from = msg.from;
    const sender = this.#members.get(from);
    if (sender !== undefined) sender.lastHeard = now;
    const pulls: string[] = [];
    // A member held dead here is talking: the views split (a partition, a
    // pause). The deaths it reports may be of members alive on this side:
    // they become suspicions, told at once, as in a sync.
    const merge = sender?.state === "dead" ? out : null;
    switch (msg.t) {
      case "ping": {
        this.#applyAll(msg.updates, from, now, pulls, true, merge);
        const updates = this.#takeUpdates(now, from);
        out.push({
          to: from,
          msg: { t: "ack", seq: msg.seq, from: this.#name, view: this.#hash.value, updates },
        });
        break;
      }
      case "ack": {
        this.#applyAll(msg.updates, from, now, pulls, true, merge);
        const probe = this.#probes.get(msg.seq);
        if (probe !== undefined) {
          if (probe.target === from) {
            this.#probes.delete(msg.seq);
            this.#aware(-1);
            this.#compareViews(msg.view, probe.quiet && msg.updates.length === 0, from, now, out);
          }
          break;
        }
        const relay = this.#relays.get(msg.seq);
        if (relay !== undefined && relay.target === from) {
          this.#relays.delete(msg.seq);
          out.push({
            to: relay.requester,
            msg: { t: "ack", seq: relay.seq, from, view: msg.view, updates: msg.updates },
          });
        }
        break;
      }
      case "ping-req": {
        this.#applyAll(msg.updates, from, now, pulls, true, merge);
        if (this.#liveIndex.has(msg.target)) {
          const seq = ++this.#seq;
          this.#relays.set(seq, {
            requester: from,
            seq: msg.seq,
            target: msg.target,
            round: this.#round,
          });
          out.push({
            to: msg.target,
            msg: {
              t: "ping",
              seq,
              from: this.#name,
              view: this.#hash.value,
              updates: this.#takeUpdates(now, msg.target),
            },
          });
        }
        break;
      }
      case "gossip":
        this.#applyAll(msg.updates, from, now, pulls, true, merge);
        break;
      case "sync":
        // Dead in the sender's view is only suspect here, and told at once:
        // after a partition, each side holds the other dead (memberlist).
        this.#applyAll(msg.digest, from, now, pulls, false, out);
        if (msg.reply) out.push({ to: from, msg: this.#sync(now, false) });
        break;
      case "pull": {
        const records: NodeRecord[] = [];
        for (const name of msg.names) {
          const record = this.#record(name);
          if (record !== undefined) records.push(record);
        }
        if (records.length > 0) {
          out.push({ to: from, msg: { t: "records", from: this.#name, records } });
        }
        break;
      }
      case "records":
        for (const record of msg.records) {
          if (!isRecord(record) || record.name === this.#name) continue;
          const e = this.#members.get(record.name);
          if (e !== undefined) this.#acceptData(e, record);
        }
        break;
    }
    if (pulls.length > 0) {
      out.push({ to: from, msg: { t: "pull", from: this.#name, names: pulls } });
    }
    // A member we hold dead is still talking: tell it, so it refutes (acks already carry it).
    if (
      sender !== undefined && sender.state === "dead" && msg.t !== "ping" &&
      sender.toldRound !== this.#round
    ) {
      this.#tell(sender, now, out);
    }
    return out;
  }

  /**
   * The local catalog changed: bumps `catalogVersion` and queues the update.
   *
   * @param change The new URLs, resources or functions.
   * @param now The current time in milliseconds.
   * @returns A `gossip` with the update for every live member, to send now.
   */
  updateSelf(
    change: Partial<Pick<NodeRecord, "urls" | "resources" | "functions" | "permissions">>,
    now: number,
  ): Outbound[] {
    this.#now = now;
    if (this.#left) return [];
    const next = freezeData({
      urls: change.urls ?? (this.#data.urls as string[]),
      resources: change.resources ?? (this.#data.resources as string[]),
      functions: change.functions ?? (this.#data.functions as Record<string, string[]>),
      permissions: change.permissions ??
        (this.#data.permissions as Record<string, string[]>),
      grants: this.#data.grants,
    });
    this.#data = next;
    this.#catalogVersion++;
    this.#rehashSelf();
    this.#enqueue(this.#name);
    return this.#toEveryLive(this.#selfUpdate());
  }

  /**
   * Graceful leave: incarnation + 1 and state `left`. After it the node
   * probes and gossips no more (it still answers what it receives).
   *
   * @param now The current time in milliseconds.
   * @returns A `gossip` with the leave for every live member, to send now.
   */
  leave(now: number): Outbound[] {
    this.#now = now;
    if (this.#left) return [];
    this.#left = true;
    this.#incarnation++;
    this.#rehashSelf();
    this.#enqueue(this.#name);
    return this.#toEveryLive(this.#selfUpdate());
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
    this.#now = now;
    const out: Outbound[] = [];
    const e = this.#members.get(name);
    if (e !== undefined && !this.#left) this.#suspect(e, now, out);
    return out;
  }

  // --- views --------------------------------------------------------------

  #selfView(): MemberView {
    const d = this.#data;
    return {
      name: this.#name,
      incarnation: this.#incarnation,
      catalogVersion: this.#catalogVersion,
      ...dataFields(d),
      state: this.#left ? "left" : "alive",
      lastHeard: this.#now,
      self: true,
    };
  }

  #view(e: Entry, d: RecordData): MemberView {
    return {
      name: e.name,
      incarnation: e.incarnation,
      catalogVersion: e.dataVersion,
      ...dataFields(d),
      state: e.state,
      lastHeard: e.lastHeard,
      self: false,
    };
  }

  #emit(type: MembershipEvent["type"], e: Entry): void {
    if (this.#onEvent !== undefined && e.data !== null) {
      this.#onEvent({ type, member: this.#view(e, e.data) });
    }
  }

  #record(name: string): NodeRecord | undefined {
    if (name === this.#name) {
      const d = this.#data;
      return {
        name,
        incarnation: this.#incarnation,
        catalogVersion: this.#catalogVersion,
        ...dataFields(d),
      };
    }
    const e = this.#members.get(name);
    if (e?.data == null) return undefined;
    return {
      name,
      incarnation: e.dataIncarnation,
      catalogVersion: e.dataVersion,
      ...dataFields(e.data),
    };
  }

  // --- updates ------------------------------------------------------------

  #selfUpdate(): Update {
    return {
      name: this.#name,
      incarnation: this.#incarnation,
      catalogVersion: this.#catalogVersion,
      state: this.#left ? "left" : "alive",
    };
  }

  #updateOf(e: Entry, now: number): Update {
    const u: Update = {
      name: e.name,
      incarnation: e.incarnation,
      catalogVersion: e.catalogVersion,
      state: e.state,
    };
    if (e.state === "suspect") {
      u.deadlineIn = Math.max(0, e.deadline - now);
      if (e.suspectors.length > 0) u.by = [...e.suspectors];
    }
    return u;
  }

  #enqueue(name: string): void {
    const item: QueueItem = { name, transmits: 0 };
    this.#queue.set(name, item);
    (this.#buckets[0] ??= []).push(item);
  }

  #retransmitLimit(): number {
    return this.#retransmitMult * Math.ceil(Math.log10(this.#live.length + 2));
  }

  /**
   * Updates for one message to `to`: its own bad news first, then the queue,
   * least sent first (most recent first among equals): up to
   * `maxUpdatesPerMessage`, or four times as many while more than that wait
   * (after a partition or a mass failure, when gossip alone would take too
   * long to spread them all).
   */
  #takeUpdates(now: number, to: string | undefined): Update[] {
    const out: Update[] = [];
    const target = to === undefined ? undefined : this.#members.get(to);
    const buddy = target !== undefined && (target.state === "suspect" || target.state === "dead");
    if (buddy) out.push(this.#updateOf(target, now));
    if (this.#queue.size === 0) {
      if (this.#buckets.length > 0) this.#buckets = [];
      return out;
    }
    const limit = this.#retransmitLimit();
    const backlog = 4 * this.#maxUpdates;
    const max = this.#queue.size > backlog ? backlog : this.#maxUpdates;
    const sent: QueueItem[] = [];
    for (let t = 0; t < this.#buckets.length && out.length < max; t++) {
      const bucket = this.#buckets[t]!;
      let skipped: QueueItem | undefined;
      while (bucket.length > 0 && out.length < max) {
        const item = bucket.pop()!;
        // Re-queued, sent or forgotten since it was put here.
        if (this.#queue.get(item.name) !== item) continue;
        if (buddy && item.name === to) {
          skipped = item;
          continue;
        }
        let u: Update;
        if (item.name === this.#name) u = this.#selfUpdate();
        else {
          const e = this.#members.get(item.name);
          if (e === undefined) {
            this.#queue.delete(item.name);
            continue;
          }
          u = this.#updateOf(e, now);
        }
        out.push(u);
        sent.push(item);
      }
      if (skipped !== undefined) bucket.push(skipped);
    }
    for (let i = sent.length - 1; i >= 0; i--) {
      const item = sent[i]!;
      if (++item.transmits >= limit) this.#queue.delete(item.name);
      else (this.#buckets[item.transmits] ??= []).push(item);
    }
    return out;
  }

  #toEveryLive(update: Update): Outbound[] {
    return this.#live.map((to) => ({
      to,
      msg: { t: "gossip", from: this.#name, updates: [update] } as GossipMessage,
    }));
  }

  /** Sends `e` what we hold about it, so it refutes. */
  #tell(e: Entry, now: number, out: Outbound[]): void {
    e.toldRound = this.#round;
    out.push({
      to: e.name,
      msg: { t: "gossip", from: this.#name, updates: [this.#updateOf(e, now)] },
    });
  }

  #sync(now: number, reply: boolean): GossipMessage {
    const digest: Update[] = [this.#selfUpdate()];
    for (const e of this.#members.values()) digest.push(this.#updateOf(e, now));
    return { t: "sync", from: this.#name, digest, reply };
  }

  /**
   * After an ack: views that still differ start a sync when the exchange was
   * quiet (neither side had updates to piggyback, so gossip will not settle
   * it), or when they have differed for `syncEveryRounds` rounds; and never
   * more than once per `syncEveryRounds` rounds.
   */
  #compareViews(view: string, quiet: boolean, to: string, now: number, out: Outbound[]): void {
    if (view === this.#hash.value) {
      this.#divergedSince = -1;
      return;
    }
    if (this.#divergedSince < 0) this.#divergedSince = this.#round;
    const persistent = this.#round - this.#divergedSince >= this.#syncEveryRounds;
    if (!quiet && !persistent) return;
    if (this.#round - this.#lastSyncRound < this.#syncEveryRounds) return;
    this.#lastSyncRound = this.#round;
    this.#divergedSince = -1;
    out.push({ to, msg: this.#sync(now, true) });
  }

  #applyAll(
    updates: unknown[],
    from: string,
    now: number,
    pulls: string[],
    queue: boolean,
    merge: Outbound[] | null = null,
  ): void {
    for (const u of updates) if (isUpdate(u)) this.#apply(u, from, now, pulls, queue, merge);
  }

  /**
   * Applies one update by the precedence rules; queues it when it is news and
   * `queue`. With `merge` (a sync's digest), a member held live here that the
   * sender holds dead becomes suspect instead, and is told so in `merge`.
   */
  #apply(
    u: Update,
    from: string,
    now: number,
    pulls: string[],
    queue: boolean,
    merge: Outbound[] | null,
  ): void {
    if (u.name === this.#name) {
      if (this.#left || u.incarnation < this.#incarnation) return;
      if (u.state === "alive" && u.incarnation === this.#incarnation) return;
      // Refute: suspect/dead/left at our incarnation or later, or alive at a later one.
      this.#incarnation = u.incarnation + 1;
      this.#rehashSelf();
      this.#enqueue(this.#name);
      this.#aware(1);
      return;
    }
    let e = this.#members.get(u.name);
    if (e === undefined) {
      // A member unknown (or forgotten) here: news that it is alive or
      // suspect brings it in (a restart outranks any tombstone it had);
      // news of its death or leave is not worth keeping.
      if (u.state === "dead" || u.state === "left") return;
      e = new Entry(u.name, u.incarnation, u.catalogVersion, "alive");
      this.#members.set(e.name, e);
      this.#setState(e, u.state, now, { deadlineIn: u.deadlineIn, by: u.by ?? [] });
      if (queue) this.#enqueue(e.name);
      this.#wantRecord(e, from, now, pulls);
      return;
    }
    let state = u.state;
    let deadlineIn = u.deadlineIn;
    let by = u.by ?? [];
    const converted = e.live && (
      (merge !== null && (state === "dead" || state === "suspect")) ||
      (e.disputed && state === "dead")
    );
    if (converted) {
      // Nobody's own evidence: the full timeout, for the member to refute.
      state = "suspect";
      deadlineIn = undefined;
      by = [];
    }
    let news = false;
    if (
      u.incarnation > e.incarnation ||
      (u.incarnation === e.incarnation && RANK[state] > RANK[e.state])
    ) {
      e.catalogVersion = u.incarnation > e.incarnation
        ? u.catalogVersion
        : Math.max(e.catalogVersion, u.catalogVersion);
      const restart = u.incarnation > e.incarnation;
      e.incarnation = u.incarnation;
      this.#setState(e, state, now, { deadlineIn, by, restart });
      news = true;
      if (state === "suspect") e.disputed = converted;
      if (converted && merge !== null) this.#tell(e, now, merge);
    } else if (u.incarnation === e.incarnation) {
      if (u.catalogVersion > e.catalogVersion) {
        e.catalogVersion = u.catalogVersion;
        this.#rehash(e);
        news = true;
      }
      if (state === "suspect" && e.state === "suspect") {
        if (this.#confirm(e, by)) news = true;
        if (deadlineIn !== undefined) e.deadline = Math.min(e.deadline, now + deadlineIn);
      }
    }
    if (!news) return;
    if (queue) this.#enqueue(e.name);
    this.#wantRecord(e, from, now, pulls);
  }

  /**
   * Adds independent suspectors of `e` (at most `suspicionMult - 1` in all:
   * the first and the expected confirmations) and shortens its deadline to
   * match (Lifeguard).
   *
   * @returns Whether one was new.
   */
  #confirm(e: Entry, by: readonly string[]): boolean {
    const cap = Math.max(1, this.#suspicionMult - 1);
    let grew = false;
    for (const name of by) {
      if (e.suspectors.length >= cap) break;
      if (name !== e.name && !e.suspectors.includes(name)) {
        e.suspectors.push(name);
        grew = true;
      }
    }
    if (grew) {
      const timeout = this.suspicionTimeoutAfter(e.suspectors.length - 1);
      e.deadline = Math.min(e.deadline, e.suspectedAt + timeout);
    }
    return grew;
  }

  /** Moves local health by `delta`, within its bounds. */
  #aware(delta: number): void {
    this.#awareness = Math.min(this.#maxAwareness, Math.max(0, this.#awareness + delta));
  }

  /**
   * Every reconnect interval (±25 %), maybe sends one dead member, picked at
   * random, this node's full digest (its answer merges the two views). The
   * chance is `3 · dead / live` (Serf's rule, tripled): the cluster as a
   * whole tries each dead member about three times per interval.
   */
  #reconnect(now: number, out: Outbound[]): void {
    const jittered = () => this.#reconnectInterval * (0.75 + 0.5 * this.#random());
    if (Number.isNaN(this.#nextReconnect)) {
      this.#nextReconnect = now + jittered();
      return;
    }
    if (now < this.#nextReconnect) return;
    this.#nextReconnect = now + jittered();
    if (this.#tombstones.size === 0) return;
    const dead: Entry[] = [];
    for (const name of this.#tombstones) {
      const e = this.#members.get(name);
      if (e !== undefined && e.state === "dead" && e.data !== null) dead.push(e);
    }
    if (dead.length === 0) return;
    const chance = (RECONNECT_TRIES * dead.length) / (this.#live.length + 1);
    if (chance < 1 && this.#random() >= chance) return;
    const e = dead[index(this.#random, dead.length)]!;
    out.push({ to: e.name, msg: this.#sync(now, true) });
  }

  /** Asks `from` for `e`'s record when ours is stale (at most once per round). */
  #wantRecord(e: Entry, from: string, now: number, pulls: string[]): void {
    if (!e.live || !e.stale) return;
    this.#stale.add(e.name);
    e.source = from;
    if (now - e.pullAt < this.#interval) return;
    e.pullAt = now;
    pulls.push(e.name);
  }

  /** Takes a record when it is newer than the one held; emits joined or catalog. */
  #acceptData(e: Entry, record: NodeRecord): void {
    if (
      e.data !== null && !(record.incarnation > e.dataIncarnation ||
        (record.incarnation === e.dataIncarnation && record.catalogVersion > e.dataVersion))
    ) {
      return;
    }
    const before = e.data;
    const versionBefore = e.dataVersion;
    e.data = freezeData(record);
    e.dataIncarnation = record.incarnation;
    e.dataVersion = record.catalogVersion;
    if (!e.stale) {
      this.#stale.delete(e.name);
      e.pullTries = 0;
    }
    this.#syncLive(e);
    if (before === null) {
      if (e.live) this.#emit("joined", e);
    } else if (versionBefore !== e.dataVersion || !sameData(before, e.data)) {
      this.#emit("catalog", e);
    }
  }

  // --- state --------------------------------------------------------------

  /**
   * Sets `e`'s state. A new suspicion (`restart`: at a new incarnation)
   * starts with the suspectors `by` and a deadline reckoned from
   * `deadlineIn`, the time the teller had left, so that every node declares
   * the member dead together; a suspicion already held only takes new
   * suspectors and the earlier deadline.
   */
  #setState(
    e: Entry,
    state: MemberState,
    now: number,
    suspicion: { deadlineIn?: number | undefined; by?: readonly string[]; restart?: boolean } = {},
  ): void {
    const previous = e.state;
    e.state = state;
    if (state === "suspect") {
      const { deadlineIn, by = [] } = suspicion;
      if (previous !== "suspect" || suspicion.restart === true) {
        e.suspectors = [];
        e.deadline = Infinity;
        this.#confirm(e, by);
        const timeout = this.suspicionTimeoutAfter(e.suspectors.length - 1);
        e.suspectedAt = deadlineIn === undefined ? now : Math.min(now, now + deadlineIn - timeout);
        e.deadline = e.suspectedAt + timeout;
      } else {
        this.#confirm(e, by);
        if (deadlineIn !== undefined) e.deadline = Math.min(e.deadline, now + deadlineIn);
      }
      this.#suspects.add(e.name);
    } else {
      this.#suspects.delete(e.name);
      e.suspectors = [];
      e.disputed = false;
    }
    if (state === "dead" || state === "left") {
      if (previous !== state) {
        e.expires = now + (state === "dead" ? this.#reconnectTimeout : this.#tombstoneMs);
        this.#tombstoneCheck = Math.min(this.#tombstoneCheck, e.expires);
      }
      this.#tombstones.add(e.name);
      this.#stale.delete(e.name);
    } else {
      this.#tombstones.delete(e.name);
    }
    this.#rehash(e);
    this.#syncLive(e);
    if (previous === state) return;
    if (state === "alive") {
      if (previous !== "alive") this.#emit("alive", e);
    } else this.#emit(state, e);
  }

  /**
   * This node's own evidence (a probe that failed, a link that closed)
   * against `e`: a new suspicion, or a confirmation of one already held.
   */
  #suspect(e: Entry, now: number, out: Outbound[]): void {
    if (e.state === "alive") {
      this.#setState(e, "suspect", now, { by: [this.#name] });
      this.#enqueue(e.name);
      this.#tell(e, now, out);
    } else if (e.state === "suspect" && this.#confirm(e, [this.#name])) {
      this.#enqueue(e.name);
    }
  }

  #rehash(e: Entry): void {
    if (e.hashed) this.#hash.remove(e.hash);
    e.hashed = e.live;
    if (e.hashed) {
      e.hash = entryHash(e.name, e.incarnation, e.catalogVersion);
      this.#hash.add(e.hash);
    }
  }

  #rehashSelf(): void {
    this.#hash.remove(this.#selfHash);
    this.#selfHash = this.#left
      ? NO_HASH
      : entryHash(this.#name, this.#incarnation, this.#catalogVersion);
    this.#hash.add(this.#selfHash);
  }

  /** Keeps `#live` (visible, alive or suspect) in step with `e`. */
  #syncLive(e: Entry): void {
    const should = e.data !== null && e.live;
    const at = this.#liveIndex.get(e.name);
    if (should && at === undefined) {
      this.#liveIndex.set(e.name, this.#live.length);
      this.#live.push(e.name);
      // A new member goes to a random place in what is left of this probe pass.
      const rest = this.#probeOrder.length - this.#probeIndex;
      this.#probeOrder.splice(this.#probeIndex + index(this.#random, rest + 1), 0, e.name);
    } else if (!should && at !== undefined) {
      const last = this.#live.pop()!;
      if (last !== e.name) {
        this.#live[at] = last;
        this.#liveIndex.set(last, at);
      }
      this.#liveIndex.delete(e.name);
    }
  }

  #forget(e: Entry): void {
    this.#members.delete(e.name);
    if (e.hashed) this.#hash.remove(e.hash);
    e.hashed = false;
    e.state = "left";
    this.#syncLive(e);
    this.#suspects.delete(e.name);
    this.#tombstones.delete(e.name);
    this.#stale.delete(e.name);
    this.#queue.delete(e.name);
  }

  /** Declares suspects dead at their deadline (not after a stall), forgets expired tombstones. */
  #expire(now: number, stalled: boolean): void {
    if (!stalled) {
      for (const name of this.#suspects) {
        const e = this.#members.get(name);
        if (e === undefined || e.state !== "suspect") this.#suspects.delete(name);
        else if (e.deadline <= now) {
          this.#setState(e, "dead", now);
          this.#enqueue(name);
        }
      }
    }
    if (now >= this.#tombstoneCheck) {
      let next = Infinity;
      for (const name of this.#tombstones) {
        const e = this.#members.get(name);
        if (e === undefined) this.#tombstones.delete(name);
        else if (e.expires <= now) this.#forget(e);
        else next = Math.min(next, e.expires);
      }
      this.#tombstoneCheck = next;
    }
    for (const [seq, relay] of this.#relays) {
      if (this.#round - relay.round > RELAY_ROUNDS) this.#relays.delete(seq);
    }
  }

  /**
   * A probe unanswered for `1 + awareness` rounds gets ping-reqs; unanswered
   * for as long again, its target is suspected (or the suspicion confirmed).
   */
  #judgeProbes(now: number, out: Outbound[]): void {
    const wait = 1 + this.#awareness;
    for (const [seq, probe] of this.#probes) {
      const e = this.#members.get(probe.target);
      if (e === undefined || !e.live || e.incarnation !== probe.incarnation) {
        this.#probes.delete(seq);
      } else if (probe.indirect < 0) {
        if (this.#round - probe.sent < wait) continue;
        probe.indirect = this.#round;
        for (const helper of this.#randomLive(this.#indirectProbes, probe.target)) {
          out.push({
            to: helper,
            msg: {
              t: "ping-req",
              seq,
              from: this.#name,
              target: probe.target,
              updates: this.#takeUpdates(now, helper),
            },
          });
        }
      } else if (this.#round - probe.indirect >= wait) {
        this.#probes.delete(seq);
        this.#suspect(e, now, out);
      }
    }
  }

  #retryPulls(now: number, out: Outbound[]): void {
    if (this.#stale.size === 0) return;
    const byTarget = new Map<string, string[]>();
    for (const name of this.#stale) {
      const e = this.#members.get(name);
      if (e === undefined || !e.live || !e.stale) {
        this.#stale.delete(name);
        continue;
      }
      if (now - e.pullAt < this.#interval) continue;
      if (e.data === null && ++e.pullTries > MAX_PULL_TRIES) {
        this.#forget(e);
        continue;
      }
      // The member itself has its record; without one, anyone live may.
      let target: string | undefined = this.#liveIndex.has(name) ? name : undefined;
      if (target === undefined) {
        target = this.#randomLive(1, e.source ?? undefined)[0] ?? e.source ?? undefined;
      }
      if (target === undefined) continue;
      e.pullAt = now;
      const names = byTarget.get(target);
      if (names === undefined) byTarget.set(target, [name]);
      else names.push(name);
    }
    for (const [to, names] of byTarget) {
      out.push({ to, msg: { t: "pull", from: this.#name, names } });
    }
  }

  #nextProbeTarget(): string | undefined {
    for (let pass = 0; pass < 2; pass++) {
      while (this.#probeIndex < this.#probeOrder.length) {
        const name = this.#probeOrder[this.#probeIndex++]!;
        if (this.#liveIndex.has(name)) return name;
      }
      if (this.#live.length === 0) return undefined;
      this.#probeOrder = shuffle([...this.#live], this.#random);
      this.#probeIndex = 0;
    }
    return undefined;
  }

  /** Up to `k` distinct random live members, never `exclude`. */
  #randomLive(k: number, exclude: string | undefined): string[] {
    const live = this.#live;
    const n = live.length;
    if (k <= 0 || n === 0) return [];
    const available = n - (exclude !== undefined && this.#liveIndex.has(exclude) ? 1 : 0);
    if (available <= k) return live.filter((name) => name !== exclude);
    const picked = new Set<string>();
    for (let tries = 0; picked.size < k && tries < 4 * k + 8; tries++) {
      const name = live[index(this.#random, n)]!;
      if (name !== exclude) picked.add(name);
    }
    // A degenerate random source: fill up in order.
    for (let i = 0; picked.size < k && i < n; i++) if (live[i] !== exclude) picked.add(live[i]!);
    return [...picked];
  }
}
