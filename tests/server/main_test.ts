// Copyright 2026 the mpreg authors. MIT license.
// The programs as a user runs them: server.ts with a config file and flags,
// client.ts call / request, and their errors.
import assert from "node:assert/strict";
import { runScript, ServerProcess } from "../_helpers/process.ts";

Deno.test("server.ts runs examples/node.yaml; client.ts calls it and runs a request file", async () => {
  const server = new ServerProcess(["--config", "examples/node.yaml", "--port", "0"]);
  try {
    const url = await server.url;
    assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+$/);
    const call = await runScript("client.ts", ["--url", url, "call", "add", "2", "3"]);
    assert.equal(call.code, 0, call.stderr);
    assert.equal(call.stdout.trim(), "5");
    const echo = await runScript("client.ts", [
      "--url",
      url,
      "--encoding",
      "json",
      "call",
      "echos",
      "plain words",
      '{"a":1}',
      "[1,2]",
    ]);
    assert.deepEqual(JSON.parse(echo.stdout), ["plain words", { a: 1 }, [1, 2]]);
    const kwargs = await runScript("client.ts", [
      "--url",
      url,
      "call",
      "format_results",
      '{"prediction":"yes"}',
      "--kwargs",
      '{"format_type":"summary"}',
    ]);
    assert.equal(JSON.parse(kwargs.stdout), "Result: yes");
    const request = await runScript("client.ts", ["--url", url, "request", "examples/steps.yaml"]);
    assert.equal(request.code, 0, request.stderr);
    assert.deepEqual(JSON.parse(request.stdout), { final: "Final Answer: 150" });
    const missing = await runScript("client.ts", [
      "--url",
      url,
      "call",
      "add",
      "1",
      "2",
      "--locs",
      "gpu",
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /FunctionNotFoundError \(1001\)/);
    assert.match(missing.stderr, /gpu/);
    const status = await runScript("client.ts", ["--url", url, "status"]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^MEMBER\s+STATE\s+URL\s+RESOURCES\s+FUNCTIONS\s+LAST HEARD/m);
    assert.match(
      status.stdout,
      /example-1 \(this node\)\s+alive\s+ws:\/\/127\.0\.0\.1:\d+\s+cpu,dataset-1/,
    );
    assert.match(status.stdout, /^FUNCTION\s+MEMBERS/m);
    assert.match(status.stdout, /^format_results\s+example-1$/m);
  } finally {
    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0, "a SIGTERM stops the node cleanly");
  }
  assert.ok(server.lines.some((l) => /"level":"INFO"/.test(l)), "logs are JSON lines");
  assert.ok(server.lines.some((l) => /stopped/.test(l)), "the node logs its stop");
});

Deno.test("server.ts flags override the config file", async () => {
  const server = new ServerProcess([
    "--config",
    "examples/node.yaml",
    "--port=0",
    "--name",
    "from-flags",
    "--resources",
    "gpu,tpu",
  ]);
  try {
    const url = await server.url;
    const cluster = await (await fetch(`${url.replace("ws:", "http:")}/cluster`)).json();
    assert.equal(cluster.self, "from-flags");
    assert.deepEqual(cluster.members[0].resources, ["gpu", "tpu"]);
    assert.ok("add" in cluster.members[0].functions, "functions from the config's module");
  } finally {
    await server.stop();
  }
});

Deno.test("server.ts config errors: one message with file, line and key, exit 2, no stack", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: Array<[string, RegExp]> = [
      ["port: 9001\ngosip_interval: 1\n", /bad\.yaml:2: unknown key "gosip_interval"/],
      ["name: n\nport: lots\n", /bad\.yaml:2: key "port"/],
      ["name: [unclosed\n", /bad\.yaml:\d+: invalid YAML/],
    ];
    for (const [yaml, expected] of cases) {
      const path = `${dir}/bad.yaml`;
      await Deno.writeTextFile(path, yaml);
      const run = await runScript("server.ts", ["--config", path]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, expected);
      assert.equal(run.stderr.trim().split("\n").length, 1, `one line: ${run.stderr}`);
      assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
    }
    const missing = await runScript("server.ts", ["--config", `${dir}/none.yaml`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /none\.yaml/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server.ts --help prints the flags; a bad flag exits 2", async () => {
  const help = await runScript("server.ts", ["--help"]);
  assert.equal(help.code, 0);
  for (const flag of ["--config", "--port", "--peer", "--resources", "--log-format"]) {
    assert.match(help.stdout, new RegExp(flag));
  }
  const bad = await runScript("server.ts", ["--bogus"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--bogus/);
});

Deno.test("client.ts usage errors exit 2", async () => {
  const noUrl = await runScript("client.ts", ["call", "echo", "1"]);
  assert.equal(noUrl.code, 2);
  assert.match(noUrl.stderr, /no node to call: give --url ws:\/\/host:port or set MPREG_URL/);
  const help = await runScript("client.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /request FILE/);
});

Deno.test("a function module that does not exist exits 2, naming it as the YAML wrote it (issue 16)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mpreg-missing-module-" });
  try {
    for (const trusted of [false, true]) {
      const yaml = `port: 0\nfunctions:\n  - module: ./fns/nope.ts\n    trusted: ${trusted}\n`;
      await Deno.writeTextFile(`${dir}/node.yaml`, yaml);
      const result = await runScript("server.ts", ["--config", `${dir}/node.yaml`]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(
        result.stderr,
        /node\.yaml: functions\[0\]\.module: "\.\/fns\/nope\.ts" does not exist \(/,
      );
      assert.doesNotMatch(result.stderr, /data:|Module not found/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
