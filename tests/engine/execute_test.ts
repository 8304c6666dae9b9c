// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { GraphError } from "../../src/protocol/errors.ts";
import { execute, executeNow, type RunStep } from "../../src/engine/execute.ts";
import { RequestGraph } from "../../src/engine/graph.ts";
import { literal } from "../../src/protocol/step.ts";
import type { Step } from "../../src/protocol/step.ts";

function step(
  name: string,
  fun: string,
  args: unknown[] = [],
  kwargs: Record<string, unknown> = {},
): Step {
  return { name, fun, args, kwargs, locs: [] };
}

type Fn = (...args: unknown[]) => unknown;

// Small local stand-ins for the original example functions.
const FUNCTIONS: Record<string, Fn> = {
  echo: (x) => x,
  echos: (...xs) => xs,
  add: (a, b) => (a as number) + (b as number),
  multiply: (a, b) => (a as number) * (b as number),
  format: (v, label) => `${label}: ${v}`,
  pair: (...xs) => xs,
};

/** A `run` that calls FUNCTIONS, passing non-empty kwargs as a trailing object. */
function local(functions: Record<string, Fn> = FUNCTIONS): RunStep {
  return (step, args, kwargs) => {
    const fn = functions[step.fun];
    if (fn === undefined) throw new Error(`no function ${step.fun}`);
    return Object.keys(kwargs).length === 0 ? fn(...args) : fn(...args, kwargs);
  };
}

function build(...steps: Step[]): RequestGraph {
  return RequestGraph.build(steps);
}

/** Lets pending promise callbacks run, without timers. */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** A step that only settles when its signal aborts, rejecting with the reason. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

// The original README and demo examples

Deno.test("execute() reproduces the README example", async () => {
  const graph = build(
    step("|first", "echo", ["hi there!"]),
    step("|second", "echo", ["|first"]),
    step("|third", "echos", ["|first", "AND ME TOO"]),
  );
  assert.deepEqual(await execute(graph, local()), {
    "|second": "hi there!",
    "|third": ["hi there!", "AND ME TOO"],
  });
});

Deno.test("execute() reproduces the README example with a fourth step", async () => {
  const graph = build(
    step("|first", "echo", ["hi there!"]),
    step("|second", "echo", ["|first"]),
    step("|third", "echos", ["|first", "|second"]),
    step("|4th", "echo", ["|third"]),
  );
  assert.deepEqual(await execute(graph, local()), { "|4th": ["hi there!", "hi there!"] });
});

Deno.test("execute() reproduces the quick demo", async () => {
  const graph = build(
    step("sum1", "add", [10, 20]),
    step("sum2", "add", [5, 15]),
    step("total", "add", ["sum1", "sum2"]),
    step("doubled", "multiply", ["total", 3]),
    step("final", "format", ["doubled", "Final Answer"]),
  );
  assert.deepEqual(await execute(graph, local()), { final: "Final Answer: 150" });
});

Deno.test("execute() returns an independent step too (original dropped it)", async () => {
  const graph = build(
    step("a", "echo", ["A"]),
    step("b", "echos", ["a", "B"]),
    step("c", "echo", ["C"]),
  );
  assert.deepEqual(await execute(graph, local()), { b: ["A", "B"], c: "C" });
});

// Results

Deno.test("execute() returns only the sinks, keyed in request order", async () => {
  const graph = build(
    step("z", "echo", [1]),
    step("y", "echo", ["z"]),
    step("x", "echo", [2]),
    step("w", "echo", ["x"]),
  );
  const out = await execute(graph, local());
  assert.deepEqual(Object.keys(out), ["y", "w"]);
  assert.deepEqual(out, { y: 1, w: 2 });
});

