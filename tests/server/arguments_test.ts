// Copyright 2026 the mpreg authors. MIT license.
// Silent wrong answers a newcomer met (issue 16, item 3): `call add 2`
// printed `null`, extra arguments were dropped, kwargs sent to a positional
// function vanished, and an async generator returned `{}`. The node knows a
// function's parameters: a call that does not fit is a ProtocolError (1004)
// naming the function, what it expects and what it received, and a result
// that cannot be sent yet is a clear error. Inline and sandboxed alike, in
// both encodings.
import assert from "node:assert/strict";
import { Client } from "../../src/client/client.ts";
import { FunctionError, ProtocolError } from "../../src/protocol/errors.ts";
import type { Server } from "../../src/server/server.ts";
import * as fns from "../fixtures/arguments_functions.ts";
import { rpcFailure, startServer } from "../_helpers/mod.ts";

const MODULE = new URL("../fixtures/arguments_functions.ts", import.meta.url).href;

async function withNode(
  sandboxed: boolean,
  test: (client: Client, server: Server) => Promise<void>,
): Promise<void> {
  await using server = await startServer();
  if (sandboxed) await server.registerModule(MODULE);
  else for (const [name, fn] of Object.entries(fns)) server.register(name, fn as never);
  for (const encoding of ["msgpack", "json"] as const) {
    await using client = new Client(server.url, { encoding });
    await test(client, server);
  }
}

for (const sandboxed of [false, true]) {
  const where = sandboxed ? "sandboxed" : "inline";

  Deno.test(`arguments (${where}): too few is a 1004 naming the function, expected and received`, async () => {
    await withNode(sandboxed, async (client) => {
      const err = await rpcFailure(client.call("add", [2]));
      assert.ok(err instanceof ProtocolError);
      assert.equal(err.code, 1004);
      assert.match(err.message, /Function "add" expects 2 arguments, received 1/);
      const details = err.details as Record<string, unknown>;
      assert.deepEqual(details.expected, { required: 2, max: 2 });
      assert.equal(details.received, 1);
      assert.equal(details.fun, "add");
      // A function with defaults takes fewer.
      assert.equal(await client.call("greet", ["Ada"]), "Hello, Ada!");
    });
  });

  Deno.test(`arguments (${where}): too many are refused, not dropped`, async () => {
    await withNode(sandboxed, async (client) => {
      const err = await rpcFailure(client.call("add", [2, 3, 4]));
      assert.ok(err instanceof ProtocolError);
      assert.equal(err.code, 1004);
      assert.match(err.message, /expects 2 arguments, received 3/);
      // A rest parameter takes any number.
      assert.equal(await client.call("count", [1, 2, 3, 4, 5]), 5);
    });
  });

  Deno.test(`arguments (${where}): kwargs to a function without an options object are refused`, async () => {
    await withNode(sandboxed, async (client) => {
      const err = await rpcFailure(
        client.request([{ name: "s", fun: "add", args: [1, 2], kwargs: { c: 3 } }]),
      );
      assert.ok(err instanceof ProtocolError);
      assert.equal(err.code, 1004);
      assert.match(err.message, /no options object for kwargs, received 2 and kwargs/);
      assert.equal((err.details as Record<string, unknown>).step, "s");
      // The options object takes them.
      assert.deepEqual(
        await client.request([{
          name: "g",
          fun: "greet",
          args: ["Ada"],
          kwargs: { punctuation: "?" },
        }]),
        { g: "Hello, Ada?" },
      );
    });
  });

  Deno.test(`results (${where}): a generator, an async generator or a stream is a clear error, never {}`, async () => {
    await withNode(sandboxed, async (client, server) => {
      for (
        const [fun, args, kind] of [
          ["ticks", [3], "an async iterator"],
          ["numbers", [], "an iterator"],
          ["stream", [], "a ReadableStream"],
        ] as const
      ) {
        const err = await rpcFailure(client.call(fun, [...args]));
        assert.ok(err instanceof FunctionError, `${fun}: ${err.message}`);
        assert.equal(err.code, 1003);
        assert.match(
          err.message,
          new RegExp(`returned ${kind}: a streamed result is read with client\\.stream\\(\\)`),
        );
      }
      assert.equal(server.inFlight, 0);
    });
  });
}
