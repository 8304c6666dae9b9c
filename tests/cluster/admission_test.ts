// Copyright 2026 the mpreg authors. MIT license.
// Admission with a cluster secret binds who is admitted: a relay between two
// honest nodes (it knows no secret) forwards their handshake but swaps a
// member record, hoping to be admitted under a name and URL of its choosing
// and to answer the steps routed to it.
import assert from "node:assert/strict";
import { Client, ErrorCode, type Server } from "../../mod.ts";
import { PEER_PROTOCOL } from "../../src/cluster/peer_protocol.ts";
import { createCodec } from "../../src/protocol/codec.ts";
import { DEFAULT_LIMITS } from "../../src/protocol/limits.ts";
import { startServer, waitFor } from "../_helpers/mod.ts";

const SECRET = "the-cluster-secret";
const FORGED_ANSWER = "forged by the relay";

type Message = Record<string, unknown> & { t: string };

/** What the relay does to a message, by direction; `null` drops it. */
interface Rewrite {
  /** A message from the node that dialed the relay, before it goes on. */
  fromDialer?(message: Message): Message;
  /** A message from the node the relay dialed, before it goes back. */
  fromAcceptor?(message: Message): Message;
}

/**
 * A man in the middle between a node that dials it and `target`. It holds no
 * secret: it forwards every frame, applies `rewrite`, and itself answers any
 * `run` of the function `steal` (from either side) with a forged value.
 */
class Relay implements AsyncDisposable {
  readonly url: string;
  /** Settles when a handshake through the relay ended: admitted or refused. */
  readonly handshakeOver: Promise<"welcome" | "closed">;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #sockets = new Set<WebSocket>();
  readonly #over = Promise.withResolvers<"welcome" | "closed">();
  readonly #codec = createCodec("msgpack", { limits: DEFAULT_LIMITS });

