// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { type AuthOptions, hashToken, PermissionDeniedError } from "../../mod.ts";
import { ANONYMOUS, Authenticator, Principal } from "../../src/auth/authenticator.ts";

Deno.test("hashToken() is the hex SHA-256 of the token", async () => {
  assert.equal(
    await hashToken("test"),
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  );
});

Deno.test("Principal: deny globs win over allow globs", () => {
  const p = new Principal("ops", { allow: ["*"], deny: ["admin_*", "drop?"] }, true);
  assert.ok(p.mayCall("echo"));
  assert.ok(!p.mayCall("admin_reset"));
  assert.ok(!p.mayCall("drops"));
  assert.ok(p.mayCall("dropped"));
  const narrow = new Principal("reader", { allow: ["read_*"] }, true);
  assert.ok(narrow.mayCall("read_file"));
  assert.ok(!narrow.mayCall("write_file"));
});

Deno.test("Principal.authorize() names the step and the missing grant", () => {
  const p = new Principal("alice", { allow: ["*"], deny: ["secret"], permissions: ["read"] }, true);
  p.authorize("s1", "reader", ["read"]);
  assert.throws(() => p.authorize("s2", "fetcher", ["net", "read"]), (err: unknown) => {
    assert.ok(err instanceof PermissionDeniedError);
    assert.equal(err.code, 1009);
    assert.match(err.message, /Step "s2": "fetcher" needs the "net" permission/);
    assert.deepEqual(err.details, {
      step: "s2",
      fun: "fetcher",
      principal: "alice",
      missing: ["net"],
    });
    return true;
  });
  assert.throws(() => p.authorize("s3", "secret", []), (err: unknown) => {
    assert.ok(err instanceof PermissionDeniedError);
    assert.match(err.message, /may not call "secret"/);
    assert.equal((err.details as { missing: string }).missing, "call");
    return true;
  });
});

Deno.test("Authenticator: tokens map to principals; unknown tokens and closed doors fail", async () => {
  const auth = new Authenticator({
    tokens: [{ sha256: (await hashToken("t0ken")).toUpperCase(), principal: "ops" }],
    principals: { ops: { permissions: ["net"] } },
  });
  const ops = await auth.authenticate("t0ken");
  assert.ok(ops instanceof Principal);
  assert.equal(ops.name, "ops");
  assert.equal(ops.authenticated, true);
  assert.deepEqual(await auth.authenticate("wrong"), { error: "Unknown token" });
  const anonymous = await auth.authenticate(null);
  assert.ok(anonymous instanceof Principal);
  assert.equal(anonymous.name, ANONYMOUS);
  assert.deepEqual(anonymous.grant, { allow: ["*"], deny: [], permissions: [] });
  assert.equal(auth.principal("ops"), ops);
  assert.equal(auth.principal("nobody"), undefined);

  const closed = new Authenticator({ anonymous: false });
  assert.deepEqual(await closed.authenticate(null), { error: "This node requires a token" });
  assert.equal(closed.principal(ANONYMOUS), undefined);
  assert.throws(
    () => new Authenticator({ tokens: [{ sha256: "00", principal: "ghost" }] }),
    /unknown principal "ghost"/,
  );
});

Deno.test("Authenticator.grantsDigest: equal for grants that decide alike, different otherwise", async () => {
  const digest = (options: AuthOptions) => new Authenticator(options).grantsDigest;
  const base = digest({ principals: { ops: { allow: ["a", "b"], permissions: ["net", "read"] } } });
  assert.match(base, /^[0-9a-f]{32}$/);
  // Order, duplicates, defaults and tokens do not change what is decided.
  assert.equal(
    digest({
      tokens: [{ sha256: await hashToken("t"), principal: "ops" }],
      principals: { ops: { allow: ["b", "a", "a"], deny: [], permissions: ["read", "net"] } },
      anonymous: { allow: ["*"] },
      maxInFlightPerPrincipal: 7,
    }),
    base,
  );
  assert.equal(digest({}), digest({ principals: {}, anonymous: {} }));
  // Anything that decides differently changes it.
  const others: AuthOptions[] = [
    { principals: { ops: { allow: ["a", "b"], deny: ["b"], permissions: ["net", "read"] } } },
    { principals: { ops: { allow: ["a"], permissions: ["net", "read"] } } },
    { principals: { ops: { allow: ["a", "b"], permissions: ["net"] } } },
    { principals: { ops2: { allow: ["a", "b"], permissions: ["net", "read"] } } },
    {
      principals: { ops: { allow: ["a", "b"], permissions: ["net", "read"] }, more: {} },
    },
    {
      principals: { ops: { allow: ["a", "b"], permissions: ["net", "read"] } },
      anonymous: false as const,
    },
  ];
  for (const other of others) {
    assert.notEqual(digest(other), base, JSON.stringify(other));
  }
});
