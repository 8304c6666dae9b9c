// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { Metrics } from "../../src/server/metrics.ts";

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

Deno.test("Metrics: a synchronous call longer than slowCallMs is reported with its function, an asynchronous one never", async () => {
  const slow: Array<[string, number]> = [];
  const metrics = new Metrics({ slowCallMs: 20, onSlowCall: (fun, ms) => slow.push([fun, ms]) });
  metrics.callStarted("quick")("ok");
  const done = metrics.callStarted("spin");
  const until = performance.now() + 30;
  while (performance.now() < until) { /* busy */ }
  done("FunctionError");
  // An async call that takes as long does not hold the loop.
  const wait = metrics.callStarted("wait");
  await new Promise((resolve) => setTimeout(resolve, 30));
  wait("ok", true);
  assert.equal(slow.length, 1);
  assert.equal(slow[0]![0], "spin");
  assert.ok(slow[0]![1] >= 30);
  // Without options, nothing is reported (and nothing breaks).
  new Metrics().callStarted("spin")("ok");
});

Deno.test("Metrics: the event loop's lag: latest, largest of the last minute, and a histogram", () => {
  const metrics = new Metrics();
  assert.deepEqual(metrics.loopLag(0), { lagMs: 0, maxLagMs: 0, p99Ms: 0, samples: 0 });
  const t = 1_767_225_600_000;
  metrics.observeLoopLag(0.4, t);
  metrics.observeLoopLag(3_000, t + 100);
  metrics.observeLoopLag(1.2, t + 200);
  assert.deepEqual(metrics.loopLag(t + 300), {
    lagMs: 1.2,
    maxLagMs: 3_000,
    p99Ms: metrics.loopLag(t + 300).p99Ms,
    samples: 3,
  });
  assert.ok(metrics.loopLag(t + 300).p99Ms >= 2_500);
  // A minute later the block is out of the window, still in the histogram.
  metrics.observeLoopLag(0.5, t + 70_000);
  assert.equal(metrics.loopLag(t + 70_000).maxLagMs, 0.5);
  const text = metrics.render();
  assert.ok(text.includes("# TYPE mpreg_event_loop_lag_seconds histogram"));
  assert.ok(text.includes('mpreg_event_loop_lag_seconds_bucket{le="5"} 4'));
  assert.ok(text.includes('mpreg_event_loop_lag_seconds_bucket{le="2.5"} 3'));
  assert.ok(text.includes("mpreg_event_loop_lag_seconds_count 4"));
  assert.ok(text.includes("# TYPE mpreg_event_loop_lag_max_seconds gauge"));
});
