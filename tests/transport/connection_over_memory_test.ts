// Copyright 2026 the mpreg authors. MIT license.
// A Client and a node's ClientConnection over the in-memory transport: the
// call table on both sides (ids, deadlines, cancel) and the guarded answer
// encoder, without sockets and without a Server.
import assert from "node:assert/strict";
import {
  CancelledError,
  Client,
  DEFAULT_LIMITS,
  ErrorCode,
  RpcError,
  TimeoutError,
} from "../../mod.ts";
import { Authenticator } from "../../src/auth/authenticator.ts";
import { createCodec } from "../../src/protocol/codec.ts";
import type { RpcRequest } from "../../src/protocol/messages.ts";
import { ClientConnection, type ConnectionHost } from "../../src/server/connection.ts";
import { RequestLifecycle } from "../../src/server/request_lifecycle.ts";
import { listenMemory } from "../../src/transport/memory.ts";

/** A node of one connection per dial, whose functions are `run`. */
async function node(
  name: string,
  run: (request: RpcRequest, signal: AbortSignal) => unknown,
  maxRequestTimeoutMs = 10_000,
): Promise<{ url: string; aborts: unknown[]; stop(): void }> {
  const who = await new Authenticator({}).authenticate(null);
  const lifecycle = new RequestLifecycle({ requestTimeoutMs: 10_000, maxRequestTimeoutMs });
  const aborts: unknown[] = [];
  const connections: ClientConnection[] = [];
  let requests = 0;
  const host: ConnectionHost = {
    node: name,
    limits: DEFAULT_LIMITS,
    isDraining: () => false,
    lifecycle,
    countRequest: () => () => {},
    newRequestId: () => `${name}#${++requests}`,
    runRequest: (request, _id, signal) => {
      signal.addEventListener("abort", () => aborts.push(signal.reason));
      return run(request, signal);
    },
    acquire: () => true,
    release: () => {},
    connectionClosed: () => {},
  };
  const stop = listenMemory(name, {
    select: (offered) => offered.find((p) => p.startsWith("mpreg.")) ?? null,
    accept: (channel) =>
      connections.push(
        new ClientConnection(channel, createCodec("msgpack"), host, "memory", who),
      ),
  });
  return {
    url: `memory://${name}`,
    aborts,
    stop: () => {
      stop();
      for (const connection of connections) connection.close(1001, "Test over");
      lifecycle.close();
    },
  };
}

Deno.test("ClientConnection over memory: an unencodable result fails that call alone, and deadlines and cancels reach the node", async () => {
  const run = (request: RpcRequest, signal: AbortSignal) => {
    const step = request.cmds[0]!;
    if (step.fun === "wait") {
      return new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason))
      );
    }
    return { [step.name]: step.fun === "bad" ? Symbol("no") : step.args[0] };
  };
  const served = await node("connection-mem", run);
  // A node whose deadlines are shorter than the client's.
  const hasty = await node("connection-mem-hasty", run, 20);
  const client = new Client(served.url);
  const early = new Client(hasty.url);
  try {
    assert.equal(await client.call("echo", ["hi"]), "hi");
    await assert.rejects(client.call("bad"), (err: unknown) => {
      assert.ok(err instanceof RpcError, String(err));
      assert.equal(err.code, ErrorCode.Function);
      assert.match(err.message, /cannot be encoded as msgpack/);
      return true;
    });
    assert.equal(await client.call("echo", [2]), 2, "the channel stayed up");

    // The node's own deadline, and the client's cancel.
    await assert.rejects(early.call("wait"), (err: unknown) => {
      assert.ok(err instanceof TimeoutError, String(err));
      assert.match(err.message, /after 20 ms/);
      return true;
    });
    assert.equal(hasty.aborts.length, 1);
    assert.ok(hasty.aborts[0] instanceof TimeoutError, String(hasty.aborts[0]));
    const controller = new AbortController();
    const cancelled = client.call("wait", [], { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    await assert.rejects(cancelled, CancelledError);
    while (served.aborts.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(served.aborts[0] instanceof CancelledError, String(served.aborts[0]));
    assert.match((served.aborts[0] as Error).message, /Cancelled by the client/);
  } finally {
    client.close();
    early.close();
    served.stop();
    hasty.stop();
  }
});
