// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import {
  FunctionError,
  InternalError,
  LimitExceededError,
  OverloadedError,
  UnavailableError,
} from "../../src/protocol/errors.ts";
import { type FunctionRef, WorkerPool } from "../../src/sandbox/pool.ts";
import { context, eventually, FIXTURES, FUNCTIONS, rejection } from "./_helpers.ts";

const fn = (name: string): FunctionRef => ({ name, module: FUNCTIONS });

/** Defines the fixture functions and waits until a process has loaded them. */
async function warm(pool: WorkerPool, ...names: string[]): Promise<void> {
  for (const name of names) pool.define(fn(name));
  await pool.ready();
}
const ADD = fn("add");
const SLOW = fn("slow");
const CANCELLED = fn("cancelled");
const CRASH = fn("crash");

Deno.test("WorkerPool starts warm with one process and answers calls", async () => {
  const pool = new WorkerPool({});
  try {
    assert.equal(pool.profile, "none");
    const { residentBytes: _, ...counters } = pool.stats();
    assert.deepEqual(counters, {
      profile: "none",
      memoryMb: 512,
      workers: 1,
      inFlight: 0,
      calls: 0,
      denials: 0,
      overloaded: 0,
      crashes: 0,
      coldStartMs: null,
    });
    await pool.ready();
    const stats = pool.stats();
    assert.ok(stats.coldStartMs !== null && stats.coldStartMs > 0);
    assert.ok(stats.residentBytes > 10 * 1024 * 1024, `resident ${stats.residentBytes}`);
    assert.equal(await pool.call(ADD, [1, 2], undefined, context()), 3);
    assert.equal(pool.stats().calls, 1);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool validates its options", () => {
  assert.throws(() => new WorkerPool({}, { maxWorkers: 0 }), RangeError);
  assert.throws(() => new WorkerPool({}, { perWorker: 1.5 }), RangeError);
  assert.throws(() => new WorkerPool({}, { maxInFlight: -1 }), RangeError);
  assert.throws(() => new WorkerPool({}, { cancelGraceMs: -1 }), RangeError);
  assert.throws(() => new WorkerPool({}, { memoryMb: 16 }), RangeError);
});

Deno.test("WorkerPool: cancellation reaches the function in the process", async () => {
  const pool = new WorkerPool({}, { maxWorkers: 1 });
  try {
    // Not `crash`: its first call below must still wait for its definition.
    await warm(pool, "slow", "cancelled");
    const controller = new AbortController();
    const call = pool.call(SLOW, [60_000], undefined, context("slow", controller.signal));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const reason = new DOMException("The caller gave up", "AbortError");
    controller.abort(reason);
    assert.equal(await rejection(call), reason);
    assert.ok(Date.now() - started < 1_000);
    // The process saw its `this.signal` abort (messages to a process keep their order).
    assert.equal(await pool.call(CANCELLED, [], undefined, context()), 1);
    await eventually(() => pool.stats().inFlight === 0);

    // An already aborted signal never reaches the process.
    const aborted = AbortSignal.abort(new Error("too late"));
    assert.equal(
      ((await rejection(pool.call(SLOW, [1], undefined, context("s", aborted)))) as Error).message,
      "too late",
    );
    assert.equal(pool.stats().calls, 2);

    // A call cancelled before its function started never runs.
    const early = new AbortController();
    const notStarted = pool.call(fn("crash"), [], undefined, context("c", early.signal));
    early.abort(new Error("never mind"));
    assert.equal(((await rejection(notStarted)) as Error).message, "never mind");
    await eventually(() => pool.stats().inFlight === 0);
    assert.equal(pool.stats().crashes, 0);
    assert.equal(await pool.call(CANCELLED, [], undefined, context()), 1);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool: a deadline-style timeout reaches the process as a TimeoutError", async () => {
  const pool = new WorkerPool({}, { maxWorkers: 1 });
  try {
    const whoami = fn("whoami");
    // Load the functions first, so the slow call is running when its deadline
    // passes (a call cancelled while its function loads never starts at all).
    await warm(pool, "whoami", "slow", "cancelled");
    const signal = AbortSignal.timeout(50);
    const err = await rejection(pool.call(SLOW, [60_000], undefined, context("t", signal)));
    assert.equal((err as DOMException).name, "TimeoutError");
    // The cancel reaches the process asynchronously: wait until it counted it.
    await eventually(async () => (await pool.call(CANCELLED, [], undefined, context())) === 1);
    assert.equal(
      ((await pool.call(whoami, [], undefined, context())) as { aborted: boolean }).aborted,
      false,
    );
  } finally {
    await pool.close();
  }
});

for (const how of ["close", "exit", "throw"] as const) {
  Deno.test(`WorkerPool: a process that dies (${how}) fails its calls and is replaced`, async () => {
    const pool = new WorkerPool({}, { maxWorkers: 1 });
    try {
      await warm(pool, "slow", "crash");
      const bystander = pool.call(SLOW, [60_000], undefined, context("bystander"));
      const crash = pool.call(CRASH, [how], undefined, context("crasher"));
      for (
        const [err, step, fun] of [
          [await rejection(crash), "crasher", "crash"],
          [await rejection(bystander), "bystander", "slow"],
        ] as const
      ) {
        assert.ok(err instanceof InternalError, `expected an InternalError, got ${err}`);
        assert.equal(err.code, 1002);
        assert.match(
          err.message,
          new RegExp(`^Step "${step}" \\(${fun}\\) failed: its sandbox process `),
        );
        assert.equal((err.details as { fun: string }).fun, fun);
      }
      assert.match(
        (await rejection(crash) as Error).message,
        how === "throw"
          ? /threw .*crashed in a timer/
          : how === "exit"
          ? /Deno\.exit\(1\)/
          : /close\(\)/,
      );
      assert.equal(pool.stats().crashes, 1);
      assert.equal(pool.stats().inFlight, 0);
      // The pool recovered.
      assert.equal(await pool.call(ADD, [2, 2], undefined, context()), 4);
      assert.equal(pool.stats().workers, 1);
    } finally {
      await pool.close();
    }
  });
}

Deno.test("WorkerPool: a process still busy after a cancel and its grace period is replaced", async () => {
  const pool = new WorkerPool({}, { maxWorkers: 1, cancelGraceMs: 100 });
  try {
    await warm(pool, "spin");
    const controller = new AbortController();
    const stuck = pool.call(fn("spin"), [30_000], undefined, context("spin", controller.signal));
    setTimeout(() => controller.abort(new Error("stop")), 50);
    assert.equal(((await rejection(stuck)) as Error).message, "stop");
    await eventually(() => pool.stats().crashes === 1);
    assert.equal(pool.stats().inFlight, 0);
    assert.equal(await pool.call(ADD, [1, 1], undefined, context()), 2);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool: beyond maxInFlight calls fail at once with OverloadedError", async () => {
  const pool = new WorkerPool({}, { maxInFlight: 2 });
  const controller = new AbortController();
  try {
    const a = pool.call(SLOW, [60_000], undefined, context("a", controller.signal));
    const b = pool.call(SLOW, [60_000], undefined, context("b", controller.signal));
    const err = await rejection(pool.call(ADD, [1, 2], undefined, context("c")));
    assert.ok(err instanceof OverloadedError);
    assert.equal(err.code, 1012);
    assert.deepEqual(err.details, { step: "c", fun: "add", limit: 2 });
    assert.equal(pool.stats().overloaded, 1);
    controller.abort(new Error("done"));
    await rejection(a);
    await rejection(b);
    await eventually(() => pool.stats().inFlight === 0);
    assert.equal(await pool.call(ADD, [1, 2], undefined, context()), 3);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool adds processes up to maxWorkers when every process is busy", async () => {
  const pool = new WorkerPool({}, { maxWorkers: 3, perWorker: 4 });
  try {
    await warm(pool, "add");
    const calls = Array.from(
      { length: 300 },
      (_, i) => pool.call(ADD, [i, 1], undefined, context()),
    );
    assert.equal(pool.stats().workers, 3);
    const values = await Promise.all(calls);
    assert.deepEqual(values, Array.from({ length: 300 }, (_, i) => i + 1));
    assert.equal(pool.stats().workers, 3);
    assert.equal(pool.stats().calls, 300);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool sends calls past a process that is stuck in a long call", async () => {
  const pool = new WorkerPool({}, { maxWorkers: 2 });
  try {
    await warm(pool, "spin", "add");
    const order: string[] = [];
    // Blocks its process's thread for a second.
    const blocking = pool.call(fn("spin"), [1_000], undefined, context("spin"))
      .then(() => order.push("spin"));
    // Long past stallMs (2 ms), the first process has not answered: the
    // next call goes to a second process and is answered while the first
    // still spins.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await pool.call(ADD, [1, 2], undefined, context("add")), 3);
    order.push("add");
    assert.equal(pool.stats().workers, 2);
    await blocking;
    assert.deepEqual(order, ["add", "spin"]);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool: values msgpack cannot hold fail that call only", async () => {
  const pool = new WorkerPool({});
  try {
    const result = await rejection(pool.call(fn("notCloneable"), [], undefined, context("r")));
    assert.ok(result instanceof FunctionError);
    assert.match(
      result.message,
      /^Step "r" \(notCloneable\) failed: DataCloneError: The result cannot be sent back/,
    );
    const args = pool.call(fn("echo"), [2n ** 70n], undefined, context("a"));
    const fine = pool.call(ADD, [1, 2], undefined, context());
    const argsErr = await rejection(args);
    assert.ok(argsErr instanceof InternalError);
    assert.match(argsErr.message, /^Step "a" \(echo\) failed: its arguments cannot be sent/);
    assert.equal(await fine, 3);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool: a new module starts new processes, retiring the old ones after their calls", async () => {
  const pool = new WorkerPool({}, { maxWorkers: 1 });
  try {
    await warm(pool, "slow", "add");
    const controller = new AbortController();
    const slow = pool.call(SLOW, [60_000], undefined, context("slow", controller.signal));
    const mul: FunctionRef = { name: "mul", module: `${FIXTURES}other.ts` };
    pool.define(mul);
    assert.equal(await pool.call(mul, [6, 7], undefined, context()), 42);
    // The old process still runs `slow`; the new one knows both modules.
    assert.equal(pool.stats().workers, 2);
    assert.equal(await pool.call(ADD, [6, 7], undefined, context()), 13);
    controller.abort(new Error("done"));
    assert.equal(((await rejection(slow)) as Error).message, "done");
    await eventually(() => pool.stats().workers === 1);
    // A fresh but equal ref is the same function.
    assert.equal(
      await pool.call({ name: "mul", module: `${FIXTURES}other.ts` }, [2, 2], undefined, context()),
      4,
    );
    assert.equal(pool.stats().workers, 1);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool.close() rejects calls in flight with UnavailableError and is idempotent", async () => {
  const pool = new WorkerPool({});
  const call = pool.call(SLOW, [60_000], undefined, context("s"));
  await pool.close();
  await pool.close();
  const err = await rejection(call);
  assert.ok(err instanceof UnavailableError);
  assert.deepEqual(err.details, { step: "s", fun: "slow" });
  assert.ok(
    await rejection(pool.call(ADD, [1, 2], undefined, context())) instanceof UnavailableError,
  );
  assert.ok(await rejection(pool.ready()) instanceof UnavailableError);
  assert.equal(pool.stats().workers, 0);
});

for (
  const kind of [
    "null",
    "string",
    "unknown-id",
    "deep",
    "oversized",
    "garbage",
    "stream-chunk",
    "stream-start",
  ] as const
) {
  Deno.test(`sandbox attack: a forged message (${kind}) counts as a crash; the node never throws`, async () => {
    const pool = new WorkerPool({}, { maxWorkers: 1 });
    const forge: FunctionRef = { name: "forge", module: `${FIXTURES}forge.ts` };
    try {
      pool.define(forge);
      await warm(pool, "slow", "add");
      const bystander = pool.call(SLOW, [60_000], undefined, context("bystander"));
      // Bounded: before the fix an unknown id was ignored and this call hung.
      const forged = pool.call(
        forge,
        [kind],
        undefined,
        context("forger", AbortSignal.timeout(20_000)),
      );
      for (
        const [err, step] of [[await rejection(forged), "forger"], [
          await rejection(bystander),
          "bystander",
        ]] as const
      ) {
        assert.ok(err instanceof InternalError, `expected an InternalError, got ${err}`);
        assert.match(
          (err as Error).message,
          new RegExp(`^Step "${step}" \\(\\w+\\) failed: its sandbox process `),
        );
      }
      assert.equal(pool.stats().crashes, 1);
      assert.equal(pool.stats().inFlight, 0);
      // Replaced: the next call works.
      assert.equal(await pool.call(ADD, [2, 2], undefined, context()), 4);
    } finally {
      await pool.close();
    }
  });
}

Deno.test("WorkerPool: a function's console and stdout output does not disturb its process", async () => {
  const pool = new WorkerPool({});
  try {
    assert.equal(await pool.call(fn("chatty"), [], undefined, context()), "said it all");
    assert.equal(pool.stats().crashes, 0);
    assert.equal(await pool.call(ADD, [1, 1], undefined, context()), 2);
  } finally {
    await pool.close();
  }
});

for (const kind of ["heap", "buffers"] as const) {
  Deno.test(`sandbox attack: a function that allocates ${kind} past its memory cap fails with 1011 and its process is replaced`, async () => {
    const pool = new WorkerPool({}, { memoryMb: 128, maxWorkers: 1 });
    try {
      await warm(pool, "hog", "add");
      // Bounded, so that without a cap it answers (2 GiB) instead of taking the machine.
      const err = await rejection(pool.call(fn("hog"), [kind, 2048], undefined, context("hog")));
      assert.ok(err instanceof LimitExceededError, `expected a LimitExceededError, got ${err}`);
      assert.equal(err.code, 1011);
      assert.match(
        err.message,
        /^Step "hog" \(hog\) failed: its sandbox process (used \d+ MiB of memory, over its cap of 128 MiB|ran out of memory: its V8 heap is capped at 128 MiB)$/,
      );
      assert.deepEqual(err.details, { step: "hog", fun: "hog", limit: "memoryMb", max: 128 });
      assert.equal(pool.stats().crashes, 1);
      assert.equal(await pool.call(ADD, [2, 3], undefined, context()), 5);
    } finally {
      await pool.close();
    }
  });
}

Deno.test("WorkerPool: a process that ends before it connects fails the pool at once, with what it printed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mpreg-broken-deno-" });
  const deno = `${dir}/deno`;
  // Stands in for a Deno that cannot start the runtime (a failed download, say).
  await Deno.writeTextFile(
    deno,
    "#!/bin/sh\necho 'error: Failed loading the runtime' >&2\nexit 3\n",
  );
  await Deno.chmod(deno, 0o755);
  const pool = new WorkerPool({}, { deno });
  try {
    const err = await rejection(pool.ready());
    assert.ok(err instanceof InternalError, String(err));
    assert.match(
      (err as Error).message,
      /^The sandbox process exited with code 3 before it was ready: error: Failed loading the runtime$/,
    );
  } finally {
    await pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});
