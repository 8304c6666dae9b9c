// Copyright 2026 the mpreg authors. MIT license.
// The client's connections: refused connections, and nodes that stop.
import assert from "node:assert/strict";
import { type CallContext, Client, ConnectionError } from "../../mod.ts";
import { startServer, waitFor } from "../_helpers/mod.ts";

/** A ws:// URL nothing listens on (a port just freed). */
function refusingUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return `ws://127.0.0.1:${port}`;
}

function whoami(this: CallContext): string {
  return this.node;
}

Deno.test("Client: a refused connection fails the call at once with a ConnectionError naming every URL and why", async () => {
  const urls = [refusingUrl(), refusingUrl()];
  await using client = new Client(urls, { timeoutMs: 10_000 });
  // Not a TimeoutError at the deadline: the refusals, as soon as every URL gave one.
  await assert.rejects(client.call("echo", [1]), (err: unknown) => {
    assert.ok(err instanceof ConnectionError, String(err));
    for (const url of urls) assert.ok(err.message.includes(`"${url}": `), err.message);
    assert.match(err.message, /refused/i);
    const { failures } = err.details as { failures: Array<{ url: string; reason: string }> };
    assert.deepEqual(failures.map((f) => f.url), urls);
    return true;
  });
  await assert.rejects(client.connect(), ConnectionError);
});

Deno.test("Client: a call a stopping node refuses (1014) goes to the next URL; the node's answers still arrive", async () => {
  const a = await startServer({ name: "a" });
  await using b = await startServer({ name: "b" });
  a.register("whoami", whoami);
  b.register("whoami", whoami);
  const { promise: release, resolve } = Promise.withResolvers<void>();
  a.register("slow", async function (this: CallContext) {
    await release;
    return `${this.node} finished`;
  });
  await using client = new Client([a.url, b.url], { timeoutMs: 10_000 });
  assert.equal(await client.call("whoami"), "a");
  // Settles to its value or its error, so a failure below leaves nothing dangling.
  const slow = client.call("slow").catch((err: unknown) => err);
  await waitFor(() => a.inFlight === 1);
  const stopping = a.stop({ drainTimeoutMs: 5_000 });
  try {
    await waitFor(() => !a.listening);
    // a refuses it unstarted (1014): the client sends it to b.
    assert.equal(await client.call("whoami"), "b");
    assert.equal(await client.call("whoami"), "b", "later calls go to b too");
  } finally {
    resolve();
  }
  // The call a was running still gets its answer from a.
  assert.equal(await slow, "a finished");
  await stopping;
});

Deno.test("Client: calls still unanswered when a node closes with 4014 (drained) go to the next URL", async () => {
  // A stub of a node whose drain ends as the call arrives: it reads
  // nothing more and closes with 4014, so the call never ran there.
  let closedWith4014 = 0;
  await using stub = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "mpreg.msgpack.v1" });
    socket.onmessage = () => {
      closedWith4014++;
      socket.close(4014, "Node shutting down");
    };
    return response;
  });
  await using server = await startServer({ name: "next" });
  server.register("whoami", whoami);
  await using client = new Client([`ws://127.0.0.1:${stub.addr.port}`, server.url], {
    timeoutMs: 10_000,
  });
  assert.equal(await client.call("whoami"), "next");
  assert.equal(closedWith4014, 1, "the call reached the stub first");
});
