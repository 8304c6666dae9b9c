// Copyright 2026 the mpreg authors. MIT license.
// The descriptions a node gossips are bounded: a function's huge schema or
// doc, or a node with many described functions, cannot blow up the records
// every member pulls.
import assert from "node:assert/strict";
import * as z from "npm:zod@4.6.7";
import {
  boundDescriptions,
  describeFunction,
  DESCRIPTION_LIMITS,
} from "../../src/registry/function_schemas.ts";
import type { FunctionDescription } from "../../src/protocol/function_description.ts";
import { parameterNames } from "../../src/registry/arity.ts";
import { startServer } from "../_helpers/mod.ts";

const bytes = (x: unknown) => new TextEncoder().encode(JSON.stringify(x)).length;

/** A zod object whose JSON Schema is about `n` × 40 bytes. */
function wide(n: number) {
  return z.object(Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`property_number_${i}`, z.string()]),
  ));
}

Deno.test("describeFunction() drops the schemas of a description over the per-function bound", () => {
  const big = describeFunction((record: unknown) => record, {
    args: [wide(400)],
    doc: "d".repeat(20_000),
  });
  assert.ok(bytes(wide(400)["~standard"].jsonSchema.input({ target: "draft-2020-12" })) > 8192);
  assert.equal(big.truncated, true);
  assert.deepEqual(big.params, [{ name: "record" }]);
  assert.ok(bytes(big) <= DESCRIPTION_LIMITS.functionBytes, `${bytes(big)} bytes`);
  const small = describeFunction((record: unknown) => record, { args: [wide(3)] });
  assert.equal(small.truncated, undefined);
  assert.ok(small.params[0]?.schema !== undefined);
});

Deno.test("boundDescriptions() keeps a member's descriptions within the per-member bound", () => {
  const one = describeFunction((record: unknown) => record, { args: [wide(100)] });
  assert.ok(bytes(one) > 5000 && bytes(one) < DESCRIPTION_LIMITS.functionBytes);
  const entries: [string, FunctionDescription][] = [];
  for (let i = 0; i < 40; i++) entries.push([`f${String(i).padStart(2, "0")}`, one]);
  const table = boundDescriptions(entries);
  assert.ok(bytes(table) <= DESCRIPTION_LIMITS.memberBytes, `${bytes(table)} bytes`);
  assert.equal(table.f00?.truncated, undefined, "the first ones keep their schemas");
  assert.equal(table.f39?.truncated, true, "the last ones lose theirs");
  assert.deepEqual(table.f39?.params, [{ name: "record" }]);
});

Deno.test("a node's own catalog entry marks a function whose schema is over the bound", async () => {
  await using node = await startServer({ name: "n" });
  node.register("huge", (record: unknown) => record, { args: [wide(400)] });
  node.register("tiny", (record: unknown) => record, { args: [wide(1)] });
  const described = node.cluster.self.described;
  assert.deepEqual(described?.huge, { params: [{ name: "record" }], truncated: true });
  assert.equal(described?.tiny?.truncated, undefined);
});

Deno.test("parameterNames() reads names, defaults, rest and destructuring", () => {
  assert.deepEqual(
    parameterNames(function (a: number, { x, y }: { x: number; y: number } = { x: 1, y: 2 }) {
      return a + x + y;
    }),
    [{ name: "a" }, { name: "{ x, y }", optional: true }],
  );
  assert.deepEqual(parameterNames((s: string, ...more: string[]) => s + more), [
    { name: "s" },
    { name: "more", rest: true },
  ]);
  assert.deepEqual(parameterNames(() => 1), []);
  assert.equal(parameterNames(Math.max), undefined);
});
