// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { GraphError } from "../../src/protocol/errors.ts";
import { RequestGraph } from "../../src/engine/graph.ts";
import { literal } from "../../src/protocol/step.ts";
import type { Step } from "../../src/protocol/step.ts";

function step(name: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): Step {
  return { name, fun: "f", args, kwargs, locs: [] };
}

function graphError(message: string | RegExp, details: unknown): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof GraphError);
    assert.equal(err.code, 1008);
    assert.equal(err.name, "GraphError");
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    assert.deepEqual(err.details, details);
    return true;
  };
}

Deno.test("RequestGraph.build() keeps the steps in request order", () => {
  const steps = [step("b"), step("a", ["b"]), step("c")];
  const graph = RequestGraph.build(steps);
  assert.deepEqual(graph.steps, steps);
  assert.equal(graph.steps[0], steps[0]);
  steps.push(step("d"));
  assert.equal(graph.steps.length, 3, "the graph keeps its own copy of the list");
});

Deno.test("RequestGraph.build() finds dependencies in args", () => {
  const graph = RequestGraph.build([step("a"), step("b"), step("c", ["a", "b"])]);
  assert.deepEqual(graph.dependenciesOf("c"), ["a", "b"]);
  assert.deepEqual(graph.dependentsOf("a"), ["c"]);
  assert.deepEqual(graph.dependenciesOf("a"), []);
});

Deno.test("RequestGraph.build() finds dependencies in kwargs", () => {
  const graph = RequestGraph.build([step("a"), step("b", [], { x: "a" })]);
  assert.deepEqual(graph.dependenciesOf("b"), ["a"]);
  assert.deepEqual(graph.dependentsOf("a"), ["b"]);
  assert.deepEqual(graph.sinks, ["b"]);
});

Deno.test("RequestGraph.build() finds dependencies at depth and through dotted paths", () => {
  const graph = RequestGraph.build([
    step("a"),
    step("b"),
    step("c"),
    step("d", [[1, { deep: ["a.items.0.name"] }]], { k: { list: [{ v: "b" }] } }),
    step("e", [{ a: "not a reference: keys are not scanned" }]),
  ]);
  assert.deepEqual(graph.dependenciesOf("d"), ["a", "b"]);
  assert.deepEqual(graph.dependenciesOf("e"), []);
  assert.deepEqual(graph.dependentsOf("c"), []);
});

Deno.test("RequestGraph.build() lists dependencies once, in request order", () => {
  const graph = RequestGraph.build([
    step("a"),
    step("b"),
    step("c", ["b", "a", "b.x"], { y: "a", z: "b" }),
    step("d", ["a"]),
  ]);
  assert.deepEqual(graph.dependenciesOf("c"), ["a", "b"]);
  assert.deepEqual(graph.dependentsOf("a"), ["c", "d"]);
  assert.deepEqual(graph.dependentsOf("b"), ["c"]);
});

Deno.test("RequestGraph.build() ignores literal wrappers and unknown names", () => {
  const graph = RequestGraph.build([step("a"), step("b", [literal("a"), "x a", "zz.a"])]);
  assert.deepEqual(graph.dependenciesOf("b"), []);
  assert.deepEqual(graph.sinks, ["a", "b"]);
});

Deno.test("RequestGraph.build() uses the longest-prefix rule for dependencies", () => {
  const graph = RequestGraph.build([step("a"), step("a.b"), step("c", ["a.b.c"])]);
  assert.deepEqual(graph.dependenciesOf("c"), ["a.b"]);
  assert.deepEqual(graph.sinks, ["a", "c"]);
});

Deno.test("RequestGraph.sinks lists steps nothing refers to, in request order", () => {
  const graph = RequestGraph.build([
    step("c"),
    step("a"),
    step("b", ["a"]),
    step("d", ["c"]),
    step("e"),
  ]);
  assert.deepEqual(graph.sinks, ["b", "d", "e"]);
});

Deno.test("RequestGraph.needsResolution() is false only without references or literals", () => {
  const graph = RequestGraph.build([
    step("plain", ["hi", 1, { x: ["y"] }], { k: "v" }),
    step("ref", ["plain"]),
    step("kwref", [], { k: ["plain.x"] }),
    step("lit", [literal("anything")]),
    step("kwlit", [], { k: { nested: literal(1) } }),
  ]);
  assert.equal(graph.needsResolution("plain"), false);
  assert.equal(graph.needsResolution("ref"), true);
  assert.equal(graph.needsResolution("kwref"), true);
  assert.equal(graph.needsResolution("lit"), true);
  assert.equal(graph.needsResolution("kwlit"), true);
});

