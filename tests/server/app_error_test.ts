// Copyright 2026 the mpreg authors. MIT license.
// Application errors keep their shape (issue 16, item 10): a function throws
// an AppError with its own code (2000–9999) and details, and the caller gets
// both intact, from an inline function, from a sandbox, across nodes, in both
// encodings. Before AppError, a function had no way to do it: whatever it
// threw reached the caller as 1003 with only name and message.
import assert from "node:assert/strict";
import { Client } from "../../src/client/client.ts";
import { AppError, FunctionError, RpcError } from "../../src/protocol/errors.ts";
import * as fns from "../fixtures/app_error_functions.ts";
import { converged, known, startCluster } from "../_helpers/cluster.ts";
import { rpcFailure } from "../_helpers/mod.ts";

const MODULE = new URL("../fixtures/app_error_functions.ts", import.meta.url).href;

Deno.test("AppError: code and details reach the caller intact (inline, sandboxed, forwarded; msgpack and json)", async () => {
  // n0 runs the functions inline, n1 in a sandbox (prefixed "sb_" by a
  // second module name), and the client talks only to n2, which runs nothing.
  await using cluster = await startCluster(3, "star");
  const [inline, sandboxed, entry] = cluster.nodes as [
    typeof cluster.nodes[0],
    typeof cluster.nodes[0],
    typeof cluster.nodes[0],
  ];
  for (const [name, fn] of Object.entries(fns)) inline.register(name, fn as never);
  await sandboxed.registerModule(MODULE, { resources: ["sandbox"] });
  await converged(cluster.nodes);
  await known(cluster.nodes, "reserve", sandboxed.name);
  await known(cluster.nodes, "reserve", inline.name);
  for (const encoding of ["msgpack", "json"] as const) {
    for (
      const [url, locs, where] of [
        [inline.url, [], "inline, direct"],
        [entry.url, [], "forwarded"],
        [entry.url, ["sandbox"], "sandboxed, forwarded"],
        [sandboxed.url, ["sandbox"], "sandboxed, direct"],
      ] as const
    ) {
      await using client = new Client(url, { encoding });
      const what = `${where}, ${encoding}`;
      const err = await rpcFailure(client.call("reserve", ["A-1", 3], { locs: [...locs] }));
      assert.ok(err instanceof AppError, `${what}: ${err.name} ${err.message}`);
      assert.equal(err.code, 2409, what);
      assert.equal(err.message, 'Not enough "A-1" in stock', what);
      const details = err.details as Record<string, unknown>;
      assert.equal(details.sku, "A-1", what);
      assert.equal(details.wanted, 3, what);
      assert.deepEqual(details.tags, ["a", "b"], what);

      const foreign = await rpcFailure(client.call("foreign", [], { locs: [...locs] }));
      assert.ok(foreign instanceof AppError, what);
      assert.equal(foreign.code, 2429, what);
      assert.deepEqual(foreign.details, { limit: 10 }, what);

      const ordinary = await rpcFailure(client.call("ordinary", [], { locs: [...locs] }));
      assert.ok(ordinary instanceof FunctionError, what);
      assert.equal(ordinary.code, 1003, what);
    }
  }
});

Deno.test("AppError: a code outside 2000–9999 is refused where it is made", () => {
  for (const code of [1003, 1999, 10_000, 2000.5, NaN]) {
    assert.throws(() => new AppError(code, "x"), RangeError, String(code));
  }
  assert.equal(new AppError(2000, "x").code, 2000);
  assert.equal(new AppError(9999, "x").code, 9999);
  // Rebuilt from the wire as an AppError.
  const wire = RpcError.fromWire({ code: 2001, message: "m", details: { a: 1 } });
  assert.ok(wire instanceof AppError);
  assert.deepEqual(wire.details, { a: 1 });
});
