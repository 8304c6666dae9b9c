// Copyright 2026 the mpreg authors. MIT license.
/**
 * One node of the bench's chain across nodes (issue 19), in its own process
 * as a member of a real cluster would be: `deno run -A
 * bench/_chain_node.ts NAME SEED_URL` starts an mpreg node named `NAME`
 * joined to `SEED_URL` that offers `NAME`'s functions (`inc` and `blob` on
 * `bench-inc`, `double` and `size` on `bench-double`, `label` on
 * `bench-label`; none on `bench-unrelayed`, an entry node whose
 * `relayChains` is off) and a raw relay (`_raw_relay.ts`), prints one JSON line
 * `{ "url": url, "relay": relayUrl, "pid": pid }`, and
 * exits 0 when stdin closes or it gets SIGTERM.
 *
 * Run by `bench/_server.ts`; not meant to be started by hand.
 *
 * @module
 */
import { Server } from "../mod.ts";
import { sigterm, stdinClosed } from "./_process.ts";
import { serveRawRelay } from "./_raw_relay.ts";

/** The size of the chain's large intermediate result (`blob`). */
export const BLOB_BYTES = 10 * 1024 * 1024;
/** Frame limits that carry a {@linkcode BLOB_BYTES} value between the chain's nodes. */
export const BLOB_LIMITS = { maxFrameBytes: 16 * 1024 * 1024, maxStringBytes: 16 * 1024 * 1024 };

/** The line this process prints once its node listens. */
export interface ChainNodeReady {
  /** The node's URL. */
  url: string;
  /** The raw relay in the same process (the floor of the chain's hops, `_raw_relay.ts`). */
  relay: string;
  /** This process's id. */
  pid: number;
}

function functions(name: string): Record<string, (...args: never[]) => unknown> {
  switch (name) {
    case "bench-inc": {
      const blob = new Uint8Array(BLOB_BYTES).map((_, i) => (i * 2654435761) >>> 24);
      return { inc: (n: number) => n + 1, blob: () => blob };
    }
    case "bench-double":
      return { double: (n: number) => n * 2, size: (x: Uint8Array) => x.length };
    case "bench-label":
      return { label: (n: number) => `n=${n}` };
    case "bench-unrelayed":
      return {};
    default:
      throw new Error(`unknown chain node ${name}`);
  }
}

async function main(): Promise<void> {
  const [name, seed] = Deno.args;
  if (name === undefined || seed === undefined) {
    throw new Error("usage: _chain_node.ts NAME SEED_URL");
  }
  const node = new Server({
    port: 0,
    host: "127.0.0.1",
    name,
    peers: [seed],
    limits: BLOB_LIMITS,
    // An entry node that runs chains step by step through itself.
    relayChains: name !== "bench-unrelayed",
  });
  for (const [fun, fn] of Object.entries(functions(name))) node.register(fun, fn);
  await node.start();
  const relay = serveRawRelay("127.0.0.1");
  const ready: ChainNodeReady = { url: node.url, relay: await relay.url, pid: Deno.pid };
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(ready) + "\n"));
  await Promise.race([stdinClosed(), sigterm()]);
  const timeout = new Promise<"timeout">((resolve) => setTimeout(resolve, 3_000, "timeout"));
  const stopped = Promise.all([node.stop({ drainTimeoutMs: 500 }), relay.close()]);
  const outcome = await Promise.race([stopped, timeout]);
  Deno.exit(outcome === "timeout" ? 1 : 0);
}

if (import.meta.main) await main();
