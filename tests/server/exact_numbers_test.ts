// Copyright 2026 the mpreg authors. MIT license.
// The node's JSON encodings (no subprotocol, as the unchanged Python client
// speaks it, and mpreg.json.v1) keep integers beyond 2^53 exact, as Python does.
import assert from "node:assert/strict";
import { Client, type Server } from "../../mod.ts";
import { converged, known, startCluster } from "../_helpers/cluster.ts";
import { RawSocket, startServer } from "../_helpers/mod.ts";

Deno.test("exact numbers: the unchanged Python client's 2^53 + 1 comes back exact (no subprotocol)", async () => {
  await using server = await startServer();
  server.register("kind", (value: unknown) => typeof value);
  const raw = new RawSocket(server.url);
  await raw.opened;
  // As the Python client sends it: a text frame, string id, every field.
  raw.ws.send(
    '{"role":"rpc","cmds":[{"name":"e","fun":"echo","args":[[9007199254740993,' +
      "-9223372036854775808,18446744073709551615,1.0,2.5,12345678901234567.5]]," +
      '"kwargs":{},"locs":[]}],"u":"01J0000000000000000000000A"}',
  );
  raw.ws.send(
    '{"role":"rpc","cmds":[{"name":"k","fun":"kind","args":[9007199254740993],' +
      '"kwargs":{},"locs":[]}],"u":"01J0000000000000000000000B"}',
  );
  await raw.waitFrames(2);
  const [echoed, kind] = raw.frames.map((f) => new TextDecoder().decode(f as ArrayBuffer));
  // The float rule: a JS number that is an integer is written without `.0`.
  assert.equal(
    echoed,
    '{"u":"01J0000000000000000000000A","r":{"e":[9007199254740993,-9223372036854775808,' +
      '18446744073709551615,1,2.5,12345678901234568]},"error":null}',
  );
  assert.match(kind!, /"r":\{"k":"bigint"\}/);
  raw.ws.close();
  await raw.closed;
});

Deno.test("exact numbers: a json client sends and gets back 2^53 + 1 as a BigInt", async () => {
  await using server = await startServer();
  server.register("next", (n: bigint) => n + 1n);
  await using client = new Client(server.url, { encoding: "json", timeoutMs: 5_000 });
  const big = 2n ** 53n + 1n;
  assert.equal(await client.call("echo", [big]), big);
  assert.equal(await client.call("next", [big]), big + 1n);
  assert.deepEqual(await client.call("echo", [{ a: [big, 1, 1.5] }]), { a: [big, 1, 1.5] });
  // Safe integers stay numbers.
  assert.equal(await client.call("echo", [2 ** 53 - 1]), 2 ** 53 - 1);
});

Deno.test("exact numbers: 2^53 + 1 from a json client stays exact through a step forwarded to another node", async () => {
  await using cluster = await startCluster(2, "star");
  const [a, b] = cluster.nodes as [Server, Server];
  b.register("next_there", (n: bigint) => typeof n === "bigint" ? n + 1n : `not a BigInt: ${n}`, {
    resources: ["there"],
  });
  await converged(cluster.nodes);
  await known(cluster.nodes, "next_there", "n1");
  await using client = new Client(a.url, { encoding: "json", timeoutMs: 5_000 });
  const big = 2n ** 53n + 1n;
  assert.equal(await client.call("next_there", [big], { locs: ["there"] }), big + 1n);
  assert.equal(
    await client.call("next_there", [-(2n ** 63n)], { locs: ["there"] }),
    -(2n ** 63n) + 1n,
  );
});

Deno.test("exact numbers: an mpreg-json client (the original protocol) calls an mpreg node too", async () => {
  await using server = await startServer();
  await using client = new Client(server.url, { encoding: "mpreg-json", timeoutMs: 5_000 });
  const big = 2n ** 53n + 1n;
  assert.equal(await client.call("echo", [big]), big);
  assert.deepEqual(
    await client.request([
      { name: "a", fun: "echo", args: ["hi"] },
      { name: "b", fun: "echos", args: ["a", 2] },
    ]),
    { b: ["hi", 2] },
  );
});
