// Copyright 2026 the mpreg authors. MIT license.
// The cluster page's "Try it" forms show a running call's progress (issue
// 18): a slow function reports 0.5 and waits until the test has seen it on
// the page, then finishes; the answer replaces the progress. A request
// shows the step that reported, and `{ done, total, message }` as text.
import assert from "node:assert/strict";
import { hasChromium, onNodePage } from "../_helpers/chromium.ts";
import type { CallContext } from "../../mod.ts";
import { startServer } from "../_helpers/mod.ts";

/** What the functions run in the page see of the DOM (the test has no lib.dom). */
interface InPage {
  document: {
    querySelector(selector: string): { textContent: string | null; value?: number } | null;
  };
}

Deno.test({
  name: "browser: the Try it forms show a slow function's progress until its answer",
  ignore: !hasChromium(),
  async fn() {
    await using server = await startServer();
    const gates: Array<PromiseWithResolvers<void>> = [];
    server.register("slow", async function (this: CallContext, report: unknown) {
      this.progress(report);
      const gate = Promise.withResolvers<void>();
      gates.push(gate);
      await gate.promise;
      return "finished";
    });
    await onNodePage(server.url, async (page, http, errors) => {
      await page.goto(`${http}/`);
      await page.waitForSelector('[data-testid="status"][data-state="up"]', { timeout: 15_000 });
      await page.waitForSelector('[data-testid="call-fun"] option[value="slow"]', {
        state: "attached",
        timeout: 10_000,
      });

      // The call form: a bar at one half and its text, while the call waits.
      await page.selectOption('[data-testid="call-fun"]', "slow");
      await page.fill('[data-testid="call-args"]', "[0.5]");
      await page.click('[data-testid="call-submit"]');
      const bar = page.locator('[data-testid="call-result"] [data-testid="progress-bar"]');
      await bar.waitFor({ timeout: 10_000 });
      assert.equal(await bar.evaluate((el) => (el as unknown as { value: number }).value), 0.5);
      assert.equal(
        await page.locator('[data-testid="call-result"] [data-testid="progress-text"]').innerText(),
        "50%",
      );
      assert.equal(
        await page.locator('[data-testid="call-result"]').getAttribute("data-status"),
        "pending",
      );
      assert.equal(gates.length, 1);
      gates[0]!.resolve();
      await page.waitForSelector('[data-testid="call-result"][data-status="ok"]');
      assert.equal(
        await page.locator('[data-testid="call-result"] [data-testid="result-value"]').innerText(),
        '"finished"',
      );
      assert.equal(
        await page.locator('[data-testid="call-result"] [data-testid="progress"]').count(),
        0,
      );

      // The request form: the step's name, and a report as done / total.
      await page.fill(
        '[data-testid="request-steps"]',
        '- { name: train, fun: slow, args: [{ done: 3, total: 4, message: "epochs" }] }',
      );
      await page.click('[data-testid="request-submit"]');
      await page.waitForFunction(
        () =>
          (globalThis as unknown as InPage).document.querySelector(
            '[data-testid="request-result"] [data-testid="progress-text"]',
          )?.textContent === "train: 3 / 4 (75%) epochs",
        undefined,
        { timeout: 10_000 },
      );
      assert.equal(gates.length, 2);
      gates[1]!.resolve();
      await page.waitForSelector('[data-testid="request-result"][data-status="ok"]');
      assert.equal(
        await page.locator('[data-testid="request-result"] [data-testid="progress"]').count(),
        0,
      );
      assert.deepEqual(errors, []);
    });
  },
});
