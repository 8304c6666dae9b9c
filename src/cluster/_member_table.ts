// Copyright 2026 the mpreg authors. MIT license.
/**
 * The member table: one entry per member known, the live list and the probe
 * order, the view hash, and the state every part of membership shares
 * ({@linkcode MembershipState}). Private to membership.
 *
 * @module
 */
import { type EntryHash, entryHash, ViewHash } from "./_view_hash.ts";
import { isFiniteNumber, isRecord } from "./_gossip_checks.ts";
import { dataFields, freezeData, type RecordData } from "./_record_data.ts";
import type {
  MembershipEvent,
  MembershipOptions,
  MemberState,
  MemberView,
  NodeRecord,
} from "./membership_types.ts";

/** The hash of no entry (a member that is not live, or self after leaving). */
export const NO_HASH: EntryHash = [0, 0];
/** Pulls of a record for a member never seen before, before it is forgotten. */
export const MAX_PULL_TRIES = 5;
/** How many times per reconnect interval the cluster tries each dead member, on average. */
export const RECONNECT_TRIES = 3;
/** Rounds a relayed ping waits for its ack. */
export const RELAY_ROUNDS = 2;

/** What this node holds about one other member. */
export class Entry {
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

/** A ping of this node waiting for its ack. */
export interface Probe {
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
export interface QueueItem {
  name: string;
  transmits: number;
}

/** A ping sent for another member (a `ping-req`), whose ack goes back to it. */
export interface Relay {
  requester: string;
  seq: number;
  target: string;
  round: number;
}

/** A random index below `n`, safe from a random source that returns 1. */
export function index(random: () => number, n: number): number {
  return Math.min(n - 1, Math.max(0, Math.floor(random() * n)));
}

/** Shuffles `list` in place (Fisher-Yates) and returns it. */
export function shuffle<T>(list: T[], random: () => number): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = index(random, i + 1);
    const t = list[i]!;
    list[i] = list[j]!;
    list[j] = t;
  }
  return list;
}

/** Everything one node's membership holds; the parts of membership work on it. */
export class MembershipState {
  name: string;
  incarnation: number;
  catalogVersion: number;
  data: RecordData;
  left = false;
  selfHash: EntryHash;
  interval: number;
  indirectProbes: number;
  fanout: number;
  suspicionMult: number;
  suspicionMaxMult: number;
  maxAwareness: number;
  retransmitMult: number;
  reconnectInterval: number;
  reconnectTimeout: number;
  tombstoneMs: number;
  syncEveryRounds: number;
  maxUpdates: number;
  random: () => number;
  onEvent: ((event: MembershipEvent) => void) | undefined;
  now = 0;
  round = 0;
  seq = 0;
  lastSyncRound = -Infinity;
  /** The round since which acks have shown a different view, or -1. */
  divergedSince = -1;
  /** The time of the last tick, or -1 before the first. */
  lastTick = -1;
  /** The round of the last probe sent. */
  lastProbeRound = -Infinity;
  /** Local health: 0 is healthy; timeouts and the probe period scale by `1 + awareness`. */
  awareness = 0;
  /** When to try the next dead member; NaN before the first tick. */
  nextReconnect = NaN;
  /** The earliest time a tombstone may expire. */
  tombstoneCheck = Infinity;
  members = new Map<string, Entry>();
  /** Visible (record held) live members, not self: probe and gossip targets. */
  live: string[] = [];
  liveIndex = new Map<string, number>();
  probeOrder: string[] = [];
  probeIndex = 0;
  probes = new Map<number, Probe>();
  relays = new Map<number, Relay>();
  suspects = new Set<string>();
  tombstones = new Set<string>();
  stale = new Set<string>();
  queue = new Map<string, QueueItem>();
  /**
   * The queued updates by times sent, each a stack (most recent on top);
   * an item no longer in `#queue` is skipped when it comes up.
   */
  buckets: QueueItem[][] = [];
  hash = new ViewHash();

  constructor(self: NodeRecord, options: MembershipOptions) {
    if (!isRecord(self)) throw new TypeError("Membership: invalid self record");
    if (!isFiniteNumber(options.intervalMs) || options.intervalMs <= 0) {
      throw new RangeError("Membership: intervalMs must be a positive number");
    }
    if (typeof options.random !== "function") {
      throw new TypeError("Membership: options.random is required");
    }
    this.name = self.name;
    this.incarnation = self.incarnation;
    this.catalogVersion = self.catalogVersion;
    this.data = freezeData(self);
    this.interval = options.intervalMs;
    this.indirectProbes = options.indirectProbes ?? 3;
    this.fanout = options.fanout ?? 3;
    this.suspicionMult = options.suspicionMult ?? 4;
    this.suspicionMaxMult = Math.max(1, options.suspicionMaxTimeoutMult ?? 6);
    this.maxAwareness = Math.max(1, Math.floor(options.awarenessMaxMultiplier ?? 8)) - 1;
    this.retransmitMult = options.retransmitMult ?? 4;
    this.reconnectInterval = options.reconnectIntervalMs ?? 30_000;
    this.reconnectTimeout = options.reconnectTimeoutMs ?? 86_400_000;
    this.tombstoneMs = options.tombstoneMs ?? this.reconnectTimeout;
    this.syncEveryRounds = options.syncEveryRounds ?? 10;
    this.maxUpdates = Math.max(1, options.maxUpdatesPerMessage ?? 16);
    this.random = options.random;
    this.onEvent = options.onEvent;
    this.selfHash = entryHash(this.name, this.incarnation, this.catalogVersion);
    this.hash.add(this.selfHash);
    for (const record of options.members ?? []) {
      if (!isRecord(record) || record.name === this.name || this.members.has(record.name)) {
        continue;
      }
      const e = new Entry(record.name, record.incarnation, record.catalogVersion, "alive");
      e.data = freezeData(record);
      e.dataIncarnation = record.incarnation;
      e.dataVersion = record.catalogVersion;
      this.members.set(e.name, e);
      rehash(this, e);
      this.liveIndex.set(e.name, this.live.length);
      this.live.push(e.name);
    }
    this.probeOrder = shuffle([...this.live], this.random);
  }
}

