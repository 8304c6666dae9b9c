// Copyright 2026 the mpreg authors. MIT license.
// Progress reports across a forwarded hop (issue 18): a client on node A
// calls a function that runs on node B (`locs` forces B); B's reports travel
// B → A as `progress` peer messages and on to the client, in order, the
// last one before the answer, coalesced on B; a run A forwards without the
// client asking carries no `progress` and B sends none.
import assert from "node:assert/strict";
import { type CallContext, Client } from "../../mod.ts";
import { PeerLink } from "../../src/cluster/peer_link.ts";
import { PROGRESS_INTERVAL_MS } from "../../src/registry/progress_reporter.ts";
import { converged, known, startCluster } from "../_helpers/cluster.ts";
import { delay } from "../_helpers/mod.ts";

/** Two nodes, A (`n0`) and B (`n1`, resource `b`) where `work` and `tight` run. */
async function withPair(
  test: (a: { url: string }, sent: () => number) => Promise<void>,
): Promise<void> {
  await using cluster = await startCluster(2, "star", (i) => ({
    resources: i === 0 ? [] : ["b"],
  }));
  const [, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
  b.register("work", async function (this: CallContext, values: unknown[]) {
    for (const value of values) {
      this.progress({ value, node: this.node });
      // Far enough apart that no hop coalesces two of them, whatever the jitter.
      await delay(PROGRESS_INTERVAL_MS * 3);
    }
    return this.node;
  }, { resources: ["b"] });
  b.register("tight", function (this: CallContext, n: number) {
    for (let i = 1; i <= n; i++) this.progress(i / n);
    return n;
  }, { resources: ["b"] });
  await converged(cluster.nodes);
  await known(cluster.nodes, "tight", "n1");
  // The `progress` messages a member sent (only B runs forwarded steps).
  let count = 0;
  const original = Object.getOwnPropertyDescriptor(PeerLink.prototype, "progress")!;
  Object.defineProperty(PeerLink.prototype, "progress", {
    ...original,
    value: function (this: PeerLink, id: number, value: unknown) {
      count++;
      return original.value.call(this, id, value);
    },
  });
  const sent = () => count;
  try {
    await test(cluster.nodes[0]!, sent);
  } finally {
    Object.defineProperty(PeerLink.prototype, "progress", original);
  }
}

for (const encoding of ["msgpack", "json"] as const) {
  Deno.test(`progress (${encoding}): a step forwarded A → B reports to the client through A, in order`, async () => {
    await withPair(async (a) => {
      await using client = new Client(a.url, { encoding });
      const seen: unknown[] = [];
      let answered = false;
      const out = await client.call("work", [[0.1, 0.5, 0.9]], {
        locs: ["b"],
        onProgress: (value, step) => {
          assert.equal(answered, false, "a report after the answer");
          seen.push([step, value]);
        },
      });
      answered = true;
      assert.equal(out, "n1");
      assert.deepEqual(seen, [
        ["work", { value: 0.1, node: "n1" }],
        ["work", { value: 0.5, node: "n1" }],
        ["work", { value: 0.9, node: "n1" }],
      ]);
    });
  });
}

Deno.test("progress: B coalesces 100,000 reports of a forwarded step, and sends none unasked", async () => {
  await withPair(async (a, sent) => {
    await using client = new Client(a.url);
    assert.equal(await client.call("tight", [1_000], { locs: ["b"] }), 1_000);
    await delay(50);
    assert.equal(sent(), 0, "progress sent to A though the client did not ask");
    const seen: unknown[] = [];
    const out = await client.call("tight", [100_000], {
      locs: ["b"],
      onProgress: (value) => seen.push(value),
    });
    assert.equal(out, 100_000);
    // The first at once, the last when the function returned.
    assert.deepEqual(seen, [1 / 100_000, 1]);
    assert.equal(sent(), 2);
  });
});
