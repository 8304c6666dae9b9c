// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  ConfigError,
  loadConfig,
  LOG_FORMATS,
  LOG_LEVELS,
  type NodeConfig,
  parseConfig,
} from "../../src/server/config.ts";

const FIXTURES = new URL("../fixtures/config/", import.meta.url);
const fixture = (name: string): string => fileURLToPath(new URL(name, FIXTURES));

/** Runs `fn`, asserts it throws a ConfigError and returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err;
  }
  assert.fail("expected a ConfigError, nothing was thrown");
}

/** Asserts that parsing `text` as node.yaml fails with this message, line and key. */
function assertInvalid(text: string, message: string, key: string | null): void {
  const err = configError(() => parseConfig(text, "node.yaml"));
  assert.equal(err.message, message);
  const line = /^node\.yaml:(\d+):/.exec(message)?.[1];
  assert.equal(err.line, line === undefined ? null : Number(line));
  assert.equal(err.key, key);
  assert.equal(err.file, "node.yaml");
}

const EMPTY: Omit<NodeConfig, "path"> = {
  options: {},
  functions: [],
  log: { level: "info", format: "pretty" },
};

Deno.test("loadConfig() maps every key of a full config", async () => {
  const path = fixture("full.yaml");
  const config = await loadConfig(path);
  assert.deepEqual(config, {
    path,
    options: {
      name: "gpu-1",
      host: "0.0.0.0",
      port: 9001,
      clusterId: "prod",
      resources: ["gpu", "model-a"],
      peers: ["ws://10.0.0.2:6666", "wss://seed.example.com/mpreg"],
      advertisedUrls: ["ws://gpu-1.internal:9001"],
      allowedOrigins: ["https://app.example.com", "HTTP://Localhost:8000/"],
      gossipIntervalMs: 1500,
      requestTimeoutMs: 30000,
      drainTimeoutMs: 250,
      debug: true,
    },
    functions: [
      { module: new URL("functions/math.ts", FIXTURES).href, resources: ["gpu"], trusted: false },
      { module: new URL("../shared/text.ts", FIXTURES).href, resources: [], trusted: false },
    ],
    log: { level: "debug", format: "json" },
  });
});

Deno.test("loadConfig() accepts an empty file", async () => {
  const path = fixture("empty.yaml");
  assert.deepEqual(await loadConfig(path), { path, ...EMPTY });
});

Deno.test("loadConfig() names the file, the line and the key of a bad value", async () => {
  const path = fixture("bad_port.yaml");
  await assert.rejects(loadConfig(path), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(
      err.message,
      `${path}:4: key "port": expected an integer from 0 to 65535, got "abc"`,
    );
    assert.equal(err.line, 4);
    assert.equal(err.key, "port");
    return true;
  });
});

