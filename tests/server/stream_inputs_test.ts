// Copyright 2026 the mpreg authors. MIT license.
// Streams as step inputs on one node (issue 18): a step whose value only one
// other step takes, whole, streams into it: the consumer reads a
// ReadableStream under credit; its cancel (or its return before the end)
// closes the producer; the producer's error is the stream's error. Every
// other stream result of a request is a clear 1003 that says what is allowed.
import assert from "node:assert/strict";
import { type CallContext, Client, FunctionError, ProtocolError } from "../../mod.ts";
import { delay, RawSocket, rpcFailure, startServer, waitFor } from "../_helpers/mod.ts";

async function failure(stream: ReadableStream<unknown>): Promise<unknown> {
  try {
    for await (const _ of stream) { /* drain */ }
  } catch (err) {
    return err;
  }
  return null;
}

async function* lines(n: number): AsyncGenerator<string> {
  for (let i = 0; i < n; i++) yield `line ${i}`;
}

async function summarize(input: ReadableStream<string>): Promise<{ count: number; last: string }> {
  assert.ok(input instanceof ReadableStream, "the consumer gets a ReadableStream");
  let count = 0;
  let last = "";
  for await (const line of input) {
    count++;
    last = line;
  }
  return { count, last };
}

for (const encoding of ["msgpack", "json"] as const) {
  Deno.test(`stream inputs (${encoding}): parse(stream) → summarize on one node`, async () => {
    await using server = await startServer();
    server.register("lines", lines).register("summarize", summarize);
    await using client = new Client(server.url, { encoding });
    const out = await client.request([
      { name: "parsed", fun: "lines", args: [1000] },
      { name: "summary", fun: "summarize", args: ["parsed"] },
    ]);
    assert.deepEqual(out, { summary: { count: 1000, last: "line 999" } });
    // As a keyword argument, and through a transforming step in between.
    server.register("upper", async function* (input: ReadableStream<string>) {
      for await (const line of input) yield line.toUpperCase();
    }).register("count", (options: { input: ReadableStream<string> }) => summarize(options.input));
    const chained = await client.request([
      { name: "a", fun: "lines", args: [3] },
      { name: "b", fun: "upper", args: ["a"] },
      { name: "c", fun: "count", kwargs: { input: "b" } },
    ]);
    assert.deepEqual(chained, { c: { count: 3, last: "LINE 2" } });
    assert.equal(server.inFlight, 0);
  });
}

Deno.test("stream inputs: a step that may stream and returns a plain value passes it unchanged", async () => {
  await using server = await startServer();
  server.register("list", () => [1, 2, 3]).register("sum", (xs: number[]) => {
    assert.ok(Array.isArray(xs));
    return xs.reduce((a, b) => a + b, 0);
  });
  await using client = new Client(server.url);
  assert.deepEqual(
    await client.request([
      { name: "xs", fun: "list" },
      { name: "total", fun: "sum", args: ["xs"] },
    ]),
    { total: 6 },
  );
});

