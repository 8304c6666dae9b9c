// Copyright 2026 the mpreg authors. MIT license.
// A stream's byte credit across a forwarded hop (issue 18): a client on A
// reads a stream whose producer runs on B; A passes the client's byte
// credit on to B unchanged (the peer `run`'s `streamBytes`, each `credit`'s
// `bytes`), B keeps to it, and A holds no chunk.
import assert from "node:assert/strict";
import { type CallContext, Client } from "../../mod.ts";
import { streamStats } from "../../src/server/stream_sender.ts";
import { converged, known, startCluster } from "../_helpers/cluster.ts";
import { delay } from "../_helpers/mod.ts";

/** Two nodes, A (`n0`) and B (`n1`, resource `b`); `fn` runs on B as `name`. */
async function withPair(
  name: string,
  fn: (...args: never[]) => unknown,
  test: (a: { url: string }) => Promise<void>,
): Promise<void> {
  await using cluster = await startCluster(2, "star", (i) => ({
    resources: i === 0 ? [] : ["b"],
  }));
  const [a, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
  b.register("ran", function (this: CallContext) {
    return this.node;
  }, { resources: ["b"] });
  b.register(name, fn, { resources: ["b"] });
  await converged(cluster.nodes);
  await known(cluster.nodes, "ran", "n1");
  await test(a);
}

Deno.test("stream bytes: a slow reader of large chunks holds a fast producer on B within the byte budget, and A holds nothing", async () => {
  const size = 16 * 1024;
  const budget = 64 * 1024;
  let producedBytes = 0;
  await withPair("fast", async function* () {
    for (let i = 0; i < 40; i++) {
      producedBytes += size;
      yield new Uint8Array(size).fill(i);
    }
  }, async (a) => {
    await using client = new Client(a.url, { encoding: "msgpack" });
    let readBytes = 0;
    let most = 0;
    let i = 0;
    const options = { locs: ["b"], credit: 16, creditBytes: budget };
    for await (const chunk of client.stream("fast", [], options)) {
      assert.equal((chunk as Uint8Array)[0], i++);
      readBytes += (chunk as Uint8Array).byteLength;
      most = Math.max(most, producedBytes - readBytes);
      assert.ok(
        producedBytes - readBytes <= budget + size,
        `${producedBytes} bytes produced, ${readBytes} read, budget ${budget}`,
      );
      assert.equal(streamStats.buffered, 0, "chunks held on A past the credit");
      await delay(5);
    }
    assert.equal(i, 40);
    assert.ok(most >= budget / 2, `at most ${most} bytes ahead`);
  });
});

Deno.test("stream bytes: chunks larger than the whole byte budget flow through A → B, one at a time", async () => {
  const size = 256 * 1024;
  let produced = 0;
  await withPair("huge", async function* () {
    for (let i = 0; i < 12; i++) {
      produced++;
      yield new Uint8Array(size).fill(i);
    }
  }, async (a) => {
    await using client = new Client(a.url, { encoding: "msgpack" });
    let read = 0;
    const options = { locs: ["b"], creditBytes: 1000, idleTimeoutMs: 5_000 };
    for await (const chunk of client.stream("huge", [], options)) {
      assert.equal((chunk as Uint8Array).byteLength, size);
      assert.equal((chunk as Uint8Array)[0], read++);
      assert.ok(produced - read <= 1, `${produced} produced, ${read} read`);
      await delay(2);
    }
    assert.equal(read, 12);
  });
});
