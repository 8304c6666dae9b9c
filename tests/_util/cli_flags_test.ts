// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { FlagError, type FlagSpec, type ParseArgs, readFlags } from "../../src/_util/cli_flags.ts";

const SPECS: Record<string, FlagSpec> = {
  port: { type: "string" },
  peer: { type: "string" },
  resources: { type: "string", mayBeEmpty: true },
  all: { type: "boolean" },
};

const read = (args: string[], positionals = false) =>
  readFlags(args, SPECS, parseArgs as ParseArgs, positionals);

function assertFlagError(args: string[], positionals: boolean, message: string): void {
  assert.throws(() => read(args, positionals), (err: unknown) => {
    assert.ok(err instanceof FlagError, `expected a FlagError, got ${err}`);
    assert.equal(err.message, message);
    return true;
  });
}

Deno.test("readFlags() reads --flag value and --flag=value, in order", () => {
  assert.deepEqual(read(["--port", "1", "--peer=ws://a:1?x=1", "--all", "--port=2"]), {
    help: false,
    flags: [
      { name: "port", value: "1" },
      { name: "peer", value: "ws://a:1?x=1" },
      { name: "all", value: true },
      { name: "port", value: "2" },
    ],
    positionals: [],
  });
});

Deno.test("readFlags() refuses unknown flags, with the flag's name", () => {
  for (const positionals of [false, true]) {
    assertFlagError(["--prot", "1"], positionals, 'unknown flag "--prot" (see --help)');
    assertFlagError(["--prot=1"], positionals, 'unknown flag "--prot" (see --help)');
    assertFlagError(["--toString"], positionals, 'unknown flag "--toString" (see --help)');
  }
  assertFlagError(["-p", "1"], false, 'unknown flag "-p" (see --help)');
  assertFlagError(["-hx"], false, 'unknown flag "-hx" (see --help)');
  assertFlagError(["--"], false, 'unknown flag "--" (see --help)');
});

Deno.test("readFlags() refuses a missing or empty value, and a value for a flag that takes none", () => {
  for (const positionals of [false, true]) {
    assertFlagError(["--port"], positionals, "missing value for --port");
    assertFlagError(["--port", "--peer", "ws://a"], positionals, "missing value for --port");
    assertFlagError(["--port="], positionals, "missing value for --port");
    assertFlagError(["--all=yes"], positionals, "--all takes no value");
    assertFlagError(["--help=yes"], positionals, "--help takes no value");
  }
  assert.deepEqual(read(["--resources="]).flags, [{ name: "resources", value: "" }]);
  // A value may start with one dash: a negative number, checked by the program.
  assert.deepEqual(read(["--port", "-1"]).flags, [{ name: "port", value: "-1" }]);
});

Deno.test("readFlags() takes arguments anywhere where the program has some, and all after --", () => {
  assertFlagError(["node.yaml"], false, 'unexpected argument "node.yaml" (see --help)');
  assert.deepEqual(read(["call", "--port", "1", "add", "-5", "3", "--", "--all", "-h"], true), {
    help: false,
    flags: [{ name: "port", value: "1" }],
    positionals: ["call", "add", "-5", "3", "--all", "-h"],
  });
});

Deno.test("readFlags() stops at -h or --help", () => {
  for (const help of ["-h", "--help"]) {
    const result = read(["--port", "1", help, "--bogus", "x"]);
    assert.equal(result.help, true);
    assert.deepEqual(result.flags, [{ name: "port", value: "1" }]);
  }
});

Deno.test("readFlags() hands each flag over as it reads it: a bad value before a bad flag wins", () => {
  const seen: string[] = [];
  assert.throws(
    () =>
      readFlags(["--port", "x", "--bogus"], SPECS, parseArgs as ParseArgs, false, (flag) => {
        seen.push(flag.name);
        throw new RangeError(`bad ${flag.name}`);
      }),
    RangeError,
  );
  assert.deepEqual(seen, ["port"]);
});
