// Copyright 2026 the mpreg authors. MIT license.
// Streams passed as arguments to sandboxed functions (issue 18): the
// function gets a ReadableStream in its process, read under credit that the
// process grants; the node reads the stream's source no further than that.
// Its cancel, its source's error and the call's end reach the other side.
import assert from "node:assert/strict";
import { FunctionError } from "../../src/protocol/errors.ts";
import type { Step } from "../../src/protocol/step.ts";
import { FunctionRegistry } from "../../src/registry/registry.ts";
import { MAX_STREAM_CREDIT } from "../../src/protocol/messages.ts";
import {
  ProducerSource,
  type StreamSink,
  type StreamSource,
} from "../../src/registry/stream_source.ts";
import type { PoolState, PoolWorker } from "../../src/sandbox/_pool_state.ts";
import { SandboxInput } from "../../src/sandbox/_pool_stream.ts";
import { type FunctionRef, WorkerPool } from "../../src/sandbox/pool.ts";
import { Sandbox } from "../../src/sandbox/sandbox.ts";
import { FunctionCaller } from "../../src/server/function_call.ts";
import { Metrics } from "../../src/server/metrics.ts";
import { waitFor } from "../_helpers/mod.ts";
import { context } from "./_helpers.ts";

/** A source of `n` numbers that counts what it was asked for and whether it was closed. */
function numbers(n: number, fail?: string) {
  const state = { produced: 0, closed: false };
  async function* gen() {
    try {
      for (let i = 0; i < n; i++) {
        state.produced++;
        yield i;
      }
      if (fail !== undefined) throw new RangeError(fail);
    } finally {
      state.closed = true;
    }
  }
  const source = new ProducerSource(
    gen(),
    new AbortController().signal,
    (err) => new FunctionError(`Step "up" (numbers) failed: ${err}`, { details: { step: "up" } }),
  );
  return { source, state };
}

const SUM: FunctionRef = {
  name: "sum",
  source: "async function (stream) { let n = 0; for await (const c of stream) n += c; return n; }",
};

/** Reads a pool's stream to its end, with 16 granted at first and one more per chunk. */
function drain(source: StreamSource): Promise<[unknown[], unknown]> {
  const got: unknown[] = [];
  return new Promise((resolve) => {
    source.start({
      chunk: (value) => {
        got.push(value);
        source.credit(1);
      },
      end: () => resolve([got, null]),
      error: (err) => resolve([got, err]),
    }, 16);
  });
}

