// Copyright 2026 the mpreg authors. MIT license.
/**
 * A bare mpreg node (built-ins only) whose resident memory the bench reads
 * while it holds idle client connections; started with the argument
 * `streams`, it also offers `produce(size, perSecond)`, an endless stream of
 * `size`-byte chunks made at most `perSecond` a second (one buffer each), for
 * the memory of a node serving streams to slow readers.
 *
 * It prints one JSON line `{ "url": url, "pid": pid }` once it listens, then
 * answers every line `rss` on stdin with one JSON line of
 * `Deno.memoryUsage()` taken after a full garbage collection (when started
 * with `--v8-flags=--expose-gc`) and a short pause, and every line `now`
 * with one taken at once (no collection: what the node holds while it
 * works), with `open` and `buffered` from `streamStats`. It exits 0
 * when stdin closes or it gets SIGTERM.
 *
 * Run by `bench/main.ts`; not meant to be started by hand.
 *
 * @module
 */
import { Server } from "../mod.ts";
import { streamStats } from "../src/server/stream_sender.ts";

/** The first line this process prints. */
export interface IdleNodeReady {
  /** The node's URL. */
  url: string;
  /** This process's id. */
  pid: number;
}

/** The answer to `rss`. */
export type IdleNodeMemory = Deno.MemoryUsage;

/** The answer to `now`: the memory, and the chunks the node's streams hold. */
export type BusyNodeMemory = Deno.MemoryUsage & { open: number; buffered: number };

const encoder = new TextEncoder();

async function print(value: unknown): Promise<void> {
  await Deno.stdout.write(encoder.encode(JSON.stringify(value) + "\n"));
}

async function memory(): Promise<IdleNodeMemory> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  // Let the collector's follow-up work and any pending I/O settle.
  await new Promise((resolve) => setTimeout(resolve, 200));
  gc?.();
  return Deno.memoryUsage();
}

async function serve(stop: Promise<void>): Promise<void> {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let text = "";
  const reader = lines.getReader();
  const ended = stop.then(() => ({ done: true as const, value: undefined }));
  try {
    while (true) {
      const { done, value } = await Promise.race([reader.read(), ended]);
      if (done) return;
      text += value;
      let nl: number;
      while ((nl = text.indexOf("\n")) >= 0) {
        const command = text.slice(0, nl).trim();
        text = text.slice(nl + 1);
        if (command === "rss") await print(await memory());
        else if (command === "now") {
          const { open, buffered } = streamStats;
          await print({ ...Deno.memoryUsage(), open, buffered });
        } else await print({ error: `unknown command ${JSON.stringify(command)}` });
      }
    }
  } catch {
    // A broken stdin means the parent is gone.
  }
}

/** Endless `size`-byte chunks, at most `perSecond` a second, each a buffer of its own. */
async function* produce(size: number, perSecond: number): AsyncGenerator<Uint8Array> {
  const gap = 1000 / perSecond;
  let next = performance.now();
  for (let i = 0;; i++) {
    yield new Uint8Array(size).fill(i & 0xff);
    next += gap;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    else next = performance.now();
  }
}

async function main(): Promise<void> {
  const node = new Server({ port: 0, host: "127.0.0.1", name: "bench-idle" });
  if (Deno.args.includes("streams")) node.register("produce", produce);
  await node.start();
  const ready: IdleNodeReady = { url: node.url, pid: Deno.pid };
  await print(ready);

  const { promise: sigterm, resolve } = Promise.withResolvers<void>();
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", () => resolve());
  await serve(sigterm);

  const timeout = new Promise<"timeout">((r) => setTimeout(r, 5_000, "timeout"));
  const outcome = await Promise.race([node.stop({ drainTimeoutMs: 500 }), timeout]);
  // Exit explicitly: the stdin reader or the signal listener would keep the process alive.
  Deno.exit(outcome === "timeout" ? 1 : 0);
}

if (import.meta.main) await main();
