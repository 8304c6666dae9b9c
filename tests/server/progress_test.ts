// Copyright 2026 the mpreg authors. MIT license.
// Progress reports of non-streaming calls (issue 18): `this.progress(value)`
// in a function reaches a caller that asked (`onProgress`), in order and in
// both encodings, coalesced to one frame per step every 50 ms (the latest
// value winning, the last one before the answer), named by step; a client
// that did not ask gets no frame; the original protocol refuses them.
import assert from "node:assert/strict";
import { type CallContext, Client, ProtocolError } from "../../mod.ts";
import { PROGRESS_INTERVAL_MS } from "../../src/registry/progress_reporter.ts";
import { delay, RawSocket, rpcFailure, startServer } from "../_helpers/mod.ts";

/** Reports each value, `gapMs` apart (longer than the coalescing interval), then returns "done". */
function paced(values: unknown[], gapMs = PROGRESS_INTERVAL_MS + 20) {
  return async function (this: CallContext): Promise<string> {
    for (const value of values) {
      this.progress(value);
      await delay(gapMs);
    }
    return "done";
  };
}

/** The messages a raw JSON socket received, decoded. */
function received(ws: RawSocket): Array<Record<string, unknown>> {
  return ws.frames.map((f) =>
    JSON.parse(typeof f === "string" ? f : new TextDecoder().decode(f)) as Record<string, unknown>
  );
}

for (const encoding of ["msgpack", "json"] as const) {
  Deno.test(`progress (${encoding}): call() sees the function's reports in order, then its value`, async () => {
    await using server = await startServer();
    const values = [0, 0.25, 0.5, { done: 3, total: 4, message: "almost" }, 1];
    server.register("work", paced(values));
    await using client = new Client(server.url, { encoding });
    const seen: Array<[unknown, string]> = [];
    let answered = false;
    const out = await client.call("work", [], {
      onProgress: (value, step) => {
        assert.equal(answered, false, "a report after the answer");
        seen.push([value, step]);
      },
    });
    answered = true;
    assert.equal(out, "done");
    assert.deepEqual(seen, values.map((v) => [v, "work"]));
  });
}

Deno.test("progress: 100,000 reports in a loop send a bounded number of frames, the last one before the answer", async () => {
  await using server = await startServer();
  server
    .register("tight", function (this: CallContext, n: number) {
      for (let i = 1; i <= n; i++) this.progress(i / n);
      return n;
    })
    .register("spread", async function (this: CallContext, n: number) {
      // About 300 ms of reports, yielding now and then.
      const start = Date.now();
      for (let i = 1; i <= n; i++) {
        this.progress({ done: i, total: n });
        if (i % 1_000 === 0) await delay(3);
      }
      return Date.now() - start;
    });
  const ws = new RawSocket(server.url, "mpreg.json.v1");
  await ws.opened;
  ws.ws.send(JSON.stringify({
    role: "rpc",
    u: 1,
    cmds: [{ name: "t", fun: "tight", args: [100_000] }],
    progress: true,
  }));
  await ws.waitFrames(3);
  await delay(100);
  // The first report leaves at once; the rest are held, and the last one
  // leaves when the function returns, before its answer.
  assert.deepEqual(received(ws), [
    { u: 1, step: "t", progress: 0.00001 },
    { u: 1, step: "t", progress: 1 },
    { u: 1, r: { t: 100_000 }, error: null },
  ]);

  ws.frames.length = 0;
  ws.ws.send(JSON.stringify({
    role: "rpc",
    u: 2,
    cmds: [{ name: "s", fun: "spread", args: [100_000] }],
    progress: true,
  }));
  const start = Date.now();
  while (!received(ws).some((m) => "r" in m)) {
    assert.ok(Date.now() - start < 20_000, "no answer");
    await delay(20);
  }
  const messages = received(ws);
  const answer = messages.at(-1)!;
  assert.equal(answer.error, null);
  const ranMs = (answer.r as { s: number }).s;
  const reports = messages.slice(0, -1);
  assert.ok(reports.every((m) => m.u === 2 && m.step === "s" && "progress" in m));
  // At most one per interval, plus the first and the last.
  assert.ok(
    reports.length <= Math.ceil(ranMs / PROGRESS_INTERVAL_MS) + 2,
    `${reports.length} reports in ${ranMs} ms`,
  );
  assert.ok(reports.length >= 2);
  assert.deepEqual(reports.at(-1)!.progress, { done: 100_000, total: 100_000 });
  // In order: each report's count is past the one before.
  const counts = reports.map((m) => (m.progress as { done: number }).done);
  assert.deepEqual(counts, [...counts].sort((a, b) => a - b));
  await ws.close();
});

