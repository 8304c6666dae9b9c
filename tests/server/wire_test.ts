// Copyright 2026 the mpreg authors. MIT license.
// The wire as other programs see it: the original MPREG JSON over a raw
// WebSocket, subprotocol negotiation, HTTP endpoints, and bad input.
import assert from "node:assert/strict";
import { pack } from "msgpackr/pack";
import { unpack } from "msgpackr/unpack";
import { Client, ErrorCode, Server } from "../../mod.ts";
import { delay, RawSocket, startServer } from "../_helpers/mod.ts";
import { runScript } from "../_helpers/process.ts";

const text = new TextDecoder();

/** A bare WebSocket upgrade request offering `protocol`, to read the HTTP answer. */
function upgradeOffering(url: string, protocol: string): Promise<Response> {
  return fetch(url.replace("ws:", "http:"), {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      "sec-websocket-protocol": protocol,
    },
  });
}

function json(frame: string | ArrayBuffer): Record<string, unknown> {
  return JSON.parse(typeof frame === "string" ? frame : text.decode(frame));
}

Deno.test("original MPREG JSON: text frames in, binary UTF-8 JSON frames out", async () => {
  await using server = await startServer();
  const raw = new RawSocket(server.url);
  await raw.opened;
  assert.equal(raw.ws.protocol, "");
  raw.ws.send(JSON.stringify({
    role: "rpc",
    cmds: [
      { name: "|first", fun: "echo", args: ["hi there!"], kwargs: {}, locs: [] },
      { name: "|second", fun: "echo", args: ["|first"], kwargs: {}, locs: [] },
    ],
    u: "01JABCDEFGHJKMNPQRSTVWXYZ0",
  }));
  // Binary frames holding JSON are accepted too, as the original accepts both.
  raw.ws.send(new TextEncoder().encode(JSON.stringify({
    role: "rpc",
    cmds: [{ name: "e", fun: "echos", args: ["a", "b"], kwargs: {}, locs: [] }],
    u: "second",
  })));
  await raw.waitFrames(2);
  assert.ok(raw.frames.every((f) => f instanceof ArrayBuffer), "server sends binary frames");
  const answers = raw.frames.map(json).sort((a, b) => String(a.u).localeCompare(String(b.u)));
  assert.deepEqual(answers, [
    { u: "01JABCDEFGHJKMNPQRSTVWXYZ0", r: { "|second": "hi there!" }, error: null },
    { u: "second", r: { e: ["a", "b"] }, error: null },
  ]);
  await raw.close();
});

Deno.test("original MPREG JSON: an unknown role answers 1004 with the original message", async () => {
  await using server = await startServer();
  const raw = new RawSocket(server.url);
  await raw.opened;
  raw.ws.send(JSON.stringify({ role: "nope", u: "x1" }));
  await raw.waitFrames(1);
  const answer = json(raw.frames[0]!);
  assert.equal(answer.u, "x1");
  assert.equal(answer.r, null);
  const error = answer.error as { code: number; message: string };
  assert.equal(error.code, 1004);
  assert.equal(error.message, "Invalid RPC request role: nope");
  await raw.close();
});

Deno.test("subprotocols: the chosen one is echoed; an unknown one is refused", async () => {
  await using server = await startServer();
  for (const protocol of ["mpreg.msgpack.v1", "mpreg.json.v1"]) {
    const raw = new RawSocket(server.url, ["something-else", protocol]);
    await raw.opened;
    assert.equal(raw.ws.protocol, protocol);
    await raw.close();
  }
  const refused = new RawSocket(server.url, ["not-mpreg"]);
  await assert.rejects(refused.opened);
  await refused.closed;
  const response = await upgradeOffering(server.url, "not-mpreg");
  assert.equal(response.status, 400);
  assert.match(await response.text(), /mpreg\.msgpack\.v1/);
});

Deno.test("msgpack subprotocol: binary frames both ways, numeric ids echoed", async () => {
  await using server = await startServer();
  const raw = new RawSocket(server.url, "mpreg.msgpack.v1");
  await raw.opened;
  raw.ws.send(pack({ role: "rpc", u: 7, cmds: [{ name: "a", fun: "echo", args: [1.5] }] }));
  await raw.waitFrames(1);
  assert.deepEqual(unpack(new Uint8Array(raw.frames[0] as ArrayBuffer)), {
    u: 7,
    r: { a: 1.5 },
    error: null,
  });
  await raw.close();
});