/** This node's own view. */
export function selfView(s: MembershipState): MemberView {
  const d = s.data;
  return {
    name: s.name,
    incarnation: s.incarnation,
    catalogVersion: s.catalogVersion,
    ...dataFields(d),
    state: s.left ? "left" : "alive",
    lastHeard: s.now,
    self: true,
  };
}

/** A member's view, from its entry and its record data. */
export function viewOf(
  e: Entry,
  d: RecordData,
): MemberView {
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

/** Tells `onEvent` of a change of a member whose record is held. */
export function emit(
  s: MembershipState,
  type: MembershipEvent["type"],
  e: Entry,
): void {
  if (s.onEvent !== undefined && e.data !== null) {
    s.onEvent({ type, member: viewOf(e, e.data) });
  }
}

/** A member's record as held (self included), for a `pull`. */
export function recordOf(
  s: MembershipState,
  name: string,
): NodeRecord | undefined {
  if (name === s.name) {
    const d = s.data;
    return {
      name,
      incarnation: s.incarnation,
      catalogVersion: s.catalogVersion,
      ...dataFields(d),
    };
  }
  const e = s.members.get(name);
  if (e?.data == null) return undefined;
  return {
    name,
    incarnation: e.dataIncarnation,
    catalogVersion: e.dataVersion,
    ...dataFields(e.data),
  };
}

/** Keeps the view hash in step with `e` (only live members count). */
export function rehash(
  s: MembershipState,
  e: Entry,
): void {
  if (e.hashed) s.hash.remove(e.hash);
  e.hashed = e.live;
  if (e.hashed) {
    e.hash = entryHash(e.name, e.incarnation, e.catalogVersion);
    s.hash.add(e.hash);
  }
}

/** Keeps the view hash in step with this node's own entry. */
export function rehashSelf(s: MembershipState): void {
  s.hash.remove(s.selfHash);
  s.selfHash = s.left ? NO_HASH : entryHash(s.name, s.incarnation, s.catalogVersion);
  s.hash.add(s.selfHash);
}

/** Keeps `#live` (visible, alive or suspect) in step with `e`. */
export function syncLive(
  s: MembershipState,
  e: Entry,
): void {
  const should = e.data !== null && e.live;
  const at = s.liveIndex.get(e.name);
  if (should && at === undefined) {
    s.liveIndex.set(e.name, s.live.length);
    s.live.push(e.name);
    // A new member goes to a random place in what is left of this probe pass.
    const rest = s.probeOrder.length - s.probeIndex;
    s.probeOrder.splice(s.probeIndex + index(s.random, rest + 1), 0, e.name);
  } else if (!should && at !== undefined) {
    const last = s.live.pop()!;
    if (last !== e.name) {
      s.live[at] = last;
      s.liveIndex.set(last, at);
    }
    s.liveIndex.delete(e.name);
  }
}

/** Drops a member entirely (an expired tombstone, a record never found). */
export function forget(
  s: MembershipState,
  e: Entry,
): void {
  s.members.delete(e.name);
  if (e.hashed) s.hash.remove(e.hash);
  e.hashed = false;
  e.state = "left";
  syncLive(s, e);
  s.suspects.delete(e.name);
  s.tombstones.delete(e.name);
  s.stale.delete(e.name);
  s.queue.delete(e.name);
}

/** The next live member of the shuffled round-robin probe order, reshuffled each pass. */
export function nextProbeTarget(s: MembershipState): string | undefined {
  for (let pass = 0; pass < 2; pass++) {
    while (s.probeIndex < s.probeOrder.length) {
      const name = s.probeOrder[s.probeIndex++]!;
      if (s.liveIndex.has(name)) return name;
    }
    if (s.live.length === 0) return undefined;
    s.probeOrder = shuffle([...s.live], s.random);
    s.probeIndex = 0;
  }
  return undefined;
}

/** Up to `k` distinct random live members, never `exclude`. */
export function randomLive(
  s: MembershipState,
  k: number,
  exclude: string | undefined,
): string[] {
  const live = s.live;
  const n = live.length;
  if (k <= 0 || n === 0) return [];
  const available = n - (exclude !== undefined && s.liveIndex.has(exclude) ? 1 : 0);
  if (available <= k) return live.filter((name) => name !== exclude);
  const picked = new Set<string>();
  for (let tries = 0; picked.size < k && tries < 4 * k + 8; tries++) {
    const name = live[index(s.random, n)]!;
    if (name !== exclude) picked.add(name);
  }
  // A degenerate random source: fill up in order.
  for (let i = 0; picked.size < k && i < n; i++) if (live[i] !== exclude) picked.add(live[i]!);
  return [...picked];
}