Deno.test("execute() returns every step with all: true, in request order", async () => {
  const graph = build(
    step("z", "echo", [1]),
    step("y", "add", ["z", 1]),
    step("x", "add", ["y", 1]),
  );
  const out = await execute(graph, local(), { all: true });
  assert.deepEqual(Object.keys(out), ["z", "y", "x"]);
  assert.deepEqual(out, { z: 1, y: 2, x: 3 });
  assert.deepEqual(await execute(graph, local(), { all: false }), { x: 3 });
});

Deno.test("execute() stores results under any name as own properties", async () => {
  const names = ["constructor", "toString", "hasOwnProperty", "__defineGetter__", "valueOf"];
  const graph = build(...names.map((name, i) => step(name, "echo", [i])));
  const out = await execute(graph, local());
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  for (const [i, name] of names.entries()) {
    assert.ok(Object.hasOwn(out, name), name);
    assert.equal(out[name], i);
  }
});

Deno.test("execute() returns results by identity, including undefined", async () => {
  const value = { big: [1, 2, 3] };
  const graph = build(step("a", "echo", []), step("b", "echo", [value]));
  const out = await execute(graph, local());
  assert.ok(Object.hasOwn(out, "a"));
  assert.equal(out.a, undefined);
  assert.equal(out.b, value);
});

// References

Deno.test("execute() resolves references in args and kwargs at depth", async () => {
  const graph = build(
    step("a", "echo", [{ items: [{ name: "first" }, { name: "second" }], n: 2 }]),
    step("b", "echo", ["B"]),
    step("c", "pair", [["a.n", { deep: ["b"] }], "a.items.1.name"], {
      k: { list: ["b", "a.items.0.name"] },
      plain: "text",
    }),
  );
  assert.deepEqual(await execute(graph, local()), {
    c: [[2, { deep: ["B"] }], "second", { k: { list: ["B", "first"] }, plain: "text" }],
  });
});

Deno.test("execute() orders a step after a step it only names in kwargs", async () => {
  const gate = Promise.withResolvers<unknown>();
  const seen: unknown[] = [];
  const graph = build(step("a", "slow"), step("b", "use", [], { from: "a" }));
  const run: RunStep = (step, _args, kwargs) => {
    if (step.fun === "slow") return gate.promise;
    seen.push(kwargs.from);
    return kwargs.from;
  };
  const pending = execute(graph, run);
  await flush();
  assert.deepEqual(seen, [], "b must wait for a");
  gate.resolve("A");
  assert.deepEqual(await pending, { b: "A" });
  assert.deepEqual(seen, ["A"]);
});

Deno.test("execute() uses the longest step name that fits a dotted reference", async () => {
  const graph = build(
    step("a", "echo", [{ b: { c: "from a" } }]),
    step("a.b", "echo", [{ c: "from a.b" }]),
    step("out", "echo", ["a.b.c"]),
  );
  assert.deepEqual(await execute(graph, local()), { a: { b: { c: "from a" } }, out: "from a.b" });
});

Deno.test("execute() passes literal wrappers verbatim", async () => {
  const inner = { ref: "a", list: ["a.x"] };
  const graph = build(
    step("a", "echo", [{ x: 1 }]),
    step("b", "pair", ["a.x", literal("a"), literal(inner)], { label: literal("a.x") }),
    step("c", "echo", [literal("c")]),
  );
  const out = await execute(graph, local());
  assert.deepEqual(out, { b: [1, "a", inner, { label: "a.x" }], c: "c" });
  assert.equal((out.b as unknown[])[2], inner);
});

Deno.test("execute() hands over args and kwargs untouched when there is nothing to resolve", async () => {
  const steps = [step("a", "f", [{ x: ["y"] }], { k: "v" }), step("b", "f", ["a"], { k: "v" })];
  const seen = new Map<string, [unknown[], Record<string, unknown>]>();
  const run: RunStep = (step, args, kwargs) => {
    seen.set(step.name, [args, kwargs]);
    return 1;
  };
  await execute(RequestGraph.build(steps), run);
  assert.equal(seen.get("a")![0], steps[0]!.args);
  assert.equal(seen.get("a")![1], steps[0]!.kwargs);
  assert.notEqual(seen.get("b")![0], steps[1]!.args);
  assert.equal(seen.get("b")![1], steps[1]!.kwargs, "kwargs without references are not copied");
  assert.deepEqual(steps[1]!.args, ["a"], "the request is not mutated");
});

