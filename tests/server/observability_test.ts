// Copyright 2026 the mpreg authors. MIT license.
// /metrics after known calls, /stats, and one trace across two nodes
// exported by Deno's built-in OpenTelemetry.
import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import { converged, known, startCluster } from "../_helpers/cluster.ts";
import { withRequestLogs } from "../_helpers/logs.ts";
import { repoPath, runScript, ServerProcess } from "../_helpers/process.ts";

function sample(text: string, line: string): number {
  const found = text.split("\n").find((l) => l.startsWith(line + " "));
  assert.ok(found !== undefined, `no line ${line} in:\n${text}`);
  return Number(found.slice(line.length + 1));
}

Deno.test("observability: /metrics counts calls by function and outcome, with latency", async () => {
  await using cluster = await startCluster(2, "star");
  const [a, b] = cluster.nodes;
  a!.register("add", (x: number, y: number) => x + y);
  a!.register("boom", () => {
    throw new RangeError("no");
  });
  b!.register("remote_echo", (x: unknown) => x);
  await converged(cluster.nodes);
  await known(cluster.nodes, "remote_echo", "n1");
  await using client = new Client(a!.url);
  for (let i = 0; i < 3; i++) await client.call("add", [i, 1]);
  for (let i = 0; i < 2; i++) await client.call("boom").catch(() => {});
  await client.call("remote_echo", ["x"]);
  await client.request([{ name: "s", fun: "add", args: [1, 2] }, {
    name: "t",
    fun: "echo",
    args: ["s"],
  }]);
  const base = a!.url.replace("ws:", "http:");
  const response = await fetch(`${base}/metrics`);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  assert.equal(sample(text, 'mpreg_calls_total{function="add",outcome="ok"}'), 4);
  assert.equal(sample(text, 'mpreg_calls_total{function="boom",outcome="FunctionError"}'), 2);
  assert.equal(sample(text, 'mpreg_calls_total{function="echo",outcome="ok"}'), 1);
  assert.equal(sample(text, 'mpreg_call_duration_seconds_count{function="add"}'), 4);
  assert.equal(sample(text, 'mpreg_call_duration_seconds_bucket{function="add",le="+Inf"}'), 4);
  assert.equal(sample(text, 'mpreg_requests_total{outcome="ok"}'), 5);
  assert.equal(sample(text, 'mpreg_requests_total{outcome="FunctionError"}'), 2);
  assert.equal(sample(text, "mpreg_requests_in_flight"), 0);
  assert.equal(sample(text, 'mpreg_connections{kind="client"}'), 1);
  assert.equal(sample(text, 'mpreg_members{state="alive"}'), 2);
  assert.equal(sample(text, 'mpreg_forwarded_steps_total{direction="out"}'), 1);
  assert.ok(sample(text, 'mpreg_gossip_messages_total{direction="out"}') > 0);
  assert.ok(sample(text, 'mpreg_gossip_bytes_total{direction="in"}') > 0);
  assert.equal(sample(text, "mpreg_cluster_awareness"), 0);
  assert.ok(sample(text, "mpreg_event_loop_lag_seconds_count") >= 0, "the lag's histogram");
  assert.ok(sample(text, "mpreg_event_loop_lag_max_seconds") >= 0);
  // The remote call ran on b and is counted there.
  const bText = await (await fetch(`${b!.url.replace("ws:", "http:")}/metrics`)).text();
  assert.equal(sample(bText, 'mpreg_calls_total{function="remote_echo",outcome="ok"}'), 1);
  assert.equal(sample(bText, 'mpreg_forwarded_steps_total{direction="in"}'), 1);

  const stats = await (await fetch(`${base}/stats`)).json();
  assert.equal(stats.node, "n0");
  assert.equal(stats.functions.add.calls, 4);
  assert.deepEqual(stats.functions.boom.outcomes, { FunctionError: 2 });
  assert.ok(stats.functions.add.p99Ms >= stats.functions.add.p50Ms);
  assert.equal(typeof stats.eventLoop.samples, "number");
  assert.ok(stats.eventLoop.maxLagMs >= stats.eventLoop.lagMs);
  assert.equal(stats.cluster.awareness, 0);
});

interface ExportedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}

