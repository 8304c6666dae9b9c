// Copyright 2026 the mpreg authors. MIT license.
// "Nothing runs if any step is denied" across nodes: the coordinator (a) may
// grant a principal what another node denies, or (b) know a principal the
// other node does not, or (c) hold a digest of the other node's grants from
// before it restarted with new ones. In each case a step with a side effect
// on the coordinator must not run.
import assert from "node:assert/strict";
import {
  type AuthOptions,
  type CallContext,
  Client,
  ErrorCode,
  hashToken,
  PermissionDeniedError,
  Server,
  type ServerOptions,
} from "../../mod.ts";
import { PEER_PROTOCOL } from "../../src/cluster/peer_protocol.ts";
import { createCodec } from "../../src/protocol/codec.ts";
import { DEFAULT_LIMITS } from "../../src/protocol/limits.ts";
import { startServer, waitFor } from "../_helpers/mod.ts";

const FAST: ServerOptions = { gossipIntervalMs: 150 };

/** Grants; the token "ops-token" names ops where ops is known. */
async function auth(principals: AuthOptions["principals"] = {}): Promise<AuthOptions> {
  const known = Object.hasOwn(principals, "ops");
  return {
    tokens: known ? [{ sha256: await hashToken("ops-token"), principal: "ops" }] : [],
    principals,
  };
}

const ALL: AuthOptions["principals"] = { ops: { allow: ["*"] } };

/** The coordinator: `markA` counts its calls (the side effect). */
async function nodeA(principals = ALL): Promise<{ a: Server; marks: () => number }> {
  const a = await startServer({ name: "a", ...FAST, auth: await auth(principals) });
  let marks = 0;
  a.register("markA", () => ++marks);
  return { a, marks: () => marks };
}

/** A node offering `bGuarded` and `bOther`, seeded with `a`. */
async function nodeB(
  a: Server,
  principals: AuthOptions["principals"],
  name = "b",
): Promise<Server> {
  const b = await startServer({ name, ...FAST, peers: [a.url], auth: await auth(principals) });
  b.register("bGuarded", function (this: CallContext, x: unknown) {
    return { x, node: this.node };
  });
  b.register("bOther", function (this: CallContext) {
    return this.node;
  });
  await waitFor(
    () => (a.cluster.functions().bGuarded ?? []).includes(name),
    10_000,
    `bGuarded@${name} known to a`,
  );
  return b;
}

const REQUEST = [
  { name: "guarded", fun: "bGuarded", args: [1] },
  { name: "mark", fun: "markA" },
];

/** Sends REQUEST to `a` as ops; it must fail with 1009 from `node`, and markA must not run. */
async function expectDeniedWithoutSideEffect(
  a: Server,
  marks: () => number,
  pattern: RegExp,
): Promise<void> {
  const before = marks();
  await using client = new Client(a.url, { token: "ops-token" });
  const err = await client.request(REQUEST).then(() => null, (e: unknown) => e);
  assert.equal(marks(), before, "markA ran although a step of its request was denied");
  assert.ok(err instanceof PermissionDeniedError, String(err));
  assert.equal(err.code, ErrorCode.PermissionDenied);
  assert.match(err.message, pattern);
  const details = err.details as Record<string, unknown>;
  assert.equal(details.step, "guarded");
  assert.equal(details.fun, "bGuarded");
  assert.equal(details.principal, "ops");
  assert.equal(details.node, "b");
}

function grantChecks(server: Server): { out: number; in: number } {
  const stats = server.stats().cluster;
  return { out: stats?.grantChecks ?? NaN, in: stats?.grantChecksForPeers ?? NaN };
}

