// Copyright 2026 the mpreg authors. MIT license.
/**
 * Member states and suspicion (Lifeguard): the suspicion timeout and its confirmations, local health awareness, and every state change. Private to membership.
 *
 * @module
 */
import { emit, type Entry, type MembershipState, rehash, syncLive } from "./_member_table.ts";
import { enqueue, tell } from "./_dissemination.ts";
import type { MemberState, Outbound } from "./membership_types.ts";

/**
 * The shortest suspicion timeout for the current cluster size, in
 * milliseconds: a suspicion with every expected confirmation.
 */
export function suspicionTimeoutMs(s: MembershipState): number {
  const n = s.live.length + 1;
  return s.suspicionMult * Math.max(1, Math.log10(n)) * s.interval;
}

/**
 * The suspicion timeout after `confirmations` independent confirmations
 * (Lifeguard): `max - (max - min) · log(c + 1) / log(k + 1)`, never below
 * `min`, with `max` = `suspicionMaxTimeoutMult · min` and `k =
 * suspicionMult - 2` expected confirmations.
 */
export function suspicionTimeoutAfter(s: MembershipState, confirmations: number): number {
  const min = suspicionTimeoutMs(s);
  const max = min * s.suspicionMaxMult;
  const k = s.suspicionMult - 2;
  if (k < 1 || max <= min) return min;
  const fraction = Math.log(Math.max(0, confirmations) + 1) / Math.log(k + 1);
  return Math.max(min, Math.floor(max - fraction * (max - min)));
}

/**
 * Adds independent suspectors of `e` (at most `suspicionMult - 1` in all:
 * the first and the expected confirmations) and shortens its deadline to
 * match (Lifeguard).
 *
 * @returns Whether one was new.
 */
export function confirm(
  s: MembershipState,
  e: Entry,
  by: readonly string[],
): boolean {
  const cap = Math.max(1, s.suspicionMult - 1);
  let grew = false;
  for (const name of by) {
    if (e.suspectors.length >= cap) break;
    if (name !== e.name && !e.suspectors.includes(name)) {
      e.suspectors.push(name);
      grew = true;
    }
  }
  if (grew) {
    const timeout = suspicionTimeoutAfter(s, e.suspectors.length - 1);
    e.deadline = Math.min(e.deadline, e.suspectedAt + timeout);
  }
  return grew;
}

/** Moves local health by `delta`, within its bounds. */
export function aware(
  s: MembershipState,
  delta: number,
): void {
  s.awareness = Math.min(s.maxAwareness, Math.max(0, s.awareness + delta));
}

/**
 * Sets `e`'s state. A new suspicion (`restart`: at a new incarnation)
 * starts with the suspectors `by` and a deadline reckoned from
 * `deadlineIn`, the time the teller had left, so that every node declares
 * the member dead together; a suspicion already held only takes new
 * suspectors and the earlier deadline.
 */
export function setState(
  s: MembershipState,
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
      confirm(s, e, by);
      const timeout = suspicionTimeoutAfter(s, e.suspectors.length - 1);
      e.suspectedAt = deadlineIn === undefined ? now : Math.min(now, now + deadlineIn - timeout);
      e.deadline = e.suspectedAt + timeout;
    } else {
      confirm(s, e, by);
      if (deadlineIn !== undefined) e.deadline = Math.min(e.deadline, now + deadlineIn);
    }
    s.suspects.add(e.name);
  } else {
    s.suspects.delete(e.name);
    e.suspectors = [];
    e.disputed = false;
  }
  if (state === "dead" || state === "left") {
    if (previous !== state) {
      e.expires = now + (state === "dead" ? s.reconnectTimeout : s.tombstoneMs);
      s.tombstoneCheck = Math.min(s.tombstoneCheck, e.expires);
    }
    s.tombstones.add(e.name);
    s.stale.delete(e.name);
  } else {
    s.tombstones.delete(e.name);
  }
  rehash(s, e);
  syncLive(s, e);
  if (previous === state) return;
  if (state === "alive") {
    if (previous !== "alive") emit(s, "alive", e);
  } else emit(s, state, e);
}

/**
 * This node's own evidence (a probe that failed, a link that closed)
 * against `e`: a new suspicion, or a confirmation of one already held.
 */
export function suspect(
  s: MembershipState,
  e: Entry,
  now: number,
  out: Outbound[],
): void {
  if (e.state === "alive") {
    setState(s, e, "suspect", now, { by: [s.name] });
    enqueue(s, e.name);
    tell(s, e, now, out);
  } else if (e.state === "suspect" && confirm(s, e, [s.name])) {
    enqueue(s, e.name);
  }
}