Deno.test("execute() resolves each step once and does not resolve results again", async () => {
  const calls = new Map<string, number>();
  const graph = build(
    step("top", "echo", [{ note: literal("left") }]),
    step("left", "echo", ["top"]),
    step("right", "echo", ["top.note"]),
    step("bottom", "pair", ["left", "right"]),
  );
  const run: RunStep = (step, args, kwargs) => {
    calls.set(step.name, (calls.get(step.name) ?? 0) + 1);
    return local()(step, args, kwargs, new AbortController().signal);
  };
  // "left" is a step name, yet the result string "left" inside top's result
  // and right's result stays as it is.
  assert.deepEqual(await execute(graph, run), { bottom: [{ note: "left" }, "left"] });
  assert.deepEqual(Object.fromEntries(calls), { top: 1, left: 1, right: 1, bottom: 1 });
});

Deno.test("execute() rejects with a GraphError when a path is missing, before running the step", async () => {
  const started: string[] = [];
  const graph = build(
    step("a", "echo", [{ x: { z: 1 } }]),
    step("b", "echo", ["a.x.y"]),
    step("c", "echo", ["b"]),
  );
  const run: RunStep = (step, args, kwargs, signal) => {
    started.push(step.name);
    return local()(step, args, kwargs, signal);
  };
  await assert.rejects(execute(graph, run), (err: unknown) => {
    assert.ok(err instanceof GraphError);
    assert.equal(err.message, 'Step "b": reference "a.x.y" has no key "y"');
    assert.deepEqual(err.details, { step: "b", reference: "a.x.y", key: "y" });
    return true;
  });
  assert.deepEqual(started, ["a"]);
});

// Scheduling

Deno.test("execute() starts a step as soon as its own inputs are ready, not level by level", async () => {
  // a -> c, and b is slow: c must start while b still runs.
  const gates = {
    a: Promise.withResolvers<unknown>(),
    b: Promise.withResolvers<unknown>(),
    c: Promise.withResolvers<unknown>(),
    d: Promise.withResolvers<unknown>(),
  };
  const started: string[] = [];
  const cStarted = Promise.withResolvers<void>();
  const graph = build(
    step("a", "f"),
    step("b", "f"),
    step("c", "f", ["a"]),
    step("d", "f", ["b", "c"]),
  );
  const run: RunStep = (step) => {
    started.push(step.name);
    if (step.name === "c") cStarted.resolve();
    return gates[step.name as keyof typeof gates].promise;
  };
  const pending = execute(graph, run);
  assert.deepEqual(started, ["a", "b"]);
  gates.a.resolve("A");
  await cStarted.promise;
  assert.deepEqual(started, ["a", "b", "c"], "c started while b is still running");
  gates.c.resolve("C");
  await flush();
  assert.deepEqual(started, ["a", "b", "c"], "d waits for b");
  gates.b.resolve("B");
  gates.d.resolve("D");
  assert.deepEqual(await pending, { d: "D" });
  assert.deepEqual(started, ["a", "b", "c", "d"]);
});

Deno.test("execute() runs independent steps concurrently", async () => {
  const gates = [0, 1, 2].map(() => Promise.withResolvers<unknown>());
  let running = 0;
  let peak = 0;
  const graph = build(step("s0", "f"), step("s1", "f"), step("s2", "f"));
  const run: RunStep = async (step) => {
    running++;
    peak = Math.max(peak, running);
    try {
      return await gates[Number(step.name.slice(1))]!.promise;
    } finally {
      running--;
    }
  };
  const pending = execute(graph, run);
  assert.equal(running, 3, "all three started before any finished");
  // Finish in reverse order; results still come back keyed in request order.
  gates[2]!.resolve(2);
  gates[1]!.resolve(1);
  gates[0]!.resolve(0);
  const out = await pending;
  assert.deepEqual(Object.keys(out), ["s0", "s1", "s2"]);
  assert.deepEqual(out, { s0: 0, s1: 1, s2: 2 });
  assert.equal(peak, 3);
});

