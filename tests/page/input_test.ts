// Copyright 2026 the mpreg authors. MIT license.
// The page's lenient input (JSON or YAML through the yaml package).
import assert from "node:assert/strict";
import { InputError, parseLoose, parseSteps } from "../../src/page/input.ts";
import { DEMO_STEPS, EXAMPLE_STEPS } from "../../src/page/examples.ts";

Deno.test("parseSteps() reads the example and the demo as flow mappings with bare words", () => {
  assert.deepEqual(parseSteps(EXAMPLE_STEPS), [
    { name: "first", fun: "echo", args: [10] },
    { name: "second", fun: "echo", args: [20] },
    { name: "both", fun: "echos", args: ["first", "second"] },
    { name: "final", fun: "echos", args: ["Final Answer", "both"] },
  ]);
  assert.deepEqual(parseSteps(DEMO_STEPS).map((s) => s.name), [
    "sum1",
    "sum2",
    "total",
    "doubled",
    "final",
  ]);
});

Deno.test("parseSteps() reads block mappings, comments, JSON, and makes one argument a list", () => {
  const text = [
    "# a comment",
    "- name: a",
    "  fun: echo   # another",
    "  args: 5",
    "- name: b",
    "  fun: echos",
    "  args: [a, 'it''s', \"x # y\"]",
    "  kwargs: { unit: kg }",
    "  locs: [gpu]",
  ].join("\n");
  assert.deepEqual(parseSteps(text), [
    { name: "a", fun: "echo", args: [5] },
    {
      name: "b",
      fun: "echos",
      args: ["a", "it's", "x # y"],
      kwargs: { unit: "kg" },
      locs: ["gpu"],
    },
  ]);
  assert.deepEqual(parseSteps('[{"name": "a", "fun": "echo", "args": null}]'), [
    { name: "a", fun: "echo" },
  ]);
});

Deno.test("parseLoose() gives `empty` for blank text, and null, true and numbers as such", () => {
  assert.deepEqual(parseLoose("  \n# only a comment\n", []), []);
  assert.equal(parseLoose("", null), null);
  assert.deepEqual(parseLoose("[1, 2.5, -3e2, true, ~, null, word]"), [
    1,
    2.5,
    -300,
    true,
    null,
    null,
    "word",
  ]);
  assert.deepEqual(parseLoose('{ "unit": "kg" }'), { unit: "kg" });
});

Deno.test("parseLoose() and parseSteps() throw InputError on what they cannot read", () => {
  assert.throws(() => parseLoose(""), InputError);
  assert.throws(() => parseLoose("[1, 2"), InputError);
  assert.throws(() => parseLoose('{"__proto__": {"x": 1}}'), /__proto__ is not allowed/);
  assert.throws(() => parseLoose("- { __proto__: 1 }"), /__proto__ is not allowed/);
  assert.throws(() => parseSteps("[]"), /non-empty list/);
  assert.throws(() => parseSteps("- 1"), /Step 1 is not a mapping/);
  assert.throws(() => parseSteps("- { name: a }"), /Step 1 needs a name and a fun/);
});