Deno.test("grants: a step another node denies stops the whole request; nothing runs on the coordinator", async () => {
  const { a, marks } = await nodeA();
  const b = await nodeB(a, { ops: { allow: ["*"], deny: ["bGuarded"] } });
  try {
    await expectDeniedWithoutSideEffect(
      a,
      marks,
      /Step "guarded": principal "ops" may not call "bGuarded" on node "b"/,
    );
    // What b allows still runs, after one check of b's grants per request.
    const checks = grantChecks(a).out;
    await using client = new Client(a.url, { token: "ops-token" });
    assert.deepEqual(
      await client.request([{ name: "other", fun: "bOther" }, { name: "mark", fun: "markA" }]),
      { other: "b", mark: marks() },
    );
    assert.equal(grantChecks(a).out, checks + 1, "one grant check of b per request");
  } finally {
    await b.stop();
    await a.stop();
  }
});

Deno.test("grants: a principal another node does not know stops the whole request", async () => {
  const { a, marks } = await nodeA();
  const b = await nodeB(a, { someoneElse: { allow: ["*"] } });
  try {
    await expectDeniedWithoutSideEffect(a, marks, /principal "ops" is not known on node "b"/);
  } finally {
    await b.stop();
    await a.stop();
  }
});

Deno.test("grants: a node restarted with other grants is not judged by its old digest", async (t) => {
  const { a, marks } = await nodeA();
  let b = await nodeB(a, ALL);
  try {
    await t.step("same grants: the request runs on both nodes, with no grant check", async () => {
      await using client = new Client(a.url, { token: "ops-token" });
      assert.deepEqual(await client.request(REQUEST), {
        guarded: { x: 1, node: "b" },
        mark: 1,
      });
      assert.deepEqual(grantChecks(a), { out: 0, in: 0 });
    });
    await t.step("b restarts denying bGuarded: nothing runs", async () => {
      const incarnation = a.cluster.member("b")!.incarnation;
      await b.stop();
      b = await nodeB(a, { ops: { allow: ["*"], deny: ["bGuarded"] } });
      await waitFor(
        () => {
          const seen = a.cluster.member("b");
          return seen?.state === "alive" && seen.incarnation > incarnation;
        },
        10_000,
        "a to see b's new incarnation",
      );
      await expectDeniedWithoutSideEffect(
        a,
        marks,
        /Step "guarded": principal "ops" may not call "bGuarded" on node "b"/,
      );
    });
    await t.step("b restarts again, and the request is sent at once: nothing runs", async () => {
      await b.stop();
      // b now does not know ops. The request goes to a while b is joining:
      // whatever a knows of b then, markA must not run without b's agreement.
      const next = new Server({
        name: "b",
        port: 0,
        ...FAST,
        peers: [a.url],
        auth: await auth({ other: { allow: ["*"] } }),
      });
      next.register("bGuarded", (x: unknown) => x);
      const started = next.start();
      const before = marks();
      await using client = new Client(a.url, { token: "ops-token" });
      const err = await client.request(REQUEST).then(() => null, (e: unknown) => e);
      assert.equal(marks(), before, "markA ran although b may not run bGuarded");
      const code = (err as { code?: number } | null)?.code;
      assert.ok(
        code === ErrorCode.PermissionDenied || code === ErrorCode.FunctionNotFound,
        String(err),
      );
      b = await started;
    });
  } finally {
    await b.stop();
    await a.stop();
  }
});

Deno.test("grants: with equal grants everywhere the coordinator decides alone (no grant check sent)", async () => {
  const { a, marks } = await nodeA();
  const b = await nodeB(a, ALL);
  try {
    await using client = new Client(a.url, { token: "ops-token" });
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(await client.request(REQUEST), {
        guarded: { x: 1, node: "b" },
        mark: marks(),
      });
      assert.equal(await client.call("bOther"), "b");
    }
    assert.ok(a.stats().cluster!.forwarded >= 10);
    assert.deepEqual(grantChecks(a), { out: 0, in: 0 });
    assert.deepEqual(grantChecks(b), { out: 0, in: 0 });
  } finally {
    await b.stop();
    await a.stop();
  }
});