Deno.test("stream inputs: a stream result anywhere else in a request is a 1003 that says what is allowed", async () => {
  let closed = 0;
  await using server = await startServer();
  server
    .register("gen", async function* (..._x: unknown[]) {
      try {
        yield { x: 1 };
      } finally {
        closed++;
      }
    })
    .register("id", (v: unknown) => v instanceof ReadableStream ? "stream" : v);
  await using client = new Client(server.url);
  const cases: [Parameters<Client["request"]>[0], boolean, RegExp][] = [
    [
      [{ name: "a", fun: "gen" }, { name: "b", fun: "id", args: ["a"] }, {
        name: "c",
        fun: "id",
        args: ["a"],
      }],
      false,
      /steps "b" and "c" both take it: a stream is read by one step only/,
    ],
    [
      [{ name: "a", fun: "gen" }, { name: "b", fun: "id", args: ["a.x"] }],
      false,
      /step "b" takes a field of it \("a\.x"\): a stream is passed whole/,
    ],
    [
      [{ name: "a", fun: "gen" }, { name: "b", fun: "id", args: [["a"]] }],
      false,
      /inside another value/,
    ],
    [
      [{ name: "x", fun: "id", args: [1] }, { name: "a", fun: "gen", args: ["x"] }],
      false,
      /step "a" is a result of the request: a client reads a stream only with client\.stream\(\) or client\.streamRequest\(\)/,
    ],
    [
      [{ name: "a", fun: "gen" }, { name: "b", fun: "id", args: ["a"] }],
      true,
      /the request returns every step \(all: true\)/,
    ],
  ];
  for (const [steps, all, why] of cases) {
    const err = await rpcFailure(client.request(steps, { all }));
    assert.ok(err instanceof FunctionError, err.message);
    assert.equal(err.code, 1003);
    assert.match(err.message, /Step "a" \(gen\) failed: TypeError: returned an async iterator/);
    assert.match(err.message, /passed whole to the one step of a request that takes it/);
    assert.match(err.message, why);
  }
  // Never read: a generator that never started has no finally to run.
  assert.equal(closed, 0);
  // A plain call keeps its message.
  const err = await rpcFailure(client.call("gen"));
  assert.match(err.message, /read with client\.stream\(\), not call\(\) or request\(\)/);
  assert.equal(server.inFlight, 0);
});

Deno.test("stream inputs: a consumer that returns before the end, or cancels, closes the producer (its finally runs)", async () => {
  for (const how of ["return", "cancel"] as const) {
    let produced = 0;
    let finallyRan = false;
    let aborted: boolean | null = null;
    await using server = await startServer();
    server
      .register("endless", async function* (this: CallContext) {
        try {
          for (;;) {
            produced++;
            yield produced;
            await delay(1);
          }
        } finally {
          finallyRan = true;
          aborted = this.signal.aborted;
        }
      })
      .register("firstThree", async (input: ReadableStream<number>) => {
        const reader = input.getReader();
        const got = [];
        for (let i = 0; i < 3; i++) got.push((await reader.read()).value);
        if (how === "cancel") await reader.cancel("enough");
        return got;
      });
    await using client = new Client(server.url);
    const out = await client.request([
      { name: "n", fun: "endless" },
      { name: "first", fun: "firstThree", args: ["n"] },
    ]);
    assert.deepEqual(out, { first: [1, 2, 3] });
    await waitFor(() => finallyRan, 2_000, `the producer's finally (${how})`);
    assert.equal(aborted, false, "closed by its reader, not by an aborted request");
    const stopped = produced;
    await delay(30);
    assert.equal(produced, stopped);
    assert.equal(server.inFlight, 0);
  }
});

Deno.test("stream inputs: the producer's error is the stream's error; uncaught, it fails the request naming the producer's step", async () => {
  await using server = await startServer();
  server
    .register("fails", async function* () {
      yield 1;
      yield 2;
      throw new RangeError("out of lines");
    })
    .register("careless", async (input: ReadableStream<number>) => {
      let n = 0;
      for await (const _ of input) n++;
      return n;
    })
    .register("careful", async (input: ReadableStream<number>) => {
      const got: unknown[] = [];
      try {
        for await (const chunk of input) got.push(chunk);
      } catch (err) {
        got.push((err as Error).message);
      }
      return got;
    });
  await using client = new Client(server.url);
  const err = await rpcFailure(client.request([
    { name: "src", fun: "fails" },
    { name: "use", fun: "careless", args: ["src"] },
  ]));
  assert.ok(err instanceof FunctionError, err.message);
  assert.equal(err.code, 1003);
  assert.match(err.message, /^Step "src" \(fails\) failed: RangeError: out of lines/);
  const out = await client.request([
    { name: "src", fun: "fails" },
    { name: "use", fun: "careful", args: ["src"] },
  ]);
  assert.deepEqual(out, { use: [1, 2, 'Step "src" (fails) failed: RangeError: out of lines'] });
  assert.equal(server.inFlight, 0);
});

