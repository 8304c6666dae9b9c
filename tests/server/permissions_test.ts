// Copyright 2026 the mpreg authors. MIT license.
// Per-request permissions end to end: sandboxed functions declare what they
// touch, callers hold grants, and the whole request is checked first.
import assert from "node:assert/strict";
import {
  Client,
  ErrorCode,
  hashToken,
  PermissionDeniedError,
  type Server,
  type ServerOptions,
  UnauthenticatedError,
} from "../../mod.ts";
import { startServer } from "../_helpers/mod.ts";
import { repoPath } from "../_helpers/process.ts";

const MODULE = new URL("../fixtures/sandbox/functions.ts", import.meta.url).href;
const DATA = repoPath("tests/fixtures/sandbox/data");

async function authOptions(): Promise<ServerOptions["auth"]> {
  return {
    tokens: [
      { sha256: await hashToken("ops-token"), principal: "ops" },
      { sha256: await hashToken("noread-token"), principal: "noread" },
      { sha256: await hashToken("noglob-token"), principal: "noglob" },
    ],
    principals: {
      ops: { allow: ["*"], permissions: ["read", "net", "run"] },
      noread: { allow: ["*"], permissions: ["net"] },
      noglob: { allow: ["*"], deny: ["read*"], permissions: ["read"] },
    },
  };
}

/** A node with `mark` inline (a side effect) and the fixture module sandboxed by `permissions`. */
async function node(permissions: Record<string, boolean | string[]>): Promise<{
  server: Server;
  marks: () => number;
}> {
  const server = await startServer({ auth: await authOptions() });
  let marks = 0;
  server.register("mark", () => ++marks);
  server.register("pureAdd", (a: number, b: number) => a + b, { sandbox: true });
  await server.registerModule(MODULE, { permissions });
  return { server, marks: () => marks };
}

Deno.test("permissions: read: [data] reads its file but not /etc/passwd; the next call works", async () => {
  const { server } = await node({ read: [DATA] });
  try {
    await using client = new Client(server.url, { token: "ops-token" });
    assert.equal(await client.call("readData", [`${DATA}/hello.txt`]), "hello from the sandbox\n");
    await assert.rejects(client.call("readPasswd"), (err: unknown) => {
      assert.ok(err instanceof PermissionDeniedError, String(err));
      assert.equal(err.code, ErrorCode.PermissionDenied);
      const details = err.details as Record<string, unknown>;
      assert.equal(details.step, "readPasswd");
      assert.match(String(details.denied), /read access to "\/etc\/passwd"/);
      return true;
    });
    assert.equal(await client.call("add", [2, 3]), 5);
  } finally {
    await server.stop();
  }
});

Deno.test("permissions: without net a function cannot fetch; without run it cannot spawn", async () => {
  await using target = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("secret"),
  );
  const { server } = await node({ read: [DATA] });
  try {
    await using client = new Client(server.url, { token: "ops-token" });
    await assert.rejects(
      client.call("fetchUrl", [`http://127.0.0.1:${target.addr.port}/`]),
      (err: unknown) =>
        err instanceof PermissionDeniedError &&
        /net access/.test(String((err.details as { denied: string }).denied)),
    );
    await assert.rejects(
      client.call("spawn"),
      (err: unknown) =>
        err instanceof PermissionDeniedError &&
        /run access/.test(String((err.details as { denied: string }).denied)),
    );
    assert.equal(await client.call("add", [1, 1]), 2, "the pool is still healthy");
  } finally {
    await server.stop();
  }
});

Deno.test("permissions: net granted for one host lets the function fetch it", async () => {
  await using target = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("allowed"),
  );
  const { server } = await node({ net: [`127.0.0.1:${target.addr.port}`] });
  try {
    await using client = new Client(server.url, { token: "ops-token" });
    assert.equal(
      await client.call("fetchUrl", [`http://127.0.0.1:${target.addr.port}/`]),
      "allowed",
    );
  } finally {
    await server.stop();
  }
});

