// Copyright 2026 the mpreg authors. MIT license.
// The benchmark's command line: `deno task bench -- --quick` (the form a
// newcomer types) and `deno task bench --quick` mean the same; a mistake is a
// one-line usage error with exit code 2, never a stack trace.
import assert from "node:assert/strict";
import { parseBenchArgs } from "../../bench/main.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("bench args: a leading -- is skipped, flags read with or without =", () => {
  const plain = parseBenchArgs(["--quick", "--only", "echo|gossip", "--json=out.json"]);
  const dashed = parseBenchArgs(["--", "--quick", "--only=echo|gossip", "--json", "out.json"]);
  const expected = { quick: true, nats: true, json: "out.json", only: ["echo", "gossip"] };
  assert.deepEqual(plain, expected);
  assert.deepEqual(dashed, expected);
  assert.deepEqual(parseBenchArgs(["--no-nats"]), {
    quick: false,
    nats: false,
    json: null,
    only: null,
  });
  assert.equal(parseBenchArgs(["--help"]), null);
});

Deno.test("bench args: an unknown flag exits 2 with the usage and no stack trace", async () => {
  for (const args of [["--", "--bogus"], ["--only"]]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "bench", ...args],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(stderr, /usage: deno task bench/);
    assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
  }
});

Deno.test("bench args: `deno task bench -- --help` prints the usage and measures nothing", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "bench", "--", "--help"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(new TextDecoder().decode(out.stdout), /--quick/);
});
