// Copyright 2026 the mpreg authors. MIT license.
/**
 * Merging what others say: updates by precedence, split views from digests, records pulled when stale, anti-entropy syncs and reconnection to dead members. Private to membership.
 *
 * @module
 */
import { isUpdate, RANK } from "./_gossip_checks.ts";
import {
  emit,
  Entry,
  forget,
  index,
  MAX_PULL_TRIES,
  type MembershipState,
  randomLive,
  RECONNECT_TRIES,
  rehash,
  rehashSelf,
  syncLive,
} from "./_member_table.ts";
import { freezeData, sameData } from "./_record_data.ts";
import { enqueue, syncMessage, tell } from "./_dissemination.ts";
import { aware, confirm, setState } from "./_suspicion.ts";
import type { NodeRecord, Outbound, Update } from "./membership_types.ts";

/**
 * After an ack: views that still differ start a sync when the exchange was
 * quiet (neither side had updates to piggyback, so gossip will not settle
 * it), or when they have differed for `syncEveryRounds` rounds; and never
 * more than once per `syncEveryRounds` rounds.
 */
export function compareViews(
  s: MembershipState,
  view: string,
  quiet: boolean,
  to: string,
  now: number,
  out: Outbound[],
): void {
  if (view === s.hash.value) {
    s.divergedSince = -1;
    return;
  }
  if (s.divergedSince < 0) s.divergedSince = s.round;
  const persistent = s.round - s.divergedSince >= s.syncEveryRounds;
  if (!quiet && !persistent) return;
  if (s.round - s.lastSyncRound < s.syncEveryRounds) return;
  s.lastSyncRound = s.round;
  s.divergedSince = -1;
  out.push({ to, msg: syncMessage(s, now, true) });
}

/** Applies the well-formed updates of a message (see `applyUpdate`). */
export function applyAll(
  s: MembershipState,
  updates: unknown[],
  from: string,
  now: number,
  pulls: string[],
  queue: boolean,
  merge: Outbound[] | null = null,
): void {
  for (const u of updates) if (isUpdate(u)) applyUpdate(s, u, from, now, pulls, queue, merge);
}

/**
 * Applies one update by the precedence rules; queues it when it is news and
 * `queue`. With `merge` (a sync's digest), a member held live here that the
 * sender holds dead becomes suspect instead, and is told so in `merge`.
 */
export function applyUpdate(
  s: MembershipState,
  u: Update,
  from: string,
  now: number,
  pulls: string[],
  queue: boolean,
  merge: Outbound[] | null,
): void {
  if (u.name === s.name) {
    if (s.left || u.incarnation < s.incarnation) return;
    if (u.state === "alive" && u.incarnation === s.incarnation) return;
    // Refute: suspect/dead/left at our incarnation or later, or alive at a later one.
    s.incarnation = u.incarnation + 1;
    rehashSelf(s);
    enqueue(s, s.name);
    aware(s, 1);
    return;
  }
  let e = s.members.get(u.name);
  if (e === undefined) {
    // A member unknown (or forgotten) here: news that it is alive or
    // suspect brings it in (a restart outranks any tombstone it had);
    // news of its death or leave is not worth keeping.
    if (u.state === "dead" || u.state === "left") return;
    e = new Entry(u.name, u.incarnation, u.catalogVersion, "alive");
    s.members.set(e.name, e);
    setState(s, e, u.state, now, { deadlineIn: u.deadlineIn, by: u.by ?? [] });
    if (queue) enqueue(s, e.name);
    wantRecord(s, e, from, now, pulls);
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
    setState(s, e, state, now, { deadlineIn, by, restart });
    news = true;
    if (state === "suspect") e.disputed = converted;
    if (converted && merge !== null) tell(s, e, now, merge);
  } else if (u.incarnation === e.incarnation) {
    if (u.catalogVersion > e.catalogVersion) {
      e.catalogVersion = u.catalogVersion;
      rehash(s, e);
      news = true;
    }
    if (state === "suspect" && e.state === "suspect") {
      if (confirm(s, e, by)) news = true;
      if (deadlineIn !== undefined) e.deadline = Math.min(e.deadline, now + deadlineIn);
    }
  }
  if (!news) return;
  if (queue) enqueue(s, e.name);
  wantRecord(s, e, from, now, pulls);
}

/** Asks `from` for `e`'s record when ours is stale (at most once per round). */
export function wantRecord(
  s: MembershipState,
  e: Entry,
  from: string,
  now: number,
  pulls: string[],
): void {
  if (!e.live || !e.stale) return;
  s.stale.add(e.name);
  e.source = from;
  if (now - e.pullAt < s.interval) return;
  e.pullAt = now;
  pulls.push(e.name);
}

/** Takes a record when it is newer than the one held; emits joined or catalog. */
export function acceptData(
  s: MembershipState,
  e: Entry,
  record: NodeRecord,
): void {
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
    s.stale.delete(e.name);
    e.pullTries = 0;
  }
  syncLive(s, e);
  if (before === null) {
    if (e.live) emit(s, "joined", e);
  } else if (versionBefore !== e.dataVersion || !sameData(before, e.data)) {
    emit(s, "catalog", e);
  }
}

/** Pulls again the records still stale a round later, from the member itself when live; forgets a member never seen after a few tries. */
export function retryPulls(
  s: MembershipState,
  now: number,
  out: Outbound[],
): void {
  if (s.stale.size === 0) return;
  const byTarget = new Map<string, string[]>();
  for (const name of s.stale) {
    const e = s.members.get(name);
    if (e === undefined || !e.live || !e.stale) {
      s.stale.delete(name);
      continue;
    }
    if (now - e.pullAt < s.interval) continue;
    if (e.data === null && ++e.pullTries > MAX_PULL_TRIES) {
      forget(s, e);
      continue;
    }
    // The member itself has its record; without one, anyone live may.
    let target: string | undefined = s.liveIndex.has(name) ? name : undefined;
    if (target === undefined) {
      target = randomLive(s, 1, e.source ?? undefined)[0] ?? e.source ?? undefined;
    }
    if (target === undefined) continue;
    e.pullAt = now;
    const names = byTarget.get(target);
    if (names === undefined) byTarget.set(target, [name]);
    else names.push(name);
  }
  for (const [to, names] of byTarget) {
    out.push({ to, msg: { t: "pull", from: s.name, names } });
  }
}

/**
 * Every reconnect interval (±25 %), maybe sends one dead member, picked at
 * random, this node's full digest (its answer merges the two views). The
 * chance is `3 · dead / live` (Serf's rule, tripled): the cluster as a
 * whole tries each dead member about three times per interval.
 */
export function reconnect(
  s: MembershipState,
  now: number,
  out: Outbound[],
): void {
  const jittered = () => s.reconnectInterval * (0.75 + 0.5 * s.random());
  if (Number.isNaN(s.nextReconnect)) {
    s.nextReconnect = now + jittered();
    return;
  }
  if (now < s.nextReconnect) return;
  s.nextReconnect = now + jittered();
  if (s.tombstones.size === 0) return;
  const dead: Entry[] = [];
  for (const name of s.tombstones) {
    const e = s.members.get(name);
    if (e !== undefined && e.state === "dead" && e.data !== null) dead.push(e);
  }
  if (dead.length === 0) return;
  const chance = (RECONNECT_TRIES * dead.length) / (s.live.length + 1);
  if (chance < 1 && s.random() >= chance) return;
  const e = dead[index(s.random, dead.length)]!;
  out.push({ to: e.name, msg: syncMessage(s, now, true) });
}
