// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { RequestGraph } from "../../src/engine/graph.ts";
import { handoffPlan } from "../../src/engine/handoff_plan.ts";
import { literal, type Step } from "../../src/protocol/step.ts";

function step(name: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): Step {
  return { name, fun: "f", args, kwargs, locs: [] };
}

function plan(steps: Step[], all = false): boolean[] {
  return [...handoffPlan(RequestGraph.build(steps), all)];
}

Deno.test("handoffPlan() holds a value every step that takes it takes whole, as a top-level argument", () => {
  assert.deepEqual(plan([step("a"), step("b", ["a"]), step("c", ["b"])]), [true, true, false]);
  // Several steps, positional and keyword, more than once.
  assert.deepEqual(
    plan([step("a"), step("b", ["a", "a"]), step("c", [], { x: "a" }), step("d", ["b", "c"])]),
    [true, true, true, false],
  );
});

Deno.test("handoffPlan() never holds a sink, a value taken in part or inside another value, or any with all", () => {
  assert.deepEqual(plan([step("a"), step("b", ["a"])], true), [false, false]);
  assert.deepEqual(plan([step("a"), step("b", ["a.x"])]), [false, false]);
  assert.deepEqual(plan([step("a"), step("b", [["a"]])]), [false, false]);
  assert.deepEqual(plan([step("a"), step("b", [], { x: { y: "a" } })]), [false, false]);
  // One whole use and one use of a field: the coordinator needs the value.
  assert.deepEqual(plan([step("a"), step("b", ["a"]), step("c", ["a.x"])]), [false, false, false]);
  // A literal is not a reference.
  assert.deepEqual(plan([step("a"), step("b", ["a", literal("a")])]), [true, false]);
});