Deno.test("RequestGraph.checkAlone() answers and fails exactly as build() does for one step", () => {
  const cases: Step[] = [
    step("plain", ["hi", 1, null, { x: ["y"] }], { k: "v" }),
    step("a.b", ["a", "a.c", "a.bc", "a.b2"]),
    step("lit", [literal("lit")]),
    step("kwlit", [], { k: { nested: literal(1) } }),
    step("self", ["self"]),
    step("selfpath", [{ deep: ["selfpath.x.y"] }]),
    step("kwself", [], { k: "kwself.total" }),
    step("litself", [literal("x"), "litself"]),
    step("dots", ["dots..", "dotsx.y", ".dots", "dots"]),
    step(""),
    step("__proto__"),
    { name: 7 as unknown as string, fun: "f", args: [], kwargs: {}, locs: [] },
  ];
  for (const one of cases) {
    let expected: unknown;
    try {
      expected = RequestGraph.build([one]).needsResolution(one.name);
    } catch (err) {
      expected = err;
    }
    let actual: unknown;
    try {
      actual = RequestGraph.checkAlone(one);
    } catch (err) {
      actual = err;
    }
    if (expected instanceof GraphError) {
      assert.ok(actual instanceof GraphError, `${String(one.name)}: ${String(actual)}`);
      assert.equal(actual.message, expected.message);
      assert.deepEqual(actual.details, expected.details);
    } else {
      assert.equal(actual, expected, String(one.name));
    }
  }
  // The cases above cover every outcome.
  assert.equal(RequestGraph.checkAlone(cases[0]!), false);
  assert.equal(RequestGraph.checkAlone(cases[2]!), true);
  assert.throws(() => RequestGraph.checkAlone(cases[4]!), GraphError);
});

Deno.test("RequestGraph lookups throw a RangeError for an unknown step", () => {
  const graph = RequestGraph.build([step("a")]);
  assert.throws(() => graph.dependenciesOf("b"), RangeError);
  assert.throws(() => graph.dependentsOf("b"), RangeError);
  assert.throws(() => graph.needsResolution("b"), RangeError);
});

Deno.test("RequestGraph.build() rejects an empty request", () => {
  assert.throws(() => RequestGraph.build([]), graphError("Request has no steps", {}));
});

Deno.test("RequestGraph.build() rejects an empty step name", () => {
  assert.throws(
    () => RequestGraph.build([step("a"), step("")]),
    graphError("Step at index 1 has an empty name", { index: 1, name: "" }),
  );
});

Deno.test('RequestGraph.build() rejects the step name "__proto__"', () => {
  assert.throws(
    () => RequestGraph.build([step("__proto__")]),
    graphError('Step at index 0 has the reserved name "__proto__"', {
      index: 0,
      name: "__proto__",
    }),
  );
});

Deno.test("RequestGraph.build() rejects a name that is not a string", () => {
  const bad = { ...step("x"), name: 7 as unknown as string };
  assert.throws(
    () => RequestGraph.build([bad]),
    graphError("Step at index 0 has a name that is not a string", { index: 0, name: null }),
  );
});

Deno.test("RequestGraph.build() rejects duplicate names, listing each once", () => {
  assert.throws(
    () => RequestGraph.build([step("a"), step("b"), step("a"), step("b"), step("a"), step("c")]),
    graphError('Duplicate step names: "a", "b"', { duplicates: ["a", "b"] }),
  );
  assert.throws(
    () => RequestGraph.build([step("x"), step("x")]),
    graphError('Duplicate step name: "x"', { duplicates: ["x"] }),
  );
});

Deno.test("RequestGraph.build() rejects a step that refers to itself", () => {
  assert.throws(
    () => RequestGraph.build([step("a", ["a"])]),
    graphError('Step "a" refers to itself (argument "a")', { cycle: ["a"] }),
  );
  assert.throws(
    () => RequestGraph.build([step("x"), step("a", [], { k: [{ v: "a.total" }] })]),
    graphError('Step "a" refers to itself (argument "a.total")', { cycle: ["a"] }),
  );
});

Deno.test("RequestGraph.build() rejects a two-step cycle", () => {
  assert.throws(
    () => RequestGraph.build([step("a", ["b"]), step("b", ["a"])]),
    graphError('Steps form a cycle: "a" -> "b" -> "a" (each refers to the next)', {
      cycle: ["a", "b"],
    }),
  );
});

Deno.test("RequestGraph.build() rejects a longer cycle, through kwargs too", () => {
  assert.throws(
    () =>
      RequestGraph.build([
        step("start"),
        step("x", ["start", "z"]),
        step("y", [], { from: "x.value" }),
        step("z", [["y"]]),
        step("after", ["z"]),
      ]),
    graphError('Steps form a cycle: "x" -> "z" -> "y" -> "x" (each refers to the next)', {
      cycle: ["x", "z", "y"],
    }),
  );
});

Deno.test("RequestGraph.build() reports a cycle that hangs off an acyclic part", () => {
  // "lead" waits on the cycle but is not on it.
  assert.throws(
    () => RequestGraph.build([step("lead", ["p"]), step("p", ["q"]), step("q", ["p"])]),
    graphError(/^Steps form a cycle: "p" -> "q" -> "p"/, { cycle: ["p", "q"] }),
  );
});

Deno.test("RequestGraph.build() accepts a diamond and long chains", () => {
  const diamond = RequestGraph.build([
    step("top"),
    step("left", ["top"]),
    step("right", ["top"]),
    step("bottom", ["left", "right"]),
  ]);
  assert.deepEqual(diamond.sinks, ["bottom"]);
  assert.deepEqual(diamond.dependentsOf("top"), ["left", "right"]);
  const chain = [step("s0")];
  for (let i = 1; i < 5000; i++) chain.push(step(`s${i}`, [`s${i - 1}`]));
  assert.deepEqual(RequestGraph.build(chain).sinks, ["s4999"]);
});
