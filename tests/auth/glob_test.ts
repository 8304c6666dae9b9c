// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { Client, hashToken, PermissionDeniedError } from "../../mod.ts";
import { GlobList, globToRegExp } from "../../src/auth/glob.ts";
import { startServer } from "../_helpers/mod.ts";

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

// Characters outside the Basic Multilingual Plane are two UTF-16 units: a
// glob must count them as one character, or `?` lets them through a deny.
Deno.test("glob attack: ? matches one character outside the BMP, not half of one", () => {
  assert.ok(globToRegExp("wipe?").test("wipe𝑥"), "? is one code point");
  assert.ok(globToRegExp("wipe?").test("wipe😀"));
  assert.ok(!globToRegExp("wipe?").test("wipe𝑥𝑥"));
  assert.ok(!globToRegExp("wipe??").test("wipe𝑥"), "?? is two code points, not one pair");
  assert.ok(globToRegExp("??").test("𝑥😀"));
  // `*` and literal characters are whole code points too.
  assert.ok(globToRegExp("𝑥*").test("𝑥yz"));
  assert.ok(globToRegExp("*😀").test("ab😀"));
  assert.ok(globToRegExp("a😀?").test("a😀b"));
  assert.ok(!globToRegExp("a😀").test("a😁"));
  // Characters that need no escape in a code-point expression, and a lone surrogate.
  assert.ok(globToRegExp("a-b/c").test("a-b/c"));
  assert.ok(globToRegExp("x\uD835?").test("x\uD835y"));
  // The list a grant holds.
  assert.ok(new GlobList(["wipe?"]).matches("wipe𝑥"));
});

Deno.test("glob attack: deny [wipe?] refuses wipe𝑥 through a real node", async () => {
  await using server = await startServer({
    auth: {
      tokens: [{ sha256: await hashToken("ops-token"), principal: "ops" }],
      principals: { ops: { allow: ["*"], deny: ["wipe?"] } },
      anonymous: false,
    },
  });
  let wiped = 0;
  server.register("wipe𝑥", () => ++wiped);
  server.register("wipe", () => "kept");
  await using client = new Client(server.url, { token: "ops-token" });
  await assert.rejects(client.call("wipe𝑥"), (err: unknown) => {
    assert.ok(err instanceof PermissionDeniedError, String(err));
    assert.match(err.message, /may not call "wipe𝑥"/);
    return true;
  });
  assert.equal(wiped, 0, "the denied function never ran");
  assert.equal(await client.call("wipe"), "kept", "a name the glob does not match still runs");
});
