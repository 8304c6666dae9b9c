// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { GlobList, globToRegExp } from "../../mod.ts";

Deno.test("globToRegExp() matches whole names with * and ?", () => {
  assert.ok(globToRegExp("*").test("anything.at/all"));
  assert.ok(globToRegExp("a?c").test("abc"));
  assert.ok(!globToRegExp("a?c").test("abbc"));
  assert.ok(!globToRegExp("add").test("add2"));
  // Regular-expression characters are literal.
  assert.ok(globToRegExp("f.(x)+").test("f.(x)+"));
  assert.ok(!globToRegExp("f.x").test("fax"));
});

Deno.test("GlobList.matches() is true when any pattern matches", () => {
  const list = new GlobList(["echo*", "add"]);
  assert.ok(list.matches("echos"));
  assert.ok(list.matches("add"));
  assert.ok(!list.matches("mul"));
  assert.ok(!new GlobList([]).matches("x"));
});
