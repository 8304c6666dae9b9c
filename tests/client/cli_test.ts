// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { CLIENT_USAGE, clientMain, type CliRuntime } from "../../src/client/cli.ts";

const RUNTIME: CliRuntime = {
  args: [],
  readTextFile: () => Promise.reject(new Error("no files here")),
  exit: (code: number): never => {
    throw new Error(`exit ${code}`);
  },
};

/** Runs the client program without a node; returns its exit code and what it wrote. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await clientMain(args, RUNTIME, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test("client CLI: an unknown flag exits 2, naming it as the server does", async () => {
  const result = await run(["--bogus", "--url", "ws://127.0.0.1:1", "call", "echo", "1"]);
  assert.equal(result.code, 2);
  assert.match(result.err, /^error: unknown flag "--bogus" \(see --help\)\n/);
  assert.ok(result.err.endsWith(CLIENT_USAGE));
});

Deno.test("client CLI: a flag followed by another flag has no value, exit 2", async () => {
  const result = await run(["--url", "--timeout", "5", "call", "echo", "1"]);
  assert.equal(result.code, 2);
  assert.match(result.err, /^error: missing value for --url\n/);
});

Deno.test("client CLI: bad values are named with what was expected, exit 2", async () => {
  const cases: Array<[string[], string]> = [
    [["--timeout", "soon"], '--timeout: expected a positive number of milliseconds, got "soon"'],
    [["--encoding=xml"], '--encoding: expected one of msgpack, json, got "xml"'],
    [["--kwargs", "[1]"], '--kwargs: expected a JSON object, got "[1]"'],
    [["--all=yes"], "--all takes no value"],
  ];
  for (const [flags, message] of cases) {
    const result = await run(["--url", "ws://127.0.0.1:1", ...flags, "call", "echo", "1"]);
    assert.equal(result.code, 2, flags.join(" "));
    assert.ok(result.err.startsWith(`error: ${message}\n`), result.err.split("\n")[0]);
  }
});

Deno.test("client CLI: --help and -h print the usage and exit 0, whatever follows", async () => {
  for (const help of ["--help", "-h"]) {
    const result = await run([help, "--bogus"]);
    assert.equal(result.code, 0);
    assert.equal(result.out, CLIENT_USAGE);
  }
  assert.match(CLIENT_USAGE, /"--flag value" or "--flag=value"/);
});
