// Copyright 2026 the mpreg authors. MIT license.
/**
 * What the cluster page reads from `GET /cluster` and `GET /stats`: the
 * fields it uses of `Cluster.toJSON()` and `NodeStats`, written out here
 * because those modules are not browser code. A test checks that the node's
 * own types still fit these.
 *
 * @module
 */

/** A member's state. */
export type MemberState = "alive" | "suspect" | "dead" | "left";

/** A member as `GET /cluster` lists it. */
export interface MemberView {
  /** The member's name. */
  name: string;
  /** The URLs it advertises. */
  urls: string[];
  /** Its state. */
  state: MemberState;
  /** Whether it is the node answering. */
  self: boolean;
  /** Its node-level resources. */
  resources: string[];
  /** Its functions, each with its own extra resources. */
  functions: Record<string, string[]>;
  /** The permission kinds its functions declare. */
  permissions?: Record<string, string[]>;
  /** When the node last heard from it, in milliseconds since the epoch. */
  lastHeard: number;
  /** Its incarnation. */
  incarnation: number;
  /** Its catalog version. */
  catalogVersion: number;
}

/** `GET /cluster`. */
export interface ClusterView {
  /** The name of the node answering. */
  self: string;
  /** Every member, the node included. */
  members: MemberView[];
  /** The catalog: function name to the members offering it. */
  functions: Record<string, string[]>;
}

/** One function's figures in `GET /stats`. */
export interface FunctionStatsView {
  /** Calls by outcome (`ok`, or an error's name). */
  outcomes: Record<string, number>;
  /** Calls finished. */
  calls: number;
  /** Calls running now. */
  inFlight: number;
  /** Median latency. */
  p50Ms: number;
  /** 90th percentile latency. */
  p90Ms: number;
  /** 99th percentile latency. */
  p99Ms: number;
}

/** `GET /stats`. */
export interface StatsView {
  /** The node's name. */
  node: string;
  /** When the figures were read, in milliseconds since the epoch. */
  time: number;
  /** Per function: the calls run on this node. */
  functions: Record<string, FunctionStatsView>;
  /** Client requests in flight. */
  requestsInFlight: number;
  /** Open client connections. */
  connections: number;
  /** Cluster traffic, once started. */
  cluster: { links: number; forwarded: number; awareness: number } | null;
  /** The event loop's lag. */
  eventLoop: { lagMs: number; maxLagMs: number } | null;
}
