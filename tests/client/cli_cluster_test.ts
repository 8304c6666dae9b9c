// Copyright 2026 the mpreg authors. MIT license.
// The first hour with the client CLI (issue 16, items 4 and 8): `--url` was
// needed on every call, with no default and no environment variable; a URL
// without ws:// waited for its deadline; and nothing listed what the
// cluster offers. Now MPREG_URL is the default, a malformed URL is refused
// at once naming it, `functions` and `describe FUN` show the cluster's
// functions, and the CLI installs as `mpreg` with `deno install`.
import assert from "node:assert/strict";
import { clientMain, type CliRuntime } from "../../src/client/cli.ts";
import { converged, known, startCluster } from "../_helpers/cluster.ts";
import { repoPath } from "../_helpers/process.ts";

function runtime(env: Record<string, string> = {}): CliRuntime {
  return {
    args: [],
    readTextFile: () => Promise.reject(new Error("no files here")),
    exit: (code: number): never => {
      throw new Error(`exit ${code}`);
    },
    env: { get: (name) => env[name] },
  };
}

async function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await clientMain(args, runtime(env), {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test("client CLI: MPREG_URL is the node when --url is not given; --url wins", async () => {
  await using cluster = await startCluster(1, "star");
  const url = cluster.nodes[0]!.url;
  const fromEnv = await run(["call", "echo", "42"], { MPREG_URL: url });
  assert.equal(fromEnv.code, 0, fromEnv.err);
  assert.equal(fromEnv.out, "42");
  // Several URLs, comma separated: the first that answers serves.
  const list = await run(["call", "echo", '"x"'], { MPREG_URL: `ws://127.0.0.1:9,${url}` });
  assert.equal(list.code, 0, list.err);
  assert.equal(list.out, '"x"');
  const flag = await run(["--url", url, "call", "echo", "1"], { MPREG_URL: "ws://127.0.0.1:9" });
  assert.equal(flag.code, 0, flag.err);
  const none = await run(["call", "echo", "1"]);
  assert.equal(none.code, 2);
  assert.match(none.err, /^error: no node to call: give --url ws:\/\/host:port or set MPREG_URL/);
});

Deno.test("client CLI: a URL that is not ws:// or wss:// is refused at once, naming it", async () => {
  const cases: Array<[string, RegExp]> = [
    [
      "localhost:9001",
      /"localhost:9001" is not a node URL.*did you mean "ws:\/\/localhost:9001"\?/,
    ],
    ["127.0.0.1:9001", /did you mean "ws:\/\/127\.0\.0\.1:9001"\?/],
    ["http://example.com:9001", /did you mean "ws:\/\/example\.com:9001"\?/],
    ["https://example.com", /did you mean "wss:\/\/example\.com"\?/],
    ["not a url", /"not a url" is not a node URL: expected ws:\/\/host:port or wss:\/\/host:port/],
  ];
  for (const [url, message] of cases) {
    const result = await run(["--url", url, "call", "echo", "1"]);
    assert.equal(result.code, 2, url);
    assert.match(result.err.split("\n")[0]!, message);
    // Refused before any connection: a dial would have failed with a ConnectionError (exit 1).
    assert.doesNotMatch(result.err, /ConnectionError/);
  }
  const env = await run(["call", "echo", "1"], { MPREG_URL: "localhost:9001" });
  assert.equal(env.code, 2);
  assert.match(env.err, /"localhost:9001" is not a node URL/);
});

Deno.test("client CLI: functions and describe FUN list what the cluster offers", async () => {
  await using cluster = await startCluster(
    2,
    "star",
    (i) => ({ resources: i === 0 ? ["gpu"] : [] }),
  );
  const [a, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
  a.register("train", (x: number) => x, { resources: ["model-a"], idempotent: true });
  b.register("load", () => [1, 2, 3]);
  b.register("train", (x: number) => x);
  await converged(cluster.nodes);
  await known(cluster.nodes, "train", b.name);
  await known(cluster.nodes, "load", b.name);
  await known(cluster.nodes, "train", a.name);

  const list = await run(["--url", a.url, "functions"]);
  assert.equal(list.code, 0, list.err);
  const lines = list.out.split("\n");
  assert.match(lines[0]!, /^FUNCTION\s+MEMBERS\s+RESOURCES \(PER MEMBER\)$/);
  const train = lines.find((line) => line.startsWith("train "));
  assert.ok(train, list.out);
  assert.match(train, /n0, n1|n1, n0/);
  assert.match(train, /n0: gpu,model-a/);
  assert.match(train, /n1: -/);
  assert.ok(lines.some((line) => /^load\s+n1\s+n1: -$/.test(line)), list.out);
  assert.ok(lines.some((line) => line.startsWith("echo ")), "the built-ins are listed too");

  const one = await run(["--url", b.url, "describe", "train"]);
  assert.equal(one.code, 0, one.err);
  assert.match(one.out, /^train: offered by 2 members/);
  assert.match(one.out, /n0\s+alive\s+ws:\/\/127\.0\.0\.1:\d+\s+gpu,model-a\s+yes/);
  assert.match(one.out, /n1 \(this node\)\s+alive\s+ws:\S+\s+-\s+no/);

  const missing = await run(["--url", a.url, "describe", "nope"]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no member of the cluster offers "nope"/);
  const bare = await run(["--url", a.url, "describe"]);
  assert.equal(bare.code, 2);
});

Deno.test("client CLI: installs as `mpreg` with deno install and reads MPREG_URL", async () => {
  const root = await Deno.makeTempDir({ prefix: "mpreg-install-" });
  try {
    const install = await new Deno.Command(Deno.execPath(), {
      args: [
        "install",
        "-g",
        "-A",
        "--root",
        root,
        "--config",
        repoPath("deno.json"),
        "-n",
        "mpreg",
        repoPath("client.ts"),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(install.code, 0, new TextDecoder().decode(install.stderr));
    await using cluster = await startCluster(1, "star");
    const path = `${root}/bin:${Deno.env.get("PATH") ?? ""}`;
    const call = await new Deno.Command(`${root}/bin/mpreg`, {
      args: ["call", "echo", "7"],
      env: { MPREG_URL: cluster.nodes[0]!.url, PATH: path, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(call.stderr);
    assert.equal(call.code, 0, stderr);
    assert.equal(new TextDecoder().decode(call.stdout).trim(), "7");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