Deno.test("execute() gives a step the results of all its inputs, whatever order they finish in", async () => {
  const gates = { a: Promise.withResolvers<unknown>(), b: Promise.withResolvers<unknown>() };
  const graph = build(step("a", "f"), step("b", "f"), step("c", "pair", ["a", "b"]));
  const run: RunStep = (step, args) =>
    step.fun === "pair" ? args : gates[step.name as "a" | "b"].promise;
  const pending = execute(graph, run);
  gates.b.resolve("B");
  await flush();
  gates.a.resolve("A");
  assert.deepEqual(await pending, { c: ["A", "B"] });
});

Deno.test("execute() runs a long synchronous chain without deep recursion", async () => {
  const steps = [step("s0", "echo", [0])];
  for (let i = 1; i < 20_000; i++) steps.push(step(`s${i}`, "add", [`s${i - 1}`, 1]));
  assert.deepEqual(await execute(RequestGraph.build(steps), local()), { s19999: 19_999 });
});

Deno.test("execute() runs a long asynchronous chain", async () => {
  const steps = [step("s0", "echo", [0])];
  for (let i = 1; i < 2_000; i++) steps.push(step(`s${i}`, "add", [`s${i - 1}`, 1]));
  const sync = local();
  const run: RunStep = (step, args, kwargs, signal) =>
    Promise.resolve(sync(step, args, kwargs, signal));
  assert.deepEqual(await execute(RequestGraph.build(steps), run), { s1999: 1_999 });
});

Deno.test("execute() settles a synchronous request within one microtask", async () => {
  const graph = build(step("only", "echo", ["hi"]));
  let out: unknown;
  execute(graph, local()).then((value) => out = value);
  await Promise.resolve();
  assert.deepEqual(out, { only: "hi" });
});

Deno.test("execute() accepts thenables that are not promises", async () => {
  const graph = build(step("a", "f"), step("b", "g", ["a"]));
  const run: RunStep = (step, args) =>
    step.fun === "f"
      ? { then: (resolve: (v: unknown) => void) => resolve(41) }
      : (args[0] as number) + 1;
  assert.deepEqual(await execute(graph, run), { b: 42 });
});

Deno.test("execute() passes every step one signal that stays unaborted on success", async () => {
  const signals: AbortSignal[] = [];
  const graph = build(step("a", "f"), step("b", "f", ["a"]), step("c", "f"));
  await execute(graph, (_step, _args, _kwargs, signal) => {
    signals.push(signal);
    return Promise.resolve(1);
  });
  assert.equal(signals.length, 3);
  assert.ok(signals.every((s) => s === signals[0] && !s.aborted));
});

// Failure

Deno.test("execute() rejects with the very error a step throws", async () => {
  const boom = new Error("boom");
  const graph = build(step("a", "f"));
  await assert.rejects(
    execute(graph, () => {
      throw boom;
    }),
    (err) => err === boom,
  );
  await assert.rejects(execute(graph, () => Promise.reject(boom)), (err) => err === boom);
  const thrown = { not: "an Error" };
  await assert.rejects(execute(graph, () => Promise.reject(thrown)), (err) => err === thrown);
});

