// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { type Call, CallTable } from "../../src/transport/calls.ts";

interface TestCall extends Call {
  expired: boolean;
}

function call(at: number): TestCall {
  const c: TestCall = { at, deadline: 0, expired: false, expire: () => c.expired = true };
  return c;
}

Deno.test("CallTable: ids count up from 1, a due call expires, and a deleted one never does", async () => {
  const calls = new CallTable<TestCall>();
  const ids = [calls.nextId(), calls.nextId(), calls.nextId()];
  assert.deepEqual(ids, [1, 2, 3]);
  const due = call(Date.now() + 5);
  const done = call(Date.now() + 5);
  const never = call(Infinity);
  calls.add(1, due);
  calls.add(2, done);
  calls.add(3, never);
  assert.equal(never.deadline, 0, "no deadline queued for Infinity");
  calls.delete(2, done);
  assert.equal(calls.size, 2);
  while (!due.expired) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(done.expired, false);
  assert.deepEqual(calls.values(), [due, never], "expiring is the owner's job, not the table's");
  calls.clear();
  assert.equal(calls.size, 0);
});

Deno.test("CallTable: a signal's abort runs once while the call is in the table, and never after it is deleted", () => {
  const calls = new CallTable<TestCall>();
  const aborted: number[] = [];
  const first = new AbortController();
  const second = new AbortController();
  const a = call(Infinity);
  const b = call(Infinity);
  calls.add(1, a, first.signal, () => aborted.push(1));
  calls.add(2, b, second.signal, () => aborted.push(2));
  calls.delete(2, b);
  first.abort();
  second.abort();
  assert.deepEqual(aborted, [1]);
  // clear() removes the listeners too.
  const third = new AbortController();
  calls.add(3, call(Infinity), third.signal, () => aborted.push(3));
  calls.clear();
  third.abort();
  assert.deepEqual(aborted, [1]);
});
