// Copyright 2026 the mpreg authors. MIT license.
// Clusters of real nodes on real sockets, in one process: formation,
// routing, forwarding, and the cluster scenarios of the original suite
// (mpreg-python.md §8.6–§8.7).
import assert from "node:assert/strict";
import {
  type CallContext,
  Client,
  type ClusterEventDetail,
  ConnectionError,
  ErrorCode,
  FunctionError,
  FunctionNotFoundError,
  LimitExceededError,
  NotStartedError,
  type Server,
  TimeoutError,
} from "../../mod.ts";
import { converged, FAST, known, startCluster } from "../_helpers/cluster.ts";
import { delay, startServer, waitFor } from "../_helpers/mod.ts";

for (const [n, topology] of [[3, "star"], [3, "chain"], [5, "star"], [5, "chain"]] as const) {
  Deno.test(`cluster: ${n} nodes seeded as a ${topology} all know each other and serve every function`, async () => {
    await using cluster = await startCluster(n, topology);
    const { nodes } = cluster;
    nodes.forEach((node, i) =>
      node.register(`only_on_${i}`, function (this: CallContext) {
        return `${this.node} ran only_on_${i}`;
      })
    );
    await converged(nodes);
    for (let i = 0; i < n; i++) await known(nodes, `only_on_${i}`, `n${i}`);
    for (const entry of nodes) {
      await using client = new Client(entry.url);
      for (let i = 0; i < n; i++) {
        assert.equal(await client.call(`only_on_${i}`), `n${i} ran only_on_${i}`);
      }
    }
  });
}

