// Copyright 2026 the mpreg authors. MIT license.
// Repair with real nodes (issue 14): a partition heals, a seed restarted
// without peers is found again. In-process nodes on port 0, each behind a
// TCP relay that stalls the traffic a partition separates.
import assert from "node:assert/strict";
import { Client, type Server, type ServerOptions } from "../../mod.ts";
import { converged } from "../_helpers/cluster.ts";
import { startServer, waitFor } from "../_helpers/mod.ts";
import { RelayNetwork } from "../_helpers/partition_relay.ts";

const RECONNECT_MS = 500;

/** Fast gossip and repair; short handshakes, since a stalled dial waits for its timeout. */
const REPAIR: ServerOptions = {
  gossipIntervalMs: 100,
  reconnectIntervalMs: RECONNECT_MS,
  handshakeTimeoutMs: 500,
  drainTimeoutMs: 0,
};

/** Starts node `name` behind its relay in `network`, serving `on_<name>`. */
async function nodeBehindRelay(
  network: RelayNetwork,
  name: string,
  options: ServerOptions = {},
): Promise<Server> {
  const relay = network.relays.get(name) ?? network.relay(name);
  const node = await startServer({ name, ...REPAIR, advertisedUrls: [relay.url], ...options });
  node.register(`on_${name}`, () => name);
  relay.up(node.port);
  return node;
}

function holdsDead(node: Server, names: string[]): boolean {
  return names.every((name) => node.cluster.member(name)?.state === "dead");
}

Deno.test("repair: a 2|3 partition heals within 2 × reconnect_interval + 1 s, and calls across stop failing", async () => {
  using network = new RelayNetwork();
  const nodes: Server[] = [];
  try {
    const a = await nodeBehindRelay(network, "a");
    nodes.push(a);
    for (const name of ["b", "c", "d", "e"]) {
      nodes.push(await nodeBehindRelay(network, name, { peers: [network.relays.get("a")!.url] }));
    }
    const byName = new Map(nodes.map((n) => [n.name, n]));
    await converged(nodes);
    for (const node of nodes) {
      await waitFor(
        () => nodes.every((o) => node.cluster.functions()[`on_${o.name}`] !== undefined),
        5_000,
        `${node.name} to know every function`,
      );
    }
    const small = ["b", "c"];
    const big = ["a", "d", "e"];
    network.partition(small, big);
    // Each side holds the other dead (the state after ~1 s).
    await waitFor(
      () =>
        small.every((n) => holdsDead(byName.get(n)!, big)) &&
        big.every((n) => holdsDead(byName.get(n)!, small)),
      15_000,
      "each side to hold the other dead",
    );
    // Meanwhile, a call from one side to a function only on the other fails.
    {
      await using client = new Client(byName.get("a")!.url);
      await assert.rejects(client.call("on_b", [], { timeoutMs: 2_000 }));
    }
    const healedAt = Date.now();
    network.heal();
    await converged(nodes, 10_000);
    const mergedMs = Date.now() - healedAt;
    // deno-lint-ignore no-console
    console.log(`merged ${mergedMs} ms after the heal`);
    const bound = 2 * RECONNECT_MS + 1_000;
    assert.ok(mergedMs <= bound, `merged ${mergedMs} ms after the heal (bound ${bound} ms)`);
    // Every node reaches every function again.
    for (const node of nodes) {
      await using client = new Client(node.url);
      for (const other of nodes) {
        assert.equal(await client.call(`on_${other.name}`, [], { timeoutMs: 3_000 }), other.name);
      }
    }
  } finally {
    await Promise.all(nodes.map((node) => node.stop({ drainTimeoutMs: 0 })));
  }
});

Deno.test("repair: a seed restarted without peers of its own is found again through its name", async () => {
  using network = new RelayNetwork();
  const nodes: Server[] = [];
  let seed2: Server | null = null;
  try {
    const seed = await nodeBehindRelay(network, "s");
    nodes.push(seed);
    // The others name the seed by a host name, resolved on every attempt.
    const seedUrl = `ws://localhost:${network.relays.get("s")!.port}`;
    for (const name of ["b", "c"]) {
      nodes.push(await nodeBehindRelay(network, name, { peers: [seedUrl] }));
    }
    await converged(nodes);
    // The seed crashes: nothing it says reaches anyone, not even its leave.
    network.partition(["s"], ["b", "c"]);
    await seed.stop({ drainTimeoutMs: 0 });
    const [, b, c] = nodes as [Server, Server, Server];
    await waitFor(
      () => holdsDead(b, ["s"]) && holdsDead(c, ["s"]),
      15_000,
      "the seed to be held dead",
    );
    network.heal();
    // It restarts (a new process: a higher incarnation), with no peers.
    seed2 = await nodeBehindRelay(network, "s");
    const restartedAt = Date.now();
    await converged([seed2, b, c], 10_000);
    const foundMs = Date.now() - restartedAt;
    // deno-lint-ignore no-console
    console.log(`found ${foundMs} ms after its restart`);
    assert.ok(foundMs <= 2 * RECONNECT_MS + 1_000, `found ${foundMs} ms after its restart`);
    assert.ok(b.cluster.member("s")!.incarnation >= seed2.cluster.member("s")!.incarnation);
    await using client = new Client(seed2.url);
    assert.equal(await client.call("on_b", [], { timeoutMs: 3_000 }), "b");
    assert.equal(await client.call("on_c", [], { timeoutMs: 3_000 }), "c");
  } finally {
    await Promise.all(
      [...nodes.slice(1), ...(seed2 ? [seed2] : [])].map((n) => n.stop({ drainTimeoutMs: 0 })),
    );
  }
});
