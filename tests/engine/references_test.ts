// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { GraphError } from "../../src/protocol/errors.ts";
import { literal, LITERAL_KEY } from "../../src/protocol/step.ts";
import {
  findReferences,
  isLiteral,
  parseReference,
  resolveValue,
} from "../../src/engine/references.ts";

const NAMES: ReadonlySet<string> = new Set(["a", "b", "c"]);

function resolve(value: unknown, results: Record<string, unknown>, step = "z"): unknown {
  const map = new Map(Object.entries(results));
  return resolveValue(value, map, new Set([...map.keys(), step]), step);
}

function missingKey(step: string, reference: string, key: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof GraphError);
    assert.equal(err.code, 1008);
    assert.equal(
      err.message,
      `Step "${step}": reference "${reference}" has no key ${JSON.stringify(key)}`,
    );
    assert.deepEqual(err.details, { step, reference, key });
    return true;
  };
}

// literal() and isLiteral()

Deno.test("literal() wraps a value under LITERAL_KEY", () => {
  assert.equal(LITERAL_KEY, "$literal");
  const inner = { x: ["a"] };
  const wrapped = literal(inner);
  assert.deepEqual(wrapped, { $literal: inner });
  assert.equal(wrapped.$literal, inner);
});

Deno.test("isLiteral() accepts only a plain object with the one key $literal", () => {
  assert.equal(isLiteral(literal("a")), true);
  assert.equal(isLiteral({ $literal: undefined }), true);
  assert.equal(isLiteral(Object.assign(Object.create(null), { $literal: 1 })), true);
  assert.equal(isLiteral({ $literal: "a", other: 1 }), false);
  assert.equal(isLiteral({}), false);
  assert.equal(isLiteral([literal("a")]), false);
  assert.equal(isLiteral("$literal"), false);
  assert.equal(isLiteral(null), false);
  class Box {
    $literal = "a";
  }
  assert.equal(isLiteral(new Box()), false);
  assert.equal(isLiteral(Object.create({ $literal: "a" })), false);
});

// parseReference()

Deno.test("parseReference() matches a whole step name", () => {
  assert.deepEqual(parseReference("a", NAMES), { step: "a", path: [] });
  assert.deepEqual(parseReference("|first", new Set(["|first"])), { step: "|first", path: [] });
});

Deno.test("parseReference() splits a dotted path after the step name", () => {
  assert.deepEqual(parseReference("a.items.0.name", NAMES), {
    step: "a",
    path: ["items", "0", "name"],
  });
  assert.deepEqual(parseReference("a..b", NAMES), { step: "a", path: ["", "b"] });
  assert.deepEqual(parseReference("a.", NAMES), { step: "a", path: [""] });
});

Deno.test("parseReference() prefers the longest step name that fits", () => {
  const names = new Set(["a", "a.b"]);
  assert.deepEqual(parseReference("a.b.c", names), { step: "a.b", path: ["c"] });
  assert.deepEqual(parseReference("a.b", names), { step: "a.b", path: [] });
  assert.deepEqual(parseReference("a.bc", names), { step: "a", path: ["bc"] });
  assert.deepEqual(parseReference("a.x.c", names), { step: "a", path: ["x", "c"] });
  const deep = new Set(["s", "s.t.u", "s.t"]);
  assert.deepEqual(parseReference("s.t.u.v.w", deep), { step: "s.t.u", path: ["v", "w"] });
});

Deno.test("parseReference() never matches a substring", () => {
  const names = new Set(["step1", "a"]);
  assert.equal(parseReference("x step1", names), null);
  assert.equal(parseReference("step1 ", names), null);
  assert.equal(parseReference("step12", names), null);
  assert.equal(parseReference("step", names), null);
  assert.equal(parseReference("ab.c", names), null);
  assert.equal(parseReference("x.a", names), null);
  assert.equal(parseReference("", names), null);
  assert.equal(parseReference("A", names), null);
});

Deno.test("parseReference() works with non-ASCII names", () => {
  const names = new Set(["résumé", "🙂"]);
  assert.deepEqual(parseReference("résumé.ü", names), { step: "résumé", path: ["ü"] });
  assert.deepEqual(parseReference("🙂.0", names), { step: "🙂", path: ["0"] });
  assert.equal(parseReference("🙃.0", names), null);
});

