// Copyright 2026 the mpreg authors. MIT license.
// In-process clusters of real nodes on port 0.
import type { Server, ServerOptions } from "../../mod.ts";
import { startServer, waitFor } from "./mod.ts";

/** Fast gossip for tests: membership converges in well under a second. */
export const FAST: ServerOptions = { gossipIntervalMs: 150 };

/** A started cluster; dispose it with `await using`. */
export interface TestCluster extends AsyncDisposable {
  nodes: Server[];
}

/**
 * Starts `n` nodes. `topology` "star" seeds every node with node 0; "chain"
 * seeds node i with node i-1.
 */
export async function startCluster(
  n: number,
  topology: "star" | "chain",
  options: (i: number) => ServerOptions = () => ({}),
): Promise<TestCluster> {
  const nodes: Server[] = [];
  for (let i = 0; i < n; i++) {
    const seed = i === 0 ? undefined : nodes[topology === "star" ? 0 : i - 1]!.url;
    nodes.push(
      await startServer({
        name: `n${i}`,
        ...FAST,
        ...(seed ? { peers: [seed] } : {}),
        ...options(i),
      }),
    );
  }
  return {
    nodes,
    async [Symbol.asyncDispose]() {
      await Promise.all(nodes.map((node) => node.stop({ drainTimeoutMs: 0 })));
    },
  };
}

/** Waits until every node sees every other node alive. */
export async function converged(nodes: Server[], timeoutMs = 10_000): Promise<void> {
  const names = nodes.map((n) => n.name).sort();
  await waitFor(
    () =>
      nodes.every((node) => {
        const alive = node.cluster.members().filter((m) => m.state === "alive").map((m) => m.name);
        return JSON.stringify(alive.sort()) === JSON.stringify(names);
      }),
    timeoutMs,
    "every node to know every other",
  );
}

/** Waits until every node's catalog lists `fun` on `owner`. */
export async function known(nodes: Server[], fun: string, owner: string): Promise<void> {
  await waitFor(
    () => nodes.every((node) => node.cluster.functions()[fun]?.includes(owner) ?? false),
    10_000,
    `${fun}@${owner} to reach every node`,
  );
}
