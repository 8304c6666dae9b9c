// Copyright 2026 the mpreg authors. MIT license.
// Cross-origin attack, in Debian's Chromium: a web page on another origin
// (the developer has it open in a tab) tries to call a node on 127.0.0.1 with
// the anonymous grant. The node refuses it; its own page, and the example page
// served from an origin the node lists in allowedOrigins, still call it.
import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { chromium } from "npm:playwright-core@1.65.1";
import type { Browser, Page } from "npm:playwright-core@1.65.1";
import { CHROMIUM, CHROMIUM_ARGS, hasChromium } from "../_helpers/chromium.ts";
import { withLogs } from "../_helpers/logs.ts";
import { startServer } from "../_helpers/mod.ts";
import { repoPath } from "../_helpers/process.ts";
import { add, format, multiply } from "../../examples/functions.ts";

/** A static server on port 0: `files` maps a path to a file of the repo, or to HTML text. */
function serve(
  signal: AbortSignal,
  files: Record<string, { file: string } | { html: string }>,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, signal, onListen() {} }, async (req) => {
    const entry = files[new URL(req.url).pathname];
    if (entry === undefined) return new Response("not found", { status: 404 });
    if ("html" in entry) {
      return new Response(entry.html, { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    const type = entry.file.endsWith(".js") ? "text/javascript" : "text/html";
    return new Response(await Deno.readFile(repoPath(entry.file)), {
      headers: { "content-type": `${type}; charset=utf-8` },
    });
  });
}

function watch(page: Page, label: string, lines: string[]): void {
  page.on("console", (msg) => lines.push(`${label} ${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => lines.push(`${label} pageerror: ${err.message}`));
}

Deno.test({
  name:
    "browser: a page on another origin cannot call a local node; its own page and an allowed page can",
  ignore: !hasChromium(),
  fn: () => withLogs(attack, ["mpreg", "server", "origin"], "warning"),
});

async function attack(records: LogRecord[]): Promise<void> {
  const stop = new AbortController();
  const attacker = serve(stop.signal, { "/": { html: "<!doctype html><title>evil</title>" } });
  const example = serve(stop.signal, {
    "/": { file: "examples/browser/index.html" },
    "/main.js": { file: "examples/browser/main.js" },
  });
  const exampleOrigin = `http://127.0.0.1:${example.addr.port}`;
  const attackerOrigin = `http://127.0.0.1:${attacker.addr.port}`;
  let browser: Browser | null = null;
  const lines: string[] = [];
  try {
    await using node = await startServer({ allowedOrigins: [exampleOrigin] });
    let wiped = 0;
    node.register("wipe", () => ++wiped);
    node.register("add", add).register("multiply", multiply).register("format", format);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });

    // 1. The attacker's page, on another origin, opens a WebSocket to the node and calls.
    const evil = await browser.newPage();
    watch(evil, "attacker", lines);
    await evil.goto(`${attackerOrigin}/`);
    const attempts = await evil.evaluate(async (url: string) => {
      const attempt = () =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(url, "mpreg.json.v1");
          const timer = setTimeout(() => resolve("no answer"), 5_000);
          ws.onopen = () =>
            ws.send(JSON.stringify({ role: "rpc", u: "x", cmds: [{ name: "w", fun: "wipe" }] }));
          ws.onmessage = (e) => {
            clearTimeout(timer);
            resolve(`called: ${e.data}`);
          };
          ws.onclose = (e) => {
            clearTimeout(timer);
            resolve(`closed ${e.code}`);
          };
        });
      return [await attempt(), await attempt()];
    }, node.url);
    assert.deepEqual(attempts, ["closed 1006", "closed 1006"], "the page never got a socket");
    assert.equal(wiped, 0, "the node never ran the page's call");
    // What the developer sees in the page's console.
    assert.ok(
      lines.some((l) => l.startsWith("attacker error:") && l.includes("403")),
      `the console names the 403:\n${lines.join("\n")}`,
    );
    // The node logged the refusal once for the two attempts.
    const refusals = records.filter((r) => r.properties.origin === attackerOrigin);
    assert.equal(refusals.length, 1, "one log line per origin");

    // 2. The node's own page (GET /) connects and calls.
    const own = await browser.newPage();
    watch(own, "own page", lines);
    await own.goto(node.url.replace(/^ws/, "http") + "/");
    await own.waitForSelector('[data-testid="status"][data-state="up"]', { timeout: 15_000 });
    const viaOwnPage = await own.evaluate(async (url: string) => {
      const { Client } = await import("/client.js");
      const client = new Client(url, { timeoutMs: 5_000 });
      try {
        return await client.call("wipe");
      } finally {
        client.close();
      }
    }, node.url);
    assert.equal(viaOwnPage, 1, "the node's own page calls it");

    // 3. The example page, on an origin the node allows.
    const allowed = await browser.newPage();
    watch(allowed, "example page", lines);
    await allowed.goto(`${exampleOrigin}/?node=${encodeURIComponent(node.url)}`);
    await allowed.waitForSelector(
      '[data-testid="status"][data-state="done"], [data-testid="status"][data-state="error"]',
    );
    assert.equal(
      await allowed.locator('[data-testid="status"]').getAttribute("data-state"),
      "done",
      await allowed.locator('[data-testid="status"]').innerText(),
    );
    assert.deepEqual(
      JSON.parse(await allowed.locator('[data-testid="request-result"]').innerText()),
      { final: "Final Answer: 150" },
    );
    const unexpected = lines.filter((l) =>
      !l.startsWith("attacker") && (l.includes(" error:") || l.includes("pageerror"))
    );
    assert.deepEqual(unexpected, []);
    assert.equal(records.length, 1, "only the attacker's origin was refused");
  } finally {
    await browser?.close();
    stop.abort();
    await attacker.finished;
    await example.finished;
  }
}
