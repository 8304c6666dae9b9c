// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { CancelledError, TimeoutError } from "../../src/protocol/errors.ts";
import { RequestLifecycle } from "../../src/server/request_lifecycle.ts";

const timedOut = (ms: number) => new TimeoutError(`timed out after ${ms} ms`);

Deno.test("RequestLifecycle.budget() takes what is asked, else the default, never over the maximum", () => {
  const lifecycle = new RequestLifecycle({ requestTimeoutMs: 1_000, maxRequestTimeoutMs: 5_000 });
  assert.equal(lifecycle.budget(200), 200);
  assert.equal(lifecycle.budget(undefined), 1_000);
  assert.equal(lifecycle.budget(null), 1_000);
  assert.equal(lifecycle.budget(0), 1_000);
  assert.equal(lifecycle.budget(-5), 1_000);
  assert.equal(lifecycle.budget(60_000), 5_000);
  const capped = new RequestLifecycle({ requestTimeoutMs: 9_000, maxRequestTimeoutMs: 5_000 });
  assert.equal(capped.budget(undefined), 5_000);
});

Deno.test("RequestLifecycle.begin() aborts the request with the timeout error at its deadline", async () => {
  const lifecycle = new RequestLifecycle({ requestTimeoutMs: 1, maxRequestTimeoutMs: 1 });
  const live = lifecycle.begin({ timedOut });
  assert.equal(live.budgetMs, 1);
  assert.equal(lifecycle.inFlight, 1);
  // The deadline timer is unref'd (it keeps no process alive): hold the loop meanwhile.
  const keepAlive = setInterval(() => {}, 1_000);
  const reason = await new Promise((resolve) =>
    live.signal.addEventListener("abort", () => resolve(live.signal.reason), { once: true })
  );
  clearInterval(keepAlive);
  assert.ok(reason instanceof TimeoutError);
  assert.equal(reason.message, "timed out after 1 ms");
  live.settle();
  lifecycle.ended();
  assert.equal(lifecycle.inFlight, 0);
  lifecycle.close();
});

Deno.test("RequestLifecycle: a settled request never times out; settle(error) cancels it", () => {
  const lifecycle = new RequestLifecycle({ requestTimeoutMs: 60_000, maxRequestTimeoutMs: 60_000 });
  const done = lifecycle.begin({ timedOut });
  done.settle();
  assert.equal(lifecycle.deadlines.size, 0);
  assert.equal(done.signal.aborted, false);
  const cancelled = lifecycle.begin({ timedOut });
  cancelled.settle(new CancelledError("by the client"));
  assert.ok(cancelled.signal.reason instanceof CancelledError);
  // Idempotent: a second settle changes nothing.
  cancelled.settle(new CancelledError("again"));
  assert.equal((cancelled.signal.reason as Error).message, "by the client");
  assert.equal(lifecycle.inFlight, 2);
  lifecycle.ended();
  lifecycle.ended();
  lifecycle.close();
});

Deno.test("RequestLifecycle: a parent signal's abort aborts the request until it settles", () => {
  const lifecycle = new RequestLifecycle({ requestTimeoutMs: 60_000, maxRequestTimeoutMs: 60_000 });
  const parent = new AbortController();
  const live = lifecycle.begin({ timedOut, parent: parent.signal });
  parent.abort(new CancelledError("the peer cancelled"));
  assert.ok(live.signal.reason instanceof CancelledError);
  live.settle();
  const other = new AbortController();
  const settled = lifecycle.begin({ timedOut, parent: other.signal });
  settled.settle();
  other.abort(new CancelledError("too late"));
  assert.equal(settled.signal.aborted, false);
  lifecycle.close();
});

Deno.test("RequestLifecycle.whenIdle() resolves when the last request ends, or at its timeout", async () => {
  const lifecycle = new RequestLifecycle({ requestTimeoutMs: 60_000, maxRequestTimeoutMs: 60_000 });
  await lifecycle.whenIdle(60_000); // idle already: at once
  const live = lifecycle.begin({ timedOut });
  const idle = lifecycle.whenIdle(60_000);
  live.settle();
  lifecycle.ended();
  await idle;
  assert.equal(lifecycle.inFlight, 0);
  lifecycle.started();
  await lifecycle.whenIdle(1); // cut short: still one in flight
  assert.equal(lifecycle.inFlight, 1);
  lifecycle.ended();
  lifecycle.close();
});
