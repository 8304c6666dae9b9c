// Copyright 2026 the mpreg authors. MIT license.
/**
 * The settings, the local runner and the counters of a cluster node
 * ({@linkcode ClusterNode} in `cluster_node.ts`, which re-exports them).
 *
 * @module
 */
import type { RpcError } from "../protocol/errors.ts";
import type { Limits } from "../protocol/limits.ts";
import type { MembershipOptions, NodeRecord } from "./membership.ts";
import type { RunMessage, ValuePosition } from "./peer_protocol.ts";
import type { Step } from "../protocol/step.ts";
import type { HostResolver } from "./_seeds.ts";
import type { GrantAgreement } from "./grant_agreement.ts";
import type { HeldValue } from "./held_value.ts";

/**
 * How a step goes to another member ({@linkcode ClusterNode.runElsewhere}),
 * beyond the step itself. Only `requestId` and `principal` are required.
 */
export interface ForwardOptions {
  /** The request's id on the node it entered (`<node>#<n>`), for logs and dataflow. */
  requestId: string | number;
  /** The caller's principal. */
  principal: string;
  /** The step span's `traceparent`, when tracing. */
  traceparent?: string | undefined;
  /**
   * The members that agreed to the request's steps (from
   * `ClusterNode.admit`); a member whose grants differ from this node's gets
   * the step only if it agreed to it there.
   *
   * @default {null}
   */
  agreement?: GrantAgreement | null;
  /**
   * A streamed step's initial credit: the value is then a stream relayed
   * from the member, once its first chunk (or its end) came.
   */
  stream?: number | undefined;
  /** With `stream`: the client's initial byte credit. */
  streamBytes?: number | undefined;
  /** Takes the step's progress reports (the member is then asked to send them). */
  progress?: ((value: unknown) => void) | undefined;
  /**
   * The step may stream into the one step that takes it: its value is a
   * relayed stream when the function returns one, else the value. Streams
   * in its arguments go to the member as input streams; a step with input
   * streams is never sent again once it may have started.
   *
   * @default {false}
   */
  mayStream?: boolean;
  /**
   * Only other steps take the value, whole (direct handoff): a large value
   * stays on the member, which answers a {@linkcode HeldValue}, given to
   * `keep` before it is returned (to drop it when the request ends).
   */
  keep?: ((held: HeldValue) => void) | undefined;
}

/** A step of a relayed chain, as its coordinator planned it. */
export interface RelayStep {
  /** The step, its arguments resolved, `null` where the value of the step before goes. */
  step: Step;
  /** The member chosen to run it. */
  node: string;
  /** Where the value of the step before it goes (empty for the first). */
  at: ValuePosition[];
}

/**
 * How a relayed chain ended: its last step's value, or a step that did not
 * start (refused, or its member out of reach) and the value it was to
 * take: the coordinator runs the rest itself, from there.
 */
export type RelayOutcome =
  | { done: true; value: unknown }
  | { done: false; step: string; input: unknown };

/** How the cluster layer runs steps that peers send to this node. */
export interface LocalRunner {
  /** Whether the node takes new work (false while it drains). */
  accepting(): boolean;
  /** Whether the node offers `fun` with every resource in `locs`. */
  offers(fun: string, locs: readonly string[]): boolean;
  /** Why the step's principal may not run it here, or `null` when it may. */
  authorize(step: Pick<RunMessage, "step" | "fun" | "principal">): RpcError | null;
  /**
   * Runs a forwarded step: a value, a promise, or a thrown RpcError.
   * `progress`, when the coordinator asked for reports, sends one.
   */
  run(message: RunMessage, signal: AbortSignal, progress?: (value: unknown) => void): unknown;
  /** Called once the answer to a step that `run` took has been sent. */
  answered(): void;
}

/** Settings of a {@linkcode ClusterNode}. */
export interface ClusterNodeOptions {
  /** This node's record (incarnation, catalog, urls) at start. */
  record: NodeRecord;
  /** The cluster id peers must share. */
  clusterId: string;
  /** The shared secret peers must prove, or `null`. */
  secret: string | null;
  /**
   * URLs to join through; a `ws://` seed whose host is a name stands for
   * every address it resolves to, resolved again on every attempt.
   */
  seeds: string[];
  /** The gossip interval in milliseconds. */
  intervalMs: number;
  /**
   * How often dead members and seeds that are not live members are tried
   * again, in milliseconds (±25 %).
   */
  reconnectIntervalMs: number;
  /** How long dead members are kept and tried again, in milliseconds. */
  reconnectTimeoutMs: number;
  /** Resolves seed host names (default: the system's resolver). */
  resolve?: HostResolver;
  /** Run a step locally whenever this node is a candidate. */
  preferLocal: boolean;
  /** Relay chains of steps member to member (`ClusterNode.relay`); off, it declines them. */
  relayChains?: boolean;
  /** Decoding limits for peer frames. */
  limits: Limits;
  /** Refuse to dial `ws://` URLs (seeds and URLs learned from gossip): peer links only over TLS. */
  requireTls: boolean;
  /** How long a peer handshake may take. */
  handshakeTimeoutMs: number;
  /** Membership tuning. */
  membership?: Partial<Omit<MembershipOptions, "intervalMs" | "onEvent">>;
  /** Runs forwarded steps. */
  local: LocalRunner;
}

/**
 * Traffic and link counters of a {@linkcode ClusterNode}, for metrics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ClusterStats, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * const cluster: ClusterStats | null = server.stats().cluster;
 * assert.equal(cluster?.links, 0); // no peers yet
 * assert.equal(cluster?.forwarded, 0);
 * ```
 */
export interface ClusterStats {
  /** Gossip messages sent. */
  gossipMessagesOut: number;
  /** Gossip messages received. */
  gossipMessagesIn: number;
  /** Bytes of gossip messages sent. */
  gossipBytesOut: number;
  /** Bytes of gossip messages received. */
  gossipBytesIn: number;
  /** Bytes of every message sent to other members (gossip, steps, answers, inputs). */
  peerBytesOut: number;
  /** Bytes of every message received from other members. */
  peerBytesIn: number;
  /** Steps forwarded to other members. */
  forwarded: number;
  /**
   * Steps of idempotent functions sent again to another member after a
   * failure that may have run them (their member lost mid-step).
   */
  retried: number;
  /** Steps run here for other members. */
  runsForPeers: number;
  /**
   * Grant checks sent to other members: one per member per request, only
   * for members whose grants differ from this node's.
   */
  grantChecks: number;
  /** Grant checks answered for other members. */
  grantChecksForPeers: number;
  /** Peer links open and past their handshake. */
  links: number;
  /**
   * Values this node holds for direct handoff (docs/cluster.md): made
   * here by forwarded steps, waiting for the steps that take them.
   */
  held: number;
  /** Chains of steps this node relayed as their coordinator (docs/cluster.md, "Relayed chains"). */
  relayed: number;
  /** Steps of relayed chains run here. */
  hops: number;
  /**
   * Local health awareness (Lifeguard), 0 when healthy: the node's probe
   * period and probe timeouts are multiplied by `1 + awareness`.
   */
  awareness: number;
}
