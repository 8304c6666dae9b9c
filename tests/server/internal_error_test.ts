// Copyright 2026 the mpreg authors. MIT license.
// Internal failures reach callers as a generic message with an id; the detail
// (message, cause, stack) is in the log of the node where the failure happened,
// under the same id. Paths in an internal error's text must never reach a client.
import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { Client, InternalError, type Server } from "../../mod.ts";
import { startServer } from "../_helpers/mod.ts";
import { converged } from "../_helpers/cluster.ts";
import { withLogs } from "../_helpers/logs.ts";

const SECRET_PATH = "/srv/mpreg/secret/node.yaml";

/**
 * A function failing the way the node's own machinery fails (the sandbox's
 * load failures): a path in its message, details and cause.
 */
function leaky(): never {
  throw new InternalError(`Step "boom" (leaky) failed: cannot load "${SECRET_PATH}"`, {
    details: { step: "boom", fun: "leaky", path: SECRET_PATH, reason: `EACCES ${SECRET_PATH}` },
    cause: new Error(`EACCES: permission denied, open '${SECRET_PATH}'`),
  });
}

/** Asserts the client's error is generic and returns its id. */
function genericId(err: unknown, node: string): string {
  assert.ok(err instanceof InternalError, String(err));
  const text = `${err.message} ${JSON.stringify(err.details)}`;
  assert.ok(!text.includes("/srv"), `no path reaches the client: ${text}`);
  assert.ok(!text.includes("EACCES"), `no cause text reaches the client: ${text}`);
  const details = err.details as Record<string, unknown>;
  const id = details.id;
  assert.equal(typeof id, "string");
  assert.match(err.message, new RegExp(`^Internal error on node "${node}" \\(id ${id}\\)`));
  assert.equal(details.node, node);
  assert.equal(details.step, "boom", "the step stays: it is the caller's own name");
  assert.equal(details.fun, "leaky");
  return id as string;
}

/** The error-level record with `id`, holding the detail the client did not get. */
function logged(records: LogRecord[], id: string, node: string): LogRecord {
  const record = records.find((r) => r.properties.id === id);
  assert.ok(record, `the log has a record with id ${id}`);
  assert.equal(record.level, "error");
  assert.equal(record.properties.node, node);
  const text = JSON.stringify(record.properties);
  assert.ok(text.includes(SECRET_PATH), `the log holds the message: ${text}`);
  assert.ok(text.includes("EACCES: permission denied"), `the log holds the cause: ${text}`);
  assert.match(String(record.properties.stack), /leaky/, "the log holds the stack");
  return record;
}

Deno.test("internal error leak: a path in an InternalError never reaches the client, its id is in the log", async () => {
  await withLogs(async (records) => {
    await using server = await startServer({ name: "n1" });
    server.register("leaky", leaky);
    for (const encoding of ["msgpack", "json"] as const) {
      await using client = new Client(server.url, { encoding });
      const err = await client.request([{ name: "boom", fun: "leaky" }]).catch((e) => e);
      logged(records, genericId(err, "n1"), "n1");
    }
  });
});

Deno.test("internal error leak: a step forwarded to a runner node answers only the runner's id", async () => {
  await withLogs(async (records) => {
    let a: Server | null = null;
    let b: Server | null = null;
    try {
      a = await startServer({ name: "a", gossipIntervalMs: 150 });
      b = await startServer({ name: "b", gossipIntervalMs: 150, peers: [a.url] });
      b.register("leaky", leaky);
      await converged([a, b]);
      while (!(a.cluster.functions().leaky ?? []).includes("b")) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await using client = new Client(a.url);
      const err = await client.request([{ name: "boom", fun: "leaky" }]).catch((e) => e);
      const id = genericId(err, "b");
      logged(records, id, "b");
      // The coordinator logged no second id for the same failure.
      const ids = new Set(
        records.filter((r) => r.level === "error" && typeof r.properties.id === "string")
          .map((r) => r.properties.id),
      );
      assert.deepEqual([...ids], [id]);
    } finally {
      await a?.stop();
      await b?.stop();
    }
  });
});