Deno.test("HTTP on the node's port: /healthz, /readyz, /cluster, 404", async () => {
  const server = await startServer({ name: "h1", resources: ["gpu"] });
  const base = server.url.replace("ws:", "http:");
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok", name: "h1" });
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  await ready.body?.cancel();
  const cluster = await (await fetch(`${base}/cluster`)).json();
  assert.equal(cluster.self, "h1");
  assert.deepEqual(cluster.members[0].resources, ["gpu"]);
  assert.deepEqual(cluster.functions.echo, ["h1"]);
  const missing = await fetch(`${base}/nope`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  await server.stop();
});

Deno.test("/readyz answers 503 while the node drains", async () => {
  const server = await startServer();
  const { promise: release, resolve } = Promise.withResolvers<void>();
  server.register("wait", () => release);
  await using client = new Client(server.url);
  const call = client.call("wait");
  while (server.inFlight === 0) await delay(5);
  const stopping = server.stop({ drainTimeoutMs: 5_000 });
  const ready = await fetch(`${server.url.replace("ws:", "http:")}/readyz`);
  assert.equal(ready.status, 503);
  await ready.body?.cancel();
  resolve();
  await call;
  await stopping;
});

/** Sends `frame` on a fresh socket and returns the close event. */
async function closedBy(url: string, protocol: string, frame: string | Uint8Array) {
  const raw = new RawSocket(url, protocol);
  await raw.opened;
  raw.ws.send(frame as Uint8Array<ArrayBuffer>);
  return await raw.closed;
}

Deno.test("bad frames without a readable id close the socket with a reason", async () => {
  await using server = await startServer({ limits: { maxFrameBytes: 64 * 1024 } });
  const cases: Array<[string, string | Uint8Array, number, RegExp]> = [
    ["mpreg.msgpack.v1", new Uint8Array([0xc1, 0x00]), 1007, /msgpack type/],
    ["mpreg.msgpack.v1", "text in a binary protocol", 1007, /binary/],
    ["mpreg.json.v1", "{not json", 1007, /not valid JSON/],
    ["mpreg.json.v1", "[1,2,3]", 1008, /not an object/],
    ["mpreg.json.v1", '{"role":"rpc"}', 1008, /"u"/],
    ["mpreg.msgpack.v1", new Uint8Array(100_000), 1009, /over the limit/],
    ["mpreg.msgpack.v1", new Uint8Array(50_000).fill(0x91), 1008, /deeper than 64/],
    ["mpreg.json.v1", "[".repeat(50_000), 1008, /deeper than 64/],
    ["mpreg.msgpack.v1", new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), 1008, /elements/],
    ["mpreg.json.v1", '{"u":1,"role":"rpc","cmds":[],"__proto__":{}}', 1007, /__proto__/],
  ];
  for (const [protocol, frame, code, reason] of cases) {
    const event = await closedBy(server.url, protocol, frame);
    assert.equal(event.code, code, `close code for ${reason}`);
    assert.match(event.reason, reason);
  }
  // The node is still fine.
  await using client = new Client(server.url);
  assert.equal(await client.call("echo", ["alive"]), "alive");
});

Deno.test("bad requests with a readable id get an error response, and the socket stays open", async () => {
  await using server = await startServer({ limits: { maxSteps: 3 } });
  const raw = new RawSocket(server.url, "mpreg.json.v1");
  await raw.opened;
  const send = (m: unknown) => raw.ws.send(JSON.stringify(m));
  send({ role: "rpc", u: 1, cmds: "nope" });
  send({ role: "rpc", u: 2, cmds: [{ name: 1, fun: "echo" }] });
  send({ role: "rpc", u: 3, cmds: [{ name: "a", fun: "echo", args: {} }] });
  send({ role: "rpc", u: 4, cmds: [1, 2, 3, 4].map((i) => ({ name: `s${i}`, fun: "echo" })) });
  send({ role: "rpc", u: 5, cmds: [{ name: "a", fun: "echo", args: [1] }], timeout: -1 });
  send({ role: "explode", u: 6 });
  send({ role: "rpc", u: 7, cmds: [{ name: "a", fun: "echo", args: ["ok"] }] });
  await raw.waitFrames(7);
  const byId = new Map(raw.frames.map((f) => [json(f).u, json(f)]));
  const code = (u: number) => (byId.get(u)!.error as { code: number } | null)?.code;
  assert.equal(code(1), ErrorCode.Protocol);
  assert.equal(code(2), ErrorCode.Protocol);
  assert.equal(code(3), ErrorCode.Protocol);
  assert.equal(code(4), ErrorCode.LimitExceeded);
  assert.equal(code(5), ErrorCode.Protocol);
  assert.equal(code(6), ErrorCode.Protocol);
  assert.deepEqual(byId.get(7), { u: 7, r: { a: "ok" }, error: null });
  assert.equal(raw.ws.readyState, WebSocket.OPEN);
  await raw.close();
});