Deno.test("WorkerPool: a stream argument reaches the sandboxed function as a ReadableStream, in order, positional or in kwargs", async () => {
  const pool = new WorkerPool({}, { maxWorkers: 1 });
  try {
    const { source, state } = numbers(1_000);
    assert.equal(await pool.call(SUM, [source], undefined, context()), 499_500);
    assert.equal(state.produced, 1_000);
    const kwargs: FunctionRef = {
      name: "label",
      source:
        "async function (label, { items }) { return `${label}: ${(await Array.fromAsync(items)).join(',')}`; }",
    };
    assert.equal(
      await pool.call(kwargs, ["n"], { items: numbers(4).source }, context()),
      "n: 0,1,2,3",
    );
    // In and out: a sandboxed transform of a stream, streamed.
    const double: FunctionRef = {
      name: "double",
      source: "async function* (stream) { for await (const c of stream) yield c * 2; }",
    };
    const out = await pool.call(double, [numbers(100).source], undefined, context(), true);
    const [got, err] = await drain(out as StreamSource);
    assert.equal(err, null);
    assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => i * 2));
    assert.equal(pool.stats().inFlight, 0);
    assert.equal(pool.stats().crashes, 0);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool: a stream argument is read only as far as the sandboxed reader grants; unread, it is closed when the call ends", async () => {
  const pool = new WorkerPool({}, { maxWorkers: 1 });
  try {
    const { source, state } = numbers(10_000);
    const firstThree: FunctionRef = {
      name: "firstThree",
      source: `async function (stream) {
        const reader = stream.getReader();
        const got = [];
        for (let i = 0; i < 3; i++) got.push((await reader.read()).value);
        await new Promise((resolve) => setTimeout(resolve, 100));
        return got;
      }`,
    };
    assert.deepEqual(await pool.call(firstThree, [source], undefined, context()), [0, 1, 2]);
    // The reader's queue holds 16 (ARGUMENT_STREAM_CREDIT): nothing past it was asked for.
    assert.ok(state.produced <= 3 + 16, `${state.produced} produced for 3 read`);
    await waitFor(() => state.closed, 5_000, "the unread stream closed");
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool: the sandboxed function's cancel() closes its stream argument's producer on the node", async () => {
  const pool = new WorkerPool({}, { maxWorkers: 1 });
  try {
    const { source, state } = numbers(10_000);
    const cancels: FunctionRef = {
      name: "cancels",
      source: `async function (stream) {
        const reader = stream.getReader();
        const first = (await reader.read()).value;
        await reader.cancel("enough");
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        return first;
      }`,
    };
    const call = pool.call(cancels, [source], undefined, context());
    // Closed while the function still runs: by its cancel, not by the call's end.
    await waitFor(() => state.closed, 900, "the producer closed by the sandbox's cancel");
    assert.equal(await call, 0);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool: a stream argument's error reaches the sandboxed function with its code", async () => {
  const pool = new WorkerPool({}, { maxWorkers: 1 });
  try {
    const { source } = numbers(3, "out of numbers");
    const catches: FunctionRef = {
      name: "catches",
      source: `async function (stream) {
        const got = [];
        try {
          for await (const c of stream) got.push(c);
        } catch (err) {
          return { got, name: err.name, code: err.code, message: err.message };
        }
        return { got };
      }`,
    };
    assert.deepEqual(await pool.call(catches, [source], undefined, context()), {
      got: [0, 1, 2],
      name: "FunctionError",
      code: 1003,
      message: 'Step "up" (numbers) failed: RangeError: out of numbers',
    });
  } finally {
    await pool.close();
  }
});

Deno.test("FunctionCaller passes a stream in a step's arguments to a sandboxed function instead of refusing it", async () => {
  const sandbox = new Sandbox({ maxWorkers: 1 });
  try {
    const registry = new FunctionRegistry();
    const entry = registry.register("sum", () => 0, {
      invoke: sandbox.load("sum", { source: SUM.source }, {}),
    });
    const caller = new FunctionCaller({ debug: false, metrics: new Metrics() });
    const step: Step = { name: "s", fun: "sum", args: [], kwargs: {}, locs: [] };
    const { source } = numbers(10);
    const value = await caller.call(entry, step, [source], {}, context("s"));
    assert.equal(value, 45);
  } finally {
    await sandbox.close();
  }
});

Deno.test("SandboxInput: a process that grants again and again never holds a stream argument to more than 256 outstanding chunks", () => {
  const granted: number[] = [];
  let sink: StreamSink | undefined;
  const source: StreamSource = {
    streamSource: true,
    start: (s, credit) => {
      sink = s;
      granted.push(credit);
    },
    credit: (n) => granted.push(n),
    cancel: () => {},
  };
  const sent: unknown[] = [];
  // Only what `send()` touches of a pool and a process.
  const s = { dirty: [], flushQueued: true } as unknown as PoolState;
  const worker = { outbox: sent, dead: false } as unknown as PoolWorker;
  const input = new SandboxInput(s, worker, 1, 0, source);
  for (let i = 0; i < 10; i++) input.grant(MAX_STREAM_CREDIT);
  assert.deepEqual(granted, [MAX_STREAM_CREDIT]);
  // Chunks sent free credit that the process may grant again.
  for (let i = 0; i < 10; i++) sink!.chunk(i);
  input.grant(MAX_STREAM_CREDIT);
  assert.deepEqual(granted, [MAX_STREAM_CREDIT, 10]);
  assert.equal(sent.length, 10);
});
