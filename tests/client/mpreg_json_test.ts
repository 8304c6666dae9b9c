// Copyright 2026 the mpreg authors. MIT license.
// `encoding: "mpreg-json"`: the client speaks exactly the original (Python)
// MPREG protocol, checked against a stand-in as strict as the original server.
import assert from "node:assert/strict";
import { CancelledError, Client, RpcError, TimeoutError } from "../../mod.ts";
import { type PythonStandin, startPythonStandin } from "../_helpers/python_standin.ts";

/** The messages the stand-in received, parsed (its numbers as their source text). */
function sent(standin: PythonStandin): string[] {
  return standin.received.map((frame) => frame.text);
}

Deno.test("mpreg-json: calls an original server with its own message shapes, no subprotocol, string ids", async () => {
  await using standin = await startPythonStandin();
  await using client = new Client(standin.url, { encoding: "mpreg-json", timeoutMs: 5_000 });
  assert.equal(await client.call("echo", ["hi"]), "hi");
  assert.deepEqual(await client.call("echos", ["a", 2, { b: [3] }]), ["a", 2, { b: [3] }]);
  assert.equal(await client.call("add", [2, 3], { kwargs: {} }), 5);
  assert.equal(await client.call("add", [], { kwargs: { a: "x", b: "y" } }), "xy");
  assert.deepEqual(standin.offered, [[]]);
  assert.deepEqual(standin.refused, []);
  assert.ok(standin.received.every((frame) => !frame.binary), "the original client sends text");
  assert.deepEqual(sent(standin), [
    '{"role":"rpc","cmds":[{"name":"echo","fun":"echo","args":["hi"],"kwargs":{},"locs":[]}],"u":"1"}',
    '{"role":"rpc","cmds":[{"name":"echos","fun":"echos","args":["a",2,{"b":[3]}],"kwargs":{},"locs":[]}],"u":"2"}',
    '{"role":"rpc","cmds":[{"name":"add","fun":"add","args":[2,3],"kwargs":{},"locs":[]}],"u":"3"}',
    '{"role":"rpc","cmds":[{"name":"add","fun":"add","args":[],"kwargs":{"a":"x","b":"y"},"locs":[]}],"u":"4"}',
  ]);
});

Deno.test("mpreg-json: a dependent request gets the deepest level, as from the original", async () => {
  await using standin = await startPythonStandin();
  await using client = new Client(standin.url, { encoding: "mpreg-json", timeoutMs: 5_000 });
  // The original README's example, then a chain through a dotted path.
  const out = await client.request([
    { name: "|first", fun: "echo", args: ["hi there!"] },
    { name: "|second", fun: "echo", args: ["|first"] },
    { name: "|third", fun: "echos", args: ["|first", "AND ME TOO"] },
  ]);
  assert.deepEqual(out, { "|second": "hi there!", "|third": ["hi there!", "AND ME TOO"] });
  const chain = await client.request([
    { name: "sum1", fun: "add", args: [10, 20] },
    { name: "sum2", fun: "add", args: [5, 15] },
    { name: "pair", fun: "echo", args: [{ total: "sum1", other: "sum2" }] },
    { name: "final", fun: "add", args: ["pair.total", "pair.other"], locs: ["cpu"] },
  ]);
  assert.deepEqual(chain, { final: 50 });
  assert.equal(
    standin.received[1]!.text,
    '{"role":"rpc","cmds":[{"name":"sum1","fun":"add","args":[10,20],"kwargs":{},"locs":[]},' +
      '{"name":"sum2","fun":"add","args":[5,15],"kwargs":{},"locs":[]},' +
      '{"name":"pair","fun":"echo","args":[{"total":"sum1","other":"sum2"}],"kwargs":{},"locs":[]},' +
      '{"name":"final","fun":"add","args":["pair.total","pair.other"],"kwargs":{},"locs":["cpu"]}],"u":"2"}',
  );
  // `all` and `literal()` do not exist there: refused here, before anything is sent.
  await assert.rejects(
    client.request([{ name: "a", fun: "echo", args: [1] }], { all: true }),
    /cannot be encoded as mpreg-json: the original MPREG protocol has no `all`/,
  );
  await assert.rejects(client.call("echo", ["echo"]), /no literal wrapper/);
  assert.equal(standin.received.length, 2);
});