Deno.test("grants: a step goes only to the candidates that agreed", async () => {
  const { a, marks } = await nodeA();
  const b = await nodeB(a, { ops: { allow: ["*"], deny: ["bGuarded"] } });
  const c = await nodeB(a, { ops: { allow: ["*"] }, other: {} }, "c");
  try {
    await using client = new Client(a.url, { token: "ops-token" });
    for (let i = 0; i < 10; i++) {
      const out = await client.request(REQUEST);
      assert.deepEqual(out, { guarded: { x: 1, node: "c" }, mark: marks() });
    }
    assert.ok(grantChecks(a).out >= 10, "b and c hold other grants than a: each was asked");
  } finally {
    await c.stop();
    await b.stop();
    await a.stop();
  }
});

/** A bare peer: handshakes with `target` (no secret) presenting `grants`, then sends runs. */
async function rawPeer(target: Server, grants: string): Promise<{
  run(message: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}> {
  const codec = createCodec("msgpack", { limits: DEFAULT_LIMITS });
  const ws = new WebSocket(target.url, [PEER_PROTOCOL]);
  ws.binaryType = "arraybuffer";
  const waiting = new Map<unknown, (m: Record<string, unknown>) => void>();
  const welcome = Promise.withResolvers<void>();
  ws.onmessage = (e) => {
    const decoded = codec.decode(e.data) as Record<string, unknown>;
    for (const m of Array.isArray(decoded) ? decoded : [decoded]) {
      if (m.t === "welcome") welcome.resolve();
      if (m.t === "result" || m.t === "error") waiting.get(m.id)?.(m);
    }
  };
  const closed = new Promise<void>((resolve) => ws.onclose = () => resolve());
  await new Promise<void>((resolve) => ws.onopen = () => resolve());
  const now = Date.now();
  ws.send(codec.encode({
    t: "hello",
    cluster: "default-cluster",
    nonce: "n",
    record: {
      name: "raw",
      incarnation: now,
      catalogVersion: now,
      urls: [],
      resources: [],
      functions: {},
      grants,
    },
  }) as Uint8Array<ArrayBuffer>);
  await welcome.promise;
  return {
    run(message) {
      const { promise, resolve } = Promise.withResolvers<Record<string, unknown>>();
      waiting.set(message.id, resolve);
      ws.send(
        codec.encode({ t: "run", step: "s", args: [], timeout: 5_000, ...message }) as Uint8Array<
          ArrayBuffer
        >,
      );
      return promise;
    },
    close() {
      ws.close();
      return closed;
    },
  };
}

Deno.test("grants: a run relying on other grants than the runner's is refused unstarted", async () => {
  await using b = await startServer({ name: "b" });
  let runs = 0;
  b.register("count", () => ++runs);
  const own = b.cluster.member("b")!.grants!;
  assert.match(own, /^[0-9a-f]{32}$/);
  const refused = (answer: Record<string, unknown>) => {
    assert.equal(answer.t, "error", JSON.stringify(answer));
    assert.equal(answer.started, false);
    const error = answer.error as { code: number; details: Record<string, unknown> };
    assert.equal(error.code, ErrorCode.PermissionDenied);
    assert.equal(error.details.missing, "agreement");
  };
  const same = await rawPeer(b, own);
  try {
    // The coordinator's own digest, from the handshake, equals b's.
    assert.deepEqual(await same.run({ id: 1, fun: "count" }), { t: "result", id: 1, value: 1 });
    // It says it relied on other grants.
    refused(await same.run({ id: 2, fun: "count", grants: "0".repeat(32) }));
  } finally {
    await same.close();
  }
  const other = await rawPeer(b, "f".repeat(32));
  try {
    // Its own digest differs from b's and it states no other.
    refused(await other.run({ id: 1, fun: "count" }));
    refused(await other.run({ id: 2, fun: "count", grants: "0".repeat(32) }));
    assert.deepEqual(await other.run({ id: 3, fun: "count", grants: own }), {
      t: "result",
      id: 3,
      value: 2,
    });
  } finally {
    await other.close();
  }
  assert.equal(runs, 2, "refused runs never started");
});