Deno.test("cluster: resource-based routing across two nodes (§8.6)", async () => {
  await using cluster = await startCluster(2, "star", (i) => ({
    resources: i === 0 ? ["model-a", "dataset-1"] : ["model-b", "dataset-2"],
  }));
  const [a, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
  a.register("process_a", (x: string) => `model-a processed: ${x}`, { resources: ["model-a"] });
  b.register("process_b", (x: string) => `model-b processed: ${x}`, { resources: ["model-b"] });
  await converged(cluster.nodes);
  await known(cluster.nodes, "process_b", "n1");
  await using client = new Client(a.url);
  assert.equal(
    await client.call("process_a", ["test data"], { locs: ["model-a"] }),
    "model-a processed: test data",
  );
  assert.equal(
    await client.call("process_b", ["test data"], { locs: ["model-b"] }),
    "model-b processed: test data",
  );
  // echo is everywhere: with locs it must go to the node with them.
  const where = await client.request([
    { name: "here", fun: "echos", args: ["x"], locs: ["dataset-2"] },
  ]);
  assert.deepEqual(where, { here: ["x"] });
});

Deno.test("cluster: a three-node workflow registered at run time (§8.6 cross-server)", async () => {
  await using cluster = await startCluster(3, "star", (i) => ({
    resources: [`model-${"abc"[i]}`, `dataset-${i + 1}`],
  }));
  const [a, b, c] = cluster.nodes;
  await converged(cluster.nodes);
  a!.register("preprocess", (data: number[]) => ({
    count: data.length,
    total: data.reduce((s, x) => s + x, 0),
  }), { resources: ["dataset-1"] });
  b!.register(
    "analyze",
    (pre: { count: number; total: number }) => `Analyzed ${pre.count} items, Total: ${pre.total}`,
    { resources: ["dataset-2"] },
  );
  c!.register("finalize", (text: string) => `Final report: ${text}`, {
    resources: ["dataset-3"],
  });
  await delay(300);
  await using client = new Client(a!.url);
  const out = await client.request([
    { name: "pre", fun: "preprocess", args: [[10, 20, 30, 40]], locs: ["dataset-1"] },
    { name: "analysis", fun: "analyze", args: ["pre"], locs: ["dataset-2"] },
    { name: "report", fun: "finalize", args: ["analysis"], locs: ["dataset-3"] },
  ]);
  assert.deepEqual(out, { report: "Final report: Analyzed 4 items, Total: 100" });
});

// The fixtures of tests/test_dependency_resolution.py (§8.7).
async function twoServerCluster() {
  const cluster = await startCluster(
    2,
    "star",
    (i) => ({ resources: [i === 0 ? "step1" : "step2"] }),
  );
  const [a, b] = cluster.nodes;
  a!.register("first_step", (v: string) => ({ result: `processed_${v}`, number: 42 }), {
    resources: ["step1"],
  });
  b!.register(
    "second_step",
    (data: { result: string; number: number }, multiplier: number) => ({
      final: `final_${data.result}`,
      computed: data.number * multiplier,
    }),
    { resources: ["step2"] },
  );
  await converged(cluster.nodes);
  await known(cluster.nodes, "second_step", "n1");
  return cluster;
}

const chain = [
  { name: "step1_result", fun: "first_step", args: ["input"], locs: ["step1"] },
  { name: "step2_result", fun: "second_step", args: ["step1_result", 5], locs: ["step2"] },
  {
    name: "step3_result",
    fun: "third_step",
    args: ["step2_result.final", "step2_result.computed"],
    locs: ["step1"],
  },
];

const thirdStep = (final: string, computed: number) => ({
  ultimate_result: `ultimate_${final}`,
  ultimate_number: computed + 16,
});

Deno.test("cluster: a dependency chain across two nodes (§8.7 simple chain)", async () => {
  await using cluster = await twoServerCluster();
  await using client = new Client(cluster.nodes[0]!.url);
  const out = await client.request([
    { name: "step1_result", fun: "first_step", args: ["test_input"], locs: ["step1"] },
    { name: "step2_result", fun: "second_step", args: ["step1_result", 5], locs: ["step2"] },
  ]);
  assert.deepEqual(out, {
    step2_result: { final: "final_processed_test_input", computed: 210 },
  });
});

Deno.test("cluster: field access across nodes (§8.7)", async () => {
  await using cluster = await startCluster(2, "star", (i) => ({
    resources: [i === 0 ? "sensors" : "realtime"],
  }));
  const [a, b] = cluster.nodes;
  a!.register("process_sensors", (id: string, readings: number[]) => ({
    sensor: id,
    processed_readings: readings.length,
    average: readings.reduce((s, x) => s + x, 0) / readings.length,
    edge_node: "n0",
    latency: 2,
  }), { resources: ["sensors"] });
  b!.register("check_alert", (threshold: number, value: number) => ({
    alert: value > threshold,
    threshold,
    current: value,
    severity: value > threshold ? "HIGH" : "NORMAL",
    response_time: 1,
  }), { resources: ["realtime"] });
  await converged(cluster.nodes);
  await known(cluster.nodes, "check_alert", "n1");
  await using client = new Client(a!.url);
  const out = await client.request([
    {
      name: "edge_data",
      fun: "process_sensors",
      args: ["temp-1", [20.1, 20.5, 21.0]],
      locs: ["sensors"],
    },
    { name: "alert", fun: "check_alert", args: [20.8, "edge_data.average"], locs: ["realtime"] },
  ]);
  const alert = out.alert as Record<string, unknown>;
  assert.equal(alert.current, 20.533333333333335);
  assert.equal(alert.severity, "NORMAL");
  assert.equal(alert.alert, false);
});

Deno.test("cluster: a three-step chain with a function registered at run time (§8.7)", async () => {
  await using cluster = await twoServerCluster();
  cluster.nodes[0]!.register("third_step", thirdStep, { resources: ["step1"] });
  await using client = new Client(cluster.nodes[0]!.url);
  const out = await client.request(chain);
  assert.deepEqual(out, {
    step3_result: { ultimate_result: "ultimate_final_processed_input", ultimate_number: 226 },
  });
});

Deno.test("cluster: a four-step chain alternating nodes, sent right after the registration (§8.7)", async () => {
  await using cluster = await twoServerCluster();
  const [a, b] = cluster.nodes;
  a!.register("third_step", thirdStep, { resources: ["step1"] });
  b!.register("fourth_step", (result: string, n: number) => ({
    final_result: `final_${result}`,
    final_number: n + 42,
  }), { resources: ["step2"] });
  // No wait: the registration on n1 must reach n0 before the request needs it.
  await using client = new Client(a!.url);
  const out = await client.request([
    ...chain,
    {
      name: "step4_result",
      fun: "fourth_step",
      args: ["step3_result.ultimate_result", "step3_result.ultimate_number"],
      locs: ["step2"],
    },
  ]);
  assert.deepEqual(out, {
    step4_result: { final_result: "final_ultimate_final_processed_input", final_number: 268 },
  });
});

Deno.test("cluster: a remote function's error comes back at once, naming the step", async () => {
  await using cluster = await startCluster(2, "star");
  cluster.nodes[1]!.register("explode", () => {
    throw new TypeError("remote kaput");
  });
  await converged(cluster.nodes);
  await known(cluster.nodes, "explode", "n1");
  await using client = new Client(cluster.nodes[0]!.url, { timeoutMs: 5_000 });
  const started = Date.now();
  await assert.rejects(
    client.request([{ name: "boom", fun: "explode" }]),
    (err: unknown) => {
      assert.ok(err instanceof FunctionError);
      const details = err.details as Record<string, unknown>;
      assert.equal(details.step, "boom");
      assert.equal(details.name, "TypeError");
      assert.equal(details.message, "remote kaput");
      return true;
    },
  );
  assert.ok(Date.now() - started < 2_000, "no hang until a timeout");
});

Deno.test("cluster: a forwarded step's undefined arguments and result cross the peer link as null", async () => {
  await using cluster = await startCluster(2, "star");
  cluster.nodes[1]!.register("hollow", (value: unknown) => ({ value, missing: undefined }));
  await converged(cluster.nodes);
  await known(cluster.nodes, "hollow", "n1");
  await using client = new Client(cluster.nodes[0]!.url, { timeoutMs: 5_000 });
  // Both ways the step crosses the peer link, whose codec refused
  // msgpackr's undefined extension and dropped the link.
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(await client.call("hollow", [undefined]), { value: null, missing: null });
  }
});

