// Copyright 2026 the mpreg authors. MIT license.
/**
 * A node's graceful stop: leave the cluster, let requests in flight finish
 * for the drain timeout, answer the rest, close every client connection and
 * wait for the clients to answer the close, then release everything.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { RequestLifecycle } from "./request_lifecycle.ts";

const log = getLogger(["mpreg", "server"]);

/**
 * How long a stop waits for clients to answer its close frames at least,
 * when the drain timeout is longer, even after the requests used it all.
 */
const CLOSE_GRACE_MS = 1_000;

/** How long a leaving node may spend telling its peers, at most, in milliseconds. */
const LEAVE_MS = 2_000;

/** What a drain needs from its node; it has already refused new work. */
export interface DrainHost {
  /** The node's name. */
  readonly node: string;
  /** Requests in flight. */
  readonly lifecycle: RequestLifecycle;
  /** Tells the peers this node leaves, within `ms`. */
  leave(ms: number): Promise<void>;
  /** The client connections open now, each drained with the message of the answers it cuts short. */
  connections(): Iterable<{ drain(cutShort: string): Promise<void> }>;
  /** Releases the rest (cluster layer, sandbox, timers, listener), once clients are gone. */
  release(): Promise<void>;
}

/**
 * Drains a node that refuses new work: see `Server.stop`.
 *
 * @param host The node.
 * @param drainTimeoutMs How long requests in flight may take, in milliseconds.
 * @returns When the node has stopped.
 *
 * @example
 * ```ts ignore
 * await drain(host, 10_000);
 * ```
 */
export async function drain(host: DrainHost, drainTimeoutMs: number): Promise<void> {
  const deadline = Date.now() + drainTimeoutMs;
  await host.leave(Math.min(drainTimeoutMs, LEAVE_MS));
  log.info("Node {node} draining {count} requests", {
    node: host.node,
    count: host.lifecycle.inFlight,
  });
  await host.lifecycle.whenIdle(deadline - Date.now());
  // Every request read has an answer by now (those the drain timeout cuts
  // short a ConnectionError): the close frame after them tells each client
  // that a call it still waits for never reached this node. Its reply ends
  // the connection; exiting before it would reset the connection and lose
  // answers not yet read on the other side.
  const cutShort = `Node "${host.node}" stopped before the request finished ` +
    `(drain timeout ${drainTimeoutMs} ms): it may have run`;
  const closed = Promise.all([...host.connections()].map((c) => c.drain(cutShort)));
  const grace = Math.max(deadline - Date.now(), Math.min(drainTimeoutMs, CLOSE_GRACE_MS));
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([closed, new Promise((resolve) => timer = setTimeout(resolve, grace))]);
  clearTimeout(timer);
  await host.release();
  log.info("Node {node} stopped", { node: host.node });
}
