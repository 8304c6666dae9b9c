// Copyright 2026 the mpreg authors. MIT license.
// The browser example needed a static server that was not provided (issue
// 16, item 7): `deno task browser` serves it, with the permissions the task
// gives (its own folder only).
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

Deno.test("deno task browser serves examples/browser/ and nothing else", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "browser", "--port", "0"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
  try {
    // Its first line of output names the URL.
    let first = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    while (!first.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      first += value;
    }
    await reader.cancel();
    const origin = /http:\/\/127\.0\.0\.1:\d+/.exec(first)?.[0];
    assert.ok(origin, `no URL in ${JSON.stringify(first)}`);
    const index = await fetch(`${origin}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await index.text(), /mpreg from a web page/);
    const script = await fetch(`${origin}/main.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get("content-type") ?? "", /javascript/);
    await script.body?.cancel();
    for (const path of ["/node.yaml", "/..%2Fnode.yaml", "/%2e%2e/deno.json", "/missing.js"]) {
      const response: Response = await fetch(`${origin}${path}`);
      assert.equal(response.status, 404, path);
      await response.body?.cancel();
    }
  } finally {
    child.kill();
    await child.status;
  }
});
