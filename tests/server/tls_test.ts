// Copyright 2026 the mpreg authors. MIT license.
// wss:// between nodes and for clients, with the self-signed setup of
// docs/security.md (a test CA trusted through DENO_CERT).
import assert from "node:assert/strict";
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
