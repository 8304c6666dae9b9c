// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { chainPlan } from "../../src/engine/chain_plan.ts";
import { RequestGraph } from "../../src/engine/graph.ts";
import { literal, type Step } from "../../src/protocol/step.ts";

function step(name: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): Step {
  return { name, fun: "f", args, kwargs, locs: [] };
}

function plan(steps: Step[], all = false): ReturnType<typeof chainPlan> {
  return chainPlan(RequestGraph.build(steps), all);
}

Deno.test("chainPlan() orders a chain first step first, whatever the request's order, with where each value goes", () => {
  assert.deepEqual(plan([step("c", ["b"]), step("a", [1]), step("b", [], { x: "a", y: 2 })]), [
    { index: 1, at: [] },
    { index: 2, at: [{ kwarg: "x" }] },
    { index: 0, at: [{ arg: 0 }] },
  ]);
  // The value taken twice, and a literal beside it.
  assert.deepEqual(plan([step("a"), step("b", ["a", literal("a"), "a"])]), [
    { index: 0, at: [] },
    { index: 1, at: [{ arg: 0 }, { arg: 2 }] },
  ]);
});

Deno.test("chainPlan() is null for one step, `all`, a fan-out or fan-in, a field or a nested use, or a step beside the chain", () => {
  assert.equal(plan([step("a")]), null);
  assert.equal(plan([step("a"), step("b", ["a"])], true), null);
  assert.equal(plan([step("a"), step("b", ["a"]), step("c", ["a"])]), null);
  assert.equal(plan([step("a"), step("b"), step("c", ["a", "b"])]), null);
  assert.equal(plan([step("a"), step("b", ["a.x"])]), null);
  assert.equal(plan([step("a"), step("b", [["a"]])]), null);
  assert.equal(plan([step("a"), step("b", [], { x: { y: "a" } })]), null);
  assert.equal(plan([step("a"), step("b", ["a"]), step("c")]), null);
  // A step that takes an earlier one besides the one before it.
  assert.equal(plan([step("a"), step("b", ["a"]), step("c", ["b", "a"])]), null);
});
