// Copyright 2026 the mpreg authors. MIT license.
// A page reads a stream with the bundled client (issue 18): chunks in order
// in both encodings, and the reader's cancel stops the generator on the node.
import assert from "node:assert/strict";
import { hasChromium, onNodePage } from "../_helpers/chromium.ts";
import type { CallContext } from "../../mod.ts";
import { startServer, waitFor } from "../_helpers/mod.ts";

Deno.test({
  name: "browser: client.stream() reads chunks in order and its cancel stops the producer",
  ignore: !hasChromium(),
  async fn() {
    await using server = await startServer();
    let stopped = false;
    server
      .register("count", async function* (n: number) {
        for (let i = 0; i < n; i++) yield i;
      })
      .register("endless", async function* (this: CallContext) {
        try {
          for (let i = 0;; i++) yield i;
        } finally {
          stopped = this.signal.aborted;
        }
      });
    await onNodePage(server.url, async (page, http, errors) => {
      const outcome = await page.evaluate(async ([http, ws]) => {
        const { Client } = await import(`${http}/client.js`);
        const out: Record<string, unknown> = {};
        for (const encoding of ["msgpack", "json"]) {
          const client = new Client(ws, { encoding });
          let sum = 0;
          let inOrder = true;
          let next = 0;
          for await (const chunk of client.stream("count", [1000], { credit: 8 })) {
            if (chunk !== next++) inOrder = false;
            sum += chunk as number;
          }
          const reader = client.stream("endless").getReader();
          const first = (await reader.read()).value;
          await reader.cancel();
          out[encoding] = { sum, inOrder, count: next, first };
          client.close();
        }
        return out;
      }, [http, server.url]);
      for (const encoding of ["msgpack", "json"]) {
        assert.deepEqual(outcome[encoding], { sum: 499500, inOrder: true, count: 1000, first: 0 });
      }
      await waitFor(() => stopped, 5_000, "the generator's finally");
      assert.deepEqual(errors, []);
    });
  },
});
