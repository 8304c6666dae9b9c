// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { canonicalJson } from "../../src/_util/canonical_json.ts";

Deno.test("canonicalJson() sorts keys at every depth and keeps array order", () => {
  assert.equal(
    canonicalJson({ b: { y: 1, x: [3, 1, 2] }, a: "s", "10": true, "2": false }),
    '{"10":true,"2":false,"a":"s","b":{"x":[3,1,2],"y":1}}',
  );
  assert.equal(
    canonicalJson({ b: 1, a: 2 }),
    canonicalJson(JSON.parse('{"a":2,"b":1}')),
  );
});

Deno.test("canonicalJson() leaves out null and undefined entries, as the peer codec sends them", () => {
  assert.equal(canonicalJson({ a: 1, b: undefined, c: null }), '{"a":1}');
  assert.equal(canonicalJson([1, undefined, null]), "[1,null,null]");
  assert.equal(canonicalJson(null), "null");
  assert.equal(canonicalJson('x\u2028"y'), JSON.stringify('x\u2028"y'));
});

Deno.test("canonicalJson() tells different values apart", () => {
  assert.notEqual(canonicalJson(["a", "b"]), canonicalJson(["a|b"]));
  assert.notEqual(canonicalJson({ a: [1] }), canonicalJson({ a: 1 }));
  assert.notEqual(canonicalJson({ a: "1" }), canonicalJson({ a: 1 }));
});
