// Copyright 2026 the mpreg authors. MIT license.
/**
 * The bench's server process. It starts, each on 127.0.0.1 with a free
 * port:
 * - a raw WebSocket echo server (plain `Deno.serve` + `Deno.upgradeWebSocket`)
 *   that sends every frame back unchanged: the ceiling;
 * - a bare msgpack node: it unpacks each request with msgpackr, calls `echo`
 *   on its only step and packs the answer, with no checks at all (no limits,
 *   validation, graph, routing, deadlines or metrics): the floor under any
 *   msgpackr-based RPC, for telling mpreg's own costs from the codec's;
 * - an mpreg node with its built-in `echo`, and `inline_add` / `sandbox_add`,
 *   the same function run inline and in a sandboxed worker;
 * - a second mpreg node, joined to the first, that alone offers `fecho`, so
 *   `fecho` called through the first node is forwarded to it;
 * - three more nodes joined to the first, each in its own process
 *   (`_chain_node.ts`), the chain of issue 19: `inc` (and
 *   `blob`, a 10 MiB result made there), `double` (and `size`, the length of
 *   its argument) and `label`, each offered by its node alone, so that a
 *   request `a = inc(1)`, `b = double(a)`, `c = label(b)` entering the first
 *   node runs its steps on three other nodes.
 *
 * It prints one JSON line `{ "raw": url, "bare": url, "mpreg": url, "double": url, "pid": pid }` to
 * stdout, then runs until stdin closes or it gets SIGTERM, and exits 0 after
 * closing them all.
 *
 * Run by `bench/main.ts`; not meant to be started by hand.
 *
 * @module
 */
import * as v from "valibot";
import * as z from "npm:zod@4.6.7";
import { Server } from "../mod.ts";
import { createCodec } from "../src/protocol/codec.ts";
import { BLOB_LIMITS, type ChainNodeReady } from "./_chain_node.ts";
import { LineChild, sigterm, stdinClosed } from "./_process.ts";
import { serveRawRelay } from "./_raw_relay.ts";

/** The line this process prints once both servers listen. */
export interface ServerUrls {
  /** The raw echo server. */
  raw: string;
  /** The bare msgpack node. */
  bare: string;
  /** The mpreg node. */
  mpreg: string;
  /** The node of `double` and `size` (the chain's middle node, C). */
  double: string;
  /**
   * A second entry node, in a process of its own, that runs chains step by
   * step through itself (`relayChains: false`), for the chain's figure
   * without the relay.
   */
  unrelayed: string;
  /** The raw relay in this process (A's), where raw routes enter. */
  relay: string;
  /** The raw relays of the chain's nodes B, C and D, in that order. */
  chainRelays: string[];
  /** This process's id. */
  pid: number;
}

const HOST = "127.0.0.1";
const CHAIN_NODE_SCRIPT = new URL("./_chain_node.ts", import.meta.url);

/** Serves WebSockets on a free port; `url` resolves once it listens. */
function serveSockets(sockets: Set<WebSocket>, serve: (socket: WebSocket) => void) {
  const { promise, resolve } = Promise.withResolvers<string>();
  const server = Deno.serve({
    hostname: HOST,
    port: 0,
    onListen: (addr) => resolve(`ws://${HOST}:${addr.port}`),
  }, (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("raw echo: WebSocket only", { status: 426 });
    }
    // Echo the first offered subprotocol, as browsers require one when offered.
    const offered = request.headers.get("sec-websocket-protocol")?.split(",")[0]?.trim();
    const { socket, response } = Deno.upgradeWebSocket(
      request,
      offered ? { protocol: offered } : {},
    );
    socket.binaryType = "arraybuffer";
    sockets.add(socket);
    serve(socket);
    socket.onclose = () => sockets.delete(socket);
    socket.onerror = () => {};
    return response;
  });
  return { server, url: promise };
}

/** The raw echo: every frame goes back unchanged. */
function echoFrames(socket: WebSocket): void {
  socket.onmessage = (event) => socket.send(event.data);
}

interface BareRequest {
  u: number;
  cmds: { name: string; args: unknown[] }[];
}

/**
 * The bare msgpack node: mpreg's msgpack codec without limits (msgpackr with
 * mpreg's options, no pre-scan) and nothing else; it trusts every frame.
 */
