// Copyright 2026 the mpreg authors. MIT license.
/**
 * What the cluster page reads from `GET /cluster` and `GET /stats`: the
 * node's own types (imported as types only, so nothing of the node is
 * bundled), and the part of `NodeStats` the page uses.
 *
 * @module
 */
import type { Cluster, MemberInfo, MemberState } from "../cluster/cluster.ts";
import type { EventLoopStats, FunctionStats } from "../server/metrics.ts";

export type { MemberState };

/** A member as `GET /cluster` lists it. */
export type MemberView = MemberInfo;

/** `GET /cluster`. */
export type ClusterView = ReturnType<Cluster["toJSON"]>;

/** The part of `NodeStats` (`GET /stats`) the page reads. */
export interface StatsView {
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
  /** Cluster traffic, once started. */
  cluster: { links: number; forwarded: number; awareness: number } | null;
  /** The event loop's lag. */
  eventLoop: EventLoopStats | null;
}