Deno.test("stream inputs: a request cancelled or past its deadline mid-stream stops both sides", async () => {
  let finallyRan = false;
  let consumerAborted = false;
  await using server = await startServer();
  server
    .register("endless", async function* () {
      try {
        for (let i = 0;; i++) {
          yield i;
          await delay(1);
        }
      } finally {
        finallyRan = true;
      }
    })
    .register("slowReader", async function (this: CallContext, input: ReadableStream<number>) {
      try {
        for await (const _ of input) await delay(5);
      } catch (err) {
        consumerAborted = this.signal.aborted;
        throw err;
      }
    });
  await using client = new Client(server.url);
  const err = await rpcFailure(client.request([
    { name: "n", fun: "endless" },
    { name: "r", fun: "slowReader", args: ["n"] },
  ], { timeoutMs: 200 }));
  assert.equal(err.code, 1006, err.message);
  await waitFor(() => finallyRan, 2_000, "the producer's finally");
  await waitFor(() => consumerAborted, 2_000, "the consumer's read failed with its signal aborted");
  await waitFor(() => server.inFlight === 0, 2_000, "nothing in flight");
});

Deno.test("stream inputs: a producer's progress reports come until its stream ends, as the consumer reads it", async () => {
  await using server = await startServer();
  server
    .register("producer", async function* (this: CallContext) {
      for (let i = 1; i <= 3; i++) {
        yield i;
        await delay(60);
        this.progress(`produced ${i}`);
      }
    })
    .register("consumer", async (input: ReadableStream<number>) => {
      let sum = 0;
      for await (const n of input) sum += n;
      return sum;
    });
  await using client = new Client(server.url);
  const reports: string[] = [];
  const out = await client.request([
    { name: "p", fun: "producer" },
    { name: "c", fun: "consumer", args: ["p"] },
  ], { onProgress: (value, step) => reports.push(`${step}: ${value}`) });
  assert.deepEqual(out, { c: 6 });
  assert.deepEqual(reports, ["p: produced 1", "p: produced 2", "p: produced 3"]);
});

Deno.test("stream inputs: client.stream() of a step whose argument is wrapped as a literal still streams (it runs through the graph)", async () => {
  await using server = await startServer();
  server.register("say", async function* (word: string) {
    yield word;
    yield word;
  });
  await using client = new Client(server.url);
  // "say" is the step's own name: the client sends it as a literal.
  assert.deepEqual(await Array.fromAsync(client.stream("say", ["say"])), ["say", "say"]);
});

for (const encoding of ["msgpack", "json"] as const) {
  Deno.test(`stream inputs (${encoding}): client.streamRequest() reads the stream of a request's one result step`, async () => {
    await using server = await startServer();
    server
      .register("lines", lines)
      .register("upper", async function* (input: ReadableStream<string>) {
        for await (const line of input) yield line.toUpperCase();
      });
    await using client = new Client(server.url, { encoding });
    const got = await Array.fromAsync(client.streamRequest([
      { name: "raw", fun: "lines", args: [500] },
      { name: "loud", fun: "upper", args: ["raw"] },
    ], { credit: 4 }));
    assert.equal(got.length, 500);
    assert.equal(got[499], "LINE 499");
    assert.equal(server.inFlight, 0);
  });
}

Deno.test("stream inputs: a streamed request of two result steps is a 1004 before anything runs; all: true is refused", async () => {
  let ran = 0;
  await using server = await startServer();
  server.register("gen", async function* () {
    ran++;
    yield 1;
  });
  await using client = new Client(server.url);
  const err = await failure(client.streamRequest([
    { name: "a", fun: "gen" },
    { name: "b", fun: "gen" },
  ]));
  assert.ok(err instanceof ProtocolError, String(err));
  assert.equal(err.code, 1004);
  assert.match(err.message, /exactly one result step .*not 2: "a", "b"/);
  assert.equal(ran, 0);
  const ws = new RawSocket(server.url, "mpreg.json.v1");
  await ws.opened;
  ws.ws.send(JSON.stringify({
    role: "rpc",
    u: 1,
    cmds: [{ name: "a", fun: "gen" }, { name: "b", fun: "id", args: ["a"] }],
    stream: 4,
    all: true,
  }));
  await ws.waitFrames(1);
  const answer = JSON.parse(ws.frames[0] as string);
  assert.equal(answer.error.code, 1004);
  assert.match(answer.error.message, /not all: true/);
  await ws.close();
  assert.equal(ran, 0);
});