Deno.test("a request with a malformed tp (trace context) is a 1004 naming it; a valid tp runs", async () => {
  await using server = await startServer();
  const raw = new RawSocket(server.url, "mpreg.json.v1");
  await raw.opened;
  const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const cmds = [{ name: "a", fun: "echo", args: ["ok"] }];
  raw.ws.send(JSON.stringify({ role: "rpc", u: 1, cmds, tp: tp.toUpperCase() }));
  raw.ws.send(JSON.stringify({ role: "rpc", u: 2, cmds, tp }));
  await raw.waitFrames(2);
  const byId = new Map(raw.frames.map((f) => [json(f).u, json(f)]));
  const error = byId.get(1)!.error as { code: number; message: string };
  assert.equal(error.code, ErrorCode.Protocol);
  assert.match(error.message, /^"tp" is not a W3C traceparent/);
  assert.deepEqual(byId.get(2), { u: 2, r: { a: "ok" }, error: null });
  assert.equal(raw.ws.readyState, WebSocket.OPEN);
  await raw.close();
});

Deno.test("in-flight requests per connection are limited; other connections never notice", async () => {
  await using server = await startServer({ limits: { maxInFlightPerConnection: 2 } });
  const { promise: release, resolve } = Promise.withResolvers<void>();
  server.register("wait", () => release);
  const raw = new RawSocket(server.url, "mpreg.json.v1");
  await raw.opened;
  for (const u of [1, 2, 3]) {
    raw.ws.send(JSON.stringify({ role: "rpc", u, cmds: [{ name: "w", fun: "wait" }] }));
  }
  await raw.waitFrames(1);
  const first = json(raw.frames[0]!);
  assert.equal(first.u, 3);
  assert.equal((first.error as { code: number }).code, ErrorCode.LimitExceeded);
  await using other = new Client(server.url);
  assert.equal(await other.call("echo", ["unaffected"]), "unaffected");
  resolve();
  await raw.waitFrames(3);
  await raw.close();
});

Deno.test("a duplicate request id in flight is refused", async () => {
  await using server = await startServer();
  const { promise: release, resolve } = Promise.withResolvers<void>();
  server.register("wait", () => release);
  const raw = new RawSocket(server.url, "mpreg.json.v1");
  await raw.opened;
  const msg = JSON.stringify({ role: "rpc", u: "dup", cmds: [{ name: "w", fun: "wait" }] });
  raw.ws.send(msg);
  raw.ws.send(msg);
  await raw.waitFrames(1);
  assert.equal((json(raw.frames[0]!).error as { code: number }).code, ErrorCode.Protocol);
  resolve();
  await raw.waitFrames(2);
  await raw.close();
});

Deno.test("a result that cannot be encoded gets an error, not silence", async () => {
  await using server = await startServer();
  server.register("bigint", () => 10n ** 30n);
  server.register("unwritable", () => ({
    toJSON() {
      throw new Error("not today");
    },
  }));
  // JSON writes any BigInt exactly (as its digits); msgpack has no integer past 64 bits.
  for (const [encoding, fun] of [["msgpack", "bigint"], ["json", "unwritable"]] as const) {
    await using client = new Client(server.url, { encoding });
    await assert.rejects(client.call(fun), (err: unknown) => {
      assert.equal((err as { code: number }).code, ErrorCode.Function);
      assert.match((err as Error).message, /cannot be encoded/);
      return true;
    });
  }
});

Deno.test("batches: a frame may carry several requests; answers of one turn come back together", async () => {
  await using server = await startServer();
  for (const protocol of ["mpreg.json.v1", "mpreg.msgpack.v1"]) {
    const ws = new WebSocket(server.url, protocol);
    ws.binaryType = "arraybuffer";
    await new Promise((resolve) => ws.onopen = resolve);
    const frames: unknown[] = [];
    ws.onmessage = (e) => {
      frames.push(
        typeof e.data === "string" ? JSON.parse(e.data) : unpack(new Uint8Array(e.data)),
      );
    };
    const batch = [1, 2, 3].map((u) => ({
      role: "rpc",
      u,
      cmds: [{ name: "e", fun: "echo", args: [u * 10] }],
    }));
    ws.send(protocol === "mpreg.json.v1" ? JSON.stringify(batch) : pack(batch));
    while (frames.length < 1) await delay(5);
    assert.deepEqual(frames[0], [
      { u: 1, r: { e: 10 }, error: null },
      { u: 2, r: { e: 20 }, error: null },
      { u: 3, r: { e: 30 }, error: null },
    ]);
    // An empty batch is refused with a reason.
    const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
    ws.send(protocol === "mpreg.json.v1" ? "[]" : pack([]));
    const event = await closed;
    assert.equal(event.code, 1008);
    assert.match(event.reason, /empty batch/);
  }
});

