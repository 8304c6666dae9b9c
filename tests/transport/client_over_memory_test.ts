// Copyright 2026 the mpreg authors. MIT license.
// The client's reconnects, deadlines and cancels over the in-memory
// transport: a scripted node on `memory://` URLs, no sockets.
import assert from "node:assert/strict";
import {
  CancelledError,
  Client,
  ConnectionError,
  ErrorCode,
  TimeoutError,
  UnavailableError,
} from "../../mod.ts";
import { listenMemory, type MemoryChannel } from "../../src/transport/memory.ts";

interface Message {
  role: "rpc" | "cancel";
  u: number;
  cmds?: Array<{ name: string; fun: string; args: unknown[] }>;
  timeout?: number;
  retry?: boolean;
}

/**
 * A node on `memory://<name>` speaking JSON, answering as `reply` says. Like
 * an mpreg node none of whose functions is idempotent, it refuses a request
 * sent again (`retry`) unstarted.
 */
class ScriptedNode {
  readonly url: string;
  readonly received: Message[] = [];
  readonly channels: MemoryChannel[] = [];
  #waiters: Array<{ test: (m: Message) => boolean; resolve: (m: Message) => void }> = [];
  readonly #stop: () => void;

  constructor(
    name: string,
    readonly reply: (message: Message, channel: MemoryChannel) => void = echo,
  ) {
    this.url = `memory://${name}`;
    this.#stop = listenMemory(name, {
      select: (offered) => offered.includes("mpreg.json.v1") ? "mpreg.json.v1" : null,
      accept: (channel) => {
        this.channels.push(channel);
        channel.onmessage = (event) => {
          const decoded = JSON.parse(event.data as string) as Message | Message[];
          for (const message of Array.isArray(decoded) ? decoded : [decoded]) {
            this.received.push(message);
            this.#waiters = this.#waiters.filter((w) =>
              !(w.test(message) && (w.resolve(message), true))
            );
            if (message.retry === true) refuseRetry(message, channel);
            else this.reply(message, channel);
          }
        };
      },
    });
  }

  /** Resolves with the first message (from now or already received) that passes `test`. */
  waitFor(test: (m: Message) => boolean): Promise<Message> {
    const seen = this.received.find(test);
    if (seen) return Promise.resolve(seen);
    const { promise, resolve } = Promise.withResolvers<Message>();
    this.#waiters.push({ test, resolve });
    return promise;
  }

  /** Stops taking new channels, as a draining node refuses new connections. */
  unlisten(): void {
    this.#stop();
  }

  stop(): void {
    this.#stop();
    for (const channel of this.channels) channel.drop();
  }
}

function echo(message: Message, channel: MemoryChannel): void {
  if (message.role !== "rpc") return;
  const step = message.cmds![0]!;
  channel.send(JSON.stringify({ u: message.u, r: { [step.name]: step.args[0] }, error: null }));
}

const silent = (): void => {};

function refuseRetry(message: Message, channel: MemoryChannel): void {
  const step = message.cmds![0]!;
  const details = { step: step.name, fun: step.fun, started: false, idempotent: false };
  const error = { code: 1015, message: "not idempotent", details };
  channel.send(JSON.stringify({ u: message.u, r: null, error }));
}

Deno.test("Client over memory: a dropped channel fails the calls in flight with ConnectionError, and the next call reconnects", async () => {
  const node = new ScriptedNode("client-mem-drop", (message, channel) => {
    if (message.role === "rpc" && message.cmds![0]!.args[0] !== "hang") echo(message, channel);
  });
  const client = new Client(node.url, { encoding: "json", backoff: { initialMs: 1, maxMs: 5 } });
  try {
    assert.equal(await client.call("echo", ["one"]), "one");
    const hanging = client.call("echo", ["hang"]);
    await node.waitFor((m) => m.cmds?.[0]?.args[0] === "hang");
    node.channels[0]!.drop();
    await assert.rejects(hanging, (err: unknown) => {
      assert.ok(err instanceof ConnectionError, String(err));
      assert.match(err.message, /closed \(1006\)/);
      return true;
    });
    // It was sent again once, marked as a retry, and refused: not idempotent.
    const again = node.received.filter((m) => m.cmds?.[0]?.args[0] === "hang");
    assert.deepEqual(again.map((m) => m.retry ?? false), [false, true]);
    assert.equal(await client.call("echo", ["two"]), "two");
    assert.equal(node.channels.length, 2, "a second channel");
  } finally {
    client.close();
    node.stop();
  }
});

