// Copyright 2026 the mpreg authors. MIT license.
// Attacks on the module graph of sandboxed functions: whatever a module
// reaches through its imports is checked against what it declares before
// any of its code runs (docs/security.md, "The module-graph rule").
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PermissionDeniedError } from "../../src/protocol/errors.ts";
import { Sandbox } from "../../src/sandbox/sandbox.ts";
import { context } from "./_helpers.ts";

const SECRET = "cluster_secret: hunter2-do-not-leak";

/** A project in a temp folder: `node.yaml` with a secret, and `files` (path → text). */
async function project(
  files: Record<string, string>,
): Promise<{ dir: string; url(path: string): string } & AsyncDisposable> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "mpreg-graph-" }));
  await Deno.writeTextFile(join(dir, "node.yaml"), `${SECRET}\n`);
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), text);
  }
  return {
    dir,
    url: (path) => pathToFileURL(join(dir, path)).href,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Loads `fun` from `module` in a fresh sandbox, waits for it, and calls it. */
async function attempt(
  module: string,
  fun: string,
  permissions: Record<string, unknown> = {},
  args: unknown[] = [],
): Promise<{ ready: unknown; call: unknown }> {
  const sandbox = new Sandbox();
  try {
    const invoke = sandbox.load(fun, { module }, permissions);
    const ready = await sandbox.ready().then(() => "ready", (err) => err);
    const call = await invoke(context("s1"), args, undefined).catch((err) => err);
    return { ready, call };
  } finally {
    await sandbox.close();
  }
}

/** Asserts both the load and the call were refused with 1009 and the secret stayed home. */
function refused(
  outcome: { ready: unknown; call: unknown },
  what: { import: string; missing: RegExp },
): void {
  for (const err of [outcome.ready, outcome.call]) {
    assert.ok(err instanceof PermissionDeniedError, `expected a 1009 refusal, got ${String(err)}`);
    assert.equal(err.code, 1009);
    assert.ok(!err.message.includes("hunter2"), "the secret leaked into the message");
    assert.ok(err.message.includes(`"${what.import}"`), `the import is not named: ${err.message}`);
    assert.match(err.message, what.missing);
    assert.equal((err.details as { import: string }).import, what.import);
  }
  assert.match((outcome.call as Error).message, /^Step "s1" \(\w+\) refused: /);
}

Deno.test("sandbox attack: a static text import of the node's YAML is refused before the module runs", async () => {
  await using p = await project({
    "fns/leak.ts": 'import t from "../node.yaml" with { type: "text" };\n' +
      "export function leak(): string { return t; }\n",
  });
  const outcome = await attempt(p.url("fns/leak.ts"), "leak");
  refused(outcome, {
    import: "../node.yaml",
    missing: new RegExp(`read access to "${p.dir}/node\\.yaml"`),
  });
  const err = outcome.ready as PermissionDeniedError;
  assert.match(err.message, /\(functions leak\)/);
  assert.match(err.message, /fns\/leak\.ts:1/);
});

Deno.test("sandbox attack: json, bytes and absolute text imports of files it may not read are refused", async () => {
  await using p = await project({
    "data/rows.json": '{"rows": [1, 2, 3]}',
    "fns/json.ts": 'import j from "../data/rows.json" with { type: "json" };\n' +
      "export function rows(): unknown { return j; }\n",
    "fns/bytes.ts": 'import b from "../node.yaml" with { type: "bytes" };\n' +
      "export function raw(): number { return b.length; }\n",
    "fns/passwd.ts": 'import t from "file:///etc/passwd" with { type: "text" };\n' +
      "export function passwd(): string { return t; }\n",
  });
  refused(await attempt(p.url("fns/json.ts"), "rows"), {
    import: "../data/rows.json",
    missing: /read access to ".*\/data\/rows\.json"/,
  });
  refused(await attempt(p.url("fns/bytes.ts"), "raw"), {
    import: "../node.yaml",
    missing: /read access to ".*\/node\.yaml"/,
  });
  refused(await attempt(p.url("fns/passwd.ts"), "passwd"), {
    import: "file:///etc/passwd",
    missing: /read access to "\/etc\/passwd"/,
  });
  // Declared, the same data import is allowed.
  const allowed = await attempt(p.url("fns/json.ts"), "rows", { read: [join(p.dir, "data")] });
  assert.equal(allowed.ready, "ready");
  assert.deepEqual(allowed.call, { rows: [1, 2, 3] });
});

Deno.test("sandbox attack: code outside the module's folder tree needs read access to it", async () => {
  await using p = await project({
    "lib/config.ts": `export const secret = ${JSON.stringify(SECRET)};\n`,
    "fns/own/helper.ts": "export function double(x: number): number { return 2 * x; }\n",
    "fns/outside.ts": 'import { secret } from "../lib/config.ts";\n' +
      "export function outside(): string { return secret; }\n",
    "fns/inside.ts": 'import { double } from "./own/helper.ts";\n' +
      'import { pack } from "npm:msgpackr@^2.1.4/pack";\n' +
      "export function inside(x: number): number { return pack(double(x)).length + double(x); }\n",
  });
  refused(await attempt(p.url("fns/outside.ts"), "outside"), {
    import: "../lib/config.ts",
    missing: /read access to ".*\/lib\/config\.ts"/,
  });
  // Its own folder tree and npm packages are code.
  const inside = await attempt(p.url("fns/inside.ts"), "inside", {}, [21]);
  assert.equal(inside.ready, "ready");
  assert.equal(inside.call, 43); // msgpack of 42 is one byte
  // With read access to lib/, the outside code is allowed.
  const declared = await attempt(p.url("fns/outside.ts"), "outside", {
    read: [join(p.dir, "lib")],
  });
  assert.equal(declared.call, SECRET);
});

Deno.test("sandbox attack: a literal dynamic import of the YAML at call time is refused at load", async () => {
  await using p = await project({
    "fns/later.ts": "export async function later(): Promise<string> {\n" +
      '  return (await import("../node.yaml", { with: { type: "text" } })).default;\n}\n',
  });
  refused(await attempt(p.url("fns/later.ts"), "later"), {
    import: "../node.yaml",
    missing: /read access to ".*\/node\.yaml"/,
  });
});

Deno.test("sandbox attack: a computed import() stays denied at run time", async () => {
  await using p = await project({
    "fns/computed.ts": "export async function computed(path: string): Promise<unknown> {\n" +
      '  return (await import(path, { with: { type: "text" } })).default;\n}\n',
  });
  const outcome = await attempt(p.url("fns/computed.ts"), "computed", {}, [
    join(p.dir, "node.yaml"),
  ]);
  assert.equal(outcome.ready, "ready");
  assert.ok(outcome.call instanceof PermissionDeniedError, String(outcome.call));
  assert.match(outcome.call.message, /was denied read access to ".*node\.yaml"/);
});

/** A plain HTTP server counting the requests it gets; serves `x.js`. */
function moduleServer(): { port: number; requests: string[] } & AsyncDisposable {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    requests.push(new URL(request.url).pathname);
    return new Response("export const x = 42;\n", {
      headers: { "content-type": "application/javascript" },
    });
  });
  return {
    port: server.addr.port,
    requests,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("sandbox attack: a remote import without net is refused and never fetched", async () => {
  await using remote = moduleServer();
  const host = `127.0.0.1:${remote.port}`;
  await using p = await project({
    "fns/static.ts": `import { x } from "http://${host}/x.js";\n` +
      "export function fetched(): number { return x; }\n",
    "fns/dynamic.ts": "export async function later(): Promise<number> {\n" +
      `  return (await import("http://${host}/later.js")).x;\n}\n`,
  });
  refused(await attempt(p.url("fns/static.ts"), "fetched"), {
    import: `http://${host}/x.js`,
    missing: new RegExp(`net access to "127\\.0\\.0\\.1:${remote.port}"`),
  });
  refused(await attempt(p.url("fns/dynamic.ts"), "later"), {
    import: `http://${host}/later.js`,
    missing: new RegExp(`net access to "127\\.0\\.0\\.1:${remote.port}"`),
  });
  assert.equal(
    remote.requests.join(", "),
    "",
    "the node fetched a URL the function may not reach",
  );
  // With net to that host, the same import loads.
  const allowed = await attempt(p.url("fns/static.ts"), "fetched", { net: [host] });
  assert.equal(allowed.call, 42);
  assert.ok(remote.requests.includes("/x.js"));
});

Deno.test("sandbox attack: a symlink in the code folder to a file outside is judged by its target", async () => {
  await using p = await project({
    "outside/secret.ts": `export const secret = ${JSON.stringify(SECRET)};\n`,
    "fns/linked.ts": 'import { secret } from "./link.ts";\n' +
      "export function linked(): string { return secret; }\n",
  });
  await Deno.symlink(join(p.dir, "outside/secret.ts"), join(p.dir, "fns/link.ts"));
  refused(await attempt(p.url("fns/linked.ts"), "linked"), {
    import: "./link.ts",
    missing: /read access to ".*\/outside\/secret\.ts"/,
  });
});

Deno.test("sandbox attack: a function that may write its own code is refused", async () => {
  await using p = await project({
    "fns/rewrite.ts": "export function rewrite(): number { return 1; }\n",
  });
  const outcome = await attempt(p.url("fns/rewrite.ts"), "rewrite", {
    write: [join(p.dir, "fns")],
  });
  for (const err of [outcome.ready, outcome.call]) {
    assert.ok(err instanceof PermissionDeniedError, String(err));
    assert.match(err.message, /may not write its own code/);
  }
});

Deno.test("sandbox guard: a Worker started at call time is checked against the process's own permissions", async () => {
  await using p = await project({
    "fns/spawner.ts": "export function spawn(path: string): Promise<string> {\n" +
      '  const source = `import t from ${JSON.stringify(path)} with { type: "text" }; postMessage(t);`;\n' +
      '  const worker = new Worker(`data:application/javascript,${encodeURIComponent(source)}`, { type: "module" });\n' +
      "  return new Promise((resolve, reject) => {\n" +
      "    worker.onmessage = (e) => { worker.terminate(); resolve(String(e.data)); };\n" +
      "    worker.onerror = (e) => { e.preventDefault(); worker.terminate(); reject(new Error(e.message)); };\n" +
      "  });\n}\n",
  });
  const outcome = await attempt(p.url("fns/spawner.ts"), "spawn", {}, [
    `file://${join(p.dir, "node.yaml")}`,
  ]);
  assert.equal(outcome.ready, "ready");
  assert.ok(outcome.call instanceof PermissionDeniedError, String(outcome.call));
  assert.ok(!(outcome.call as Error).message.includes("hunter2"));
});
