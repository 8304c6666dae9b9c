// Copyright 2026 the mpreg authors. MIT license.
/**
 * NATS request/reply for the bench: a local `nats-server` (the Debian
 * package `nats-server`, 2.9.x) on a free port, a responder in its own
 * process (`_nats_responder.ts`), and a requester in the bench's process,
 * all with the npm client `@nats-io/transport-node` 3.
 *
 * The path of one request is requester → nats-server → responder →
 * nats-server → requester: that is how NATS request/reply works, and it is
 * what a user choosing NATS over mpreg gets.
 *
 * @module
 */
import type { NatsConnection } from "npm:@nats-io/transport-node@3";
import { freePort, LineChild, waitForTcp } from "./_process.ts";

const RESPONDER_SCRIPT = new URL("./_nats_responder.ts", import.meta.url);
const SUBJECT = "bench.echo";
const CHAIN_FUNS = ["inc", "double", "label"];

/** The `nats-server` on PATH, or `null` with the reason it cannot be used. */
export async function findNatsServer(): Promise<{ path: string; version: string } | string> {
  try {
    const out = await new Deno.Command("nats-server", {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (!out.success) return `nats-server --version exited ${out.code}`;
    return { path: "nats-server", version: text.replace(/^nats-server:\s*/, "") };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      return "nats-server is not on PATH (Debian: apt-get install -y nats-server)";
    }
    return `cannot run nats-server: ${err instanceof Error ? err.message : err}`;
  }
}

/** A running nats-server with a responder, and a requester connected to it. */
export interface NatsRig {
  /** nats-server's version. */
  version: string;
  /** The client package. */
  client: string;
  /** The ids of nats-server and the responder process. */
  pids: number[];
  /** Sends `payload` and resolves with the reply as a string. */
  request(payload: string): Promise<string>;
  /**
   * The chain of issue 19 driven by this client: `inc`, `double` and
   * `label` in sequence, each a request to its own responder; resolves with
   * the last reply (`"n=4"` for 1).
   */
  chain(n: number): Promise<string>;
  /** Closes the requester, stops the responder and nats-server; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts nats-server on a free port, the responder, and a requester.
 *
 * @param version nats-server's version, from {@linkcode findNatsServer}.
 * @returns The rig; call `close()` in a `finally`.
 */
export async function startNats(version: string): Promise<NatsRig> {
  const port = freePort();
  const server = LineChild.spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port)], {
    what: "nats-server",
    stderr: "null",
  });
  let responder: LineChild | null = null;
  const chainResponders: LineChild[] = [];
  let nc: NatsConnection | null = null;
  const close = async () => {
    try {
      await nc?.close();
    } catch {
      // Already closed.
    }
    nc = null;
    await responder?.stop();
    for (const child of chainResponders) await child.stop();
    await server.stop();
  };
  try {
    await waitForTcp(port, 10_000, "nats-server", server.status);
    const url = `nats://127.0.0.1:${port}`;
    responder = LineChild.deno(RESPONDER_SCRIPT, [url, SUBJECT]);
    await responder.json(60_000);
    for (const fun of CHAIN_FUNS) {
      const child = LineChild.deno(RESPONDER_SCRIPT, [url, `bench.${fun}`, fun]);
      chainResponders.push(child);
      await child.json(60_000);
    }
    const { connect } = await import("npm:@nats-io/transport-node@3");
    const conn = await connect({ servers: url });
    nc = conn;
    const options = { timeout: 10_000 };
    return {
      version,
      client: "npm:@nats-io/transport-node@3",
      pids: [server.pid, responder.pid, ...chainResponders.map((child) => child.pid)],
      request: async (payload: string) => (await conn.request(SUBJECT, payload, options)).string(),
      chain: async (n: number) => {
        let value = String(n);
        for (const fun of CHAIN_FUNS) {
          value = (await conn.request(`bench.${fun}`, value, options)).string();
        }
        return value;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
