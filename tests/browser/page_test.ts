// Copyright 2026 the mpreg authors. MIT license.
// The cluster page and the browser example, driven in Debian's Chromium by
// playwright-core, against a 3-node cluster: two nodes in this process and one
// node process, which the test kills with SIGKILL.
//
// MPREG_SCREENSHOT=1 also writes docs/cluster-page.png (the README's picture).
import assert from "node:assert/strict";
import { chromium } from "npm:playwright-core@1.65.1";
import { CHROMIUM, CHROMIUM_ARGS, hasChromium } from "../_helpers/chromium.ts";
import type { Browser, Page } from "npm:playwright-core@1.65.1";
import { Client } from "../../mod.ts";
import { add, format, multiply } from "../../examples/functions.ts";
import { known, startCluster } from "../_helpers/cluster.ts";
import { repoPath, ServerProcess } from "../_helpers/process.ts";

// The test is type-checked without lib.dom (it would clash with Deno's types in
// the helpers), so the functions run in the page see the DOM through these.
interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  rows: number;
  querySelector(selector: string): PageElement | null;
}
interface PageDocument {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
}
/** Cast `globalThis` to it inside a page function: `(globalThis as unknown as InPage).document`. */
interface InPage {
  document: PageDocument;
}

const screenshot = Deno.env.get("MPREG_SCREENSHOT") === "1";