Deno.test("parseReference() stays linear on long strings full of dots", () => {
  // Checking every dot prefix with Set.has would hash ~10^10 characters here.
  const name = ".".repeat(100_000) + "x";
  const names = new Set([name, "y"]);
  const s = ".".repeat(400_000);
  const begin = performance.now();
  for (let i = 0; i < 5; i++) assert.equal(parseReference(s, names), null);
  assert.deepEqual(parseReference(name + ".k", names), { step: name, path: ["k"] });
  assert.ok(performance.now() - begin < 2_000, "parseReference() took too long");
});

// findReferences()

Deno.test("findReferences() finds strings at any depth in arrays and object values", () => {
  const value = [1, ["x", [{ deep: { deeper: ["b"] } }]], { key: "c.total.0" }, "nope"];
  assert.deepEqual(findReferences(value, NAMES), new Set(["b", "c"]));
  assert.deepEqual(findReferences("a", NAMES), new Set(["a"]));
  assert.deepEqual(findReferences("a.x", NAMES), new Set(["a"]));
});

Deno.test("findReferences() ignores object keys", () => {
  assert.deepEqual(findReferences({ a: 1, b: { c: 2 } }, NAMES), new Set());
});

Deno.test("findReferences() skips literal wrappers, however deep", () => {
  const value = ["b", literal("a"), { nested: [literal(["c", { x: "c" }])] }];
  assert.deepEqual(findReferences(value, NAMES), new Set(["b"]));
  // Not a wrapper: a second key makes it an ordinary object.
  assert.deepEqual(findReferences({ $literal: "a", other: "c" }, NAMES), new Set(["a", "c"]));
});

Deno.test("findReferences() treats non-string scalars and non-plain objects as leaves", () => {
  const value = [
    0,
    1.5,
    true,
    false,
    null,
    undefined,
    10n,
    new Uint8Array([97]),
    new Date(0),
    new Map([["a", "a"]]),
    new Set(["a"]),
  ];
  assert.deepEqual(findReferences(value, NAMES), new Set());
});

Deno.test("findReferences() reports each step once", () => {
  assert.deepEqual(findReferences(["a", "a", { x: "a.k" }], NAMES), new Set(["a"]));
});

// resolveValue()

Deno.test("resolveValue() replaces whole-name strings at any depth", () => {
  const results = { a: 1, b: { v: [2] } };
  const value = ["a", { x: ["b", "text"], y: { z: "a" } }, 3];
  assert.deepEqual(resolve(value, results), [1, { x: [{ v: [2] }, "text"], y: { z: 1 } }, 3]);
});

Deno.test("resolveValue() walks object keys and array indices", () => {
  const results = { a: { items: [{ name: "first" }, { name: "second" }], n: null } };
  assert.equal(resolve("a.items.0.name", results), "first");
  assert.equal(resolve("a.items.1.name", results), "second");
  assert.deepEqual(resolve("a.items.1", results), { name: "second" });
  assert.equal(resolve("a.n", results), null);
  const list = { a: [[10, 20], [30]] };
  assert.equal(resolve("a.1.0", list), 30);
});

Deno.test("resolveValue() uses the longest step name that fits", () => {
  const results = { "a": { b: { c: "from a" } }, "a.b": { c: "from a.b" } };
  assert.equal(resolve("a.b.c", results), "from a.b");
  assert.deepEqual(resolve("a.b", results), { c: "from a.b" });
});

Deno.test("resolveValue() inserts results by identity and never resolves them again", () => {
  const result = { text: "b", list: ["a"] };
  const out = resolve(["a"], { a: result, b: "B" }) as unknown[];
  assert.equal(out[0], result);
  assert.deepEqual(result, { text: "b", list: ["a"] });
});

Deno.test("resolveValue() passes a literal string that equals a step name verbatim", () => {
  assert.deepEqual(resolve(["a", literal("a")], { a: 1 }), [1, "a"]);
  assert.deepEqual(resolve({ label: literal("a.x") }, { a: { x: 1 } }), { label: "a.x" });
});

Deno.test("resolveValue() unwraps a nested literal without looking inside", () => {
  const inner = { ref: "a", list: ["a", literal("a")] };
  const out = resolve({ keep: literal(inner), use: "a" }, { a: 7 }) as Record<string, unknown>;
  assert.equal(out.keep, inner);
  assert.equal(out.use, 7);
  assert.deepEqual(resolve(literal(literal("a")), { a: 1 }), { $literal: "a" });
});