Deno.test("loadConfig() reports a missing file without a line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mpreg_config_" });
  try {
    const path = join(dir, "missing.yaml");
    await assert.rejects(loadConfig(path), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `${path}: file not found`);
      assert.equal(err.file, path);
      assert.equal(err.line, null);
      assert.equal(err.key, null);
      assert.ok(err.cause instanceof Deno.errors.NotFound);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig() resolves modules relative to a file written in a temp dir", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mpreg_config_" });
  try {
    const path = join(dir, "node.yaml");
    await Deno.writeTextFile(path, "functions:\n  - module: fns/a.ts\n  - module: /abs/b.ts\n");
    const config = await loadConfig(path);
    assert.deepEqual(config.functions.map((f) => f.module), [
      pathToFileURL(join(dir, "fns", "a.ts")).href,
      pathToFileURL(resolve("/abs/b.ts")).href,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseConfig() accepts empty and comment-only texts", () => {
  for (const text of ["", "\n\n", "# nothing yet\n", "---\n"]) {
    assert.deepEqual(parseConfig(text, "node.yaml"), { path: "node.yaml", ...EMPTY }, text);
  }
});

Deno.test("parseConfig() resolves a relative config path from the current directory", () => {
  const config = parseConfig("functions:\n  - module: fns/a.ts\n", join("conf", "node.yaml"));
  assert.equal(config.functions[0]?.module, pathToFileURL(resolve("conf", "fns", "a.ts")).href);
});

Deno.test("parseConfig() keeps file: URLs of modules", () => {
  const config = parseConfig("functions:\n  - module: file:///srv/a.ts\n", "/etc/node.yaml");
  assert.equal(config.functions[0]?.module, "file:///srv/a.ts");
});

Deno.test("parseConfig() converts seconds to milliseconds", () => {
  const config = parseConfig(
    "gossip_interval: 1.1\nrequest_timeout: 0.001\ndrain_timeout: 2\n",
    "node.yaml",
  );
  assert.deepEqual(config.options, {
    gossipIntervalMs: 1100,
    requestTimeoutMs: 1,
    drainTimeoutMs: 2000,
  });
});

Deno.test("parseConfig() reads reconnect_interval and reconnect_timeout in seconds", () => {
  const config = parseConfig("reconnect_interval: 0.5\nreconnect_timeout: 259200\n", "node.yaml");
  assert.deepEqual(config.options, { reconnectIntervalMs: 500, reconnectTimeoutMs: 259_200_000 });
  const err = configError(() => parseConfig("name: a\nreconnect_timeout: -1\n", "node.yaml"));
  assert.equal(
    err.message,
    'node.yaml:2: key "reconnect_timeout": expected a positive number of seconds, got -1',
  );
  assert.equal(err.key, "reconnect_timeout");
});

Deno.test("parseConfig() sets only the keys present, and log defaults per key", () => {
  const config = parseConfig("port: 0\ndebug: false\nlog:\n  format: json\n", "node.yaml");
  assert.deepEqual(config.options, { port: 0, debug: false });
  assert.deepEqual(config.log, { level: "info", format: "json" });
  assert.deepEqual(parseConfig("log: {}\n", "node.yaml").log, EMPTY.log);
});

Deno.test("parseConfig() accepts every log level and format", () => {
  for (const level of LOG_LEVELS) {
    for (const format of LOG_FORMATS) {
      const config = parseConfig(`log: { level: ${level}, format: ${format} }`, "node.yaml");
      assert.deepEqual(config.log, { level, format });
    }
  }
});

Deno.test("parseConfig() follows aliases", () => {
  const config = parseConfig(
    "resources: &shared [gpu]\nfunctions:\n  - module: a.ts\n    resources: *shared\n",
    "/srv/node.yaml",
  );
  assert.deepEqual(config.options.resources, ["gpu"]);
  assert.deepEqual(config.functions[0]?.resources, ["gpu"]);
});

Deno.test("parseConfig() rejects an unknown top-level key", () => {
  assertInvalid(
    "name: n1\nport: 1\n\n# typo below\ngosip_interval: 2\n",
    'node.yaml:5: unknown key "gosip_interval"',
    "gosip_interval",
  );
  assertInvalid("toString: x\n", 'node.yaml:1: unknown key "toString"', "toString");
  assertInvalid("__proto__: {}\n", 'node.yaml:1: unknown key "__proto__"', "__proto__");
  assertInvalid("1: x\n", 'node.yaml:1: unknown key "1"', "1");
});

Deno.test("parseConfig() rejects an unknown key inside functions[1]", () => {
  assertInvalid(
    "functions:\n  - module: a.ts\n  - module: b.ts\n    resources: [x]\n    modul: c.ts\n",
    'node.yaml:5: unknown key "functions[1].modul"',
    "functions[1].modul",
  );
});

Deno.test("parseConfig() rejects an unknown key inside log", () => {
  assertInvalid(
    "log:\n  level: info\n  colour: red\n",
    'node.yaml:3: unknown key "log.colour"',
    "log.colour",
  );
});

Deno.test("parseConfig() requires module in each function", () => {
  assertInvalid(
    "name: n1\nfunctions:\n  - module: a.ts\n  - resources: [gpu]\n",
    'node.yaml:4: missing required key "functions[1].module"',
    "functions[1].module",
  );
});

Deno.test("parseConfig() rejects values of the wrong type", () => {
  assertInvalid(
    "name: n1\nresources: gpu\n",
    'node.yaml:2: key "resources": expected a list of strings, got "gpu"',
    "resources",
  );
  assertInvalid(
    "resources:\n  - gpu\n  - 5\n",
    'node.yaml:3: key "resources[1]": expected a non-empty string, got 5',
    "resources[1]",
  );
  assertInvalid(
    "name: 42\n",
    'node.yaml:1: key "name": expected a non-empty string, got 42',
    "name",
  );
  assertInvalid(
    "host:\n",
    'node.yaml:1: key "host": expected a non-empty string, got nothing',
    "host",
  );
  assertInvalid(
    "debug: yes\n",
    'node.yaml:1: key "debug": expected true or false, got "yes"',
    "debug",
  );
  assertInvalid(
    'port: "6666"\n',
    'node.yaml:1: key "port": expected an integer from 0 to 65535, got "6666"',
    "port",
  );
  assertInvalid(
    "log: debug\n",
    'node.yaml:1: key "log": expected a map, got "debug"',
    "log",
  );
  assertInvalid(
    "functions:\n  module: a.ts\n",
    'node.yaml:2: key "functions": expected a list of {module, resources} maps, got a map',
    "functions",
  );
  assertInvalid(
    "functions:\n  - a.ts\n",
    'node.yaml:2: key "functions[0]": expected a map, got "a.ts"',
    "functions[0]",
  );
  assertInvalid(
    "- name: n1\n",
    "node.yaml:1: the top level: expected a map, got a list",
    null,
  );
});

Deno.test("parseConfig() rejects bad values", () => {
  assertInvalid(
    "name: n1\nport: 70000\n",
    'node.yaml:2: key "port": expected an integer from 0 to 65535, got 70000',
    "port",
  );
  assertInvalid(
    "port: -1\n",
    'node.yaml:1: key "port": expected an integer from 0 to 65535, got -1',
    "port",
  );
  assertInvalid(
    "port: 80.5\n",
    'node.yaml:1: key "port": expected an integer from 0 to 65535, got 80.5',
    "port",
  );
  assertInvalid(
    "gossip_interval: 0\n",
    'node.yaml:1: key "gossip_interval": expected a positive number of seconds, got 0',
    "gossip_interval",
  );
  assertInvalid(
    "drain_timeout: .inf\n",
    'node.yaml:1: key "drain_timeout": expected a positive number of seconds, got Infinity',
    "drain_timeout",
  );
  assertInvalid(
    "peers:\n  - ws://a:1\n  - http://b:2\n",
    'node.yaml:3: key "peers[1]": expected a ws:// or wss:// URL, got "http://b:2"',
    "peers[1]",
  );
  assertInvalid(
    "advertised_urls: [not a url]\n",
    'node.yaml:1: key "advertised_urls[0]": expected a URL, got "not a url"',
    "advertised_urls[0]",
  );
  assertInvalid(
    "allowed_origins:\n  - '*'\n  - https://app.example.com/index.html\n",
    'node.yaml:3: key "allowed_origins[1]": expected "*" or an origin like https://app.example.com (no path), got "https://app.example.com/index.html"',
    "allowed_origins[1]",
  );
  assertInvalid(
    "allowed_origins: [app.example.com]\n",
    'node.yaml:1: key "allowed_origins[0]": expected "*" or an origin like https://app.example.com (no path), got "app.example.com"',
    "allowed_origins[0]",
  );
  assertInvalid(
    "log:\n  level: loud\n",
    'node.yaml:2: key "log.level": expected one of trace, debug, info, warning, error, fatal, got "loud"',
    "log.level",
  );
  assertInvalid(
    "log:\n  format: xml\n",
    'node.yaml:2: key "log.format": expected one of pretty, json, got "xml"',
    "log.format",
  );
  assertInvalid(
    "functions:\n  - module: https://example.com/a.ts\n",
    'node.yaml:2: key "functions[0].module": expected a file path relative to the config file, got "https://example.com/a.ts"',
    "functions[0].module",
  );
});

Deno.test("parseConfig() rejects broken YAML with its line", () => {
  const err = configError(() => parseConfig("name: a\nport: 1\nhost: b: c\n", "node.yaml"));
  assert.match(err.message, /^node\.yaml:3: invalid YAML: \S/);
  assert.equal(err.line, 3);
  assert.equal(err.key, null);
  assert.ok(err.cause instanceof Error);
  assert.equal(err.message.includes("\n"), false);

  assertInvalid(
    "name: a\n\tport: 1\n",
    "node.yaml:2: invalid YAML: Tabs are not allowed as indentation",
    null,
  );
  assertInvalid(
    "name: a\n---\nport: 1\n",
    "node.yaml:2: invalid YAML: expected one document, found more",
    null,
  );
});

Deno.test("parseConfig() rejects duplicate keys", () => {
  assertInvalid(
    "name: a\nport: 1\nname: b\n",
    'node.yaml:3: duplicate key "name"',
    "name",
  );
  assertInvalid(
    "log:\n  level: info\n  format: json\n  level: debug\n",
    'node.yaml:4: duplicate key "log.level"',
    "log.level",
  );
});

Deno.test("ConfigError has a name, an exit code and keeps its cause", () => {
  const cause = new Error("inner");
  const err = new ConfigError("a.yaml", 'unknown key "x"', { line: 7, key: "x", cause });
  assert.ok(err instanceof Error);
  assert.equal(err.name, "ConfigError");
  assert.equal(err.exitCode, 2);
  assert.equal(err.message, 'a.yaml:7: unknown key "x"');
  assert.equal(err.cause, cause);
  const bare = new ConfigError("a.yaml", "file not found");
  assert.equal(bare.message, "a.yaml: file not found");
  assert.equal(bare.line, null);
  assert.equal(bare.key, null);
  assert.equal("cause" in bare, false);
});

Deno.test("parseConfig() reads auth, tls and function permissions", () => {
  const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  const config = parseConfig(
    [
      "functions:",
      "  - module: ./fns.ts",
      "    permissions: { read: [./data], net: [api.example.com], run: false }",
      "  - module: ./trusted.ts",
      "    trusted: true",
      "auth:",
      "  tokens:",
      `    - { sha256: ${hash.toUpperCase()}, principal: ops }`,
      "  principals:",
      "    ops: { allow: ['*'], deny: [admin_*], permissions: [net, read] }",
      "  anonymous: false",
      "  max_in_flight_per_principal: 10",
      "tls: { cert: ./cert.pem, key: ./key.pem }",
    ].join("\n"),
    "/srv/node.yaml",
  );
  assert.deepEqual(config.functions, [
    {
      module: "file:///srv/fns.ts",
      resources: [],
      permissions: { read: ["/srv/data"], net: ["api.example.com"], run: false },
      trusted: false,
    },
    { module: "file:///srv/trusted.ts", resources: [], trusted: true },
  ]);
  assert.deepEqual(config.options.auth, {
    tokens: [{ sha256: hash, principal: "ops" }],
    principals: { ops: { allow: ["*"], deny: ["admin_*"], permissions: ["net", "read"] } },
    anonymous: false,
    maxInFlightPerPrincipal: 10,
  });
  assert.deepEqual(config.tls, { cert: "/srv/cert.pem", key: "/srv/key.pem" });
});

Deno.test("parseConfig() rejects bad permissions and grants with file, line and key", () => {
  const cases: Array<[string, RegExp]> = [
    [
      "functions:\n  - module: ./f.ts\n    permissions: { net: yes }\n",
      /:3: key "functions\[0\]\.permissions\.net"/,
    ],
    [
      "functions:\n  - module: ./f.ts\n    permissions: { disk: true }\n",
      /:3: unknown key "functions\[0\]\.permissions\.disk"/,
    ],
    [
      "auth:\n  principals:\n    ops: { permissions: [teleport] }\n",
      /:3: key "auth\.principals\.ops\.permissions\[0\]"/,
    ],
    [
      "auth:\n  tokens:\n    - { sha256: abc, principal: ops }\n",
      /:3: key "auth\.tokens\[0\]\.sha256"/,
    ],
    ["auth:\n  anonymous: true\n", /:2: key "auth\.anonymous": expected false or a map/],
    ["tls: { cert: ./c.pem }\n", /missing required key "tls\.key"/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseConfig(text, "node.yaml"), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, expected);
      return true;
    });
  }
});

