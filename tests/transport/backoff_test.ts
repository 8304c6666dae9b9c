// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { backoffDelay, DEFAULT_BACKOFF } from "../../src/transport/backoff.ts";

Deno.test("backoffDelay() grows exponentially up to the cap", () => {
  const top = () => 1; // the ceiling of each attempt
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 10].map((n) => backoffDelay(n, DEFAULT_BACKOFF, top)),
    [100, 200, 400, 800, 1600, 3200, 5000, 5000],
  );
});

Deno.test("backoffDelay() is fully jittered in [0, ceiling]", () => {
  assert.equal(backoffDelay(3, DEFAULT_BACKOFF, () => 0), 0);
  assert.equal(backoffDelay(3, DEFAULT_BACKOFF, () => 0.5), 400);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(20, { initialMs: 10, maxMs: 1000, factor: 3 });
    assert.ok(d >= 0 && d <= 1000);
  }
});
