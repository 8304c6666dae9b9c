// Copyright 2026 the mpreg authors. MIT license.
// A browser authenticates with the token scheme: the token rides in the
// WebSocket subprotocol list (browsers cannot set headers).
import assert from "node:assert/strict";
import { hasChromium, onNodePage } from "../_helpers/chromium.ts";
import { hashToken } from "../../mod.ts";
import { startServer } from "../_helpers/mod.ts";

Deno.test({
  name: "browser: a token from the page authenticates; without it the node refuses",
  ignore: !hasChromium(),
  async fn() {
    await using server = await startServer({
      auth: {
        tokens: [{ sha256: await hashToken("browser-t0ken"), principal: "web" }],
        principals: { web: { allow: ["echo*"] } },
        anonymous: false,
      },
    });
    await onNodePage(server.url, async (page, http, errors) => {
      const outcome = await page.evaluate(async ([http, ws]) => {
        const { Client } = await import(`${http}/client.js`);
        const call = async (options: Record<string, unknown>) => {
          const client = new Client(ws, { timeoutMs: 5000, ...options });
          try {
            return { ok: await client.call("echos", ["from", "the browser"]) };
          } catch (err) {
            return { error: (err as Error).name, code: (err as { code: number }).code };
          } finally {
            client.close();
          }
        };
        return {
          withToken: await call({ token: "browser-t0ken" }),
          withoutToken: await call({}),
          badToken: await call({ token: "wrong" }),
          json: await call({ token: "browser-t0ken", encoding: "json" }),
        };
      }, [http, server.url]);
      assert.deepEqual(outcome.withToken, { ok: ["from", "the browser"] });
      assert.deepEqual(outcome.json, { ok: ["from", "the browser"] });
      assert.deepEqual(outcome.withoutToken, { error: "UnauthenticatedError", code: 1010 });
      assert.deepEqual(outcome.badToken, { error: "UnauthenticatedError", code: 1010 });
      assert.deepEqual(errors, []);
    });
  },
});