Deno.test("parseConfig() reads the sandbox memory caps: sandbox.memory_mb and functions[].memory_mb", () => {
  const config = parseConfig(
    "sandbox: { memory_mb: 256 }\nfunctions:\n  - module: ./fns.ts\n    memory_mb: 64\n",
    "/srv/node.yaml",
  );
  assert.deepEqual(config.options.sandbox, { memoryMb: 256 });
  assert.deepEqual(config.functions, [
    { module: "file:///srv/fns.ts", resources: [], memoryMb: 64, trusted: false },
  ]);
  for (
    const [yaml, pattern] of [
      ["sandbox: { memory_mb: 8 }\n", /:1: key "sandbox\.memory_mb"/],
      ["sandbox: { heap: 8 }\n", /:1: unknown key "sandbox\.heap"/],
      [
        "functions:\n  - module: ./f.ts\n    memory_mb: big\n",
        /:3: key "functions\[0\]\.memory_mb"/,
      ],
    ] as const
  ) {
    assert.throws(() => parseConfig(yaml, "/srv/node.yaml"), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, pattern);
      return true;
    });
  }
});

Deno.test("parseConfig() reads require_tls, and refuses it without tls or with ws:// URLs", () => {
  const tls = "tls: { cert: ./cert.pem, key: ./key.pem }\n";
  const ok = parseConfig(`require_tls: true\n${tls}peers: [wss://a:1]\n`, "/srv/node.yaml");
  assert.equal(ok.options.requireTls, true);
  assert.equal(parseConfig("require_tls: false\n", "node.yaml").options.requireTls, false);
  assertInvalid(
    "name: n1\nrequire_tls: true\n",
    'node.yaml:2: key "require_tls": needs "tls": the node must serve wss:// itself',
    "require_tls",
  );
  assertInvalid(
    `require_tls: true\n${tls}peers:\n  - wss://a:1\n  - ws://b:2\n`,
    'node.yaml:5: key "peers[1]": expected a wss:// URL with require_tls, got "ws://b:2"',
    "peers[1]",
  );
  assertInvalid(
    `require_tls: true\n${tls}advertised_urls: [ws://me:1]\n`,
    'node.yaml:3: key "advertised_urls[0]": expected a wss:// URL with require_tls, got "ws://me:1"',
    "advertised_urls[0]",
  );
  assertInvalid(
    "require_tls: yes please\n",
    'node.yaml:1: key "require_tls": expected true or false, got "yes please"',
    "require_tls",
  );
});

