// Copyright 2026 the mpreg authors. MIT license.
// The page reads what a node answers at /cluster and /stats with these types.
import assert from "node:assert/strict";
import { Server } from "../../mod.ts";
import type { ClusterView, StatsView } from "../../src/page/types.ts";

Deno.test("page types: a node's /cluster and /stats fit ClusterView and StatsView", async () => {
  await using server = new Server({ name: "n1", port: 0, host: "127.0.0.1" });
  await server.start();
  const stats: StatsView = server.stats();
  const cluster: ClusterView = server.cluster.toJSON();
  assert.equal(stats.node, "n1");
  assert.equal(cluster.self, "n1");
  assert.deepEqual(cluster.members.map((m) => [m.name, m.state, m.self]), [["n1", "alive", true]]);
});