function bareNode(): (socket: WebSocket) => void {
  const codec = createCodec("msgpack");
  return (socket) => {
    socket.onmessage = (event: MessageEvent<ArrayBuffer>) => {
      const request = codec.decode(event.data) as BareRequest;
      const step = request.cmds[0]!;
      const echoed = step.args[0];
      socket.send(codec.encode({ u: request.u, r: { [step.name]: echoed }, error: null }));
    };
  };
}

/** Streams `n` chunks of `size` bytes (one buffer, encoded anew for each chunk). */
async function* chunks(n: number, size: number): AsyncGenerator<Uint8Array> {
  const chunk = new Uint8Array(size).fill(7);
  for (let i = 0; i < n; i++) yield chunk;
}

async function main(): Promise<void> {
  const sockets = new Set<WebSocket>();
  const raw = serveSockets(sockets, echoFrames);
  const bare = serveSockets(sockets, bareNode());
  const node = new Server({ port: 0, host: HOST, name: "bench", limits: BLOB_LIMITS });
  // The same function inline and in a sandboxed worker (no permissions).
  node.register("inline_add", (a: number, b: number) => a + b);
  // The same with small argument and result schemas (issue 17).
  node.register("zod_add", (a: number, b: number) => a + b, {
    args: [z.number(), z.number()],
    result: z.number(),
  });
  node.register("valibot_add", (a: number, b: number) => a + b, {
    args: [v.number(), v.number()],
    result: v.number(),
  });
  node.register("sandbox_add", (a: number, b: number) => a + b, { sandbox: true });
  // A stream of `n` chunks of `size` bytes (issue 18); `fchunks` on the second node.
  node.register("chunks", chunks);
  await node.start();
  // A second node offering `fecho`, which the first lacks: a call of `fecho`
  // through the first node is forwarded to this one (client → A → B).
  const second = new Server({ port: 0, host: HOST, name: "bench-b", peers: [node.url] });
  second.register("fecho", (value: unknown) => value);
  second.register("fchunks", chunks);
  await second.start();
  // The chain's nodes B, C and D (issue 19), each in its own process.
  const chainNodes = ["bench-inc", "bench-double", "bench-label"].map((name) =>
    LineChild.deno(CHAIN_NODE_SCRIPT, [name, node.url])
  );
  const chainReady = await Promise.all(
    chainNodes.map((child) => child.json<ChainNodeReady>(60_000)),
  );
  const chainUrls = chainReady.map((ready) => ready.url);
  const relay = serveRawRelay(HOST);
  // In a process of its own: a node in this one would share A's event loop
  // (it cost A's forwarded calls a fifth of their rate).
  const unrelayedChild = LineChild.deno(CHAIN_NODE_SCRIPT, ["bench-unrelayed", node.url]);
  const unrelayed = await unrelayedChild.json<ChainNodeReady>(60_000);
  const wanted = {
    fecho: "bench-b",
    inc: "bench-inc",
    double: "bench-double",
    label: "bench-label",
  };
  while (
    !Object.entries(wanted).every(([fun, at]) => (node.cluster.functions()[fun] ?? []).includes(at))
  ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const urls: ServerUrls = {
    raw: await raw.url,
    bare: await bare.url,
    mpreg: node.url,
    double: chainUrls[1]!,
    unrelayed: unrelayed.url,
    relay: await relay.url,
    chainRelays: chainReady.map((ready) => ready.relay),
    pid: Deno.pid,
  };
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(urls) + "\n"));

  await Promise.race([stdinClosed(), sigterm()]);

  for (const socket of sockets) socket.close(1001, "bench server stopping");
  const stopped = Promise.all([
    node.stop({ drainTimeoutMs: 500 }),
    second.stop({ drainTimeoutMs: 500 }),
    unrelayedChild.stop(),
    ...chainNodes.map((child) => child.stop()),
    raw.server.shutdown(),
    bare.server.shutdown(),
    relay.close(),
  ]);
  const timeout = new Promise<"timeout">((resolve) => setTimeout(resolve, 3_000, "timeout"));
  const outcome = await Promise.race([stopped, timeout]);
  // Exit explicitly: the stdin reader or a signal listener would keep the process alive.
  Deno.exit(outcome === "timeout" ? 1 : 0);
}

if (import.meta.main) await main();
