// Copyright 2026 the mpreg authors. MIT license.
/**
 * Dissemination: the update queue, piggybacking least-sent updates on every message, and the digests of `sync`. Private to membership.
 *
 * @module
 */
import type { Entry, MembershipState, QueueItem } from "./_member_table.ts";
import type { GossipMessage, Outbound, Update } from "./membership_types.ts";

/** What gossip says about this node. */
export function selfUpdate(s: MembershipState): Update {
  return {
    name: s.name,
    incarnation: s.incarnation,
    catalogVersion: s.catalogVersion,
    state: s.left ? "left" : "alive",
  };
}

/** What gossip says about `e`: for a suspect, the time left and its suspectors. */
export function updateOf(
  e: Entry,
  now: number,
): Update {
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

/** Queues an update about `name` to be piggybacked, as never sent. */
export function enqueue(
  s: MembershipState,
  name: string,
): void {
  const item: QueueItem = { name, transmits: 0 };
  s.queue.set(name, item);
  (s.buckets[0] ??= []).push(item);
}

/** How many times each update is piggybacked: `retransmitMult · ceil(log10(n + 2))`. */
export function retransmitLimit(s: MembershipState): number {
  return s.retransmitMult * Math.ceil(Math.log10(s.live.length + 2));
}

/**
 * Updates for one message to `to`: its own bad news first, then the queue,
 * least sent first (most recent first among equals): up to
 * `maxUpdatesPerMessage`, or four times as many while more than that wait
 * (after a partition or a mass failure, when gossip alone would take too
 * long to spread them all).
 */
export function takeUpdates(
  s: MembershipState,
  now: number,
  to: string | undefined,
): Update[] {
  const out: Update[] = [];
  const target = to === undefined ? undefined : s.members.get(to);
  const buddy = target !== undefined && (target.state === "suspect" || target.state === "dead");
  if (buddy) out.push(updateOf(target, now));
  if (s.queue.size === 0) {
    if (s.buckets.length > 0) s.buckets = [];
    return out;
  }
  const limit = retransmitLimit(s);
  const backlog = 4 * s.maxUpdates;
  const max = s.queue.size > backlog ? backlog : s.maxUpdates;
  const sent: QueueItem[] = [];
  for (let t = 0; t < s.buckets.length && out.length < max; t++) {
    const bucket = s.buckets[t]!;
    let skipped: QueueItem | undefined;
    while (bucket.length > 0 && out.length < max) {
      const item = bucket.pop()!;
      // Re-queued, sent or forgotten since it was put here.
      if (s.queue.get(item.name) !== item) continue;
      if (buddy && item.name === to) {
        skipped = item;
        continue;
      }
      let u: Update;
      if (item.name === s.name) u = selfUpdate(s);
      else {
        const e = s.members.get(item.name);
        if (e === undefined) {
          s.queue.delete(item.name);
          continue;
        }
        u = updateOf(e, now);
      }
      out.push(u);
      sent.push(item);
    }
    if (skipped !== undefined) bucket.push(skipped);
  }
  for (let i = sent.length - 1; i >= 0; i--) {
    const item = sent[i]!;
    if (++item.transmits >= limit) s.queue.delete(item.name);
    else (s.buckets[item.transmits] ??= []).push(item);
  }
  return out;
}

/** A `gossip` of one update for every live member. */
export function toEveryLive(
  s: MembershipState,
  update: Update,
): Outbound[] {
  return s.live.map((to) => ({
    to,
    msg: { t: "gossip", from: s.name, updates: [update] } as GossipMessage,
  }));
}

/** Sends `e` what we hold about it, so it refutes. */
export function tell(
  s: MembershipState,
  e: Entry,
  now: number,
  out: Outbound[],
): void {
  e.toldRound = s.round;
  out.push({
    to: e.name,
    msg: { t: "gossip", from: s.name, updates: [updateOf(e, now)] },
  });
}

/** A `sync`: this node's full digest, asking for the other side's when `reply`. */
export function syncMessage(
  s: MembershipState,
  now: number,
  reply: boolean,
): GossipMessage {
  const digest: Update[] = [selfUpdate(s)];
  for (const e of s.members.values()) digest.push(updateOf(e, now));
  return { t: "sync", from: s.name, digest, reply };
}
