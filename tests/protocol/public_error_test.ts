// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { FunctionError, InternalError, RpcError } from "../../mod.ts";
import { publicError } from "../../src/protocol/public_error.ts";
import { withLogs } from "../_helpers/logs.ts";

Deno.test("publicError() leaves every error but an internal one as it is", () => {
  const failed = new FunctionError('Step "a" (f) failed: Error: /tmp/x', {
    details: { step: "a" },
  });
  assert.equal(publicError(failed, "n1"), failed);
});

Deno.test("publicError() replaces an internal error by an id, logged with its detail", async () => {
  await withLogs((records) => {
    const sent = publicError(
      new RpcError(1002, "open /etc/node.yaml failed", {
        details: { step: "s", fun: "f", profile: "read=/etc", step2: 1 },
        cause: new TypeError("/etc/node.yaml: denied"),
      }),
      "n1",
      { requestId: "7" },
    );
    assert.ok(sent instanceof InternalError);
    const details = sent.details as Record<string, unknown>;
    assert.deepEqual(Object.keys(details).sort(), ["fun", "id", "node", "step"]);
    assert.match(details.id as string, /^[0-9a-f]{16}$/);
    assert.equal(
      sent.message,
      `Internal error on node "n1" (id ${details.id}): see that node's log`,
    );
    assert.deepEqual(sent.toWire().details, details, "the wire form holds only the safe details");
    assert.equal(records.length, 1);
    const [record] = records;
    assert.equal(record!.level, "error");
    assert.equal(record!.properties.id, details.id);
    assert.equal(record!.properties.requestId, "7");
    assert.match(String(record!.properties.cause), /TypeError: \/etc\/node\.yaml: denied/);
  });
});

Deno.test("publicError() keeps a peer's generic answer and its id, without logging it again", async () => {
  await withLogs((records) => {
    const first = publicError(new InternalError("/srv/a"), "runner");
    const received = RpcError.fromWire(first.toWire());
    const again = publicError(received, "coordinator");
    assert.equal(again.message, first.message);
    assert.deepEqual(again.details, first.details);
    assert.equal(records.length, 1, "logged once, on the runner");
    // An internal error that only looks generic (another text) is not trusted.
    const id = (first.details as { id: string }).id;
    const forged = publicError(
      new InternalError(`${first.message} /srv/b`, { details: { id, node: "runner" } }),
      "coordinator",
    );
    assert.notEqual((forged.details as { id: string }).id, id);
    assert.ok(!forged.message.includes("/srv"));
    assert.equal(records.length, 2);
  });
});
