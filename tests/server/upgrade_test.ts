// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { Authenticator } from "../../src/auth/authenticator.ts";
import { offeredProtocols, PrincipalAdmission, readToken } from "../../src/server/upgrade.ts";

const upgradeRequest = (headers: Record<string, string>) =>
  new Request("http://127.0.0.1:1/", { headers: { upgrade: "websocket", ...headers } });

Deno.test("offeredProtocols() and readToken(): the token is a subprotocol entry or a bearer header", () => {
  const viaProtocol = upgradeRequest({
    "sec-websocket-protocol": " mpreg.msgpack.v1 , mpreg.auth.s3cret,mpreg.json.v1",
  });
  const offered = offeredProtocols(viaProtocol);
  assert.deepEqual(offered, ["mpreg.msgpack.v1", "mpreg.auth.s3cret", "mpreg.json.v1"]);
  assert.deepEqual(readToken(viaProtocol, offered), {
    token: "s3cret",
    protocols: ["mpreg.msgpack.v1", "mpreg.json.v1"],
  });
  const viaHeader = upgradeRequest({
    "sec-websocket-protocol": "mpreg.json.v1",
    authorization: "Bearer  t0ken ",
  });
  assert.deepEqual(readToken(viaHeader, offeredProtocols(viaHeader)), {
    token: "t0ken",
    protocols: ["mpreg.json.v1"],
  });
  const none = upgradeRequest({});
  assert.deepEqual(offeredProtocols(none), []);
  assert.deepEqual(readToken(none, []), { token: null, protocols: [] });
});

Deno.test("PrincipalAdmission counts requests per principal up to its limit", () => {
  const auth = new Authenticator({ principals: { ops: {} } });
  const ops = auth.principal("ops")!;
  const admission = new PrincipalAdmission(2);
  assert.equal(admission.acquire(ops), true);
  assert.equal(admission.acquire(ops), true);
  assert.equal(admission.acquire(ops), false);
  assert.equal(admission.acquire(auth.principal("anonymous")!), true);
  admission.release(ops);
  assert.equal(admission.acquire(ops), true);
  // Releasing more than acquired never goes below zero.
  for (let i = 0; i < 5; i++) admission.release(ops);
  assert.equal(admission.acquire(ops), true);
  assert.equal(admission.acquire(ops), true);
  assert.equal(admission.acquire(ops), false);
});