Deno.test("parseConfig() reports the first fault in the text, whatever its kind", () => {
  assertInvalid("bogus: 1\nport: x\n", 'node.yaml:1: unknown key "bogus"', "bogus");
  assertInvalid(
    "port: x\nbogus: 1\n",
    'node.yaml:1: key "port": expected an integer from 0 to 65535, got "x"',
    "port",
  );
  assertInvalid(
    "name: a\nport: x\nname: b\n",
    'node.yaml:2: key "port": expected an integer from 0 to 65535, got "x"',
    "port",
  );
  assertInvalid(
    "functions:\n  - bogus: 1\n    resources: [5]\n",
    'node.yaml:2: unknown key "functions[0].bogus"',
    "functions[0].bogus",
  );
  assertInvalid(
    "resources: &r [a, 5]\npeers: *r\n",
    'node.yaml:1: key "resources[1]": expected a non-empty string, got 5',
    "resources[1]",
  );
});

Deno.test("parseConfig() refuses a list where a map belongs, and keys that are not names", () => {
  assertInvalid("log: [a]\n", 'node.yaml:1: key "log": expected a map, got a list', "log");
  assertInvalid(
    "auth:\n  principals:\n    1: {}\n",
    'node.yaml:3: key "auth.principals": expected names as keys, got 1',
    "auth.principals",
  );
  assertInvalid(
    "auth:\n  anonymous: { allow: 5 }\n",
    'node.yaml:2: key "auth.anonymous.allow": expected a list of strings, got 5',
    "auth.anonymous.allow",
  );
});