/** Serves examples/browser/ from another origin than the node's. */
function serveExample(signal: AbortSignal): Deno.HttpServer<Deno.NetAddr> {
  const types: Record<string, string> = {
    html: "text/html; charset=utf-8",
    js: "text/javascript; charset=utf-8",
  };
  return Deno.serve({ hostname: "127.0.0.1", port: 0, signal, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const file = path === "/" ? "index.html" : path.slice(1);
    if (!/^[a-z]+\.(html|js)$/.test(file)) return new Response("not found", { status: 404 });
    try {
      const body = await Deno.readFile(repoPath(`examples/browser/${file}`));
      return new Response(body, { headers: { "content-type": types[file.split(".")[1]!]! } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

/** Collects console errors and uncaught exceptions of a page. */
function watch(page: Page, label: string, errors: string[]): void {
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`${label} console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => errors.push(`${label} pageerror: ${err.message}`));
}

/** Sends the call form and returns the result panel's status and text. */
async function sendCall(
  page: Page,
  fun: string,
  args: string,
  locs = "",
): Promise<{ status: string; text: string }> {
  await page.selectOption('[data-testid="call-fun"]', fun);
  await page.fill('[data-testid="call-args"]', args);
  await page.fill('[data-testid="call-locs"]', locs);
  await page.click('[data-testid="call-submit"]');
  return await settled(page, "call-result");
}

async function settled(page: Page, id: string): Promise<{ status: string; text: string }> {
  const result = page.locator(`[data-testid="${id}"]`);
  await page.waitForSelector(
    `[data-testid="${id}"][data-status="ok"], [data-testid="${id}"][data-status="error"]`,
  );
  return {
    status: (await result.getAttribute("data-status"))!,
    text: await result.innerText(),
  };
}

Deno.test({
  name: "browser: the cluster page shows a live 3-node cluster, and the example page calls a node",
  ignore: !hasChromium(),
  async fn() {
    const errors: string[] = [];
    const dir = await Deno.makeTempDir({ prefix: "mpreg_browser_" });
    const stopExample = new AbortController();
    let browser: Browser | null = null;
    let n2: ServerProcess | null = null;
    // The example page's origin is not the node's: n0 lists it in allowedOrigins.
    const example = serveExample(stopExample.signal);
    await using cluster = await startCluster(
      2,
      "star",
      (i) => ({
        resources: [["cpu"], ["gpu"]][i]!,
        allowedOrigins: [`http://127.0.0.1:${example.addr.port}`],
      }),
    );
    const n0 = cluster.nodes[0]!;
    const n1 = cluster.nodes[1]!;
    try {
      // Each node offers its own functions; n2 is a separate process.
      n0.register("add", add).register("multiply", multiply).register("format", format);
      n1.register("shout", (text: string) => String(text).toUpperCase(), {
        resources: ["model-a"],
      });
      await Deno.writeTextFile(
        `${dir}/n2.yaml`,
        `gossip_interval: 0.15\nfunctions:\n  - module: ${
          repoPath("tests/fixtures/cluster_functions.ts")
        }\n`,
      );
      n2 = new ServerProcess([
        "--config",
        `${dir}/n2.yaml`,
        "--name",
        "n2",
        "--port",
        "0",
        "--peer",
        n0.url,
        "--resources",
        "dataset-1",
      ]);
      [browser] = await Promise.all([
        chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
        n2.url,
      ]);
      await known(cluster.nodes, "whoami", "n2");
      await known(cluster.nodes, "shout", "n1");
      await known(cluster.nodes, "add", "n0");

      // The cluster page of n0.
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      watch(page, "cluster page", errors);
      const home = n0.url.replace(/^ws/, "http") + "/";
      await page.goto(home);
      await page.waitForSelector('[data-testid="status"][data-state="up"]', { timeout: 15_000 });
      const expected: Record<string, string[]> = {
        n0: ["add", "multiply", "format", "echo", "echos"],
        n1: ["shout", "echo", "echos"],
        n2: ["whoami", "work", "echo", "echos"],
      };
      await page.waitForFunction(
        (expected: Record<string, string[]>) => {
          const cards = [
            ...(globalThis as unknown as InPage).document.querySelectorAll(
              '[data-testid="member"]',
            ),
          ];
          return cards.length === 3 && Object.entries(expected).every(([name, funs]) => {
            const card = cards.find((c) => c.dataset.name === name);
            const chips = card?.querySelector('[data-testid="member-functions"]')?.textContent ??
              "";
            return card?.dataset.state === "alive" && funs.every((f) => chips.includes(f));
          });
        },
        expected,
        { timeout: 10_000 },
      );
      const members = await page.locator('[data-testid="member"]').evaluateAll((cards) =>
        cards.map((c) => [
          (c as unknown as PageElement).dataset.name,
          c.querySelector('[data-testid="member-state"]')?.textContent,
        ])
      );
      assert.deepEqual(members, [["n0", "alive"], ["n1", "alive"], ["n2", "alive"]]);
      // The event loop's lag, from /stats: the largest of the last minute, and now.
      const loop = await page.locator('[data-testid="tile-loop"]').innerText();
      assert.match(
        loop,
        /Event loop lag\s+[\d.]+ m?s\s+largest in the last minute · now [\d.]+ m?s/i,
      );
      // Each function's row names the member offering it.
      const whoamiOffers = await page.locator(
        '[data-testid="function-row"][data-fun="whoami"] [data-testid="function-offers"]',
      ).innerText();
      assert.match(whoamiOffers, /n2/);

      // Calls from the form (one routed to n1), and an error shown with its name and code.
      const call = await sendCall(page, "shout", '["mpreg"]');
      assert.equal(call.status, "ok", call.text);
      assert.equal(
        await page.locator('[data-testid="call-result"] [data-testid="result-value"]').innerText(),
        '"MPREG"',
      );
      const ok = await sendCall(page, "multiply", "[6, 7]");
      assert.equal(ok.status, "ok", ok.text);
      assert.match(ok.text, /\b42\b/);
      const missing = await sendCall(page, "add", "[1, 2]", "nowhere");
      assert.equal(missing.status, "error", missing.text);
      assert.equal(
        await page.locator('[data-testid="error-name"]').innerText(),
        "FunctionNotFoundError",
      );
      assert.equal(await page.locator('[data-testid="error-code"]').innerText(), "code 1001");

      // The prefilled request (echo/echos, works on any node).
      await page.click('[data-testid="request-submit"]');
      const echoed = await settled(page, "request-result");
      assert.equal(echoed.status, "ok", echoed.text);
      assert.deepEqual(
        JSON.parse(
          await page.locator('[data-testid="request-result"] [data-testid="result-value"]')
            .innerText(),
        ),
        { final: ["Final Answer", [10, 20]] },
      );
      // A request of dependent steps across all three members, in YAML.
      await page.fill(
        '[data-testid="request-steps"]',
        [
          "- { name: who, fun: whoami }",
          "- { name: sum, fun: add, args: [2, 3] }",
          "- { name: loud, fun: shout, args: [who] }",
          "- { name: final, fun: format, args: [sum, loud] }",
        ].join("\n"),
      );
      await page.click('[data-testid="request-submit"]');
      await page.waitForFunction(() =>
        (globalThis as unknown as InPage).document.querySelector('[data-testid="request-result"]')
          ?.textContent?.includes("N2")
      );
      const request = await settled(page, "request-result");
      assert.equal(request.status, "ok", request.text);
      assert.deepEqual(
        JSON.parse(
          await page.locator('[data-testid="request-result"] [data-testid="result-value"]')
            .innerText(),
        ),
        { final: "N2: 5" },
      );

      // Some traffic on n0: the functions table shows its rate and latency.
      {
        await using client = new Client(n0.url);
        for (let i = 0; i < 30; i++) {
          await Promise.all([
            client.call("add", [i, i]),
            client.call("multiply", [i, 2]),
            i % 3 === 0 ? client.call("format", [i, "n"]) : null,
            i % 2 === 0 ? client.call("echo", [i]) : null,
          ]);
        }
      }
      await page.waitForFunction(
        () => {
          const doc = (globalThis as unknown as InPage).document;
          const row = '[data-testid="function-row"][data-fun="add"] ';
          const calls = doc.querySelector(row + '[data-testid="function-calls"]')?.textContent;
          const rate = doc.querySelector(row + '[data-testid="function-rate"]')?.textContent;
          return Number(calls?.replaceAll(",", "")) >= 31 && Number(rate) > 0;
        },
        undefined,
        { timeout: 10_000 },
      );
      if (screenshot) {
        await page.evaluate(() => {
          (globalThis as unknown as InPage).document.querySelector('[data-testid="request-steps"]')!
            .rows = 5;
        });
        await page.screenshot({ path: repoPath("docs/cluster-page.png"), fullPage: true });
      }

      // Kill n2: the same page (no reload) shows it suspect or dead.
      await page.evaluate(() => Object.assign(globalThis, { mpregMark: true }));
      await n2.stop("SIGKILL");
      await page.waitForSelector(
        '[data-testid="member"][data-name="n2"]:is([data-state="suspect"], [data-state="dead"])',
        { timeout: 15_000 },
      );
      assert.equal(await page.evaluate(() => "mpregMark" in globalThis), true, "page reloaded");

      // The example page, on another origin, calls n0 through its /client.js.
      const other = await browser.newPage();
      watch(other, "example page", errors);
      const { port } = example.addr;
      await other.goto(`http://127.0.0.1:${port}/?node=${encodeURIComponent(n0.url)}`);
      await other.waitForSelector(
        '[data-testid="status"][data-state="done"], [data-testid="status"][data-state="error"]',
      );
      assert.equal(
        await other.locator('[data-testid="status"]').getAttribute("data-state"),
        "done",
        await other.locator('[data-testid="status"]').innerText(),
      );
      assert.equal(
        await other.locator('[data-testid="call-result"]').innerText(),
        "hello from the browser",
      );
      assert.deepEqual(
        JSON.parse(await other.locator('[data-testid="request-result"]').innerText()),
        { final: "Final Answer: 150" },
      );

      assert.deepEqual(errors, []);
    } finally {
      await browser?.close();
      stopExample.abort();
      await example.finished;
      await n2?.stop("SIGKILL");
      await Deno.remove(dir, { recursive: true });
    }
  },
});
