// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import {
  hasLongDigitRun,
  parseExactJson,
  stringifyExactJson,
} from "../../src/protocol/_exact_json.ts";

Deno.test("exact JSON: integers past 2^53 parse to BigInt; safe ones, floats and exponents stay numbers", () => {
  assert.deepEqual(
    parseExactJson(
      "[9007199254740993,-9007199254740993,9007199254740991,1e300,1.0," +
        '12345678901234567.5,"12345678901234567890",18446744073709551616]',
    ),
    [
      9007199254740993n,
      -9007199254740993n,
      9007199254740991,
      1e300,
      1,
      12345678901234567.5,
      "12345678901234567890",
      18446744073709551616n,
    ],
  );
});

Deno.test("exact JSON: a BigInt is written as its digits; a JS integer without .0", () => {
  assert.equal(
    stringifyExactJson({ a: 2n ** 64n + 1n, b: [1, 1.5, -3n], c: "x" }),
    '{"a":18446744073709551617,"b":[1,1.5,-3],"c":"x"}',
  );
  assert.throws(() => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    stringifyExactJson(cycle);
  }, /circular/);
});

Deno.test("exact JSON: the pre-check finds every run of 16 digits (against a regular expression)", () => {
  const alphabet = '0123456789a,"';
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let n = 0; n < 20_000; n++) {
    const length = Math.floor(random() * 60);
    const digitsOnly = random() < 0.5;
    let text = "";
    for (let i = 0; i < length; i++) {
      text += digitsOnly && random() < 0.97
        ? String(Math.floor(random() * 10))
        : alphabet[Math.floor(random() * alphabet.length)];
    }
    assert.equal(hasLongDigitRun(text), /\d{16}/.test(text), text);
  }
});