Deno.test("cluster: no member with the function and resources → 1001 at once", async () => {
  await using cluster = await startCluster(2, "star", (i) => ({ resources: [`r${i}`] }));
  cluster.nodes[1]!.register("only_b", () => "b");
  await converged(cluster.nodes);
  await known(cluster.nodes, "only_b", "n1");
  await using client = new Client(cluster.nodes[0]!.url);
  await assert.rejects(client.call("only_b", [], { locs: ["r0"] }), (err: unknown) => {
    assert.ok(err instanceof FunctionNotFoundError);
    assert.match(err.message, /only_b/);
    assert.match(err.message, /r0/);
    return true;
  });
  // Empty locs: only members offering it, never n0 which lacks it.
  for (let i = 0; i < 10; i++) assert.equal(await client.call("only_b"), "b");
});

Deno.test("cluster: deadlines and cancellation travel with a forwarded step", async () => {
  await using cluster = await startCluster(2, "star");
  const { promise: remoteAborted, resolve } = Promise.withResolvers<unknown>();
  cluster.nodes[1]!.register("hang_remote", function (this: CallContext) {
    return new Promise((_, reject) => {
      this.signal.addEventListener("abort", () => {
        resolve(this.signal.reason);
        reject(this.signal.reason);
      });
    });
  });
  await converged(cluster.nodes);
  await known(cluster.nodes, "hang_remote", "n1");
  await using client = new Client(cluster.nodes[0]!.url);
  await assert.rejects(client.call("hang_remote", [], { timeoutMs: 200 }), TimeoutError);
  assert.ok(await remoteAborted, "the remote function saw its signal abort");
  await waitFor(() => cluster.nodes.every((n) => n.inFlight === 0), 3_000, "nothing in flight");
});

