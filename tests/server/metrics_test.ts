// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { Metrics } from "../../mod.ts";

function durationSum(metrics: Metrics, fun: string): number {
  const line = metrics.render().split("\n").find((l) =>
    l.startsWith(`mpreg_call_duration_seconds_sum{function="${fun}"}`)
  );
  assert.ok(line, `no duration sum for ${fun}`);
  return Number(line.split(" ").at(-1));
}

Deno.test("Metrics: a synchronous call is timed from its start to its end", () => {
  const metrics = new Metrics();
  const done = metrics.callStarted("spin");
  const until = performance.now() + 5;
  while (performance.now() < until) { /* busy */ }
  done("ok");
  assert.ok(durationSum(metrics, "spin") >= 0.005);
  assert.deepEqual(metrics.stats().spin!.outcomes, { ok: 1 });
});

Deno.test("Metrics: asynchronous calls timed with the turn's clock still see time pass between turns", async () => {
  const metrics = new Metrics();
  // Two calls starting in one turn share its clock read ...
  const first = metrics.callStarted("wait", true);
  const second = metrics.callStarted("wait", true);
  await new Promise((resolve) => setTimeout(resolve, 20));
  // ... and ending in a later turn read the clock again.
  first("ok", true);
  second("TimeoutError", true);
  assert.ok(durationSum(metrics, "wait") >= 2 * 0.019);
  const stats = metrics.stats().wait!;
  assert.deepEqual(stats.outcomes, { ok: 1, TimeoutError: 1 });
  assert.equal(stats.inFlight, 0);
  // Within one turn the clock is read once: a call that starts and ends in
  // the same turn takes no time.
  const before = durationSum(metrics, "wait");
  const third = metrics.callStarted("wait", true);
  third("ok", true);
  assert.equal(durationSum(metrics, "wait"), before);
});
