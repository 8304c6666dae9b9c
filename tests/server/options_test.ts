// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { DEFAULT_LIMITS } from "../../src/protocol/limits.ts";
import {
  resolveServerOptions,
  SERVER_DEFAULTS,
  type ServerOptions,
} from "../../src/server/options.ts";
import { parseConfig } from "../../src/server/config.ts";

Deno.test("resolveServerOptions() fills every option not given from SERVER_DEFAULTS", () => {
  const settings = resolveServerOptions({});
  for (const [key, value] of Object.entries(SERVER_DEFAULTS)) {
    assert.deepEqual(settings[key as keyof typeof settings], value, key);
  }
  assert.match(settings.name, /^mpreg-[0-9a-f]{8}$/);
  assert.deepEqual(settings.limits, DEFAULT_LIMITS);
  assert.equal(settings.clusterSecret, null);
  assert.equal(settings.tls, null);
  assert.equal(settings.sandboxMemoryMb, null);
  assert.deepEqual([settings.resources, settings.peers, settings.advertisedUrls], [[], [], []]);
  assert.ok(Object.isFrozen(settings));
});

Deno.test("resolveServerOptions() keeps what is given, and an undefined option is not given", () => {
  const options: ServerOptions = {
    name: "n1",
    port: 0,
    gossipIntervalMs: 50,
    preferLocal: false,
    requestTimeoutMs: undefined,
    limits: { maxSteps: 3 },
    resources: new Set(["gpu"]),
    sandbox: { memoryMb: 64 },
  };
  const settings = resolveServerOptions(options);
  assert.equal(settings.name, "n1");
  assert.equal(settings.port, 0);
  assert.equal(settings.gossipIntervalMs, 50);
  assert.equal(settings.preferLocal, false);
  assert.equal(settings.requestTimeoutMs, SERVER_DEFAULTS.requestTimeoutMs);
  assert.deepEqual(settings.limits, { ...DEFAULT_LIMITS, maxSteps: 3 });
  assert.deepEqual(settings.resources, ["gpu"]);
  assert.equal(settings.sandboxMemoryMb, 64);
});

Deno.test("resolveServerOptions() resolves a YAML file's options the same way", () => {
  const file = parseConfig("name: n1\ngossip_interval: 0.05\n", "/srv/node.yaml");
  const settings = resolveServerOptions(file.options);
  assert.equal(settings.gossipIntervalMs, 50);
  assert.equal(settings.drainTimeoutMs, SERVER_DEFAULTS.drainTimeoutMs);
});

Deno.test("SERVER_DEFAULTS is what each ServerOptions field's @default says", async () => {
  const source = await Deno.readTextFile(new URL("../../src/server/options.ts", import.meta.url));
  const body = source.slice(
    source.indexOf("export interface ServerOptions {"),
    source.indexOf("export interface SandboxSettings"),
  );
  for (const [key, value] of Object.entries(SERVER_DEFAULTS)) {
    const field = new RegExp(`@default \\{([^}]*)\\}\\s*\\*/\\s*${key}\\?:`).exec(body);
    assert.ok(field !== null, `ServerOptions.${key} has no @default`);
    const documented = field[1]!.split(" (")[0]!;
    assert.equal(documented, JSON.stringify(value), key);
  }
});
