// Copyright 2026 the mpreg authors. MIT license.
// A newcomer's mistake (issue 16, item 6): a function registered with
// permissions (or `sandbox: true`) that uses a variable from around it
// failed with a bare `ReferenceError: rate is not defined`. It runs from its
// source text in another process; the error now says so, and what to do.
import assert from "node:assert/strict";
import { Client } from "../../src/client/client.ts";
import { FunctionError } from "../../src/protocol/errors.ts";
import { startServer } from "../_helpers/mod.ts";

Deno.test("a sandboxed function that closes over a variable says why it cannot see it", async () => {
  await using server = await startServer();
  const rate = 1.2;
  server.register("convert", (amount: number) => amount * rate, { sandbox: true });
  server.register("inner", (amount: number) => {
    // Variables of its own are fine.
    const table: Record<string, number> = { a: 1 };
    return table.a! * amount;
  }, { sandbox: true });
  await using client = new Client(server.url);
  await assert.rejects(client.call("convert", [10]), (err: unknown) => {
    assert.ok(err instanceof FunctionError);
    assert.match(err.message, /ReferenceError: rate is not defined/);
    assert.match(err.message, /runs in a sandbox .*without the variables around it/);
    assert.match(err.message, /registerModule\(\)/);
    return true;
  });
  assert.equal(await client.call("inner", [3]), 3);
});
