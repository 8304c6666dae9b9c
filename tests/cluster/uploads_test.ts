// Copyright 2026 the mpreg authors. MIT license.
// Uploads across nodes (issue 18): a client on A uploads to a function only
// B offers; A passes the stream on to B as one of the run's inputs, under
// B's credit, so the caller's stream is pulled no further ahead than on one
// node. B's function that stops reading cancels the caller's stream.
import assert from "node:assert/strict";
import { type CallContext, Client, type Server } from "../../mod.ts";
import { converged, known, startCluster } from "../_helpers/cluster.ts";
import { delay, rpcFailure, waitFor } from "../_helpers/mod.ts";

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("cluster uploads: client → A → B, content whole in both encodings, backpressure, and B's early return cancels the caller's stream, its failure fails B's read", async () => {
  await using cluster = await startCluster(2, "star");
  const [a, b] = cluster.nodes as [Server, Server];
  let read = 0;
  b.register("digest", async function (this: CallContext, s: ReadableStream<Uint8Array>) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of s) chunks.push(chunk);
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    return {
      bytes: all.length,
      sha256: hex(await crypto.subtle.digest("SHA-256", all)),
      node: this.node,
    };
  })
    .register("slow", async (s: ReadableStream<Uint8Array>) => {
      read = 0;
      for await (const _ of s) {
        read++;
        await delay(5);
      }
      return read;
    })
    .register(
      "peek",
      async (s: ReadableStream<Uint8Array>) => (await s.getReader().read()).value!.length,
    );
  await converged(cluster.nodes);
  for (const fun of ["digest", "slow", "peek"]) await known(cluster.nodes, fun, "n1");
  assert.equal(a.cluster.functions()["digest"]?.includes("n0") ?? false, false);

  const chunks = Array.from({ length: 64 }, (_, c) => {
    const chunk = new Uint8Array(16 * 1024);
    for (let j = 0; j < chunk.length; j++) chunk[j] = (c * 13 + j) & 255;
    return chunk;
  });
  const whole = new Uint8Array(64 * 16 * 1024);
  chunks.forEach((c, i) => whole.set(c, i * c.length));
  const expected = hex(await crypto.subtle.digest("SHA-256", whole));
  for (const encoding of ["msgpack", "json"] as const) {
    await using client = new Client(a.url, { encoding });
    assert.deepEqual(await client.call("digest", [ReadableStream.from(chunks)]), {
      bytes: whole.length,
      sha256: expected,
      node: "n1",
    }, encoding);
  }

  await using client = new Client(a.url);
  // Backpressure through A: the caller's stream is pulled no further ahead
  // of what B's function read than on one node (its credit, 16, plus one).
  let pulls = 0;
  let ahead = 0;
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      pulls++;
      ahead = Math.max(ahead, pulls - read);
      if (i++ < 100) c.enqueue(new Uint8Array(8));
      else c.close();
    },
  });
  assert.equal(await client.call("slow", [stream]), 100);
  assert.ok(ahead <= 16 + 1, `pulled ${ahead} chunks ahead of B's function`);
  assert.ok(ahead >= 8, `pulled only ${ahead} ahead: the credit is not used`);

  // B's function returns after one chunk: the caller's stream is cancelled.
  let cancelled = false;
  const endless = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new Uint8Array(8));
    },
    cancel() {
      cancelled = true;
    },
  });
  assert.equal(await client.call("peek", [endless]), 8);
  await waitFor(() => cancelled, 5_000, "the caller's cancel()");

  // The caller's stream fails: B's read fails with its message, and the call with it.
  let n = 0;
  const failing = new ReadableStream<Uint8Array>({
    pull(c) {
      if (n++ < 3) c.enqueue(new Uint8Array(4));
      else c.error(new Error("disk on fire"));
    },
  });
  const error = await rpcFailure(client.call("digest", [failing]));
  assert.equal(error.code, 1007, String(error));
  assert.match(error.message, /The caller's stream \(upload 0\) failed: Error: disk on fire/);
  await waitFor(() => a.inFlight === 0 && b.inFlight === 0, 5_000, "no request in flight");
});
