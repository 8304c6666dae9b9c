// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import {
  mergeConfig,
  parseServerArgs,
  SERVER_USAGE,
  type ServerArgs,
  UsageError,
} from "../../src/server/cli_args.ts";
import { type NodeConfig, parseConfig } from "../../src/server/config.ts";

/** Asserts that parsing `args` throws a UsageError with exactly this message. */
function assertUsage(args: string[], message: string): void {
  assert.throws(() => parseServerArgs(args), (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${err}`);
    assert.equal(err.message, message);
    return true;
  });
}

const NO_ARGS: ServerArgs = { help: false, config: null, overrides: {}, log: {} };

Deno.test("parseServerArgs() with no arguments sets nothing", () => {
  assert.deepEqual(parseServerArgs([]), NO_ARGS);
});

Deno.test("parseServerArgs() reads every flag as --flag value", () => {
  const args = parseServerArgs([
    "--config",
    "node.yaml",
    "--name",
    "n1",
    "--host",
    "0.0.0.0",
    "--port",
    "9001",
    "--cluster-id",
    "prod",
    "--resources",
    "gpu,model-a",
    "--peer",
    "ws://a:6666",
    "--log-level",
    "debug",
    "--log-format",
    "json",
  ]);
  assert.deepEqual(args, {
    help: false,
    config: "node.yaml",
    overrides: {
      name: "n1",
      host: "0.0.0.0",
      port: 9001,
      clusterId: "prod",
      resources: ["gpu", "model-a"],
      peers: ["ws://a:6666"],
    },
    log: { level: "debug", format: "json" },
  });
});

Deno.test("parseServerArgs() reads every flag as --flag=value", () => {
  const args = parseServerArgs([
    "--config=conf/node.yaml",
    "--name=n1",
    "--host=::1",
    "--port=0",
    "--cluster-id=a=b",
    "--resources=gpu",
    "--peer=wss://seed.example.com/mpreg?x=1",
    "--log-level=trace",
    "--log-format=pretty",
  ]);
  assert.deepEqual(args, {
    help: false,
    config: "conf/node.yaml",
    overrides: {
      name: "n1",
      host: "::1",
      port: 0,
      clusterId: "a=b",
      resources: ["gpu"],
      peers: ["wss://seed.example.com/mpreg?x=1"],
    },
    log: { level: "trace", format: "pretty" },
  });
});

Deno.test("parseServerArgs() accumulates repeated --peer", () => {
  const args = parseServerArgs(["--peer", "ws://a:1", "--peer=ws://b:2", "--peer", "wss://c:3"]);
  assert.deepEqual(args.overrides.peers, ["ws://a:1", "ws://b:2", "wss://c:3"]);
});

Deno.test("parseServerArgs() splits --resources on commas", () => {
  assert.deepEqual(
    parseServerArgs(["--resources", " gpu, model-a,,cpu "]).overrides.resources,
    ["gpu", "model-a", "cpu"],
  );
  assert.deepEqual(
    parseServerArgs(["--resources", "a,b", "--resources=c"]).overrides.resources,
    ["a", "b", "c"],
  );
  assert.deepEqual(parseServerArgs(["--resources="]).overrides.resources, []);
});

Deno.test("parseServerArgs() lets the last value of a single flag win", () => {
  assert.deepEqual(parseServerArgs(["--port", "1", "--port", "2"]).overrides, { port: 2 });
});

Deno.test("parseServerArgs() reads --help and -h", () => {
  assert.deepEqual(parseServerArgs(["--help"]), { ...NO_ARGS, help: true });
  assert.deepEqual(parseServerArgs(["-h"]), { ...NO_ARGS, help: true });
  // --help stops the parsing: a bad flag after it is not an error.
  const args = parseServerArgs(["--port", "1", "--help", "--bogus"]);
  assert.equal(args.help, true);
  assert.deepEqual(args.overrides, { port: 1 });
  assertUsage(["--help=yes"], "--help takes no value");
});

Deno.test("parseServerArgs() rejects unknown flags and arguments", () => {
  assertUsage(["--prot", "9001"], 'unknown flag "--prot" (see --help)');
  assertUsage(["--prot=9001"], 'unknown flag "--prot" (see --help)');
  assertUsage(["-p", "9001"], 'unknown flag "-p" (see --help)');
  assertUsage(["--"], 'unknown flag "--" (see --help)');
  assertUsage(["node.yaml"], 'unexpected argument "node.yaml" (see --help)');
  assertUsage(["--toString", "x"], 'unknown flag "--toString" (see --help)');
});

Deno.test("parseServerArgs() rejects a missing value", () => {
  assertUsage(["--config"], "missing value for --config");
  assertUsage(["--port", "--host", "h"], "missing value for --port");
  assertUsage(["--name="], "missing value for --name");
  assertUsage(["--peer"], "missing value for --peer");
  assertUsage(["--log-level"], "missing value for --log-level");
});

Deno.test("parseServerArgs() rejects a bad port", () => {
  for (const port of ["abc", "70000", "-1", "1.5", "0x10", " 80", "123456"]) {
    assertUsage(
      ["--port", port],
      `--port: expected an integer from 0 to 65535, got "${port}"`,
    );
  }
  assert.equal(parseServerArgs(["--port", "65535"]).overrides.port, 65535);
});

Deno.test("parseServerArgs() rejects a bad log level or format", () => {
  assertUsage(
    ["--log-level", "loud"],
    '--log-level: expected one of trace, debug, info, warning, error, fatal, got "loud"',
  );
  assertUsage(
    ["--log-level=INFO"],
    '--log-level: expected one of trace, debug, info, warning, error, fatal, got "INFO"',
  );
  assertUsage(["--log-format", "xml"], '--log-format: expected one of pretty, json, got "xml"');
});

Deno.test("parseServerArgs() rejects a peer that is not a ws:// or wss:// URL", () => {
  assertUsage(["--peer", "http://a:1"], '--peer: expected a ws:// or wss:// URL, got "http://a:1"');
  assertUsage(["--peer", "a:1:2"], '--peer: expected a ws:// or wss:// URL, got "a:1:2"');
});

Deno.test("UsageError has a name and an exit code", () => {
  const err = new UsageError("bad");
  assert.ok(err instanceof Error);
  assert.equal(err.name, "UsageError");
  assert.equal(err.exitCode, 2);
  assert.equal(err.message, "bad");
});

Deno.test("SERVER_USAGE lists every flag with its default", () => {
  for (
    const flag of [
      "--config PATH",
      "--name NAME",
      "--host HOST",
      "--port N",
      "--cluster-id ID",
      "--resources A,B",
      "--peer URL",
      "--log-level LEVEL",
      "--log-format FORMAT",
      "-h, --help",
    ]
  ) {
    assert.ok(SERVER_USAGE.includes(flag), flag);
  }
  for (
    const text of [
      "(default: 6666)",
      "(default: 127.0.0.1)",
      "(default: info)",
      "(default: pretty)",
    ]
  ) {
    assert.ok(SERVER_USAGE.includes(text), text);
  }
  const lines = SERVER_USAGE.split("\n");
  const flagLines = lines.filter((line) => /^\s+-/.test(line));
  assert.equal(flagLines.length, 10);
  for (const line of flagLines.slice(0, -1)) assert.match(line, /\(default: .+\)$/);
});

Deno.test("mergeConfig() without a file gives the defaults plus the flags", () => {
  assert.deepEqual(mergeConfig(null, NO_ARGS), {
    path: "",
    options: {},
    functions: [],
    log: { level: "info", format: "pretty" },
  });
  assert.deepEqual(mergeConfig(null, parseServerArgs(["--port", "9001", "--log-format=json"])), {
    path: "",
    options: { port: 9001 },
    functions: [],
    log: { level: "info", format: "json" },
  });
});

Deno.test("mergeConfig() lets flags win over the file", () => {
  const file = parseConfig(
    [
      "name: from-file",
      "host: 0.0.0.0",
      "port: 6666",
      "peers: [ws://file:1]",
      "resources: [a]",
      "gossip_interval: 2",
      "functions:",
      "  - module: ./math.ts",
      "log:",
      "  level: warning",
      "  format: json",
    ].join("\n"),
    "/srv/node.yaml",
  );
  const merged = mergeConfig(
    file,
    parseServerArgs(["--port", "9001", "--peer", "ws://flag:2", "--log-level", "debug"]),
  );
  assert.deepEqual(merged, {
    path: "/srv/node.yaml",
    options: {
      name: "from-file",
      host: "0.0.0.0",
      port: 9001,
      peers: ["ws://flag:2"],
      resources: ["a"],
      gossipIntervalMs: 2000,
    },
    functions: [{ module: file.functions[0]?.module, resources: [], trusted: false }],
    log: { level: "debug", format: "json" },
  });
});

Deno.test("mergeConfig() ignores undefined overrides and does not modify its inputs", () => {
  const file: NodeConfig = parseConfig("port: 6666\nlog: { level: error }\n", "node.yaml");
  const before = structuredClone(file);
  const args: ServerArgs = {
    help: false,
    config: "node.yaml",
    overrides: { port: undefined, name: "n1" },
    log: { level: undefined },
  };
  const merged = mergeConfig(file, args);
  assert.deepEqual(merged.options, { port: 6666, name: "n1" });
  assert.deepEqual(merged.log, { level: "error", format: "pretty" });
  assert.deepEqual(file, before);
  assert.notEqual(merged.options, file.options);
  assert.notEqual(merged.log, file.log);
});