Deno.test("progress: no frame reaches a client that did not ask, and reports after the step ended are dropped", async () => {
  await using server = await startServer();
  let later: (() => void) | undefined;
  server.register("chatty", function (this: CallContext) {
    // Kept for a report after the call ended.
    this.progress(0.5);
    later = () => this.progress(2);
    return "ok";
  });
  const ws = new RawSocket(server.url, "mpreg.json.v1");
  await ws.opened;
  ws.ws.send(JSON.stringify({ role: "rpc", u: 1, cmds: [{ name: "c", fun: "chatty" }] }));
  await ws.waitFrames(1);
  ws.ws.send(
    JSON.stringify({ role: "rpc", u: 2, cmds: [{ name: "c", fun: "chatty" }], progress: true }),
  );
  await ws.waitFrames(3);
  later!();
  await delay(PROGRESS_INTERVAL_MS * 2);
  assert.deepEqual(received(ws), [
    { u: 1, r: { c: "ok" }, error: null },
    { u: 2, step: "c", progress: 0.5 },
    { u: 2, r: { c: "ok" }, error: null },
  ]);
  await ws.close();
  // The Client asks only with onProgress; without it, a call still works.
  await using client = new Client(server.url);
  assert.equal(await client.call("chatty"), "ok");
});

Deno.test("progress: a request of several steps names the step of each report", async () => {
  await using server = await startServer();
  server.register("stage", async function (this: CallContext, x: unknown) {
    this.progress(`${this.step} started`);
    await delay(PROGRESS_INTERVAL_MS + 20);
    this.progress(`${this.step} finished`);
    return x;
  });
  await using client = new Client(server.url);
  const seen: Array<[unknown, string]> = [];
  const out = await client.request([
    { name: "first", fun: "stage", args: [1] },
    { name: "second", fun: "stage", args: ["first"] },
  ], { onProgress: (value, step) => seen.push([value, step]) });
  assert.deepEqual(out, { second: 1 });
  assert.deepEqual(seen, [
    ["first started", "first"],
    ["first finished", "first"],
    ["second started", "second"],
    ["second finished", "second"],
  ]);
});

Deno.test("progress: a callback that throws does not break the call; typed views and stream() pass onProgress on", async () => {
  await using server = await startServer();
  const api = {
    half(this: CallContext): string {
      this.progress(0.5);
      return "done";
    },
  };
  server.registerAll(api).register("ticks", async function* (this: CallContext, n: number) {
    for (let i = 1; i <= n; i++) {
      this.progress(i / n);
      await delay(PROGRESS_INTERVAL_MS + 10);
      yield i;
    }
  });
  await using client = new Client(server.url);
  let calls = 0;
  const out = await client.call("half", [], {
    onProgress: () => {
      calls++;
      throw new Error("the callback's own failure");
    },
  });
  assert.equal(out, "done");
  assert.equal(calls, 1);

  const seen: unknown[] = [];
  const remote = client.typed<typeof api>({ onProgress: (value) => seen.push(value) });
  assert.equal(await remote.half(), "done");
  assert.deepEqual(seen, [0.5]);
  const named: unknown[] = [];
  const typed = await client.steps<typeof api>().step("h", (f) => f.half()).run({
    onProgress: (value, step) => named.push([step, value]),
  });
  assert.deepEqual(typed, { h: "done" });
  assert.deepEqual(named, [["h", 0.5]]);

  const streamed: unknown[] = [];
  const chunks = await Array.fromAsync(
    client.stream("ticks", [3], { onProgress: (value) => streamed.push(value) }),
  );
  assert.deepEqual(chunks, [1, 2, 3]);
  assert.deepEqual(streamed, [1 / 3, 2 / 3, 1]);
});

