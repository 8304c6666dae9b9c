// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { abortable } from "../../src/_util/abortable.ts";

Deno.test("abortable() settles like the promise when the signal stays quiet", async () => {
  const controller = new AbortController();
  assert.equal(await abortable(Promise.resolve(7), controller.signal), 7);
  await assert.rejects(
    abortable(Promise.reject(new RangeError("x")), controller.signal),
    RangeError,
  );
});

Deno.test("abortable() rejects with the signal's reason as soon as it aborts", async () => {
  const controller = new AbortController();
  const never = new Promise<never>(() => {});
  const raced = abortable(never, controller.signal);
  const reason = new Error("stop");
  controller.abort(reason);
  await assert.rejects(raced, (err) => err === reason);
  await assert.rejects(abortable(Promise.resolve(1), controller.signal), (err) => err === reason);
});
