// Copyright 2026 the mpreg authors. MIT license.
// Embedding Server with sandboxed functions needs no unstable flag: a user's
// project has no "unstable": ["worker-options"] in its deno.json.
import assert from "node:assert/strict";
import { join } from "node:path";
import { repoPath } from "../_helpers/process.ts";

Deno.test("embedding: Server with permissions and sandbox: true runs under a deno.json with no unstable entry", async () => {
  const repoConfig = JSON.parse(await Deno.readTextFile(repoPath("deno.json")));
  const dir = await Deno.makeTempDir({ prefix: "mpreg-embed-" });
  try {
    // The user's project: mpreg's import map, nothing unstable.
    const config = join(dir, "deno.json");
    await Deno.writeTextFile(
      config,
      JSON.stringify({ imports: repoConfig.imports, nodeModulesDir: "none" }),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", config, repoPath("tests/fixtures/embed/main.ts")],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `exit ${out.code}: ${stderr}`);
    assert.doesNotMatch(stderr, /Unstable API/);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
      sum: 5,
      text: "hello from the sandbox\n",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