Deno.test("progress: the original protocol has none: mpreg-json refuses onProgress at once, a node refuses the field", async () => {
  await using server = await startServer();
  server.register("half", function (this: CallContext) {
    this.progress(0.5);
    return "done";
  });
  await using client = new Client(server.url, { encoding: "mpreg-json" });
  const refused = await rpcFailure(client.call("half", [], { onProgress: () => {} }));
  assert.ok(refused instanceof ProtocolError);
  assert.match(refused.message, /original MPREG protocol has no progress reports/);
  assert.equal(client.connected, false, "refused before connecting");
  assert.equal(await client.call("half"), "done");

  const ws = new RawSocket(server.url);
  await ws.opened;
  ws.ws.send(
    JSON.stringify({ role: "rpc", u: "1", cmds: [{ name: "h", fun: "half" }], progress: true }),
  );
  await ws.waitFrames(1);
  const [answer] = received(ws);
  assert.equal((answer!.error as { code: number }).code, 1004);
  assert.match((answer!.error as { message: string }).message, /no progress reports/);
  await ws.close();
});

Deno.test("progress: a malformed progress field is answered with 1004", async () => {
  await using server = await startServer();
  const ws = new RawSocket(server.url, "mpreg.json.v1");
  await ws.opened;
  ws.ws.send(
    JSON.stringify({ role: "rpc", u: 1, cmds: [{ name: "e", fun: "echo" }], progress: 1 }),
  );
  await ws.waitFrames(1);
  const [answer] = received(ws);
  assert.equal((answer!.error as { code: number }).code, 1004);
  assert.match((answer!.error as { message: string }).message, /"progress" is not a boolean/);
  await ws.close();
});

Deno.test("progress: a report the caller's encoding cannot carry is dropped, the call goes on", async () => {
  await using server = await startServer();
  server.register("odd", async function (this: CallContext) {
    this.progress(() => "a function");
    await delay(PROGRESS_INTERVAL_MS + 10);
    this.progress(1);
    return "done";
  });
  await using client = new Client(server.url, { encoding: "json" });
  const seen: unknown[] = [];
  assert.equal(await client.call("odd", [], { onProgress: (v) => seen.push(v) }), "done");
  assert.deepEqual(seen, [1]);
});

Deno.test("progress: a sandboxed function reports through its process, coalesced there, the last before the answer", async () => {
  await using server = await startServer();
  server.register("boxed", async function (this: CallContext, n: number, gapMs: number) {
    for (let i = 1; i <= n; i++) this.progress(i / n);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
    this.progress({ done: n, total: n, message: "checked" });
    return Deno.pid;
  }, { sandbox: true });
  await using client = new Client(server.url);
  const seen: unknown[] = [];
  let answered = false;
  const pid = await client.call("boxed", [100_000, 80], {
    onProgress: (value, step) => {
      assert.equal(answered, false, "a report after the answer");
      seen.push([step, value]);
    },
  });
  answered = true;
  assert.notEqual(pid, Deno.pid, "ran in its own process");
  assert.deepEqual(seen, [
    ["boxed", 1 / 100_000],
    ["boxed", 1],
    ["boxed", { done: 100_000, total: 100_000, message: "checked" }],
  ]);
});

Deno.test("progress: a stream's last held report reaches the reader before the stream ends", async () => {
  await using server = await startServer();
  server.register("busy", async function* (this: CallContext, n: number) {
    for (let i = 1; i <= n; i++) this.progress(i);
    yield "only chunk";
  });
  await using client = new Client(server.url, { encoding: "json" });
  const seen: unknown[] = [];
  const chunks = await Array.fromAsync(
    client.stream("busy", [1_000], { onProgress: (value) => seen.push(value) }),
  );
  assert.deepEqual(chunks, ["only chunk"]);
  assert.deepEqual(seen, [1, 1_000]);
});
