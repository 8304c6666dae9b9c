// Copyright 2026 the mpreg authors. MIT license.
/**
 * Handling one message from another member: answering pings, relaying
 * indirect probes, applying what updates and digests say, serving and
 * taking records. Private to membership.
 *
 * @module
 */
import { isMessage, isRecord } from "./_gossip_checks.ts";
import { type MembershipState, recordOf } from "./_member_table.ts";
import { syncMessage, takeUpdates, tell } from "./_dissemination.ts";
import { aware } from "./_suspicion.ts";
import { acceptData, applyAll, compareViews } from "./_merge.ts";
import type { GossipMessage, NodeRecord, Outbound } from "./membership_types.ts";
/**
 * Handles a message from another member. Malformed messages are ignored.
 *
 * @returns The messages to send (answers, relays, pulls).
 */
export function handleMessage(s: MembershipState, msg: GossipMessage, now: number): Outbound[] {
  s.now = now;
  const out: Outbound[] = [];
  if (!isMessage(msg) || msg.from === s.name) return out;
  const from = msg.from;
  const sender = s.members.get(from);
  if (sender !== undefined) sender.lastHeard = now;
  const pulls: string[] = [];
  // A member held dead here is talking: the views split (a partition, a
  // pause). The deaths it reports may be of members alive on this side:
  // they become suspicions, told at once, as in a sync.
  const merge = sender?.state === "dead" ? out : null;
  switch (msg.t) {
    case "ping": {
      applyAll(s, msg.updates, from, now, pulls, true, merge);
      const updates = takeUpdates(s, now, from);
      out.push({
        to: from,
        msg: { t: "ack", seq: msg.seq, from: s.name, view: s.hash.value, updates },
      });
      break;
    }
    case "ack": {
      applyAll(s, msg.updates, from, now, pulls, true, merge);
      const probe = s.probes.get(msg.seq);
      if (probe !== undefined) {
        if (probe.target === from) {
          s.probes.delete(msg.seq);
          aware(s, -1);
          compareViews(
            s,
            msg.view,
            probe.quiet && msg.updates.length === 0,
            from,
            now,
            out,
          );
        }
        break;
      }
      const relay = s.relays.get(msg.seq);
      if (relay !== undefined && relay.target === from) {
        s.relays.delete(msg.seq);
        out.push({
          to: relay.requester,
          msg: { t: "ack", seq: relay.seq, from, view: msg.view, updates: msg.updates },
        });
      }
      break;
    }
    case "ping-req": {
      applyAll(s, msg.updates, from, now, pulls, true, merge);
      if (s.liveIndex.has(msg.target)) {
        const seq = ++s.seq;
        s.relays.set(seq, {
          requester: from,
          seq: msg.seq,
          target: msg.target,
          round: s.round,
        });
        out.push({
          to: msg.target,
          msg: {
            t: "ping",
            seq,
            from: s.name,
            view: s.hash.value,
            updates: takeUpdates(s, now, msg.target),
          },
        });
      }
      break;
    }
    case "gossip":
      applyAll(s, msg.updates, from, now, pulls, true, merge);
      break;
    case "sync":
      // Dead in the sender's view is only suspect here, and told at once:
      // after a partition, each side holds the other dead (memberlist).
      applyAll(s, msg.digest, from, now, pulls, false, out);
      if (msg.reply) out.push({ to: from, msg: syncMessage(s, now, false) });
      break;
    case "pull": {
      const records: NodeRecord[] = [];
      for (const name of msg.names) {
        const record = recordOf(s, name);
        if (record !== undefined) records.push(record);
      }
      if (records.length > 0) {
        out.push({ to: from, msg: { t: "records", from: s.name, records } });
      }
      break;
    }
    case "records":
      for (const record of msg.records) {
        if (!isRecord(record) || record.name === s.name) continue;
        const e = s.members.get(record.name);
        if (e !== undefined) acceptData(s, e, record);
      }
      break;
  }
  if (pulls.length > 0) {
    out.push({ to: from, msg: { t: "pull", from: s.name, names: pulls } });
  }
  // A member we hold dead is still talking: tell it, so it refutes (acks already carry it).
  if (
    sender !== undefined && sender.state === "dead" && msg.t !== "ping" &&
    sender.toldRound !== s.round
  ) {
    tell(s, sender, now, out);
  }
  return out;
}