Deno.test("cluster: steps spread over candidates when the entry node lacks the function", async () => {
  await using cluster = await startCluster(3, "star");
  const [, b, c] = cluster.nodes;
  const hits = { n1: 0, n2: 0 };
  for (const node of [b!, c!]) {
    node.register("work", function (this: CallContext) {
      hits[this.node as "n1" | "n2"]++;
      return this.node;
    });
  }
  await converged(cluster.nodes);
  await known(cluster.nodes, "work", "n1");
  await known(cluster.nodes, "work", "n2");
  await using client = new Client(cluster.nodes[0]!.url);
  await Promise.all(Array.from({ length: 60 }, () => client.call("work")));
  assert.ok(hits.n1 > 5 && hits.n2 > 5, `both candidates used: ${JSON.stringify(hits)}`);
});

Deno.test("cluster: unregistering a function removes it everywhere", async () => {
  await using cluster = await startCluster(3, "chain");
  cluster.nodes[2]!.register("temp", () => 1);
  await converged(cluster.nodes);
  await known(cluster.nodes, "temp", "n2");
  cluster.nodes[2]!.unregister("temp");
  await waitFor(
    () => cluster.nodes.every((n) => !("temp" in n.cluster.functions())),
    5_000,
    "the removal to reach every node",
  );
  await using client = new Client(cluster.nodes[0]!.url);
  await assert.rejects(client.call("temp"), FunctionNotFoundError);
});

Deno.test("cluster: events and GET /cluster show members joining and leaving", async () => {
  const a = await startServer({ name: "a", ...FAST });
  const seen: string[] = [];
  a.cluster.addEventListener("joined", (e) => {
    seen.push(`joined:${(e as CustomEvent<ClusterEventDetail>).detail.member.name}`);
  });
  a.cluster.addEventListener("left", (e) => {
    seen.push(`left:${(e as CustomEvent<ClusterEventDetail>).detail.member.name}`);
  });
  const b = await startServer({ name: "b", peers: [a.url], ...FAST });
  try {
    await converged([a, b]);
    const view = await (await fetch(`${a.url.replace("ws:", "http:")}/cluster`)).json();
    assert.deepEqual(view.members.map((m: { name: string }) => m.name).sort(), ["a", "b"]);
    assert.deepEqual(view.functions.echo.sort(), ["a", "b"]);
    await b.stop();
    await waitFor(() => a.cluster.member("b")?.state === "left", 3_000, "b to be left");
    assert.deepEqual(seen, ["joined:b", "left:b"]);
  } finally {
    await a.stop();
    await b.stop();
  }
});

Deno.test("cluster: a wrong cluster_id or secret never becomes a member", async () => {
  await using good = await startCluster(2, "star", () => ({ clusterSecret: "s3cret" }));
  const seed = good.nodes[0]!.url;
  const intruders = [
    await startServer({ name: "other-cluster", clusterId: "elsewhere", peers: [seed], ...FAST }),
    await startServer({ name: "bad-secret", clusterSecret: "guess", peers: [seed], ...FAST }),
    await startServer({ name: "no-secret", peers: [seed], ...FAST }),
  ];
  try {
    await converged(good.nodes);
    await delay(600);
    for (const node of good.nodes) {
      const names = node.cluster.members().map((m) => m.name);
      assert.deepEqual(names.sort(), ["n0", "n1"], `${node.name} knows only its cluster`);
    }
    for (const intruder of intruders) {
      assert.deepEqual(intruder.cluster.members().map((m) => m.name), [intruder.name]);
    }
    await using client = new Client(intruders[0]!.url);
    await assert.rejects(client.call("echo", ["x"], { locs: ["nothing"] }), (err: unknown) => {
      assert.equal((err as { code: number }).code, ErrorCode.FunctionNotFound);
      return true;
    });
  } finally {
    await Promise.all(intruders.map((s) => s.stop()));
  }
});

