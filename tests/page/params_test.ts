// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import {
  argumentsProblem,
  exampleArgs,
  type FunctionDescription,
  schemaProblem,
} from "../../src/page/params.ts";

const user = {
  type: "object",
  properties: { id: { type: "integer", minimum: 1 }, name: { type: "string", minLength: 2 } },
  required: ["id"],
  additionalProperties: false,
};

const greet: FunctionDescription = {
  params: [
    { name: "who", schema: user },
    { name: "times", schema: { type: "integer", minimum: 1, maximum: 3 } },
    { name: "tone", schema: { enum: ["warm", "dry"] }, optional: true },
  ],
  kwargs: { type: "object", properties: { loud: { type: "boolean" } } },
  doc: "Greets a user",
};

Deno.test("params: the example arguments fit the schemas", () => {
  const args = exampleArgs(greet);
  assert.deepEqual(args, [{ id: 1 }, 1]);
  assert.equal(argumentsProblem(greet, args, null), null);
  assert.deepEqual(exampleArgs({ params: [{ name: "x" }] }), [null]);
});

Deno.test("params: a wrong argument is named by its path before anything is sent", () => {
  assert.equal(argumentsProblem(greet, [{ id: 1 }], null), "args[1] (times): required");
  assert.equal(
    argumentsProblem(greet, [{ id: "7" }, 1], null),
    "args[0].id: expected number, got string (who)",
  );
  assert.equal(
    argumentsProblem(greet, [{ id: 0 }, 1], null),
    "args[0].id: expected at least 1 (who)",
  );
  assert.equal(argumentsProblem(greet, [{ id: 1, x: 1 }, 1], null), "args[0].x: not allowed (who)");
  assert.equal(
    argumentsProblem(greet, [{ id: 1 }, 1.5], null),
    "args[1]: expected an integer (times)",
  );
  assert.equal(
    argumentsProblem(greet, [{ id: 1 }, 4], null),
    "args[1]: expected at most 3 (times)",
  );
  assert.equal(
    argumentsProblem(greet, [{ id: 1 }, 1, "cold"], null),
    'args[2]: expected one of "warm", "dry" (tone)',
  );
  assert.equal(
    argumentsProblem(greet, [{ id: 1 }, 1, "dry", 4], null),
    "args[3]: the function takes 3 argument(s)",
  );
  assert.equal(
    argumentsProblem(greet, [{ id: 1 }, 2], { loud: "yes" }),
    "kwargs.loud: expected boolean, got string",
  );
  assert.equal(argumentsProblem(greet, [{ id: 1 }, 2], { loud: true }), null);
  assert.equal(
    schemaProblem({ type: "string", pattern: "^[a-z]+$" }, "A1", "x"),
    "x: expected text matching /^[a-z]+$/",
  );
});
