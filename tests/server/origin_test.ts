// Copyright 2026 the mpreg authors. MIT license.
// Cross-origin WebSocket attacks: a web page on another origin (or a rebound
// DNS name) must not open a WebSocket to a node; programs, which send no
// Origin, are unaffected. Upgrades are sent by hand, with exactly the headers
// a browser would send.
import assert from "node:assert/strict";
import { PEER_PROTOCOL } from "../../src/cluster/peer_protocol.ts";
import { Client } from "../../mod.ts";
import { startServer } from "../_helpers/mod.ts";
import { withLogs as withAllLogs } from "../_helpers/logs.ts";
import { upgrade } from "../_helpers/raw_ws.ts";

/** The status of an upgrade to `url` with these headers (the connection is closed). */
async function statusOf(url: string, headers: Record<string, string>): Promise<number> {
  const answer = await upgrade(url, headers);
  answer.conn.close();
  return answer.status;
}

/** Captures the origin guard's log records. */
const withLogs = (fn: Parameters<typeof withAllLogs>[0]) =>
  withAllLogs(fn, ["mpreg", "server", "origin"]);

Deno.test("cross-origin attack: a foreign page is refused with 403; programs and own pages are not", async () => {
  await using server = await startServer();
  const port = server.port;
  const url = server.url;
  // Programs (Deno, Python, the CLI) send no Origin.
  assert.equal(await statusOf(url, {}), 101, "no Origin");
  await using client = new Client(url);
  assert.equal(await client.call("echo", ["deno"]), "deno");
  // The node's own origins: its URL and the loopback aliases (it listens on 127.0.0.1).
  for (
    const own of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`]
  ) {
    assert.equal(await statusOf(url, { origin: own }), 101, own);
  }
  // Foreign pages.
  for (
    const foreign of [
      "https://evil.example",
      `http://127.0.0.1:${port + 1 === 65536 ? port - 1 : port + 1}`, // another local server
      `https://localhost:${port}`, // another scheme
      "null", // a sandboxed iframe, a file: page
      "not an origin",
    ]
  ) {
    assert.equal(await statusOf(url, { origin: foreign }), 403, foreign);
  }
  // DNS rebinding: the page's name now resolves to 127.0.0.1, so Origin and Host agree.
  assert.equal(
    await statusOf(url, { origin: `http://evil.example:${port}`, host: `evil.example:${port}` }),
    403,
    "a name equal to Host is not enough",
  );
  // A page loaded from the IP address this socket connects to is the node's own.
  assert.equal(
    await statusOf(url, { origin: `http://10.1.2.3:${port}`, host: `10.1.2.3:${port}` }),
    101,
    "an IP address equal to Host",
  );
  assert.equal(
    await statusOf(url, { origin: `http://10.1.2.3:${port}`, host: `127.0.0.1:${port}` }),
    403,
    "an IP address that is not the Host",
  );
});

Deno.test("cross-origin attack: the refusal says why, and is logged once per origin", async () => {
  await withLogs(async (records) => {
    await using server = await startServer();
    const refused = await upgrade(server.url, { origin: "https://evil.example" });
    refused.conn.close();
    assert.equal(refused.status, 403);
    assert.match(refused.body, /origin "https:\/\/evil\.example" is not allowed.*allowed_origins/);
    for (let i = 0; i < 5; i++) {
      assert.equal(await statusOf(server.url, { origin: "https://evil.example" }), 403);
    }
    assert.equal(await statusOf(server.url, { origin: "https://other.example" }), 403);
    const lines = records.filter((r) => r.level === "warning");
    assert.deepEqual(lines.map((r) => r.properties.origin), [
      "https://evil.example",
      "https://other.example",
    ]);
  });
});

Deno.test("cross-origin attack: a flood of forged origins writes a bounded number of lines", async () => {
  await withLogs(async (records) => {
    const { MAX_LOGGED_ORIGINS, OriginGuard } = await import("../../src/server/origin.ts");
    const guard = new OriginGuard();
    guard.bind({ host: "127.0.0.1", port: 9, secure: false, urls: ["ws://127.0.0.1:9"] });
    for (let i = 0; i < MAX_LOGGED_ORIGINS * 3; i++) {
      const request = new Request("http://127.0.0.1:9/", {
        headers: { origin: `https://n${i}.evil.example` },
      });
      assert.equal(guard.check(request)?.status, 403);
    }
    const warnings = records.filter((r) => r.level === "warning");
    assert.equal(warnings.length, MAX_LOGGED_ORIGINS + 1);
    assert.match(warnings.at(-1)!.message.join(""), /no longer logging each/);
  });
});

Deno.test("cross-origin attack: allowed origins, advertised URLs and * are accepted", async (t) => {
  await t.step("allowedOrigins", async () => {
    await using server = await startServer({
      allowedOrigins: ["https://app.example.com", "http://localhost:8000/"],
    });
    assert.equal(await statusOf(server.url, { origin: "https://app.example.com" }), 101);
    assert.equal(await statusOf(server.url, { origin: "http://localhost:8000" }), 101);
    assert.equal(await statusOf(server.url, { origin: "https://app.example.com:8443" }), 403);
    assert.equal(await statusOf(server.url, { origin: "http://app.example.com" }), 403);
  });
  await t.step("advertised URLs are the node's own", async () => {
    await using server = await startServer({
      advertisedUrls: ["wss://gpu-1.example.com", "ws://10.0.0.7:7000"],
    });
    assert.equal(await statusOf(server.url, { origin: "https://gpu-1.example.com" }), 101);
    assert.equal(await statusOf(server.url, { origin: "http://10.0.0.7:7000" }), 101);
    assert.equal(await statusOf(server.url, { origin: "http://gpu-1.example.com" }), 403);
  });
  await t.step("* accepts every page, with a warning at start", async () => {
    await withLogs(async (records) => {
      await using server = await startServer({ allowedOrigins: ["*"] });
      assert.equal(await statusOf(server.url, { origin: "https://evil.example" }), 101);
      assert.equal(await statusOf(server.url, { origin: "null" }), 101);
      const warning = records.find((r) => r.level === "warning");
      assert.ok(warning, "a warning at start");
      assert.match(warning.message.join(""), /allowed_origins holds "\*"/);
    });
  });
  await t.step("an invalid entry is refused when the node is created", async () => {
    const { Server } = await import("../../mod.ts");
    for (const bad of ["app.example.com", "https://app.example.com/path", "ftp://x", "null"]) {
      assert.throws(
        () => new Server({ allowedOrigins: [bad] }),
        (err: unknown) => err instanceof TypeError && err.message.includes(`"${bad}"`),
      );
    }
  });
});

Deno.test("cross-origin attack: a peer upgrade that carries a foreign Origin is refused too", async () => {
  await using server = await startServer({ name: "a" });
  const peer = { "sec-websocket-protocol": PEER_PROTOCOL };
  assert.equal(await statusOf(server.url, peer), 101, "peers send no Origin");
  assert.equal(
    await statusOf(server.url, { ...peer, origin: "https://evil.example" }),
    403,
    "a page posing as a peer",
  );
});
