// Copyright 2026 the mpreg authors. MIT license.
// Server.registerAll (issue 17): an object of functions registered in one
// line, as clients type it with `client.typed<typeof api>()`.
import assert from "node:assert/strict";
import { type CallContext, Client, type FunctionNotFoundError } from "../../mod.ts";
import { rpcFailure, startServer } from "../_helpers/mod.ts";

Deno.test("registerAll: every function of an object under its key, with the options, skipping the rest", async () => {
  const api = {
    add(a: number, b: number) {
      return a + b;
    },
    async later(x: number) {
      await Promise.resolve();
      return x * 2;
    },
    whoAmI(this: CallContext) {
      return this.node;
    },
    version: "1.0",
  };
  await using server = await startServer({ name: "n1", resources: ["cpu"] });
  assert.equal(server.registerAll(api, { resources: ["db"] }), server);
  await using client = new Client(server.url);
  const remote = client.typed<typeof api>({ locs: ["db"] });
  assert.equal(await remote.add(2, 3), 5);
  assert.equal(await remote.later(4), 8);
  assert.equal(await remote.whoAmI(), "n1"); // the context is `this`, not the object
  const missing = await rpcFailure(client.call("version"));
  assert.equal((missing as FunctionNotFoundError).code, 1001);
});

Deno.test("registerAll: an object without functions is refused", async () => {
  await using server = await startServer();
  assert.throws(() => server.registerAll({ version: "1.0" }), /holds no function/);
});
