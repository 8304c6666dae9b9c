// Copyright 2026 the mpreg authors. MIT license.
/**
 * The node's figures: their shape for `GET /stats` ({@linkcode NodeStats}),
 * and the gauges and counters for `GET /metrics`, read at scrape time:
 * connections, members, gossip traffic, forwarded steps, sandbox pools.
 *
 * @module
 */
import type { MemberInfo } from "../cluster/cluster.ts";
import type { ClusterStats } from "../cluster/cluster_node.ts";
import type { WorkerPoolStats } from "../sandbox/pool.ts";
import type { SandboxStats } from "../sandbox/sandbox.ts";
import type { EventLoopStats, FunctionStats, Sample } from "./metrics.ts";

/**
 * A node's figures, as `server.stats()` and `GET /stats` return them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type NodeStats, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ name: "n1", port: 0 }).start();
 * await using client = new Client(server.url);
 * await client.call("echo", [1]);
 * const stats: NodeStats = server.stats();
 * assert.equal(stats.node, "n1");
 * assert.equal(stats.functions.echo?.calls, 1);
 * assert.equal(stats.connections, 1);
 * ```
 */
export interface NodeStats {
  /** The node's name. */
  node: string;
  /** When the figures were read, in milliseconds since the epoch. */
  time: number;
  /** Per function: the calls run on this node. */
  functions: Record<string, FunctionStats>;
  /** Client requests in flight. */
  requestsInFlight: number;
  /** Open client connections. */
  connections: number;
  /** Cluster traffic and links, once started. */
  cluster: ClusterStats | null;
  /**
   * The event loop's lag, sampled every 100 ms: a node whose loop is busy
   * (a long synchronous call) answers nobody meanwhile.
   */
  eventLoop: EventLoopStats;
  /** Sandbox pools, once a sandboxed function exists. */
  sandbox: SandboxStats | null;
}

/** What the samples are read from. */
export interface NodeFigures {
  /** Open client connections. */
  readonly clientConnections: number;
  /** The cluster's members as this node sees them, itself included. */
  readonly members: readonly Pick<MemberInfo, "state">[];
  /** The cluster layer's figures, once started. */
  readonly cluster: ClusterStats | undefined;
  /** The sandbox's pools, once a sandboxed function exists. */
  readonly sandbox: SandboxStats | undefined;
}

/**
 * The node's samples, for {@linkcode Metrics.render}.
 *
 * @param node The figures read now.
 * @returns One sample per metric.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeSamples } from "./metric_samples.ts";
 * const samples = nodeSamples({
 *   clientConnections: 2,
 *   members: [{ state: "alive" }, { state: "suspect" }],
 *   cluster: undefined,
 *   sandbox: undefined,
 * });
 * const members = samples.find((s) => s.name === "mpreg_members")!;
 * assert.deepEqual(members.values.map((v) => v.value), [1, 1, 0, 0]);
 * ```
 */
export function nodeSamples(node: NodeFigures): Sample[] {
  const byState: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
  for (const member of node.members) byState[member.state]!++;
  const { cluster, sandbox } = node;
  // A sample per profile and memory cap (pools of one profile under two
  // Deno configs are summed).
  const perPool = (pick: (p: WorkerPoolStats) => number) => {
    const samples = new Map<string, { labels: Record<string, string>; value: number }>();
    for (const p of sandbox?.profiles ?? []) {
      const key = `${p.profile}\0${p.memoryMb}`;
      const sample = samples.get(key) ??
        { labels: { profile: p.profile, memory_mb: String(p.memoryMb) }, value: 0 };
      sample.value += pick(p);
      samples.set(key, sample);
    }
    return [...samples.values()];
  };
  return [
    {
      name: "mpreg_connections",
      type: "gauge",
      help: "Open connections, by kind.",
      values: [
        { labels: { kind: "client" }, value: node.clientConnections },
        { labels: { kind: "peer" }, value: cluster?.links ?? 0 },
      ],
    },
    {
      name: "mpreg_members",
      type: "gauge",
      help: "Cluster members as this node sees them, by state (itself included).",
      values: Object.entries(byState).map(([state, value]) => ({ labels: { state }, value })),
    },
    {
      name: "mpreg_gossip_messages_total",
      type: "counter",
      help: "Membership messages, by direction.",
      values: [
        { labels: { direction: "out" }, value: cluster?.gossipMessagesOut ?? 0 },
        { labels: { direction: "in" }, value: cluster?.gossipMessagesIn ?? 0 },
      ],
    },
    {
      name: "mpreg_gossip_bytes_total",
      type: "counter",
      help: "Bytes of membership messages, by direction.",
      values: [
        { labels: { direction: "out" }, value: cluster?.gossipBytesOut ?? 0 },
        { labels: { direction: "in" }, value: cluster?.gossipBytesIn ?? 0 },
      ],
    },
    {
      name: "mpreg_cluster_awareness",
      type: "gauge",
      help:
        "Local health (Lifeguard), 0 when healthy: the probe period and timeouts are multiplied by 1 + this.",
      values: [{ value: cluster?.awareness ?? 0 }],
    },
    {
      name: "mpreg_forwarded_steps_total",
      type: "counter",
      help: "Steps sent to other members, and run here for other members.",
      values: [
        { labels: { direction: "out" }, value: cluster?.forwarded ?? 0 },
        { labels: { direction: "in" }, value: cluster?.runsForPeers ?? 0 },
      ],
    },
    {
      name: "mpreg_sandbox_workers",
      type: "gauge",
      help: "Sandbox processes alive, by permission profile.",
      values: perPool((p) => p.workers),
    },
    {
      name: "mpreg_sandbox_resident_bytes",
      type: "gauge",
      help: "Resident memory of the sandbox processes, by permission profile.",
      values: perPool((p) => p.residentBytes),
    },
    {
      name: "mpreg_sandbox_crashes_total",
      type: "counter",
      help:
        "Sandbox processes that crashed, broke the protocol or went over their memory cap, by permission profile.",
      values: perPool((p) => p.crashes),
    },
    {
      name: "mpreg_sandbox_calls_in_flight",
      type: "gauge",
      help: "Sandboxed calls in flight, by permission profile.",
      values: perPool((p) => p.inFlight),
    },
    {
      name: "mpreg_sandbox_denials_total",
      type: "counter",
      help: "Permission denials in sandboxed functions, by permission profile.",
      values: perPool((p) => p.denials),
    },
  ];
}
