// Copyright 2026 the mpreg authors. MIT license.
// Per-request permissions end to end: sandboxed functions declare what they
// touch, callers hold grants, and the whole request is checked first.
import assert from "node:assert/strict";
import {
  Client,
  ErrorCode,
  hashToken,
  PermissionDeniedError,
  Server,
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

/** Runs `server.ts --config <config>` until it exits, or kills it after `ms`. */
async function runNode(config: string, ms = 30_000): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", repoPath("server.ts"), "--config", config],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("sandbox attack: a node whose config module imports the node's YAML as text refuses to start (exit 2)", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "mpreg-leak-" }));
  try {
    await Deno.mkdir(`${dir}/fns`);
    await Deno.writeTextFile(
      `${dir}/fns/leak.ts`,
      'import t from "../node.yaml" with { type: "text" };\n' +
        "export function leak(): string { return t; }\n",
    );
    await Deno.writeTextFile(
      `${dir}/node.yaml`,
      "port: 0\ncluster_secret: hunter2-do-not-leak\nfunctions:\n  - module: ./fns/leak.ts\n",
    );
    const { code, stderr } = await runNode(`${dir}/node.yaml`);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /fns\/leak\.ts \(functions leak\) imports "\.\.\/node\.yaml" as text/);
    assert.ok(stderr.includes(`which needs read access to "${dir}/node.yaml"`), stderr);
    assert.doesNotMatch(stderr, /hunter2/);
    assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandbox attack: a symlink in a folder a function may read, leading outside it, is refused at load", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "mpreg-link-" }));
  try {
    await Deno.writeTextFile(`${dir}/fine.txt`, "fine");
    await Deno.symlink("/etc/passwd", `${dir}/passwd`);
    await using server = await startServer({ auth: await authOptions() });
    await assert.rejects(
      server.registerModule(MODULE, { permissions: { read: [dir] } }),
      (err: unknown) => {
        assert.ok(err instanceof PermissionDeniedError, String(err));
        assert.equal(err.code, 1009);
        assert.match(
          err.message,
          new RegExp(`the symlink ${dir}/passwd in a folder it may read leads to /etc/passwd`),
        );
        return true;
      },
    );
    // Nothing was registered: the password file cannot be read through the link.
    await using client = new Client(server.url, { token: "ops-token" });
    await assert.rejects(client.call("readData", [`${dir}/passwd`]), (err: unknown) => {
      assert.ok(!(err instanceof Error && /root:/.test(err.message)));
      assert.equal((err as { code: number }).code, ErrorCode.FunctionNotFound);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandbox: memory_mb from the YAML caps a module's processes; over it a call fails with 1011 and the next works", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mpreg-mem-" });
  try {
    await Deno.writeTextFile(
      `${dir}/node.yaml`,
      `port: 0\nsandbox: { memory_mb: 1024 }\nfunctions:\n  - module: ${
        repoPath("tests/fixtures/sandbox/functions.ts")
      }\n    memory_mb: 128\n`,
    );
    const server = await Server.fromConfig(`${dir}/node.yaml`, { port: 0, drainTimeoutMs: 0 });
    await server.start();
    try {
      await using client = new Client(server.url);
      await assert.rejects(client.call("hog", ["buffers", 2048]), (err: unknown) => {
        assert.equal((err as { code: number }).code, ErrorCode.LimitExceeded, String(err));
        assert.match((err as Error).message, /over its cap of 128 MiB|capped at 128 MiB/);
        return true;
      });
      assert.equal(await client.call("add", [2, 3]), 5);
      assert.equal(server.stats().sandbox?.profiles[0]?.memoryMb, 128);
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandbox: a CPU-bound sandboxed function leaves the node's event loop free; its crash leaves the node up", async () => {
  await using server = await startServer();
  await server.registerModule(MODULE);
  server.register("ping", (value: string) => value);
  await using client = new Client(server.url);
  const order: string[] = [];
  // Busy for 1.5 s in its own process (spin ignores its signal).
  const spinning = client.call("spin", [1_500]).then(() => order.push("spin"));
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(await client.call("ping", ["meanwhile"]), "meanwhile");
  order.push("ping");
  await spinning;
  assert.deepEqual(order, ["ping", "spin"]);
  // A sandbox that exits fails its own call only; the node serves on.
  await assert.rejects(client.call("crash", ["exit"]), (err: unknown) => {
    assert.equal((err as { code: number }).code, ErrorCode.Internal, String(err));
    return true;
  });
  assert.equal(await client.call("add", [20, 22]), 42);
  assert.equal(server.stats().sandbox?.profiles[0]?.crashes, 1);
});
