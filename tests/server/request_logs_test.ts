// Copyright 2026 the mpreg authors. MIT license.
// A request's log lines: failures at warn, once, under an id unique on the
// node; every line of the request carrying it; its steps and routes at debug.
import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { Client, hashToken } from "../../mod.ts";
import { known, startCluster } from "../_helpers/cluster.ts";
import { withRequestLogs } from "../_helpers/logs.ts";
import { rpcFailure } from "../_helpers/mod.ts";

const TOKEN = "log-test-token";

Deno.test("request logs: a failed call is one warning with its function, step, code, principal and a node-unique id", async () => {
  await withRequestLogs(async (records) => {
    const auth = {
      tokens: [{ sha256: await hashToken(TOKEN), principal: "alice" }],
      principals: { alice: {} },
    };
    await using cluster = await startCluster(1, "star", () => ({ auth }));
    const node = cluster.nodes[0]!;
    node.register("fails", () => {
      throw new Error("nope");
    });
    // Two clients, each with its own first request id: the node's ids differ.
    await using one = new Client(node.url, { token: TOKEN });
    await using two = new Client(node.url, { token: TOKEN });
    await rpcFailure(one.call("fails"));
    await rpcFailure(two.call("fails"));
    const warnings = records.filter((r) => r.level === "warning" && r.category[0] === "mpreg");
    assert.equal(warnings.length, 2, "one warning per failed call");
    const ids = warnings.map((r) => r.properties.requestId);
    assert.equal(typeof ids[0], "string");
    assert.notEqual(ids[0], ids[1], "two connections' first requests have different ids");
    for (const warning of warnings) {
      assert.equal(warning.properties.fun, "fails");
      assert.equal(warning.properties.step, "fails");
      assert.equal(warning.properties.code, 1003);
      assert.equal(warning.properties.principal, "alice");
      assert.equal(warning.properties.node, node.name);
      assert.match(String(warning.properties.error), /nope/);
    }
  });
});

Deno.test("request logs: every line of a request carries its id, and debug shows its steps and routes", async () => {
  await withRequestLogs(async (records) => {
    await using cluster = await startCluster(2, "star");
    const [a, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    a.register("prepare", (x: number) => {
      getLogger(["app"]).info("preparing {x}", { x });
      return x + 1;
    });
    b.register("explode", (x: number) => {
      getLogger(["app"]).info("exploding {x}", { x });
      throw new Error(`boom ${x}`);
    });
    await known([a], "explode", b.name);
    await using client = new Client(a.url);
    const error = await rpcFailure(client.request([
      { name: "p", fun: "prepare", args: [1] },
      { name: "e", fun: "explode", args: ["p"] },
    ]));
    assert.equal(error.code, 1003);
    const failed = records.filter((r) =>
      r.level === "warning" && r.category[0] === "mpreg" && r.properties.node === a.name
    );
    assert.equal(failed.length, 1, "the entry node logs the failed request once");
    const id = failed[0]!.properties.requestId;
    assert.equal(failed[0]!.properties.step, "e");
    assert.equal(failed[0]!.properties.fun, "explode");
    assert.equal(failed[0]!.properties.principal, "anonymous");
    // The function's own lines, on both nodes, carry the entry node's id.
    const app = records.filter((r) => r.category[0] === "app");
    assert.equal(app.length, 2);
    for (const line of app) assert.equal(line.properties.requestId, id, String(line.message));
    // The node that ran the failing step says so once, under the same id.
    const ran = records.filter((r) =>
      r.level === "warning" && r.category[0] === "mpreg" && r.properties.node === b.name
    );
    assert.equal(ran.length, 1, "the node that ran the step logs its failure once");
    assert.equal(ran[0]!.properties.requestId, id);
    assert.equal(ran[0]!.properties.step, "e");
    assert.equal(ran[0]!.properties.origin, a.name);
    // Debug: the request's steps, and where each ran.
    const mine = records.filter((r) => r.properties.requestId === id && r.level === "debug");
    const text = mine.map((r) => JSON.stringify(r.properties)).join("\n");
    assert.ok(
      mine.some((r) =>
        JSON.stringify(r.properties.steps) === JSON.stringify(["p:prepare", "e:explode"])
      ),
      `a debug line lists the steps:\n${text}`,
    );
    assert.ok(
      mine.some((r) => r.properties.step === "p" && r.properties.route === a.name),
      `a debug line routes p to ${a.name}:\n${text}`,
    );
    assert.ok(
      mine.some((r) => r.properties.step === "e" && r.properties.route === b.name),
      `a debug line routes e to ${b.name}:\n${text}`,
    );
  });
});