/** Span ids as OTLP/JSON writes them: hex (not base64). */
const OTEL_ENV = { OTEL_DENO: "true", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" };

/**
 * Runs `fn` against node a of two node processes exporting their spans
 * (OTEL_DENO), where a has only the built-in functions and b also
 * `whoami`, once a forwards `whoami` to b; returns every span exported
 * to a collector, by the nodes and by anything `fn` runs with the env given.
 */
async function tracedCluster(
  fn: (aUrl: string, env: Record<string, string>) => Promise<void>,
): Promise<ExportedSpan[]> {
  const spans: ExportedSpan[] = [];
  const collector = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.json();
    if (new URL(req.url).pathname === "/v1/traces") {
      for (const rs of body.resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
      }
    }
    return Response.json({});
  });
  const env = {
    ...OTEL_ENV,
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.addr.port}`,
  };
  const dir = await Deno.makeTempDir();
  let a: ServerProcess | null = null;
  let b: ServerProcess | null = null;
  try {
    await Deno.writeTextFile(
      `${dir}/b.yaml`,
      `functions:\n  - module: ${repoPath("tests/fixtures/cluster_functions.ts")}\n`,
    );
    a = new ServerProcess(["--name", "a", "--port", "0"], env);
    const aUrl = await a.url;
    b = new ServerProcess(
      ["--config", `${dir}/b.yaml`, "--name", "b", "--port", "0", "--peer", aUrl],
      env,
    );
    await b.url;
    {
      // Until a knows b's `whoami` (this client sends no trace context).
      await using client = new Client(aUrl, { timeoutMs: 5_000 });
      let where: unknown = null;
      for (let i = 0; i < 100 && where !== "b"; i++) {
        where = await client.call("whoami").catch(() => null);
        if (where !== "b") await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(where, "b");
    }
    await fn(aUrl, env);
  } finally {
    // A clean exit flushes the spans.
    await b?.stop("SIGTERM");
    await a?.stop("SIGTERM");
    await collector.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
  return spans;
}

/** The one span named `name` in the trace `traceId`. */
function spanIn(spans: ExportedSpan[], traceId: string, name: string): ExportedSpan {
  const found = spans.filter((s) => s.name === name && s.traceId === traceId);
  assert.equal(
    found.length,
    1,
    `one span "${name}" in trace ${traceId}: ${
      spans.map((s) => `${s.name} ${s.traceId}/${s.spanId}<-${s.parentSpanId}`).join(", ")
    }`,
  );
  return found[0]!;
}

Deno.test("observability: a forwarded step's span has the request's trace id", async () => {
  let out: Record<string, unknown> = {};
  const spans = await tracedCluster(async (aUrl) => {
    await using client = new Client(aUrl, { timeoutMs: 5_000 });
    out = await client.request([
      { name: "first", fun: "echo", args: ["x"] },
      { name: "where", fun: "whoami", args: [] },
      { name: "both", fun: "echos", args: ["first", "where"] },
    ], { all: true });
  });
  assert.equal(out.where, "b");
  const run = spans.find((s) => s.name === "mpreg.run where");
  assert.ok(run, `b exported its span: ${spans.map((s) => s.name).join(", ")}`);
  const request = spans.find((s) => s.name === "mpreg.request" && s.traceId === run.traceId);
  assert.ok(request, "a's request span has the same trace id as b's span");
  const step = spans.find((s) => s.name === "mpreg.step where" && s.traceId === run.traceId);
  assert.ok(step, "a's step span is in the same trace");
  assert.equal(run.parentSpanId, step.spanId, "b.s span is the child of a.s step span");
  assert.equal(step.parentSpanId, request.spanId, "the step span is the child of the request span");
  assert.ok(!request.parentSpanId, "a request with no trace context is the root of its own trace");
});

Deno.test("observability: a caller's span, a's request and step, and b's run are one trace", async () => {
  // A caller outside any span passes its own trace context.
  const explicit = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  let printed: Record<string, { value: unknown; traceId?: string; spanId?: string }> = {};
  const spans = await tracedCluster(async (aUrl, env) => {
    const caller = await runScript("tests/fixtures/traced_caller.ts", [aUrl, explicit], env);
    assert.equal(caller.code, 0, caller.stderr);
    printed = JSON.parse(caller.stdout);
  });
  const cases = [
    { of: "call", step: "whoami" },
    { of: "request", step: "where" },
    { of: "option", step: "whoami" },
  ];
  for (const { of, step } of cases) {
    const { value, traceId, spanId } = printed[of]!;
    if (of === "option") {
      assert.equal(value, "b");
    } else {
      assert.equal((value as Record<string, unknown>)?.where ?? value, "b");
      // The caller's process exported its own span, the root of the trace.
      const own = spanIn(spans, traceId!, `caller.${of}`);
      assert.equal(own.spanId, spanId);
      assert.ok(!own.parentSpanId);
    }
    const [trace, parent] = of === "option"
      ? [explicit.slice(3, 35), explicit.slice(36, 52)]
      : [traceId!, spanId!];
    const request = spanIn(spans, trace, "mpreg.request");
    assert.equal(
      request.parentSpanId,
      parent,
      `${of}: a's request is the child of the caller's span`,
    );
    const stepSpan = spanIn(spans, trace, `mpreg.step ${step}`);
    assert.equal(stepSpan.parentSpanId, request.spanId, `${of}: a's step is the request's child`);
    const run = spanIn(spans, trace, `mpreg.run ${step}`);
    assert.equal(run.parentSpanId, stepSpan.spanId, `${of}: b's run is the child of a's step`);
  }
});

Deno.test("observability: every log line of a request carries its id", async () => {
  const { getLogger } = await import("@logtape/logtape");
  const { startServer } = await import("../_helpers/mod.ts");
  await withRequestLogs(async (records) => {
    const server = await startServer();
    try {
      server.register("chatty", async (x: number) => {
        getLogger(["app"]).info("working on {x}", { x });
        await new Promise((r) => setTimeout(r, 5));
        getLogger(["app"]).info("done with {x}", { x });
        return x;
      });
      server.register("fails", () => {
        throw new Error("nope");
      });
      const raw = new WebSocket(server.url, "mpreg.json.v1");
      await new Promise((resolve) => raw.onopen = resolve);
      const answers: unknown[] = [];
      raw.onmessage = (e) => answers.push(JSON.parse(e.data));
      raw.send(
        JSON.stringify({
          role: "rpc",
          u: "req-1",
          cmds: [{ name: "a", fun: "chatty", args: [1] }],
        }),
      );
      raw.send(JSON.stringify({ role: "rpc", u: "req-2", cmds: [{ name: "b", fun: "fails" }] }));
      while (answers.length < 2) await new Promise((r) => setTimeout(r, 5));
      raw.close();
      await new Promise((resolve) => raw.onclose = resolve);
      // The id is the node's own (`<node>#<n>`), logged with the client's `u`.
      const started = records.find((r) => r.properties.u === "req-1");
      const id = started?.properties.requestId;
      assert.match(String(id), new RegExp(`^${server.name}#\\d+$`));
      const app = records.filter((r) => r.category[0] === "app");
      assert.equal(app.length, 2);
      for (const r of app) assert.equal(r.properties.requestId, id);
      const failure = records.find((r) => /failed/.test(String(r.properties.error ?? "")));
      assert.equal(failure?.properties.u, "req-2");
      assert.match(String(failure?.properties.requestId), new RegExp(`^${server.name}#\\d+$`));
      assert.notEqual(failure?.properties.requestId, id);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("observability: /metrics shows each sandbox pool's processes, memory and crashes", async () => {
  await using cluster = await startCluster(1, "star");
  const node = cluster.nodes[0]!;
  node.register("pure", (a: number, b: number) => a + b, { sandbox: true, memoryMb: 256 });
  await using client = new Client(node.url);
  assert.equal(await client.call("pure", [1, 2]), 3);
  const text = await (await fetch(`${node.url.replace("ws:", "http:")}/metrics`)).text();
  const labels = '{profile="none",memory_mb="256"}';
  assert.equal(sample(text, `mpreg_sandbox_workers${labels}`), 1);
  assert.ok(sample(text, `mpreg_sandbox_resident_bytes${labels}`) > 10 * 1024 * 1024);
  assert.equal(sample(text, `mpreg_sandbox_crashes_total${labels}`), 0);
  assert.equal(sample(text, `mpreg_sandbox_calls_in_flight${labels}`), 0);
});