Deno.test("grants: the whole request is checked before any step runs", async (t) => {
  const { server, marks } = await node({ read: [DATA] });
  const steps = [
    { name: "first", fun: "mark" },
    { name: "second", fun: "readData", args: [`${DATA}/hello.txt`] },
  ];
  const expectDenied = async (client: Client, code: number, pattern: RegExp) => {
    const before = marks();
    await assert.rejects(client.request(steps), (err: unknown) => {
      assert.equal((err as { code: number }).code, code, String(err));
      assert.match((err as Error).message, pattern);
      return true;
    });
    assert.equal(marks(), before, "no earlier step ran");
  };
  try {
    await t.step("allowed", async () => {
      await using client = new Client(server.url, { token: "ops-token" });
      const before = marks();
      assert.deepEqual(await client.request(steps), {
        first: before + 1,
        second: "hello from the sandbox\n",
      });
    });
    await t.step("denied by glob", async () => {
      await using client = new Client(server.url, { token: "noglob-token" });
      await expectDenied(client, 1009, /Step "second": principal "noglob" may not call "readData"/);
    });
    await t.step("denied by a missing permission kind", async () => {
      await using client = new Client(server.url, { token: "noread-token" });
      await expectDenied(client, 1009, /Step "second": "readData" needs the "read" permission/);
    });
    await t.step("anonymous: only functions that declare nothing", async () => {
      await using client = new Client(server.url);
      await expectDenied(client, 1009, /principal "anonymous"/);
      assert.equal(typeof await client.call("mark"), "number");
      assert.equal(await client.call("pureAdd", [1, 2]), 3, "sandboxed, but declares nothing");
      await assert.rejects(client.call("add", [1, 2]), /needs the "read" permission/);
    });
    await t.step("bad token", async () => {
      await using client = new Client(server.url, { token: "not-a-token" });
      const before = marks();
      await assert.rejects(client.request(steps), UnauthenticatedError);
      await assert.rejects(client.call("mark"), UnauthenticatedError);
      assert.equal(marks(), before);
    });
  } finally {
    await server.stop();
  }
});

Deno.test("grants: a node may refuse anonymous callers altogether", async () => {
  await using server = await startServer({ auth: { anonymous: false } });
  await using client = new Client(server.url);
  await assert.rejects(client.call("echo", ["x"]), (err: unknown) => {
    assert.ok(err instanceof UnauthenticatedError);
    assert.match(err.message, /requires a token/);
    return true;
  });
});

Deno.test("grants: the principal travels with a forwarded step and the runner checks again", async () => {
  const auth = await authOptions();
  const a = await startServer({ name: "a", gossipIntervalMs: 150, auth });
  // b does not know "ops": it must refuse the step even though a allowed it.
  const b = await startServer({
    name: "b",
    gossipIntervalMs: 150,
    peers: [a.url],
    auth: { principals: { other: {} } },
  });
  try {
    await b.registerModule(MODULE, { permissions: { read: [DATA] } });
    while (!(a.cluster.functions().readData ?? []).includes("b")) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await using client = new Client(a.url, { token: "ops-token" });
    await assert.rejects(client.call("readData", [`${DATA}/hello.txt`]), (err: unknown) => {
      assert.ok(err instanceof PermissionDeniedError, String(err));
      assert.match(err.message, /principal "ops" is not known on node "b"/);
      return true;
    });
    // a checks the declared kinds it learned from b's record before forwarding.
    await using anonymous = new Client(a.url);
    await assert.rejects(
      anonymous.call("readData", ["x"]),
      (err: unknown) =>
        err instanceof PermissionDeniedError && /needs the "read"/.test(err.message),
    );
  } finally {
    await a.stop();
    await b.stop();
  }
});

Deno.test("a node started with fewer permissions than a function declares refuses to start", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/node.yaml`;
    await Deno.writeTextFile(
      config,
      `port: 0\nfunctions:\n  - module: ${repoPath("tests/fixtures/sandbox/functions.ts")}\n` +
        "    permissions: { run: true }\n",
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-env",
        repoPath("server.ts"),
        "--config",
        config,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assert.match(stderr, /full run access/);
    assert.match(stderr, /which this process lacks/);
    assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
