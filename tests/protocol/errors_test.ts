// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import * as mpreg from "../../mod.ts";
import { toRpcError } from "../../src/protocol/errors.ts";

const classes = [
  ["FunctionNotFoundError", 1001],
  ["InternalError", 1002],
  ["FunctionError", 1003],
  ["ProtocolError", 1004],
  ["ClusterMismatchError", 1005],
  ["TimeoutError", 1006],
  ["CancelledError", 1007],
  ["GraphError", 1008],
  ["PermissionDeniedError", 1009],
  ["UnauthenticatedError", 1010],
  ["LimitExceededError", 1011],
  ["OverloadedError", 1012],
  ["ConnectionError", 1013],
  ["UnavailableError", 1014],
  ["NotStartedError", 1015],
] as const;

Deno.test("every error class has a stable name, its code, details and a cause", () => {
  const cause = new Error("underneath");
  for (const [name, code] of classes) {
    const Class = mpreg[name] as new (m: string, o?: mpreg.RpcErrorOptions) => mpreg.RpcError;
    const err = new Class("msg", { details: { x: 1 }, cause });
    assert.equal(err.name, name);
    assert.equal(err.code, code);
    assert.ok(err instanceof mpreg.RpcError && err instanceof Error);
    assert.deepEqual(err.toWire(), { code, message: "msg", details: { x: 1 } });
    assert.equal(err.cause, cause);
    // Received from the wire, the same class comes back (the cause stays local).
    const back = mpreg.RpcError.fromWire(err.toWire());
    assert.ok(back instanceof Class);
    assert.equal(back.cause, undefined);
  }
  // A code this version does not know (from a newer node, say) stays a plain RpcError.
  for (const code of [1099, 12_345]) {
    const unknown = mpreg.RpcError.fromWire({ code, message: "?", details: null });
    assert.equal(unknown.constructor, mpreg.RpcError);
    assert.equal(unknown.code, code);
  }
  // The application's range (2000–9999) comes back as AppError.
  const app = mpreg.RpcError.fromWire({ code: 4242, message: "?", details: { a: 1 } });
  assert.equal(app.constructor, mpreg.AppError);
  assert.equal(app.code, 4242);
  assert.deepEqual(app.details, { a: 1 });
});

Deno.test("every ErrorCode is named after its error class, and every class after its code", () => {
  const exports = mpreg as unknown as Record<string, unknown>;
  const codes = Object.entries(mpreg.ErrorCode);
  assert.equal(codes.length, classes.length);
  for (const [key, code] of codes) {
    const Class = exports[`${key}Error`] as
      | (new (m: string) => mpreg.RpcError)
      | undefined;
    assert.ok(Class, `ErrorCode.${key} (${code}) has no class named "${key}Error"`);
    assert.equal(new Class("msg").code, code, `${key}Error has code ${code}`);
  }
});

Deno.test("ErrorCode keeps the original MPREG numbers", () => {
  assert.equal(mpreg.ErrorCode.FunctionNotFound, 1001);
  assert.equal(mpreg.ErrorCode.Function, 1003);
  assert.equal(mpreg.ErrorCode.Protocol, 1004);
  assert.equal(mpreg.ErrorCode.ClusterMismatch, 1005);
});

Deno.test("toRpcError() keeps RpcErrors and wraps the rest as InternalError", () => {
  const own = new mpreg.TimeoutError("t");
  assert.equal(toRpcError(own), own);
  const wrapped = toRpcError(new RangeError("r"));
  assert.ok(wrapped instanceof mpreg.InternalError);
  assert.equal(wrapped.message, "r");
  assert.equal(toRpcError("text").message, "text");
});
