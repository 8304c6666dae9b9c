// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { expandedSize } from "../../src/_util/expanded_size.ts";

Deno.test("expandedSize() counts what an encoder would write", () => {
  assert.equal(expandedSize(1, 100), 1);
  assert.equal(expandedSize([1, 2, 3], 100), 4);
  assert.equal(expandedSize({ a: 1, b: [1, 2] }, 100), 1 + (1 + 1) + (1 + 3));
  assert.equal(expandedSize(new Uint8Array(1 << 20), 100), 1, "bytes are one value");
});

Deno.test("expandedSize() expands shared parts, stopping as soon as the count passes the limit", () => {
  let value: unknown = 1;
  for (let i = 0; i < 200; i++) value = [value, value]; // 2^200 values once encoded
  assert.equal(expandedSize(value, 100_000), Infinity);
  let small: unknown = 1;
  for (let i = 0; i < 10; i++) small = [small, small];
  assert.equal(expandedSize(small, 100_000), 2 ** 11 - 1);
});

Deno.test("expandedSize() treats absurd nesting as over the limit", () => {
  let deep: unknown = 1;
  for (let i = 0; i < 1000; i++) deep = [deep];
  assert.equal(expandedSize(deep, 10_000), Infinity);
});
