// Copyright 2026 the mpreg authors. MIT license.
// Integration tests: a real node on port 0, called through the Client in both
// encodings. Includes the single-node scenarios of the original test suite
// (mpreg-python.md §8.5–§8.7).
import assert from "node:assert/strict";
import {
  type CallContext,
  CancelledError,
  Client,
  ConnectionError,
  ErrorCode,
  FunctionError,
  FunctionNotFoundError,
  GraphError,
  literal,
  RpcError,
  Server,
  TimeoutError,
} from "../../mod.ts";
import * as fns from "../../examples/functions.ts";
import { delay, startServer, waitFor } from "../_helpers/mod.ts";
import { RelayNetwork } from "../_helpers/partition_relay.ts";

// The `enhanced_server` fixture of the original suite (§8.1).
async function enhancedServer() {
  const server = await startServer({
    name: "enhanced",
    resources: ["data-processor", "ml-model", "formatter"],
  });
  server
    .register("data_processing", fns.data_processing as never, { resources: ["data-processor"] })
    .register("ml_inference", fns.ml_inference as never, { resources: ["ml-model"] })
    .register("format_results", fns.format_results as never, { resources: ["formatter"] })
    .register("add", fns.add as never)
    .register("multiply", fns.multiply as never)
    .register("format", fns.format as never)
    .register("sleep", fns.sleep as never);
  return server;
}

