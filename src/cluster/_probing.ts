// Copyright 2026 the mpreg authors. MIT license.
/**
 * Failure detection (SWIM): probes judged round by round, and suspicions and tombstones expired. Private to membership.
 *
 * @module
 */
import {
  forget,
  type MembershipState,
  nextProbeTarget,
  randomLive,
  RELAY_ROUNDS,
} from "./_member_table.ts";
import { reconnect, retryPulls } from "./_merge.ts";
import { enqueue, takeUpdates } from "./_dissemination.ts";
import { aware, setState, suspect } from "./_suspicion.ts";
import type { Outbound } from "./membership_types.ts";

/**
 * A probe unanswered for `1 + awareness` rounds gets ping-reqs; unanswered
 * for as long again, its target is suspected (or the suspicion confirmed).
 */
export function judgeProbes(
  s: MembershipState,
  now: number,
  out: Outbound[],
): void {
  const wait = 1 + s.awareness;
  for (const [seq, probe] of s.probes) {
    const e = s.members.get(probe.target);
    if (e === undefined || !e.live || e.incarnation !== probe.incarnation) {
      s.probes.delete(seq);
    } else if (probe.indirect < 0) {
      if (s.round - probe.sent < wait) continue;
      probe.indirect = s.round;
      for (const helper of randomLive(s, s.indirectProbes, probe.target)) {
        out.push({
          to: helper,
          msg: {
            t: "ping-req",
            seq,
            from: s.name,
            target: probe.target,
            updates: takeUpdates(s, now, helper),
          },
        });
      }
    } else if (s.round - probe.indirect >= wait) {
      s.probes.delete(seq);
      suspect(s, e, now, out);
    }
  }
}

/** Declares suspects dead at their deadline (not after a stall), forgets expired tombstones. */
export function expire(
  s: MembershipState,
  now: number,
  stalled: boolean,
): void {
  if (!stalled) {
    for (const name of s.suspects) {
      const e = s.members.get(name);
      if (e === undefined || e.state !== "suspect") s.suspects.delete(name);
      else if (e.deadline <= now) {
        setState(s, e, "dead", now);
        enqueue(s, name);
      }
    }
  }
  if (now >= s.tombstoneCheck) {
    let next = Infinity;
    for (const name of s.tombstones) {
      const e = s.members.get(name);
      if (e === undefined) s.tombstones.delete(name);
      else if (e.expires <= now) forget(s, e);
      else next = Math.min(next, e.expires);
    }
    s.tombstoneCheck = next;
  }
  for (const [seq, relay] of s.relays) {
    if (s.round - relay.round > RELAY_ROUNDS) s.relays.delete(seq);
  }
}

/**
 * Runs one protocol period: expires suspicions and tombstones, judges the
 * probes, retries pulls, pings the next probe target (when awareness allows),
 * gossips to `fanout` members while updates are queued, and maybe tries a
 * dead member.
 *
 * @returns The messages to send.
 */
export function runTick(s: MembershipState, now: number): Outbound[] {
  s.now = now;
  s.round++;
  const out: Outbound[] = [];
  if (s.left) return out;
  // A tick a whole interval late: this node's event loop was blocked, and
  // what arrived meanwhile is still unread. It judges no probe and declares
  // no suspect dead this time, and is slower to accuse for a while.
  const late = s.lastTick < 0 ? 0 : now - s.lastTick - s.interval;
  s.lastTick = now;
  const stalled = late >= s.interval;
  if (stalled) aware(s, Math.floor(late / s.interval));
  expire(s, now, stalled);
  if (!stalled) judgeProbes(s, now, out);
  retryPulls(s, now, out);
  const due = s.round - s.lastProbeRound > s.awareness;
  const target = due ? nextProbeTarget(s) : undefined;
  if (target !== undefined) {
    const e = s.members.get(target)!;
    const seq = ++s.seq;
    const updates = takeUpdates(s, now, target);
    const quiet = updates.length === 0;
    s.lastProbeRound = s.round;
    s.probes.set(seq, {
      target,
      incarnation: e.incarnation,
      sent: s.round,
      indirect: -1,
      quiet,
    });
    out.push({
      to: target,
      msg: { t: "ping", seq, from: s.name, view: s.hash.value, updates },
    });
  }
  if (s.queue.size > 0) {
    for (const to of randomLive(s, s.fanout, target)) {
      const updates = takeUpdates(s, now, to);
      if (updates.length === 0) break;
      out.push({ to, msg: { t: "gossip", from: s.name, updates } });
    }
  }
  reconnect(s, now, out);
  return out;
}