Deno.test("parseConfig() reads idempotent: true or a list of names, and refuses anything else", () => {
  const all = parseConfig("functions:\n  - module: ./m.ts\n    idempotent: true\n", "/srv/n.yaml");
  assert.equal(all.functions[0]!.idempotent, true);
  const some = parseConfig(
    "functions:\n  - module: ./m.ts\n    idempotent: [a, b]\n",
    "/srv/n.yaml",
  );
  assert.deepEqual(some.functions[0]!.idempotent, ["a", "b"]);
  const none = parseConfig("functions:\n  - module: ./m.ts\n", "/srv/n.yaml");
  assert.equal(none.functions[0]!.idempotent, undefined);
  const err = configError(() =>
    parseConfig("functions:\n  - module: ./m.ts\n    idempotent: 3\n", "n.yaml")
  );
  assert.match(
    err.message,
    /n\.yaml:3: key "functions\[0\]\.idempotent": expected true, false or a list of function names, got 3/,
  );
});

Deno.test("registerModule() refuses an idempotent name the module does not export", async () => {
  const { Server } = await import("../../mod.ts");
  const server = new Server({ port: 0 });
  await assert.rejects(
    server.registerModule(new URL("../fixtures/retry_functions.ts", import.meta.url).href, {
      trusted: true,
      idempotent: ["slowIdem", "nope"],
    }),
    /idempotent names "nope", which .* does not export \(it exports "slowIdem", "slowOnce", "slowTicks"\)/,
  );
});

Deno.test("parseConfig() reads relay_chains, a boolean", () => {
  assert.equal(parseConfig("relay_chains: false\n", "node.yaml").options.relayChains, false);
  assert.equal(parseConfig("name: n1\n", "node.yaml").options.relayChains, undefined);
  assert.throws(() => parseConfig("relay_chains: maybe\n", "node.yaml"), /relay_chains/);
});