Deno.test("cluster: events() iterates membership events until its signal aborts", async () => {
  const a = await startServer({ name: "a", ...FAST });
  const controller = new AbortController();
  const seen: string[] = [];
  const reading = (async () => {
    for await (const { type, member } of a.cluster.events({ signal: controller.signal })) {
      seen.push(`${type}:${member.name}`);
      if (type === "left") controller.abort();
    }
  })();
  const b = await startServer({ name: "b", peers: [a.url], ...FAST });
  try {
    await converged([a, b]);
    b.register("later", () => 1);
    await known([a], "later", "b");
    await b.stop();
    await reading;
    assert.equal(seen[0], "joined:b");
    assert.ok(seen.includes("catalog:b"), `a catalog event: ${seen}`);
    assert.equal(seen.at(-1), "left:b");
  } finally {
    controller.abort();
    await a.stop();
    await b.stop();
  }
});

Deno.test("cluster: a forwarded step whose arguments would explode is refused with 1011", async () => {
  await using cluster = await startCluster(2, "star");
  cluster.nodes[1]!.register("count", (x: unknown[]) => x.length);
  await converged(cluster.nodes);
  await known(cluster.nodes, "count", "n1");
  const steps: Array<{ name: string; fun: string; args: unknown[] }> = [
    { name: "s0", fun: "echo", args: [1] },
  ];
  for (let i = 1; i <= 40; i++) {
    steps.push({ name: `s${i}`, fun: "echos", args: [`s${i - 1}`, `s${i - 1}`] });
  }
  steps.push({ name: "n", fun: "count", args: ["s40"] });
  await using client = new Client(cluster.nodes[0]!.url);
  await assert.rejects(client.request(steps), (err: unknown) => {
    assert.equal((err as { code: number }).code, ErrorCode.LimitExceeded);
    assert.match((err as Error).message, /Step "n"/);
    return true;
  });
});

Deno.test("cluster: a step no member could be reached for fails with 1015 (never started), not 1013 (may have run)", async () => {
  // a and c advertise URLs nothing listens on: each joins through b, and
  // neither can ever dial the other.
  const nowhere = () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    listener.close();
    return `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  };
  await using b = await startServer({ name: "b", ...FAST });
  await using a = await startServer({
    name: "a",
    peers: [b.url],
    advertisedUrls: [nowhere()],
    ...FAST,
  });
  await using c = await startServer({
    name: "c",
    peers: [b.url],
    advertisedUrls: [nowhere()],
    ...FAST,
  });
  c.register("only_c", () => "c");
  await converged([a, b, c]);
  await known([a], "only_c", "c");
  await using client = new Client(a.url, { timeoutMs: 5_000 });
  // The first call dials c and fails; the second finds c backed off.
  for (const attempt of ["dialing", "backing off"]) {
    await assert.rejects(client.call("only_c"), (err: unknown) => {
      assert.ok(err instanceof NotStartedError, `${attempt}: ${err}`);
      assert.equal(err.code, ErrorCode.NotStarted);
      assert.match(err.message, /^Step "only_c" \(only_c\) did not start: /);
      assert.match(err.message, /Cannot link to ws:.*refused|Member "c" is not reachable/);
      assert.equal((err.details as { step: string }).step, "only_c");
      return true;
    });
  }
});

/**
 * Runs `bad` (a function whose result the peer link cannot carry) on n1 from
 * n0, and the same function on n0 itself, while a slow step is in flight on
 * the same link: returns both errors, and checks the link stayed up.
 */
async function forwardedFailure(
  bad: () => unknown,
  n0Options: Parameters<typeof startCluster>[2] = () => ({}),
): Promise<{ local: unknown; remote: unknown }> {
  await using cluster = await startCluster(2, "star", n0Options);
  const [n0, n1] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
  const { promise: release, resolve } = Promise.withResolvers<void>();
  n0.register("bad_here", bad);
  n1.register("bad", bad);
  n1.register("slow", async function (this: CallContext) {
    await release;
    return `${this.node} finished`;
  });
  await converged(cluster.nodes);
  await known(cluster.nodes, "bad", "n1");
  await known(cluster.nodes, "slow", "n1");
  await using client = new Client(n0.url, { timeoutMs: 3_000 });
  const local = await client.call("bad_here").catch((err: unknown) => err);
  // A step in flight on the same link while the result fails.
  const slow = client.call("slow").catch((err: unknown) => err);
  await waitFor(() => n1.inFlight === 1, 3_000, "the slow step to run on n1");
  const remote = await client.call("bad").catch((err: unknown) => err);
  resolve();
  assert.ok(
    !(remote instanceof TimeoutError) && !(remote instanceof ConnectionError),
    `the step's own error, at once: ${remote}`,
  );
  assert.equal(await slow, "n1 finished", "the other step on the link was not lost");
  assert.equal(n0.cluster.member("n1")?.state, "alive", "n1 is not suspected");
  assert.equal(await client.call("slow"), "n1 finished", "the link still carries steps");
  return { local, remote };
}