Deno.test("execute() aborts running siblings and never starts dependents on failure", async () => {
  const boom = new Error("boom");
  const gate = Promise.withResolvers<unknown>();
  const started: string[] = [];
  const signals = new Map<string, AbortSignal>();
  const graph = build(
    step("slow", "wait"),
    step("bad", "fail"),
    step("afterSlow", "f", ["slow"]),
    step("afterBad", "f", ["bad"]),
  );
  const run: RunStep = (step, _args, _kwargs, signal) => {
    started.push(step.name);
    signals.set(step.name, signal);
    if (step.fun === "wait") return untilAborted(signal);
    if (step.fun === "fail") return gate.promise;
    return 1;
  };
  const pending = execute(graph, run);
  assert.deepEqual(started, ["slow", "bad"]);
  assert.equal(signals.get("slow")!.aborted, false);
  gate.reject(boom);
  await assert.rejects(pending, (err) => err === boom);
  const signal = signals.get("slow")!;
  assert.equal(signal.aborted, true);
  assert.equal(signal.reason, boom);
  await flush();
  assert.deepEqual(started, ["slow", "bad"]);
});

Deno.test("execute() rejects at once, without waiting for running siblings", async () => {
  const boom = new Error("boom");
  const never = Promise.withResolvers<unknown>();
  const graph = build(step("stuck", "wait"), step("bad", "fail"));
  const run: RunStep = (step) => step.fun === "wait" ? never.promise : Promise.reject(boom);
  await assert.rejects(execute(graph, run), (err) => err === boom);
  // The sibling ignores its signal and finishes late; that is ignored too.
  never.resolve("late");
  await flush();
});

Deno.test("execute() does not start later steps after a synchronous failure", async () => {
  const boom = new Error("boom");
  const started: string[] = [];
  const graph = build(step("a", "fail"), step("b", "f"), step("c", "f"));
  const run: RunStep = (step) => {
    started.push(step.name);
    if (step.fun === "fail") throw boom;
    return 1;
  };
  await assert.rejects(execute(graph, run), (err) => err === boom);
  assert.deepEqual(started, ["a"]);
});

Deno.test("execute() ignores a second failure after the first", async () => {
  const first = new Error("first");
  const second = new Error("second");
  const gates = { a: Promise.withResolvers<unknown>(), b: Promise.withResolvers<unknown>() };
  const graph = build(step("a", "f"), step("b", "f"));
  const pending = execute(graph, (step) => gates[step.name as "a" | "b"].promise);
  gates.b.reject(first);
  gates.a.reject(second);
  await assert.rejects(pending, (err) => err === first);
  await flush();
});

// External abort

Deno.test("execute() rejects without running anything when the signal is already aborted", async () => {
  const reason = new Error("cancelled");
  let calls = 0;
  const graph = build(step("a", "f"));
  await assert.rejects(
    execute(graph, () => calls++, { signal: AbortSignal.abort(reason) }),
    (err) => err === reason,
  );
  assert.equal(calls, 0);
});

Deno.test("execute() rejects with the abort reason and aborts the running steps", async () => {
  const reason = new Error("deadline");
  const controller = new AbortController();
  const started: string[] = [];
  let stepSignal: AbortSignal | undefined;
  const graph = build(step("a", "wait"), step("b", "f", ["a"]));
  const run: RunStep = (step, _args, _kwargs, signal) => {
    started.push(step.name);
    stepSignal = signal;
    return step.fun === "wait" ? untilAborted(signal) : 1;
  };
  const pending = execute(graph, run, { signal: controller.signal });
  await flush();
  assert.equal(stepSignal!.aborted, false);
  controller.abort(reason);
  assert.equal(stepSignal!.aborted, true, "aborted synchronously");
  assert.equal(stepSignal!.reason, reason);
  await assert.rejects(pending, (err) => err === reason);
  assert.deepEqual(started, ["a"]);
});

Deno.test("execute() stops when a step aborts the request's signal synchronously", async () => {
  const controller = new AbortController();
  const started: string[] = [];
  const graph = build(step("a", "f"), step("b", "f"));
  const run: RunStep = (step) => {
    started.push(step.name);
    controller.abort("stop");
    return 1;
  };
  await assert.rejects(execute(graph, run, { signal: controller.signal }), (err) => err === "stop");
  assert.deepEqual(started, ["a"]);
});

