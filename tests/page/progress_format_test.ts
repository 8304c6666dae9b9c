// Copyright 2026 the mpreg authors. MIT license.
// How the cluster page writes a progress report (issue 18): a fraction by
// the convention of `this.progress()`, and its text.
import assert from "node:assert/strict";
import { progressFraction, progressText } from "../../src/page/format.ts";

Deno.test("progressFraction() reads a number or { done, total }, clamped to 0..1", () => {
  assert.equal(progressFraction(0.25), 0.25);
  assert.equal(progressFraction(1.5), 1);
  assert.equal(progressFraction(-1), 0);
  assert.equal(progressFraction({ done: 3, total: 4 }), 0.75);
  assert.equal(progressFraction({ done: 3, total: 0 }), null);
  assert.equal(progressFraction(Number.NaN), null);
  assert.equal(progressFraction("half"), null);
  assert.equal(progressFraction(null), null);
});

Deno.test("progressText() writes a percentage, done / total with the message, or the value", () => {
  assert.equal(progressText(0.5), "50%");
  assert.equal(progressText({ done: 3, total: 4 }), "3 / 4 (75%)");
  assert.equal(progressText({ done: 3, total: 4, message: "epochs" }), "3 / 4 (75%) epochs");
  assert.equal(progressText("loading model"), '"loading model"');
  assert.match(progressText({ stage: "b" }), /stage/);
});
