// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { RequestGraph } from "../../src/engine/graph.ts";
import { streamPlan } from "../../src/engine/stream_plan.ts";
import { literal, type Step } from "../../src/protocol/step.ts";

function step(name: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): Step {
  return { name, fun: "f", args, kwargs, locs: [] };
}

function plan(steps: Step[], all = false): (true | string)[] {
  return [...streamPlan(RequestGraph.build(steps), all)];
}

Deno.test("streamPlan() lets a step stream into the one step that takes it whole", () => {
  const [a, b] = plan([step("a"), step("b", ["a", 1])]);
  assert.equal(a, true);
  assert.match(b as string, /step "b" is a result of the request: .*client\.stream\(\)/);
});

Deno.test("streamPlan() counts a keyword argument as a top-level position", () => {
  assert.equal(plan([step("a"), step("b", [], { input: "a", n: 2 })])[0], true);
});

Deno.test("streamPlan() lets each step of a chain stream into the next", () => {
  const [a, b, c] = plan([step("a"), step("b", ["a"]), step("c", ["b"])]);
  assert.equal(a, true);
  assert.equal(b, true);
  assert.equal(typeof c, "string");
});

Deno.test("streamPlan() refuses a stream with two consumers", () => {
  const [a] = plan([step("a"), step("b", ["a"]), step("c", ["a"])]);
  assert.equal(a, 'steps "b" and "c" both take it: a stream is read by one step only');
});

Deno.test("streamPlan() refuses a field path into a stream", () => {
  const [a] = plan([step("a"), step("b", ["a.items"])]);
  assert.equal(a, 'step "b" takes a field of it ("a.items"): a stream is passed whole');
});

Deno.test("streamPlan() refuses a stream nested inside another argument", () => {
  assert.match(plan([step("a"), step("b", [["a"]])])[0] as string, /inside another value/);
  assert.match(plan([step("a"), step("b", [], { x: { y: "a" } })])[0] as string, /inside/);
});

Deno.test("streamPlan() refuses a stream taken twice by its one consumer", () => {
  assert.equal(
    plan([step("a"), step("b", ["a", "a"])])[0],
    'step "b" takes it more than once: a stream is read once',
  );
  // Whole and as a field: the field is what is reported.
  assert.match(plan([step("a"), step("b", ["a", "a.x"])])[0] as string, /a field of it/);
});

Deno.test("streamPlan() refuses every stream of a request that returns every step", () => {
  const [a, b] = plan([step("a"), step("b", ["a"])], true);
  assert.equal(a, "the request returns every step (all: true)");
  assert.equal(b, "the request returns every step (all: true)");
});

Deno.test("streamPlan() ignores a literal that only looks like the step's name", () => {
  assert.equal(plan([step("a"), step("b", ["a", literal("a")])])[0], true);
  assert.equal(plan([step("a"), step("b", [{ $literal: ["a"] }, "a"])])[0], true);
});

Deno.test("streamPlan() of a lone step: it is the request's result", () => {
  assert.match(plan([step("a")])[0] as string, /is a result of the request/);
});