for (const encoding of ["msgpack", "json"] as const) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test(`Client (${encoding}) ${name}`, fn);

  t("echo returns strings and objects unchanged (§8.5)", async () => {
    await using server = await startServer();
    await using client = new Client(server.url, { encoding });
    assert.equal(await client.call("echo", ["hello"]), "hello");
    assert.deepEqual(await client.call("echo", [{ key: "value", number: 42 }]), {
      key: "value",
      number: 42,
    });
  });

  t("echos returns every argument as an array (§8.5, §8.6)", async () => {
    await using server = await startServer();
    await using client = new Client(server.url, { encoding });
    assert.deepEqual(await client.call("echos", ["arg1", "arg2", "arg3"]), [
      "arg1",
      "arg2",
      "arg3",
    ]);
    assert.deepEqual(await client.call("echos", [1, "two", [3, 4], { five: 6 }]), [
      1,
      "two",
      [3, 4],
      { five: 6 },
    ]);
  });

  t("echo with two arguments fails with 1003 naming the step", async () => {
    await using server = await startServer();
    await using client = new Client(server.url, { encoding });
    await assert.rejects(client.call("echo", ["a", "b"]), (err: unknown) => {
      assert.ok(err instanceof FunctionError);
      assert.equal(err.code, ErrorCode.Function);
      const details = err.details as Record<string, unknown>;
      assert.equal(details.step, "echo");
      assert.equal(details.name, "TypeError");
      assert.match(String(details.message), /exactly one argument/);
      assert.equal(details.stack, undefined, "no stack trace unless debug is on");
      return true;
    });
  });

  t("a call whose argument equals the function name is passed verbatim", async () => {
    await using server = await startServer();
    await using client = new Client(server.url, { encoding });
    assert.equal(await client.call("echo", ["echo"]), "echo");
    assert.deepEqual(await client.call("echo", [{ a: ["echo.x"] }]), { a: ["echo.x"] });
  });

  t(
    "a call whose argument holds the function name in a null-prototype object passes it verbatim",
    async () => {
      // The node reads inside null-prototype objects too (isPlainObject), so the client must escape there.
      await using server = await startServer();
      await using client = new Client(server.url, { encoding });
      const bare = Object.assign(Object.create(null), { a: "echo", b: ["echo.x"] });
      assert.deepEqual(await client.call("echo", [bare]), { a: "echo", b: ["echo.x"] });
    },
  );

  t("keyword arguments arrive as one trailing object (§8.6)", async () => {
    await using server = await enhancedServer();
    await using client = new Client(server.url, { encoding });
    const out = await client.call("format_results", [{ prediction: "success" }], {
      kwargs: { format_type: "summary" },
    });
    assert.equal(out, "Result: success");
  });

  t("locs route to a function with the resources (§8.6)", async () => {
    await using server = await enhancedServer();
    await using client = new Client(server.url, { encoding });
    const out = await client.call("data_processing", [[10, 20, 30, 40, 50]], {
      locs: ["data-processor"],
    });
    assert.equal(out, 150);
  });

  t("missing resources fail at once with 1001 naming function and locs", async () => {
    await using server = await enhancedServer();
    await using client = new Client(server.url, { encoding });
    await assert.rejects(
      client.call("data_processing", [[1]], { locs: ["gpu"] }),
      (err: unknown) => {
        assert.ok(err instanceof FunctionNotFoundError);
        assert.equal(err.code, 1001);
        assert.match(err.message, /data_processing/);
        assert.match(err.message, /gpu/);
        return true;
      },
    );
    await assert.rejects(client.call("nonexistent_function", ["some args"]), (err: unknown) => {
      assert.ok(err instanceof FunctionNotFoundError);
      assert.match(err.message, /nonexistent_function/);
      return true;
    });
  });

  t("a dependency chain returns only the sink (§8.6 simple chain)", async () => {
    await using server = await enhancedServer();
    await using client = new Client(server.url, { encoding });
    const out = await client.request([
      { name: "step1", fun: "data_processing", args: [[1, 2, 3, 4, 5]] },
      { name: "step2", fun: "echo", args: ["step1"] },
    ]);
    assert.deepEqual(out, { step2: 15 });
  });

  t("complex workflow with a reference nested in an object and kwargs (§8.6)", async () => {
    await using server = await enhancedServer();
    await using client = new Client(server.url, { encoding });
    const out = await client.request([
      { name: "processed_data", fun: "data_processing", args: [[100, 200, 300]] },
      {
        name: "ml_result",
        fun: "ml_inference",
        args: ["my_model", { value: "processed_data" }],
        locs: ["ml-model"],
      },
      {
        name: "final_output",
        fun: "format_results",
        args: ["ml_result"],
        kwargs: { format_type: "summary" },
      },
    ]);
    assert.deepEqual(out, { final_output: "Result: processed_600" });
  });

  t("parallel steps joined by one (§8.6)", async () => {
    await using server = await enhancedServer();
    await using client = new Client(server.url, { encoding });
    const out = await client.request([
      { name: "batch1", fun: "data_processing", args: [[1, 2, 3]] },
      { name: "batch2", fun: "data_processing", args: [[4, 5, 6]] },
      { name: "combined", fun: "echos", args: ["batch1", "batch2"] },
    ]);
    assert.deepEqual(out, { combined: [6, 15] });
  });

  t("the original quick demo returns Final Answer: 150", async () => {
    await using server = await enhancedServer();
    await using client = new Client(server.url, { encoding });
    const out = await client.request([
      { name: "sum1", fun: "add", args: [10, 20] },
      { name: "sum2", fun: "add", args: [5, 15] },
      { name: "total", fun: "add", args: ["sum1", "sum2"] },
      { name: "doubled", fun: "multiply", args: ["total", 3] },
      { name: "final", fun: "format", args: ["doubled", "Final Answer"] },
    ]);
    assert.deepEqual(out, { final: "Final Answer: 150" });
  });

  t("the original README's |first/|second/|third/|4th examples", async () => {
    await using server = await startServer();
    await using client = new Client(server.url, { encoding });
    const three = [
      { name: "|first", fun: "echo", args: ["hi there!"] },
      { name: "|second", fun: "echo", args: ["|first"] },
      { name: "|third", fun: "echos", args: ["|first", "AND ME TOO"] },
    ];
    assert.deepEqual(await client.request(three), {
      "|second": "hi there!",
      "|third": ["hi there!", "AND ME TOO"],
    });
    const four = [
      three[0]!,
      three[1]!,
      { name: "|third", fun: "echos", args: ["|first", "|second", "AND ME TOO"] },
      { name: "|4th", fun: "echo", args: ["|third"] },
    ];
    assert.deepEqual(await client.request(four), {
      "|4th": ["hi there!", "hi there!", "AND ME TOO"],
    });
  });

  t("independent steps are all returned, and all: true returns every step", async () => {
    await using server = await startServer();
    await using client = new Client(server.url, { encoding });
    const steps = [
      { name: "a", fun: "echo", args: [1] },
      { name: "b", fun: "echos", args: ["a"] },
      { name: "c", fun: "echo", args: ["independent"] },
    ];
    assert.deepEqual(await client.request(steps), { b: [1], c: "independent" });
    assert.deepEqual(await client.request(steps, { all: true }), {
      a: 1,
      b: [1],
      c: "independent",
    });
  });

  t("field paths and literal strings", async () => {
    await using server = await startServer();
    await using client = new Client(server.url, { encoding });
    const out = await client.request([
      { name: "data", fun: "echo", args: [{ items: [{ name: "x" }, { name: "y" }] }] },
      { name: "pick", fun: "echos", args: ["data.items.1.name", literal("data")] },
    ]);
    assert.deepEqual(out, { pick: ["y", "data"] });
  });

  t("invalid graphs are rejected with 1008 before anything runs", async () => {
    await using server = await startServer();
    let ran = 0;
    server.register("count", () => ++ran);
    await using client = new Client(server.url, { encoding });
    const cases = [
      [],
      [{ name: "a", fun: "count" }, { name: "a", fun: "count" }],
      [{ name: "a", fun: "count" }, { name: "b", fun: "echo", args: ["b"] }],
      [{ name: "x", fun: "echo", args: ["y"] }, { name: "y", fun: "echo", args: ["x"] }, {
        name: "z",
        fun: "count",
      }],
    ];
    for (const steps of cases) {
      await assert.rejects(client.request(steps), (err: unknown) => {
        assert.ok(err instanceof GraphError, String(err));
        assert.equal(err.code, ErrorCode.Graph);
        return true;
      });
    }
    assert.equal(ran, 0);
    await assert.rejects(
      client.request([{ name: "a", fun: "echo", args: [{ x: 1 }] }, {
        name: "b",
        fun: "echo",
        args: ["a.y"],
      }]),
      (err: unknown) => err instanceof GraphError && /"y"/.test(err.message),
    );
  });

  t("many requests run concurrently over one socket (§8.6 stress pattern)", async () => {
    await using server = await enhancedServer();
    await using client = new Client(server.url, { encoding });
    const calls = Array.from({ length: 200 }, (_, i) => client.call("echo", [`m-${i}`]));
    const results = await Promise.all(calls);
    results.forEach((r, i) => assert.equal(r, `m-${i}`));
    // Slow calls overlap rather than queue: 20 × 100 ms finish well under 2 s.
    const started = Date.now();
    await Promise.all(Array.from({ length: 20 }, () => client.call("sleep", [100])));
    assert.ok(Date.now() - started < 1_500, "slow calls on one socket ran in parallel");
  });

  t("several clients at once each get their own answers (§8.5)", async () => {
    await using server = await startServer();
    const clients = Array.from({ length: 5 }, () => new Client(server.url, { encoding }));
    try {
      const out = await Promise.all(clients.map((c, i) => c.call("echo", [`client-${i}`])));
      assert.deepEqual(out, clients.map((_, i) => `client-${i}`));
    } finally {
      for (const c of clients) c.close();
    }
  });

  t("three concurrent workflows on one client (§8.6)", async () => {
    await using server = await enhancedServer();
    await using client = new Client(server.url, { encoding });
    const workflows = [0, 1, 2].map((i) =>
      client.request([
        { name: `data_${i}`, fun: "data_processing", args: [[i, i + 1, i + 2]] },
        { name: `processed_${i}`, fun: "echo", args: [`data_${i}`] },
        { name: `result_${i}`, fun: "echos", args: [`processed_${i}`, `workflow_${i}`] },
      ])
    );
    const out = await Promise.all(workflows);
    out.forEach((r, i) => assert.deepEqual(r, { [`result_${i}`]: [3 * i + 3, `workflow_${i}`] }));
  });

  t("the client's deadline rejects with TimeoutError and cancels the server's work", async () => {
    await using server = await startServer();
    let aborted: unknown = null;
    const { promise: sawAbort, resolve } = Promise.withResolvers<void>();
    server.register("hang", function (this: CallContext) {
      return new Promise((_, reject) => {
        this.signal.addEventListener("abort", () => {
          aborted = this.signal.reason;
          resolve();
          reject(this.signal.reason);
        });
      });
    });
    await using client = new Client(server.url, { encoding });
    await assert.rejects(client.call("hang", [], { timeoutMs: 100 }), TimeoutError);
    await sawAbort;
    assert.ok(aborted instanceof RpcError);
    await waitFor(() => server.inFlight === 0, 2_000, "server to forget the request");
    assert.equal(await client.call("echo", ["still fine"]), "still fine");
  });

  t("a deadline of 0 ms times the call out (the node is sent a deadline of 1 ms)", async () => {
    await using server = await startServer();
    server.register("slow", function (this: CallContext) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, 50, "late");
        this.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(this.signal.reason);
        });
      });
    });
    await using client = new Client(server.url, { encoding });
    await client.connect();
    for (const timeoutMs of [0, -5]) {
      await assert.rejects(client.call("slow", [], { timeoutMs }), TimeoutError);
      await assert.rejects(
        client.request([{ name: "s", fun: "slow" }], { timeoutMs }),
        TimeoutError,
      );
    }
    await waitFor(() => server.inFlight === 0, 2_000, "the node to end the calls");
    assert.equal(await client.call("echo", ["still fine"]), "still fine");
  });

  t("an AbortSignal cancels the call here and on the node", async () => {
    await using server = await startServer();
    const { promise: sawAbort, resolve } = Promise.withResolvers<unknown>();
    const { promise: started, resolve: onStart } = Promise.withResolvers<void>();
    server.register("hang", function (this: CallContext) {
      onStart();
      return new Promise((_, reject) => {
        this.signal.addEventListener("abort", () => {
          resolve(this.signal.reason);
          reject(this.signal.reason);
        });
      });
    });
    await using client = new Client(server.url, { encoding });
    const controller = new AbortController();
    const call = client.call("hang", [], { signal: controller.signal });
    // Aborting before the node has the call would test another path (and
    // leave sawAbort pending): wait until the function runs.
    await started;
    controller.abort(new Error("user gave up"));
    await assert.rejects(call, CancelledError);
    assert.ok((await sawAbort) instanceof CancelledError);
  });

  t("a failing step cancels its running siblings and names itself", async () => {
    await using server = await startServer();
    const { promise: siblingAborted, resolve } = Promise.withResolvers<void>();
    server.register("hang", function (this: CallContext) {
      return new Promise((_, reject) => {
        this.signal.addEventListener("abort", () => {
          resolve();
          reject(this.signal.reason);
        });
      });
    });
    server.register("boom", async () => {
      await delay(20);
      throw new RangeError("kaput");
    });
    await using client = new Client(server.url, { encoding });
    await assert.rejects(
      client.request([{ name: "slow", fun: "hang" }, { name: "bad", fun: "boom" }]),
      (err: unknown) => {
        assert.ok(err instanceof FunctionError);
        const details = err.details as Record<string, unknown>;
        assert.equal(details.step, "bad");
        assert.equal(details.name, "RangeError");
        assert.equal(details.message, "kaput");
        return true;
      },
    );
    await siblingAborted;
  });

  t("async functions and sync functions both work", async () => {
    await using server = await startServer();
    server.register("later", async (x: number) => {
      await delay(5);
      return x * 2;
    });
    await using client = new Client(server.url, { encoding });
    assert.equal(await client.call("later", [21]), 42);
  });

  t("re-registering a name replaces the function", async () => {
    await using server = await startServer();
    server.register("v", () => 1);
    await using client = new Client(server.url, { encoding });
    assert.equal(await client.call("v"), 1);
    server.register("v", () => 2);
    assert.equal(await client.call("v"), 2);
  });

  t("a lost connection fails pending calls at once, then the client reconnects", async () => {
    // The client dials a relay, which points at the restarted node after:
    // the same URL, without binding the old port again (another test may
    // have taken it meanwhile).
    using network = new RelayNetwork();
    const server = await startServer();
    const relay = network.relay("node", server.port);
    server.register("hang", function (this: CallContext) {
      return new Promise((_, reject) => {
        this.signal.addEventListener("abort", () => reject(this.signal.reason));
      });
    });
    await using client = new Client(relay.url, {
      encoding,
      timeoutMs: 10_000,
      backoff: { initialMs: 20, maxMs: 100 },
    });
    assert.equal(await client.call("echo", [1]), 1);
    const pending = client.call("hang");
    await waitFor(() => server.inFlight === 1, 5_000, "the node to run the call");
    const started = Date.now();
    // The node answers the call it cuts short before its stop() resolves.
    const failed = assert.rejects(pending, ConnectionError);
    await server.stop({ drainTimeoutMs: 0 });
    await failed;
    assert.ok(Date.now() - started < 2_000, "pending call failed at once, not at its deadline");
    await using again = await startServer();
    relay.up(again.port);
    assert.equal(await client.call("echo", ["back"]), "back");
    assert.equal(client.url, relay.url);
  });

  t("the client tries each URL it was given", async () => {
    await using server = await startServer();
    const dead = await startServer();
    const deadUrl = dead.url;
    await dead.stop();
    await using client = new Client([deadUrl, server.url], {
      encoding,
      backoff: { initialMs: 10, maxMs: 50 },
    });
    assert.equal(await client.call("echo", ["via second url"]), "via second url");
    assert.equal(client.url, server.url);
  });

  t(
    "calls to an unreachable node fail at once with a ConnectionError naming it, never hang",
    async () => {
      const dead = await startServer();
      const url = dead.url;
      await dead.stop();
      await using client = new Client(url, { encoding, backoff: { initialMs: 10, maxMs: 50 } });
      // Not a TimeoutError at the deadline: the refusal, as soon as it comes.
      const refused = (err: unknown) => {
        assert.ok(err instanceof ConnectionError, String(err));
        assert.ok(err.message.includes(url), err.message);
        assert.match(err.message, /refused/i);
        return true;
      };
      await assert.rejects(client.call("echo", [1], { timeoutMs: 10_000 }), refused);
      await assert.rejects(client.connect({ timeoutMs: 10_000 }), refused);
    },
  );

  t("binary values and dates survive msgpack", async () => {
    if (encoding !== "msgpack") return;
    await using server = await startServer();
    await using client = new Client(server.url, { encoding });
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const out = await client.call("echo", [bytes]);
    assert.deepEqual(new Uint8Array(out as Uint8Array), bytes);
    const when = new Date("2026-01-02T03:04:05.678Z");
    assert.equal((await client.call("echo", [when]) as Date).getTime(), when.getTime());
  });
}

