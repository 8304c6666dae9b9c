// Copyright 2026 the mpreg authors. MIT license.
// The page and the browser client a node serves are built ahead (deno task
// bundle) into a committed module: it must be what its sources build today.
import assert from "node:assert/strict";
import { ASSETS_PATH, buildAssets } from "../../src/page/build.ts";
import { CLIENT_SCRIPT, pageHtml } from "../../src/server/page.ts";

Deno.test("page assets: src/server/page_assets.ts is up to date with src/page/ and client.ts (run `deno task bundle`)", async () => {
  const built = await buildAssets();
  const committed = await Deno.readTextFile(ASSETS_PATH);
  assert.ok(
    built === committed,
    "src/server/page_assets.ts is stale: run `deno task bundle` and commit it",
  );
});

Deno.test("pageHtml() inlines the style and the script, and escapes the node's name", () => {
  const html = pageHtml(`<n&"1'>`);
  assert.match(html, /<title>mpreg · &lt;n&amp;&quot;1&#39;&gt;<\/title>/);
  assert.ok(!html.includes("{{ node }}"));
  assert.ok(!html.includes(`<n&"1'>`));
  // One inline style, one inline module script, nothing loaded from elsewhere but /client.js.
  assert.equal(html.match(/<style>/g)?.length, 1);
  assert.equal(html.match(/<script type="module">/g)?.length, 1);
  assert.equal(html.match(/<\/script/gi)?.length, 1);
  assert.ok(!/<link rel="stylesheet"|<script [^>]*src=/.test(html));
  assert.match(CLIENT_SCRIPT, /export\s*\{/);
});
