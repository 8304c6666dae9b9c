// Copyright 2026 the mpreg authors. MIT license.
// A newcomer's first run (issue 16, item 7): with an empty cache,
// `deno run -A server.ts` downloaded the NATS client and Playwright, because
// the bench's and the browser tests' packages sat in the library's
// deno.lock, and Deno installs every npm package of the lock. The library's
// lock now holds only what the library imports; tests and benchmarks use
// tests/dev.lock (the `test`, `check` and `bench` tasks pass `--lock`).
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

async function npmPackages(lock: string): Promise<string[]> {
  const json = JSON.parse(await Deno.readTextFile(new URL(lock, ROOT))) as {
    npm?: Record<string, unknown>;
  };
  return Object.keys(json.npm ?? {});
}

Deno.test("deno.lock holds the library's packages only; tests/dev.lock the rest", async () => {
  const library = await npmPackages("deno.lock");
  for (const dev of ["@nats-io/", "playwright-core"]) {
    assert.ok(!library.some((name) => name.startsWith(dev)), `${dev} in deno.lock: ${library}`);
  }
  for (const needed of ["msgpackr@", "yaml@", "@logtape/logtape@"]) {
    assert.ok(library.some((name) => name.startsWith(needed)), `${needed} missing from deno.lock`);
  }
  const dev = await npmPackages("tests/dev.lock");
  for (const needed of ["@nats-io/transport-node@", "playwright-core@", "msgpackr@"]) {
    assert.ok(dev.some((name) => name.startsWith(needed)), `${needed} missing from tests/dev.lock`);
  }
});

Deno.test("a first run with an empty cache downloads the library's packages only", async () => {
  const cache = await Deno.makeTempDir({ prefix: "mpreg-first-run-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["cache", "server.ts"],
      cwd: ROOT,
      env: { DENO_DIR: cache, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, log);
    assert.match(log, /msgpackr/, "it downloaded the library's packages");
    assert.doesNotMatch(log, /@nats-io|nats-core|playwright/, log);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});