Deno.test("Client over memory: a call past its deadline fails with TimeoutError and the node gets its cancel", async () => {
  const node = new ScriptedNode("client-mem-deadline", silent);
  const client = new Client(node.url, { encoding: "json" });
  try {
    const started = await Promise.allSettled([client.call("slow", [], { timeoutMs: 30 })]);
    const outcome = started[0]!;
    assert.equal(outcome.status, "rejected");
    assert.ok(outcome.reason instanceof TimeoutError, String(outcome.reason));
    const rpc = await node.waitFor((m) => m.role === "rpc");
    assert.ok(rpc.timeout! <= 30, "the node got the same budget");
    const cancel = await node.waitFor((m) => m.role === "cancel");
    assert.equal(cancel.u, rpc.u);
  } finally {
    client.close();
    node.stop();
  }
});

Deno.test("Client over memory: an aborted call fails with CancelledError at once and the node gets its cancel", async () => {
  const node = new ScriptedNode("client-mem-cancel", silent);
  const client = new Client(node.url, { encoding: "json" });
  try {
    const controller = new AbortController();
    const call = client.call("slow", [], { signal: controller.signal });
    const rpc = await node.waitFor((m) => m.role === "rpc");
    controller.abort(new Error("changed my mind"));
    await assert.rejects(call, CancelledError);
    const cancel = await node.waitFor((m) => m.role === "cancel");
    assert.equal(cancel.u, rpc.u);
    // An answer after the cancel is ignored, and the channel serves the next call.
    node.channels[0]!.send(JSON.stringify({ u: rpc.u, r: { slow: 1 }, error: null }));
    assert.equal(node.channels.length, 1);
  } finally {
    client.close();
    node.stop();
  }
});

Deno.test("Client over memory: a node that closes drained (4014) has the calls it never answered sent to the next URL", async () => {
  const draining = new ScriptedNode("client-mem-drain-a", (message, channel) => {
    // It reads the call, then stops without running it: a drained close.
    if (message.role === "rpc") queueMicrotask(() => channel.close(4014, "Node shutting down"));
  });
  const next = new ScriptedNode("client-mem-drain-b");
  const client = new Client([draining.url, next.url], { encoding: "json" });
  try {
    assert.equal(await client.call("echo", ["moved"]), "moved");
    assert.equal(draining.received.length, 1);
    assert.equal(next.received.length, 1);
  } finally {
    client.close();
    draining.stop();
    next.stop();
  }
});

Deno.test("Client over memory: a refusal with started: false sends the call to the next URL, and is the call's error when no URL takes it", async () => {
  const refuser = (name: string) => {
    const node: ScriptedNode = new ScriptedNode(name, (message, channel) => {
      if (message.role !== "rpc") return;
      // A stopping node refuses new connections too.
      node.unlisten();
      channel.send(JSON.stringify({
        u: message.u,
        r: null,
        error: {
          code: ErrorCode.Unavailable,
          message: "Node is shutting down",
          details: { started: false },
        },
      }));
    });
    return node;
  };
  const refusing = refuser("client-mem-refuse-a");
  const next = new ScriptedNode("client-mem-refuse-b");
  const client = new Client([refusing.url, next.url], { encoding: "json" });
  const lone = refuser("client-mem-refuse-c");
  const alone = new Client(lone.url, { encoding: "json", backoff: { initialMs: 1 } });
  try {
    assert.equal(await client.call("echo", ["elsewhere"]), "elsewhere");
    assert.equal(refusing.received.length, 1);
    await assert.rejects(alone.call("echo", ["x"]), (err: unknown) => {
      assert.ok(err instanceof UnavailableError, String(err));
      assert.equal(err.message, "Node is shutting down");
      assert.ok(err.cause instanceof ConnectionError);
      return true;
    });
  } finally {
    client.close();
    alone.close();
    refusing.stop();
    next.stop();
    lone.stop();
  }
});

Deno.test("Client over memory: when no URL listens, a call fails with ConnectionError naming each URL", async () => {
  const client = new Client(["memory://client-mem-none-a", "memory://client-mem-none-b"], {
    encoding: "json",
  });
  try {
    await assert.rejects(client.call("echo", ["x"]), (err: unknown) => {
      assert.ok(err instanceof ConnectionError, String(err));
      assert.match(err.message, /"memory:\/\/client-mem-none-a": Connection refused/);
      assert.match(err.message, /"memory:\/\/client-mem-none-b": Connection refused/);
      return true;
    });
  } finally {
    client.close();
  }
});
