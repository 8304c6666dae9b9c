// Copyright 2026 the mpreg authors. MIT license.
/**
 * The public types of membership: records, views, updates, the gossip
 * messages and the options. Re-exported by `membership.ts`.
 *
 * @module
 */
import type { FunctionDescription } from "../protocol/function_description.ts";

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
   * The functions registered idempotent (safe to run twice), sorted: a
   * coordinator may re-send their steps after a failure that may have run
   * them. Left out when there are none.
   */
  idempotent?: string[];
  /**
   * Per function, what it says about itself: parameter names, JSON Schemas
   * of its arguments, `kwargs` and result, doc (see `FunctionDescription`),
   * within `DESCRIPTION_LIMITS` (8 KiB of JSON per function, 64 KiB per
   * member). Left out when there are none.
   */
  described?: Record<string, FunctionDescription>;
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