Deno.test("stream inputs: a sandboxed consumer reads a step's stream in its process", async () => {
  await using server = await startServer();
  await server.registerModule(new URL("../fixtures/stream_functions.ts", import.meta.url).href);
  server.register("lines", lines);
  await using client = new Client(server.url);
  assert.deepEqual(
    await client.request([
      { name: "l", fun: "lines", args: [20] },
      { name: "d", fun: "drain", args: ["l"] },
    ]),
    { d: 20 },
  );
});

for (const encoding of ["msgpack", "json"] as const) {
  Deno.test(`stream inputs (${encoding}): a sandboxed producer streams into an inline consumer: parse(stream) → summarize`, async () => {
    await using server = await startServer();
    server.register("parse", lines, { sandbox: true }).register("summarize", summarize);
    await server.registerModule(
      new URL("../fixtures/arguments_functions.ts", import.meta.url).href,
    );
    await using client = new Client(server.url, { encoding });
    assert.deepEqual(
      await client.request([
        { name: "parsed", fun: "parse", args: [1000] },
        { name: "summary", fun: "summarize", args: ["parsed"] },
      ]),
      { summary: { count: 1000, last: "line 999" } },
    );
    // A module's generator, and an async function that resolves to a stream.
    server.register("collect", async (input: ReadableStream<unknown>) => {
      const got = [];
      for await (const chunk of input) got.push(chunk);
      return got;
    });
    assert.deepEqual(
      await client.request([
        { name: "t", fun: "ticks", args: [3] },
        { name: "c", fun: "collect", args: ["t"] },
      ]),
      { c: [0, 1, 2] },
    );
    assert.deepEqual(
      await client.request([
        { name: "s", fun: "stream" },
        { name: "c", fun: "collect", args: ["s"] },
      ]),
      { c: [] },
    );
    await waitFor(() => server.stats().sandbox?.inFlight === 0, 5_000, "the sandbox slots freed");
    assert.equal(server.inFlight, 0);
  });
}

Deno.test("stream inputs: a sandboxed step that may stream and returns a plain value passes it unchanged", async () => {
  await using server = await startServer();
  server
    .register("list", () => [1, 2, 3], { sandbox: true })
    .register("asyncList", () => Promise.resolve([4, 5]), { sandbox: true })
    .register("sum", (xs: number[]) => {
      assert.ok(Array.isArray(xs), "the consumer gets the value, not a stream");
      return xs.reduce((a, b) => a + b, 0);
    });
  await using client = new Client(server.url);
  assert.deepEqual(
    await client.request([
      { name: "xs", fun: "list" },
      { name: "total", fun: "sum", args: ["xs"] },
    ]),
    { total: 6 },
  );
  assert.deepEqual(
    await client.request([
      { name: "xs", fun: "asyncList" },
      { name: "total", fun: "sum", args: ["xs"] },
    ]),
    { total: 9 },
  );
  // A sandboxed step whose value is not taken whole by exactly one step
  // still may not return a stream.
  server.register("gen", function* () {
    yield 1;
  }, { sandbox: true }).register("pair", (a: unknown, b: unknown) => [a, b]);
  const err = await rpcFailure(client.request([
    { name: "g", fun: "gen" },
    { name: "p", fun: "pair", args: ["g", "g"] },
  ]));
  assert.ok(err instanceof FunctionError, err.message);
  assert.equal(err.code, 1003);
  assert.match(
    err.message,
    /returned an iterator: a streamed result is read with client\.stream\(\)/,
  );
  await waitFor(() => server.stats().sandbox?.inFlight === 0, 5_000, "the sandbox slots freed");
});
