// Copyright 2026 the mpreg authors. MIT license.
// wss:// between nodes and for clients, with the self-signed setup of
// docs/security.md (a test CA trusted through DENO_CERT).
import assert from "node:assert/strict";
import { Server, type ServerOptions } from "../../mod.ts";
import { repoPath, runScript, ServerProcess } from "../_helpers/process.ts";

const TLS = repoPath("tests/fixtures/tls");
const TRUST = { DENO_CERT: `${TLS}/ca.pem` };

async function tlsNode(dir: string, name: string, extra: string[]): Promise<ServerProcess> {
  const path = `${dir}/${name}.yaml`;
  await Deno.writeTextFile(
    path,
    [
      `name: ${name}`,
      "port: 0",
      "gossip_interval: 0.2",
      `tls: { cert: ${TLS}/cert.pem, key: ${TLS}/key.pem }`,
      ...extra,
    ].join("\n"),
  );
  return new ServerProcess(["--config", path], TRUST);
}

Deno.test("tls: nodes link over wss:// and a wss:// client reaches a function on the other node", async () => {
  const dir = await Deno.makeTempDir();
  const a = await tlsNode(dir, "a", [
    "functions:",
    `  - module: ${repoPath("tests/fixtures/cluster_functions.ts")}`,
  ]);
  let b: ServerProcess | null = null;
  try {
    const aUrl = await a.url;
    assert.match(aUrl, /^wss:\/\/127\.0\.0\.1:\d+$/);
    b = await tlsNode(dir, "b", [`peers: [${aUrl}]`]);
    const bUrl = await b.url;
    // b lacks whoami: the call is forwarded to a over the wss:// peer link.
    let answer = "";
    for (let i = 0; i < 50 && answer !== "a"; i++) {
      const out = await runScript("client.ts", ["--url", bUrl, "call", "whoami"], TRUST);
      if (out.code === 0) answer = JSON.parse(out.stdout);
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(answer, "a");
    // Without trusting the CA, the certificate is refused.
    const untrusted = await runScript("client.ts", [
      "--url",
      bUrl,
      "--timeout",
      "1000",
      "call",
      "echo",
      "1",
    ]);
    assert.equal(untrusted.code, 1);
  } finally {
    await b?.stop();
    await a.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A node's YAML, started with or without trusting the test CA. */
async function node(
  dir: string,
  name: string,
  lines: string[],
  env: Record<string, string>,
): Promise<ServerProcess> {
  const path = `${dir}/${name}.yaml`;
  await Deno.writeTextFile(path, [`name: ${name}`, "port: 0", ...lines].join("\n"));
  return new ServerProcess(["--config", path], env);
}

const TLS_LINES = [`tls: { cert: ${TLS}/cert.pem, key: ${TLS}/key.pem }`, "require_tls: true"];
const WHOAMI = [
  "functions:",
  `  - module: ${repoPath("tests/fixtures/cluster_functions.ts")}`,
  "    trusted: true",
];

Deno.test("tls: with require_tls, nodes link over wss:// and forward a call", async () => {
  const dir = await Deno.makeTempDir();
  const a = await node(dir, "a", ["gossip_interval: 0.2", ...TLS_LINES, ...WHOAMI], TRUST);
  let b: ServerProcess | null = null;
  try {
    const aUrl = await a.url;
    b = await node(dir, "b", ["gossip_interval: 0.2", ...TLS_LINES, `peers: [${aUrl}]`], TRUST);
    const bUrl = await b.url;
    assert.match(bUrl, /^wss:/);
    let answer = "";
    for (let i = 0; i < 50 && answer !== "a"; i++) {
      const out = await runScript("client.ts", ["--url", bUrl, "call", "whoami"], TRUST);
      if (out.code === 0) answer = JSON.parse(out.stdout);
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(answer, "a", "the call crossed the wss:// link");
    for (const lines of [a.lines, b.lines]) {
      assert.ok(!lines.some((l) => l.includes("Refusing to dial")), lines.join("\n"));
    }
  } finally {
    await b?.stop();
    await a.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tls: with require_tls, a node never dials a ws:// member it learned from gossip", async () => {
  // a serves wss:// and requires TLS. b (plain ws://, trusting the CA) links
  // to a over wss://, which a accepts. c (plain ws://, not trusting the CA)
  // links only to b, and is the only node with whoami: a learns of c from b
  // but must not dial its ws:// URL.
  const dir = await Deno.makeTempDir();
  const a = await node(dir, "a", ["gossip_interval: 0.2", ...TLS_LINES], TRUST);
  const nodes = [a];
  const ca = await Deno.readTextFile(`${TLS}/ca.pem`);
  const http = Deno.createHttpClient({ caCerts: [ca] });
  try {
    const aUrl = await a.url;
    const b = await node(dir, "b", ["gossip_interval: 0.2", `peers: [${aUrl}]`], TRUST);
    nodes.push(b);
    const c = await node(
      dir,
      "c",
      ["gossip_interval: 0.2", `peers: [${await b.url}]`, ...WHOAMI],
      {},
    );
    nodes.push(c);
    const cUrl = await c.url;
    assert.match(cUrl, /^ws:/);
    const view = `${aUrl.replace("wss:", "https:")}/cluster`;
    for (let i = 0; i < 100; i++) {
      const cluster = await (await fetch(view, { client: http })).json();
      if (cluster.functions.whoami?.includes("c")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const out = await runScript("client.ts", [
      "--url",
      aUrl,
      "--timeout",
      "3000",
      "call",
      "whoami",
    ], TRUST);
    assert.equal(out.code, 1, out.stdout);
    assert.match(out.stderr, /refusing to dial "ws:\/\/127\.0\.0\.1:\d+": require_tls is set/);
    assert.ok(
      a.lines.some((l) => l.includes("Refusing to dial") && l.includes(cUrl)),
      a.lines.join("\n"),
    );
  } finally {
    http.close();
    for (const n of nodes.reverse()) await n.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tls: a node with requireTls refuses to start without tls or with a ws:// peer", async () => {
  const tls = {
    cert: await Deno.readTextFile(`${TLS}/cert.pem`),
    key: await Deno.readTextFile(`${TLS}/key.pem`),
  };
  const cases: Array<[ServerOptions, RegExp]> = [
    [{ requireTls: true }, /Option "requireTls" needs "tls"/],
    [
      { requireTls: true, tls, peers: ["ws://127.0.0.1:1"] },
      /refuses the peer "ws:\/\/127\.0\.0\.1:1": not a wss:\/\/ URL/,
    ],
    [
      { requireTls: true, tls, advertisedUrls: ["ws://me:1"] },
      /refuses the advertised URL "ws:\/\/me:1"/,
    ],
  ];
  for (const [options, message] of cases) {
    const server = new Server({ port: 0, ...options });
    await assert.rejects(server.start(), message);
    assert.equal(server.listening, false);
  }
});