  constructor(target: string, rewrite: Rewrite) {
    this.handshakeOver = this.#over.promise;
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
      const protocol = PEER_PROTOCOL;
      const { socket: down, response } = Deno.upgradeWebSocket(request, { protocol });
      const up = new WebSocket(target, [protocol]);
      for (const s of [down, up]) {
        s.binaryType = "arraybuffer";
        this.#sockets.add(s);
      }
      const queued: ArrayBuffer[] = [];
      up.onopen = () => {
        for (const frame of queued.splice(0)) up.send(frame);
      };
      // Frames from the dialer go up (to the target), frames from the target down.
      down.onmessage = (e) => {
        const frame = this.#pass(e.data, rewrite.fromDialer, down);
        if (frame === null) return;
        if (up.readyState === WebSocket.OPEN) up.send(frame);
        else queued.push(frame);
      };
      up.onmessage = (e) => {
        const frame = this.#pass(e.data, rewrite.fromAcceptor, up);
        if (frame !== null && down.readyState === WebSocket.OPEN) down.send(frame);
      };
      const closeBoth = () => {
        this.#over.resolve("closed");
        for (const s of [down, up]) if (s.readyState <= WebSocket.OPEN) s.close();
      };
      down.onclose = closeBoth;
      up.onclose = closeBoth;
      down.onerror = up.onerror = () => {};
      return response;
    });
    this.url = `ws://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Decodes a frame (one message or a batch), rewrites it, answers `steal` itself. */
  #pass(data: ArrayBuffer, rewrite: Rewrite["fromDialer"], from: WebSocket): ArrayBuffer | null {
    const decoded = this.#codec.decode(data) as Message | Message[];
    const batch = Array.isArray(decoded);
    const out: Message[] = [];
    for (const message of batch ? decoded : [decoded]) {
      if (message.t === "welcome") this.#over.resolve("welcome");
      if (message.t === "run" && message.fun === "steal") {
        from.send(this.#codec.encode({ t: "result", id: message.id, value: FORGED_ANSWER }));
        continue;
      }
      out.push(rewrite === undefined ? message : rewrite(message));
    }
    if (out.length === 0) return null;
    const frame = this.#codec.encode(batch ? out : out[0]) as Uint8Array<ArrayBuffer>;
    return frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#over.resolve("closed");
    const closed = [...this.#sockets].map((s) =>
      s.readyState === WebSocket.CLOSED ? Promise.resolve() : new Promise<void>((resolve) => {
        s.addEventListener("close", () => resolve(), { once: true });
        if (s.readyState <= WebSocket.OPEN) s.close();
      })
    );
    await Promise.all(closed);
    await this.#server.shutdown();
  }
}

/** A member record the relay made up: its own name and URL, and a function it answers. */
function forgedRecord(name: string, url: string): Record<string, unknown> {
  const now = Date.now();
  return {
    name,
    incarnation: now,
    catalogVersion: now,
    urls: [url],
    resources: [],
    functions: { steal: [] },
  };
}

/** Swaps the `record` of a handshake message (whichever carries one). */
function swapRecord(record: () => Record<string, unknown>): (m: Message) => Message {
  return (m) =>
    (m.t === "hello" || m.t === "challenge" || m.t === "welcome") && m.record !== undefined
      ? { ...m, record: record() }
      : m;
}

/** A relay that passes every frame on unchanged. */
function noChange(_relayUrl: () => string): Rewrite {
  return {};
}

async function twoNodesThrough(rewrite: (relayUrl: () => string) => Rewrite): Promise<{
  acceptor: Server;
  dialer: Server;
  relay: Relay;
  dispose(): Promise<void>;
}> {
  const acceptor = await startServer({ name: "acceptor", clusterSecret: SECRET });
  let relayUrl = "";
  const relay = new Relay(acceptor.url, rewrite(() => relayUrl));
  relayUrl = relay.url;
  const dialer = await startServer({ name: "dialer", clusterSecret: SECRET, peers: [relay.url] });
  return {
    acceptor,
    dialer,
    relay,
    async dispose() {
      await dialer.stop({ drainTimeoutMs: 0 });
      await acceptor.stop({ drainTimeoutMs: 0 });
      await relay[Symbol.asyncDispose]();
    },
  };
}

function names(server: Server): string[] {
  return server.cluster.members().map((m) => m.name).sort();
}

/** Calls `steal` on `server`: the forged answer if the relay got the step. */
async function steal(server: Server): Promise<unknown> {
  await using client = new Client(server.url, { timeoutMs: 3_000 });
  try {
    return await client.call("steal");
  } catch (err) {
    return err;
  }
}

Deno.test("admission: a relay that changes nothing links two nodes (control)", async () => {
  const { acceptor, dialer, relay, dispose } = await twoNodesThrough(noChange);
  try {
    assert.equal(await relay.handshakeOver, "welcome");
    await waitFor(() => acceptor.cluster.member("dialer")?.state === "alive", 5_000, "dialer");
    await waitFor(() => dialer.cluster.member("acceptor")?.state === "alive", 5_000, "acceptor");
  } finally {
    await dispose();
  }
});

/**
 * After the relayed handshake: a client of `victim` calling `steal` must not
 * get the relay's answer, and `victim` must list only itself. With no member
 * offering `steal`, the node waits for catalogs (a join included) before
 * answering 1001, so a forged member admitted late is still found.
 */
async function assertNotAdmitted(victim: Server, relay: Relay): Promise<void> {
  await relay.handshakeOver;
  const answer = await steal(victim);
  assert.notEqual(answer, FORGED_ANSWER, "the relay's forged result reached the client");
  assert.equal((answer as { code?: number }).code, ErrorCode.FunctionNotFound, String(answer));
  assert.deepEqual(names(victim), [victim.name], "the forged member is not listed");
}

const SWAPS: Array<{ what: string; victim: "acceptor" | "dialer"; rewrite: typeof noChange }> = [
  {
    what: "the dialer's record in the hello",
    victim: "acceptor",
    rewrite: (relayUrl) => ({
      fromDialer: swapRecord(() => forgedRecord("forged-dialer", relayUrl())),
    }),
  },
  {
    what: "the acceptor's record",
    victim: "dialer",
    rewrite: (relayUrl) => ({
      fromAcceptor: swapRecord(() => forgedRecord("forged-acceptor", relayUrl())),
    }),
  },
];

for (const { what, victim, rewrite } of SWAPS) {
  Deno.test(`admission: a relay that swaps ${what} is not admitted`, async () => {
    const nodes = await twoNodesThrough(rewrite);
    try {
      await assertNotAdmitted(nodes[victim], nodes.relay);
    } finally {
      await nodes.dispose();
    }
  });
}
