// Copyright 2026 the mpreg authors. MIT license.
// The client sends the W3C trace context of its caller's active span (or an
// explicit `traceparent`) as `tp`, checked against stand-ins that record
// every message; never in the original protocol. The node reading `tp` is in
// tests/server/observability_test.ts (real spans, OTEL_DENO).
import assert from "node:assert/strict";
import { unpack } from "msgpackr/unpack";
import { pack } from "msgpackr/pack";
import {
  type Context,
  context,
  type ContextManager,
  ROOT_CONTEXT,
  trace,
} from "@opentelemetry/api";
import { Client, ProtocolError } from "../../mod.ts";
import { rpcFailure } from "../_helpers/mod.ts";
import { startPythonStandin } from "../_helpers/python_standin.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID = "00f067aa0ba902b7";
const EXPLICIT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/**
 * The least context manager: the active context for the synchronous part of
 * `with` (the client reads it synchronously, when a call is made).
 */
class StackContextManager implements ContextManager {
  #current: Context = ROOT_CONTEXT;
  active(): Context {
    return this.#current;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const previous = this.#current;
    this.#current = ctx;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.#current = previous;
    }
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#current = ROOT_CONTEXT;
    return this;
  }
}

/** Runs `fn` with a caller's span active (no tracer provider: its context only). */
function inCallerSpan<T>(traceFlags: number, fn: () => T): T {
  const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags });
  return context.with(trace.setSpan(context.active(), span), fn);
}

/** A node stand-in on the mpreg.* subprotocols: records each message, answers `null` per step. */
function startStandin():
  & { url: string; messages: Array<Record<string, unknown>> }
  & AsyncDisposable {
  const messages: Array<Record<string, unknown>> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const protocol = req.headers.get("sec-websocket-protocol")?.split(",")[0]?.trim() ?? "";
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol });
    socket.binaryType = "arraybuffer";
    socket.onmessage = (e) => {
      const binary = e.data instanceof ArrayBuffer;
      const decoded = binary ? unpack(new Uint8Array(e.data)) : JSON.parse(e.data);
      for (const message of Array.isArray(decoded) ? decoded : [decoded]) {
        messages.push(message);
        const r = Object.fromEntries(
          (message.cmds as Array<{ name: string }>).map((step) => [step.name, null]),
        );
        const answer = { u: message.u, r, error: null };
        socket.send(binary ? pack(answer) : JSON.stringify(answer));
      }
    };
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    messages,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("trace context: a call and a request in the caller's active span carry its traceparent as tp", async () => {
  context.setGlobalContextManager(new StackContextManager());
  try {
    for (const encoding of ["msgpack", "json"] as const) {
      await using standin = startStandin();
      await using client = new Client(standin.url, { encoding, timeoutMs: 5_000 });
      // Outside any span (the first call also connects, so it is sent later).
      await client.call("f", [1]);
      await inCallerSpan(1, () => client.call("f", [2]));
      await inCallerSpan(
        0,
        () => client.request([{ name: "a", fun: "f" }, { name: "b", fun: "f" }]),
      );
      await inCallerSpan(1, () => client.call("f", [3], { traceparent: EXPLICIT }));
      assert.deepEqual(standin.messages.map((m) => m.tp), [
        undefined,
        `00-${TRACE_ID}-${SPAN_ID}-01`,
        `00-${TRACE_ID}-${SPAN_ID}-00`,
        EXPLICIT,
      ], encoding);
    }
  } finally {
    context.disable();
  }
});

Deno.test("trace context: a call made before the connection opens carries the caller's traceparent", async () => {
  context.setGlobalContextManager(new StackContextManager());
  try {
    await using standin = startStandin();
    await using client = new Client(standin.url, { timeoutMs: 5_000 });
    await inCallerSpan(1, () => client.call("f"));
    assert.equal(standin.messages[0]?.tp, `00-${TRACE_ID}-${SPAN_ID}-01`);
  } finally {
    context.disable();
  }
});

Deno.test("trace context: a malformed explicit traceparent is a TypeError, and nothing is sent", async () => {
  await using standin = startStandin();
  await using client = new Client(standin.url, { timeoutMs: 5_000 });
  const malformed = [
    "",
    "0af7651916cd43dd8448eb211c80319c",
    EXPLICIT.toUpperCase(),
    EXPLICIT.replace(/^00/, "01"),
    EXPLICIT + "-extra",
    `00-${"0".repeat(32)}-b7ad6b7169203331-01`,
    `00-0af7651916cd43dd8448eb211c80319c-${"0".repeat(16)}-01`,
    42,
  ];
  for (const traceparent of malformed) {
    await assert.rejects(
      client.call("f", [], { traceparent: traceparent as string }),
      (err: unknown) => {
        assert.ok(err instanceof TypeError, String(err));
        assert.match(err.message, /^Invalid traceparent .*: expected 00-<32 hex digits>/);
        return true;
      },
    );
    await assert.rejects(
      client.request([{ name: "a", fun: "f" }], { traceparent: traceparent as string }),
      TypeError,
    );
  }
  await client.call("f");
  assert.equal(standin.messages.length, 1, "only the last call was sent");
});

Deno.test("trace context: mpreg-json never sends tp, and refuses an explicit traceparent", async () => {
  context.setGlobalContextManager(new StackContextManager());
  try {
    await using standin = await startPythonStandin();
    await using client = new Client(standin.url, { encoding: "mpreg-json", timeoutMs: 5_000 });
    assert.equal(await inCallerSpan(1, () => client.call("echo", ["hi"])), "hi");
    assert.deepEqual(
      await inCallerSpan(1, () => client.request([{ name: "a", fun: "echo", args: [1] }])),
      { a: 1 },
    );
    const error = await rpcFailure(client.call("echo", ["x"], { traceparent: EXPLICIT }));
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /the original MPREG protocol has no trace context/);
    assert.equal(standin.received.length, 2);
    for (const frame of standin.received) assert.ok(!("tp" in JSON.parse(frame.text)), frame.text);
    assert.deepEqual(standin.refused, []);
  } finally {
    context.disable();
  }
});
