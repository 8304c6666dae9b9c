// Copyright 2026 the mpreg authors. MIT license.
// The cluster page's call form reads a schema'd function's description from
// the catalog: it offers the parameters by name with their types and a valid
// example, and refuses an invalid argument before sending it (Chromium).
import assert from "node:assert/strict";
import { chromium } from "npm:playwright-core@1.65.1";
import type { Browser } from "npm:playwright-core@1.65.1";
import * as z from "npm:zod@4.6.7";
import { CHROMIUM, CHROMIUM_ARGS, hasChromium } from "../_helpers/chromium.ts";
import { known, startCluster } from "../_helpers/cluster.ts";

Deno.test({
  name:
    "browser: the call form shows a schema'd function's parameters and refuses a bad argument before sending",
  ignore: !hasChromium(),
  async fn() {
    await using cluster = await startCluster(2, "star");
    const [a, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    // Offered by b only: the page on a reads its description from the catalog.
    b.register(
      "greet",
      (who: { id: number; name?: string }, times: number) =>
        `${"hi ".repeat(times)}${who.name ?? who.id}`,
      {
        args: [z.object({ id: z.number().int().min(1), name: z.string().optional() }), z.number()],
        doc: "Greets a user",
      },
    );
    await known([a], "greet", b.name);
    const http = a.url.replace("ws:", "http:");
    let browser: Browser | null = null;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (err) => errors.push(err.message));
      await page.goto(`${http}/`);
      await page.waitForSelector('[data-testid="status"][data-state="up"]');
      await page.waitForSelector('[data-testid="call-fun"] option[value="greet"]', {
        state: "attached",
      });
      await page.selectOption('[data-testid="call-fun"]', "greet");
      const params = page.locator('[data-testid="call-params"]');
      await params.waitFor({ state: "visible" });
      const text = await params.innerText();
      assert.match(text, /^greet\(who: \{ id: number; name\?: string \}, times: number\)/);
      assert.match(text, /Greets a user/);
      // A valid example of the arguments is filled in, and it runs.
      const example = JSON.parse(await page.inputValue('[data-testid="call-args"]'));
      assert.deepEqual(example, [{ id: 1 }, 0]);
      await page.click('[data-testid="call-submit"]');
      await page.waitForSelector('[data-testid="call-result"][data-status="ok"]');
      assert.equal(b.stats().functions.greet?.calls, 1);
      // A wrong argument is refused on the page: nothing reaches a node.
      await page.fill('[data-testid="call-args"]', '[{ "id": "seven" }, 2]');
      await page.click('[data-testid="call-submit"]');
      await page.waitForSelector('[data-testid="call-result"][data-status="error"]');
      assert.match(
        await page.locator('[data-testid="call-result"]').innerText(),
        /Not sent: args\[0\]\.id: expected number, got string \(who\)/,
      );
      assert.equal(b.stats().functions.greet?.calls, 1, "the invalid call was never sent");
      assert.deepEqual(errors, []);
    } finally {
      await browser?.close();
    }
  },
});
