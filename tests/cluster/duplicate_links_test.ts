// Copyright 2026 the mpreg authors. MIT license.
// Two nodes that dial each other at once end up with one link, and no step
// sent on the other one is lost: 25 nodes, each seeded with all the others,
// join at the same instant while steps cross every link.
import assert from "node:assert/strict";
import { type CallContext, Client, type Server } from "../../mod.ts";
import { startServer, waitFor } from "../_helpers/mod.ts";

const NODES = 25;

/**
 * A TCP relay in front of a node that holds every connection it accepts
 * until `open()`: the nodes' dials all reach their peers at one instant.
 */
class Gate implements AsyncDisposable {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #held: Deno.Conn[] = [];
  readonly #conns = new Set<Deno.Conn>();
  readonly #pipes: Promise<void>[] = [];
  readonly #accepting: Promise<void>;
  #target = 0;

  constructor() {
    this.#accepting = (async () => {
      try {
        for await (const conn of this.#listener) {
          this.#conns.add(conn);
          if (this.#target === 0) this.#held.push(conn);
          else this.#pipes.push(this.#pipe(conn));
        }
      } catch {
        // closed
      }
    })();
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
  }

  /** Lets every held connection and every later one through to `port`. */
  open(port: number): void {
    this.#target = port;
    for (const conn of this.#held.splice(0)) this.#pipes.push(this.#pipe(conn));
  }

  async #pipe(conn: Deno.Conn): Promise<void> {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    } catch {
      conn.close();
      this.#conns.delete(conn);
      return;
    }
    this.#conns.add(upstream);
    const copy = async (from: Deno.Conn, to: Deno.Conn) => {
      const buffer = new Uint8Array(64 * 1024);
      try {
        while (true) {
          const n = await from.read(buffer);
          if (n === null) break;
          let written = 0;
          while (written < n) written += await to.write(buffer.subarray(written, n));
        }
      } catch {
        // either side closed
      }
    };
    await Promise.race([copy(conn, upstream), copy(upstream, conn)]);
    for (const c of [conn, upstream]) {
      if (this.#conns.delete(c)) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    this.#conns.clear();
    await Promise.all(this.#pipes);
  }
}

/** Works 100 ms (stopping early when cancelled) and names the node. */
function work(this: CallContext): Promise<string> {
  const { signal, node } = this;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(node), 100);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

Deno.test("duplicate links: 25 nodes dialing each other at once cancel no step and suspect no one", async () => {
  const gates = Array.from({ length: NODES }, () => new Gate());
  const nodes: Server[] = [];
  const clients: Client[] = [];
  const suspected: string[] = [];
  try {
    for (let i = 0; i < NODES; i++) {
      const node = await startServer({
        name: `n${String(i).padStart(2, "0")}`,
        peers: gates.filter((_, j) => j !== i).map((g) => g.url),
        advertisedUrls: [gates[i]!.url],
        gossipIntervalMs: 500,
        // Steps go to any member, so they cross the links as they come up.
        preferLocal: false,
      });
      node.register("work", work);
      node.cluster.addEventListener("suspect", (e) => {
        suspected.push(`${node.name} suspects ${(e as CustomEvent).detail.member.name}`);
      });
      nodes.push(node);
      clients.push(new Client(node.url, { timeoutMs: 10_000 }));
    }
    // Every node has dialed all the others through the gates: let them meet.
    gates.forEach((gate, i) => gate.open(nodes[i]!.port));
    const failures: string[] = [];
    let calls = 0;
    let running = true;
    const loops = clients.flatMap((client) =>
      Array.from({ length: 4 }, async () => {
        while (running) {
          try {
            await client.call("work");
            calls++;
          } catch (err) {
            failures.push(String(err));
          }
        }
      })
    );
    const everyone = (node: Server) =>
      node.cluster.members().filter((m) => m.state === "alive").length === NODES &&
      (node.cluster.functions().work ?? []).length === NODES;
    try {
      await waitFor(() => nodes.every(everyone), 20_000, "every node to link with every other");
      // Duplicates are retired as steps keep crossing.
      await waitFor(() => calls > 1_000, 20_000, "steps to cross the links");
    } finally {
      running = false;
      await Promise.all(loops);
    }
    assert.deepEqual(failures, [], "steps cancelled");
    assert.deepEqual(suspected, [], "false suspicions");
    for (const node of nodes) {
      assert.equal(node.stats().cluster!.links, NODES - 1, `${node.name}: one link per peer`);
    }
  } finally {
    for (const client of clients) client.close();
    await Promise.all(nodes.map((node) => node.stop({ drainTimeoutMs: 0 })));
    await Promise.all(gates.map((gate) => gate[Symbol.asyncDispose]()));
  }
});
