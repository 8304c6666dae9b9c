// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { arityOf, arityProblem } from "../../src/registry/arity.ts";
import { unsupportedResult } from "../../src/registry/result_kind.ts";

type Fn = (...args: never[]) => unknown;

Deno.test("arityOf(): every way to write a function", () => {
  const cases: [Fn, number, number][] = [
    [(a: number, b: number) => a + b, 2, 2],
    [
      function add(a: number, b: number) {
        return a + b;
      },
      2,
      2,
    ],
    [async (a: number) => await Promise.resolve(a), 1, 1],
    [(x: number) => x, 1, 1],
    [() => 1, 0, 0],
    [(a: number, b = 2) => a + b, 1, 2],
    [(a: number, { x, y }: { x: number; y: number }) => a + x + y, 2, 2],
    [([a, b]: number[], c = [1, 2].map((v) => v * 2)) => a! + b! + c.length, 1, 2],
    [(a: string, b = "(,)") => a + b, 1, 2],
    [(a: number, ...rest: number[]) => a + rest.length, 1, Infinity],
    [
      function (this: unknown) {
        return arguments.length;
      },
      0,
      Infinity,
    ],
    [
      function* gen(a: number) {
        yield a;
      },
      1,
      1,
    ],
    [
      async function* agen(a: number, b: number) {
        yield a + b;
      },
      2,
      2,
    ],
    [((a: number, b: number) => a + b).bind(null), 2, Infinity],
    [Math.max, 2, Infinity],
  ];
  for (const [fn, required, max] of cases) {
    assert.deepEqual(arityOf(fn), { required, max }, String(fn));
  }
  const object = {
    method(a: number, b: number) {
      return a + b;
    },
  };
  assert.deepEqual(arityOf(object.method), { required: 2, max: 2 });
});

Deno.test("arityProblem(): too few, too many, kwargs without an options object", () => {
  const two = { required: 2, max: 2 };
  assert.equal(arityProblem(two, 2, false), undefined);
  assert.equal(arityProblem(two, 1, false), "expects 2 arguments, received 1");
  assert.equal(arityProblem(two, 3, false), "expects 2 arguments, received 3");
  assert.equal(
    arityProblem(two, 2, true),
    "expects 2 arguments and no options object for kwargs, received 2 and kwargs",
  );
  // The kwargs object is the function's last parameter.
  assert.equal(arityProblem({ required: 1, max: 2 }, 1, true), undefined);
  assert.equal(arityProblem({ required: 1, max: Infinity }, 9, true), undefined);
  assert.equal(
    arityProblem({ required: 1, max: Infinity }, 0, false),
    "expects at least 1 argument, received 0",
  );
});

Deno.test("unsupportedResult(): iterators and streams, not collections", () => {
  assert.equal(unsupportedResult((function* () {})()), "iterator");
  assert.equal(unsupportedResult((async function* () {})()), "async iterator");
  assert.equal(unsupportedResult(new ReadableStream()), "ReadableStream");
  assert.equal(unsupportedResult([1, 2].values()), "iterator");
  for (const ok of [[1], new Map(), new Set(), new Uint8Array(2), { next: 1 }, null, 3, "s"]) {
    assert.equal(unsupportedResult(ok), undefined, String(ok));
  }
});
