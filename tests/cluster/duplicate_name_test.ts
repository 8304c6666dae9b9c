// Copyright 2026 the mpreg authors. MIT license.
// A newcomer's mistake (issue 16, item 6): two nodes with the same name
// logged "Refusing a link to myself" forever, several times a second, and
// neither said what was wrong. Now the node that has the name refuses the
// other once, naming the name and its own URL, and the other stops dialing
// that seed with one error.
import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { delay, startServer } from "../_helpers/mod.ts";
import { withLogs } from "../_helpers/logs.ts";

const text = (record: LogRecord) =>
  record.message.map((part) => typeof part === "string" ? part : JSON.stringify(part)).join("");

Deno.test("two nodes with the same name: one clear error, then quiet", async () => {
  await withLogs(
    async (records) => {
      await using first = await startServer({ name: "same", gossipIntervalMs: 100 });
      await using second = await startServer({
        name: "same",
        peers: [first.url],
        gossipIntervalMs: 100,
        reconnectIntervalMs: 300,
      });
      // Long enough for many seed retries (backoff from 100 ms) and reconnect intervals.
      await delay(2_500);
      const refusals = records.filter((r) => /Refused peer/.test(text(r)));
      assert.equal(refusals.length, 1, refusals.map(text).join("\n"));
      assert.match(text(refusals[0]!), /Node name "same" is already taken by the node at ws:\/\//);
      const errors = records.filter((r) => r.level === "error");
      assert.equal(errors.length, 1, errors.map(text).join("\n"));
      assert.match(
        text(errors[0]!),
        /Not joining through .*every node of a cluster needs its own name/,
      );
      assert.equal(second.cluster.members().length, 1, "the second node stays alone");
    },
    ["mpreg"],
    "info",
  );
});
