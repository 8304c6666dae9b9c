// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { type Deadline, DeadlineQueue } from "../../src/_util/deadline_queue.ts";
import { delay } from "../_helpers/mod.ts";

function entry(ms: number, fired: string[], name: string): Deadline {
  return { at: Date.now() + ms, expire: () => fired.push(name) };
}

Deno.test("DeadlineQueue expires entries in time order with one timer", async () => {
  const queue = new DeadlineQueue();
  const fired: string[] = [];
  queue.add(entry(60, fired, "late"));
  queue.add(entry(20, fired, "early"));
  queue.add(entry(40, fired, "middle"));
  await delay(30);
  assert.deepEqual(fired, ["early"]);
  await delay(60);
  assert.deepEqual(fired, ["early", "middle", "late"]);
  assert.equal(queue.size, 0);
  queue.clear();
});

Deno.test("DeadlineQueue never expires a removed entry", async () => {
  const queue = new DeadlineQueue();
  const fired: string[] = [];
  const a = queue.add(entry(20, fired, "a"));
  queue.add(entry(30, fired, "b"));
  queue.delete(a);
  await delay(60);
  assert.deepEqual(fired, ["b"]);
  queue.clear();
});

Deno.test("DeadlineQueue.clear() drops everything and stops the timer", async () => {
  const queue = new DeadlineQueue();
  const fired: string[] = [];
  queue.add(entry(10, fired, "a"));
  queue.clear();
  await delay(30);
  assert.deepEqual(fired, []);
  assert.equal(queue.size, 0);
});