Deno.test("cluster: a forwarded result that cannot be encoded fails at once with 1003, as locally; the link stays up", async () => {
  // msgpack carries integers up to 64 bits.
  const { local, remote } = await forwardedFailure(() => 2n ** 70n);
  assert.ok(local instanceof FunctionError, String(local));
  assert.ok(remote instanceof FunctionError, String(remote));
  assert.match(remote.message, /cannot be encoded as msgpack/);
});

Deno.test("cluster: a forwarded result over the coordinator's limits fails with 1011, as locally; the link stays up", async () => {
  const limits = { maxElements: 1_000 };
  const { local, remote } = await forwardedFailure(
    () => Array.from({ length: 2_000 }, (_, i) => i),
    (i) => i === 0 ? { limits } : {},
  );
  for (const err of [local, remote]) {
    assert.ok(err instanceof LimitExceededError, String(err));
    assert.equal((err.details as { limit: string }).limit, "maxElements");
  }
  // n1's own limits are the defaults: it checked n0's, from the handshake.
  const long = await forwardedFailure(
    () => "x".repeat(20_000),
    (i) => i === 0 ? { limits: { maxStringBytes: 10_000 } } : {},
  );
  assert.equal(long.local, "x".repeat(20_000), "a client of n0 has no such limit");
  assert.ok(long.remote instanceof LimitExceededError, String(long.remote));
  assert.equal((long.remote.details as { limit: string }).limit, "maxStringBytes");
});

Deno.test("cluster: a step an overloaded member refuses unstarted runs on another member", async () => {
  await using cluster = await startCluster(
    3,
    "star",
    (i) => i === 0 ? { limits: { maxInFlightPerConnection: 4_096 } } : {},
  );
  const [n0, n1, n2] = cluster.nodes as [Server, Server, Server];
  // n1 runs `nap` in its sandbox, which takes at most 1,024 calls in flight
  // and refuses the next ones unstarted (1012); n2 runs it inline.
  n1.register("nap", async function (ms: number) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return "n1";
  }, { sandbox: true });
  n2.register("nap", async (ms: number) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return "n2";
  });
  const { promise: release, resolve } = Promise.withResolvers<void>();
  n2.register("hold", () => release);
  await converged(cluster.nodes);
  await known(cluster.nodes, "nap", "n1");
  await known(cluster.nodes, "nap", "n2");
  await known(cluster.nodes, "hold", "n2");
  await using client = new Client(n0.url, { timeoutMs: 20_000 });
  // n0 sends a step to the less loaded of two candidates: with 1,000 steps
  // of its own on n2, it sends about 1,050 of 1,100 naps to n1.
  const holds = Array.from({ length: 1_000 }, () => client.call("hold"));
  try {
    await waitFor(() => n2.inFlight === 1_000, 10_000, "n2 to hold 1,000 steps");
    const naps = await Promise.all(
      Array.from({ length: 1_100 }, () => client.call("nap", [1_000]).catch((err) => err)),
    );
    const failed = naps.filter((v) => v !== "n1" && v !== "n2").map(String);
    assert.deepEqual([...new Set(failed)], [], "steps refused");
    assert.ok(naps.filter((v) => v === "n1").length > 1_000, "n1 was loaded to its cap");
  } finally {
    resolve();
    await Promise.all(holds);
  }
});