Deno.test("execute() removes its abort listener when it settles", async () => {
  const controller = new AbortController();
  const signal = controller.signal;
  let listeners = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (...args: Parameters<typeof add>) => {
    listeners++;
    add(...args);
  };
  signal.removeEventListener = (...args: Parameters<typeof remove>) => {
    listeners--;
    remove(...args);
  };
  const graph = build(step("a", "f"), step("b", "f", ["a"]));
  await execute(graph, () => Promise.resolve(1), { signal });
  assert.equal(listeners, 0);
  await assert.rejects(execute(graph, () => Promise.reject(new Error("x")), { signal }));
  assert.equal(listeners, 0);
  // A fully synchronous request never needs to listen.
  let added = 0;
  signal.addEventListener = (...args: Parameters<typeof add>) => {
    added++;
    add(...args);
  };
  await execute(graph, () => 1, { signal });
  assert.equal(added, 0);
  controller.abort();
});

Deno.test("execute() never runs a step of a request the graph rejects", () => {
  const invalid: Step[][] = [
    [],
    [step("", "f")],
    [step("__proto__", "f")],
    [step("a", "f"), step("a", "f")],
    [step("a", "echo", ["a"])],
    [step("a", "echo", [], { k: "a.x" })],
    [step("a", "echo", ["c"]), step("b", "echo", ["a"]), step("c", "echo", [{ x: "b" }])],
    [step("ok", "echo", [1]), step("p", "echo", ["q"]), step("q", "echo", ["p"])],
  ];
  let calls = 0;
  const run: RunStep = () => calls++;
  for (const steps of invalid) {
    assert.throws(() => execute(RequestGraph.build(steps), run), GraphError);
  }
  assert.equal(calls, 0);
});

Deno.test("executeNow() returns the results themselves when every step is synchronous", () => {
  const graph = build(step("a", "echo", [1]), step("b", "add", ["a", 2]), step("c", "echo", ["b"]));
  const out = executeNow(graph, local());
  assert.ok(!(out instanceof Promise));
  assert.deepEqual(out, { c: 3 });
  assert.deepEqual(executeNow(graph, local(), { all: true }), { a: 1, b: 3, c: 3 });
});

Deno.test("executeNow() throws a synchronous failure, and the abort reason when already aborted", () => {
  const boom = new Error("boom");
  const started: string[] = [];
  const run: RunStep = (s) => {
    started.push(s.name);
    if (s.name === "a") throw boom;
    return 1;
  };
  assert.throws(() => executeNow(build(step("a", "x"), step("b", "x", ["a"])), run), boom);
  assert.deepEqual(started, ["a"], "the dependent never starts");
  const controller = new AbortController();
  const reason = new Error("stop");
  controller.abort(reason);
  assert.throws(
    () => executeNow(build(step("a", "echo", [1])), local(), { signal: controller.signal }),
    reason,
  );
});

Deno.test("executeNow() returns a promise once a step does, settled as execute() settles", async () => {
  const graph = build(step("a", "slow", [1]), step("b", "echo", ["a"]));
  const slow: Record<string, Fn> = { ...FUNCTIONS, slow: (x) => Promise.resolve(x) };
  const out = executeNow(graph, local(slow));
  assert.ok(out instanceof Promise);
  assert.deepEqual(await out, { b: 1 });
  const failing: Record<string, Fn> = {
    ...FUNCTIONS,
    slow: () => Promise.reject(new Error("late")),
  };
  await assert.rejects(executeNow(graph, local(failing)) as Promise<unknown>, /late/);
  // A request aborted while a step is running rejects with the reason.
  const controller = new AbortController();
  const pending = executeNow(graph, local({ ...FUNCTIONS, slow: () => new Promise(() => {}) }), {
    signal: controller.signal,
  });
  controller.abort(new Error("cancelled"));
  await assert.rejects(pending as Promise<unknown>, /cancelled/);
});