Deno.test("resolveValue() returns the same object when nothing changes", () => {
  const value = { list: [1, "x", { deep: ["y"] }], n: null, bytes: new Uint8Array(2) };
  assert.equal(resolve(value, { a: 1 }), value);
  const array = ["text", 1, [true]];
  assert.equal(resolve(array, { a: 1 }), array);
});

Deno.test("resolveValue() copies only the containers on the way to a change", () => {
  const untouched = { deep: ["y"] };
  const value = { left: untouched, right: ["a", 2] };
  const out = resolve(value, { a: 1 }) as typeof value;
  assert.notEqual(out, value);
  assert.equal(out.left, untouched);
  assert.deepEqual(out.right, [1, 2]);
  assert.deepEqual(value, { left: untouched, right: ["a", 2] });
});

Deno.test("resolveValue() keeps a __proto__ key as a key when copying", () => {
  const value = JSON.parse('{"__proto__": {"p": 1}, "x": "a"}');
  const out = resolve(value, { a: 1 }) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.ok(Object.hasOwn(out, "__proto__"));
  assert.deepEqual(Object.getOwnPropertyDescriptor(out, "__proto__")?.value, { p: 1 });
  assert.equal(out.x, 1);
});

Deno.test("resolveValue() keeps a null prototype when copying", () => {
  const value = Object.assign(Object.create(null), { x: "a" });
  const out = resolve(value, { a: 1 }) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(out), null);
  assert.equal(out.x, 1);
});

Deno.test("resolveValue() throws a GraphError naming the step, reference and missing key", () => {
  const results = { a: { x: { z: 1 } } };
  assert.throws(() => resolve("a.x.y", results, "b"), missingKey("b", "a.x.y", "y"));
  assert.throws(
    () => resolve(["ok", { in: "a.nope" }], results, "b"),
    missingKey("b", "a.nope", "nope"),
  );
});

Deno.test("resolveValue() rejects an array index that is out of range or not canonical", () => {
  const results = { a: [10, 20] };
  for (const key of ["2", "-1", "01", "+1", "1e0", " 1", "", "length", "x"]) {
    const reference = `a.${key}`;
    assert.throws(() => resolve(reference, results, "b"), missingKey("b", reference, key));
  }
  assert.equal(resolve("a.1", results), 20);
});

Deno.test("resolveValue() does not walk into primitives, inherited keys or non-plain objects", () => {
  const results = {
    s: "text",
    n: 5,
    nil: null,
    o: { own: 1 },
    bytes: new Uint8Array([1, 2]),
    date: new Date(0),
  };
  const cases: [string, string][] = [
    ["s.length", "length"],
    ["s.0", "0"],
    ["n.x", "x"],
    ["nil.x", "x"],
    ["o.toString", "toString"],
    ["o.constructor", "constructor"],
    ["o.__proto__", "__proto__"],
    ["o.own.x", "x"],
    ["bytes.0", "0"],
    ["date.getTime", "getTime"],
  ];
  for (const [reference, key] of cases) {
    assert.throws(() => resolve(reference, results, "b"), missingKey("b", reference, key));
  }
});

Deno.test("resolveValue() walks a null-prototype object and an own __proto__ key", () => {
  const results = {
    a: Object.assign(Object.create(null), { k: 1 }),
    b: JSON.parse('{"__proto__": {"k": 2}}'),
  };
  assert.equal(resolve("a.k", results), 1);
  assert.equal(resolve("b.__proto__.k", results), 2);
});

Deno.test("resolveValue() throws a GraphError for a step that has no result", () => {
  const names = new Set(["a", "b"]);
  assert.throws(() => resolveValue(["a"], new Map(), names, "b"), (err: unknown) => {
    assert.ok(err instanceof GraphError);
    assert.match(err.message, /^Step "b": reference "a" names step "a", which has no result$/);
    assert.deepEqual(err.details, { step: "b", reference: "a" });
    return true;
  });
});

Deno.test("resolveValue() leaves strings that name no step alone", () => {
  assert.deepEqual(resolve(["x a", "ab", "a b.c", "zz.a"], { a: 1, b: { c: 2 } }), [
    "x a",
    "ab",
    "a b.c",
    "zz.a",
  ]);
});