Deno.test("mpreg-json: the original's errors arrive as RpcError 1003 and the connection stays usable", async () => {
  await using standin = await startPythonStandin();
  await using client = new Client(standin.url, { encoding: "mpreg-json", timeoutMs: 5_000 });
  for (
    const [fun, args, text] of [
      ["nonexistent_function", ["x"], "ValueError: Command nonexistent_function not found."],
      ["echo", [1, 2], "TypeError: echo() takes 1 positional argument but 2 were given"],
      ["add", [1, "x"], "TypeError: unsupported operand type(s) for +: 'int' and 'str'"],
    ] as const
  ) {
    await assert.rejects(client.call(fun, [...args]), (err: unknown) => {
      assert.ok(err instanceof RpcError, String(err));
      assert.equal(err.code, 1003);
      assert.equal(err.message, "RPC execution failed");
      assert.match(String(err.details), new RegExp(RegExp.escape(text)));
      return true;
    });
  }
  assert.equal(await client.call("echo", ["still here"]), "still here");
  assert.deepEqual(standin.refused, []);
});

Deno.test("mpreg-json: 2^53 + 1 travels exactly as a BigInt both ways", async () => {
  await using standin = await startPythonStandin();
  await using client = new Client(standin.url, { encoding: "mpreg-json", timeoutMs: 5_000 });
  const big = 2n ** 53n + 1n;
  assert.equal(await client.call("echo", [big]), big);
  assert.equal(await client.call("add", [2n ** 53n, 1]), big);
  assert.equal(await client.call("add", [-(2n ** 63n), 0]), -(2n ** 63n));
  // Safe integers stay numbers; Python's float 1.0 comes back as the number 1.
  assert.equal(await client.call("add", [1.5, 1.5]), 3);
  assert.equal(await client.call("echo", [9007199254740991]), 9007199254740991);
  assert.match(standin.received[0]!.text, /"args":\[9007199254740993\]/);
});

Deno.test("mpreg-json: many concurrent calls on one connection, served one at a time, all answered", async () => {
  await using standin = await startPythonStandin();
  await using client = new Client(standin.url, { encoding: "mpreg-json", timeoutMs: 10_000 });
  const n = 200;
  const out = await Promise.all(
    Array.from({ length: n }, (_, i) => client.call("echos", [i, `call ${i}`])),
  );
  assert.deepEqual(out, Array.from({ length: n }, (_, i) => [i, `call ${i}`]));
  assert.equal(standin.maxConcurrent, 1);
  assert.equal(standin.received.length, n, "one frame per call: no batches");
  const ids = standin.received.map((frame) => JSON.parse(frame.text).u);
  assert.ok(ids.every((u) => typeof u === "string"));
  assert.equal(new Set(ids).size, n);
  assert.deepEqual(standin.refused, []);
});

Deno.test("mpreg-json: a timeout and an abort are local (no cancel message); the late answers are dropped", async () => {
  await using standin = await startPythonStandin();
  await using client = new Client(standin.url, { encoding: "mpreg-json", timeoutMs: 5_000 });
  await assert.rejects(client.call("sleep", [0.2], { timeoutMs: 20 }), TimeoutError);
  const controller = new AbortController();
  const aborted = client.call("sleep", [0.01], { signal: controller.signal });
  controller.abort();
  await assert.rejects(aborted, CancelledError);
  // Served after both sleeps (one at a time): their answers came first, and were dropped.
  assert.equal(await client.call("echo", ["after"]), "after");
  assert.deepEqual(standin.refused, []);
  assert.deepEqual(
    standin.received.map((frame) => JSON.parse(frame.text).role),
    ["rpc", "rpc", "rpc"],
  );
});

Deno.test("mpreg-json: a token is refused (the original has no authentication)", () => {
  assert.throws(
    () => new Client("ws://127.0.0.1:1", { encoding: "mpreg-json", token: "t" }),
    /The original MPREG protocol has no token/,
  );
});