Deno.test("Server with debug on includes the stack in function errors", async () => {
  await using server = await startServer({ debug: true });
  server.register("boom", () => {
    throw new Error("with stack");
  });
  await using client = new Client(server.url);
  await assert.rejects(client.call("boom"), (err: unknown) => {
    assert.ok(err instanceof FunctionError);
    assert.match(String((err.details as { stack?: string }).stack), /with stack/);
    return true;
  });
});

Deno.test("Server.stop() lets requests in flight finish and refuses new ones", async () => {
  const server = await startServer();
  server.register("sleep", fns.sleep as never);
  await using client = new Client(server.url);
  const inFlight = client.call("sleep", [300]);
  await waitFor(() => server.inFlight === 1);
  const stopping = server.stop({ drainTimeoutMs: 5_000 });
  await delay(20);
  await assert.rejects(client.call("echo", [1]), (err: unknown) => {
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, ErrorCode.Unavailable);
    return true;
  });
  assert.equal(await inFlight, 300);
  await stopping;
});

Deno.test("Server.stop() cancels what outlives the drain timeout", async () => {
  const server = await startServer();
  const { promise: aborted, resolve } = Promise.withResolvers<void>();
  server.register("hang", function (this: CallContext) {
    return new Promise((_, reject) => {
      this.signal.addEventListener("abort", () => {
        resolve();
        reject(this.signal.reason);
      });
    });
  });
  await using client = new Client(server.url);
  const call = client.call("hang");
  await waitFor(() => server.inFlight === 1);
  // The node answers the call it cuts short before its stop() resolves.
  const failed = assert.rejects(call, ConnectionError);
  await server.stop({ drainTimeoutMs: 50 });
  await aborted;
  await failed;
});

Deno.test("Server.fromConfig() loads settings and registers every exported function", async () => {
  const server = await Server.fromConfig("examples/node.yaml", { port: 0, name: "from-config" });
  await server.start();
  try {
    assert.equal(server.name, "from-config");
    assert.deepEqual([...server.resources], ["cpu", "dataset-1"]);
    const functions = server.cluster.self.functions;
    for (const name of ["add", "multiply", "format", "data_processing", "sleep"]) {
      assert.ok(name in functions, `${name} is registered`);
    }
    await using client = new Client(server.url);
    assert.equal(await client.call("add", [2, 3], { locs: ["dataset-1"] }), 5);
  } finally {
    await server.stop();
  }
});