Deno.test("batches: the original MPREG JSON never batches", async () => {
  await using server = await startServer();
  const raw = new RawSocket(server.url);
  await raw.opened;
  raw.ws.send(JSON.stringify([{ role: "rpc", u: "a", cmds: [] }]));
  const event = await raw.closed;
  assert.equal(event.code, 1008, "an array is not a message there");
});

Deno.test("an answer that would explode once encoded gets 1011, and the node stays responsive", async () => {
  await using server = await startServer();
  const raw = new RawSocket(server.url, "mpreg.json.v1");
  await raw.opened;
  // Each step names the previous one twice: 2^30 values once encoded.
  const cmds: Array<{ name: string; fun: string; args: unknown[] }> = [
    { name: "s0", fun: "echo", args: [1] },
  ];
  for (let i = 1; i <= 30; i++) {
    cmds.push({ name: `s${i}`, fun: "echos", args: [`s${i - 1}`, `s${i - 1}`] });
  }
  raw.ws.send(JSON.stringify({ role: "rpc", u: 1, cmds }));
  await raw.waitFrames(1);
  const answer = json(raw.frames[0]!);
  assert.equal((answer.error as { code: number }).code, ErrorCode.LimitExceeded);
  await using client = new Client(server.url);
  assert.equal(await client.call("echo", ["still here"]), "still here");
  await raw.close();
});

Deno.test("a token alone is not an encoding: the upgrade is refused with 400", async () => {
  await using server = await startServer();
  const response = await upgradeOffering(server.url, "mpreg.auth.t0ken");
  assert.equal(response.status, 400);
  await response.body?.cancel();
});

Deno.test("the client refuses forbidden keys itself; its connection and other calls are unaffected", async () => {
  await using server = await startServer();
  await using client = new Client(server.url);
  const slow = client.call("echo", ["fine"]);
  await assert.rejects(
    client.call("echos", [{ constructor: 1 }]),
    (err: unknown) => {
      assert.equal((err as { code: number }).code, ErrorCode.Protocol);
      assert.match((err as Error).message, /"constructor"/);
      return true;
    },
  );
  await assert.rejects(client.request([{ name: "a", fun: "echo", kwargs: { prototype: 1 } }]));
  assert.equal(await slow, "fine");
  assert.equal(await client.call("echo", ["after"]), "after");
});

Deno.test("undefined arguments and results arrive as null; the connection stays up", async () => {
  await using server = await startServer();
  server.register("nothing", () => undefined);
  await using client = new Client(server.url);
  assert.deepEqual(await client.call("echos", [undefined, { a: undefined, b: 1 }]), [
    null,
    { a: null, b: 1 },
  ]);
  assert.equal(await client.call("nothing"), null);
  assert.equal(await client.call("echo", ["after"]), "after");
});

Deno.test("arguments that cannot be encoded reject that call alone, and leave nothing pending", async () => {
  await using server = await startServer();
  const client = new Client(server.url, { timeoutMs: 5_000 });
  await client.connect();
  const slow = client.call("echo", ["fine"]);
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  for (const bad of [Symbol("s"), 2n ** 70n, circular]) {
    await assert.rejects(client.call("echo", [bad]), (err: unknown) => {
      assert.equal((err as { code: number }).code, ErrorCode.Protocol);
      assert.match((err as Error).message, /cannot be encoded as msgpack/);
      assert.ok((err as Error).cause instanceof Error);
      return true;
    });
  }
  assert.equal(await slow, "fine");
  assert.equal(await client.call("echo", ["after"]), "after");
  // A call left registered would be rejected here with nobody to catch it,
  // and the test would fail on the unhandled rejection.
  client.close();
  await delay(10);
});

Deno.test("start() rejects when the port is taken, and a stopped server is not restarted", async () => {
  await using first = await startServer();
  const second = new Server({ port: first.port });
  await assert.rejects(second.start(), Deno.errors.AddrInUse);
  await second.stop();
  const once = await startServer();
  await once.stop();
  await assert.rejects(once.start(), /create a new one/);
});

Deno.test("a port that is taken is named in the error, from code and from the program (issue 16)", async () => {
  await using first = await startServer();
  const second = new Server({ port: first.port });
  await assert.rejects(second.start(), (err: unknown) => {
    assert.ok(err instanceof Deno.errors.AddrInUse);
    assert.match(err.message, new RegExp(`^Cannot listen on 127\\.0\\.0\\.1:${first.port}: `));
    return true;
  });
  await second.stop();
  const program = await runScript("server.ts", ["--port", String(first.port)]);
  assert.notEqual(program.code, 0);
  assert.match(program.stderr, new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${first.port}`));
});
