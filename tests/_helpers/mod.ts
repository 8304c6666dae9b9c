// Copyright 2026 the mpreg authors. MIT license.
// Shared test helpers: real servers on port 0, raw sockets, small waits.
import { pack } from "msgpackr/pack";
import { unpack } from "msgpackr/unpack";
import { RpcError, Server, type ServerOptions } from "../../mod.ts";

/** Starts a node on a free port; dispose it with `await using`. */
export async function startServer(options: ServerOptions = {}): Promise<Server> {
  const server = new Server({ port: 0, drainTimeoutMs: 2_000, ...options });
  await server.start();
  return server;
}

/**
 * A raw WebSocket that collects what it receives, one entry per message:
 * on the mpreg.* subprotocols a batch frame (an array) is split into its
 * messages, each re-encoded as its own frame.
 */
export class RawSocket {
  readonly ws: WebSocket;
  readonly frames: Array<string | ArrayBuffer> = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  #waiters: Array<() => void> = [];

  constructor(url: string, protocols?: string | string[]) {
    this.ws = new WebSocket(url, protocols);
    this.ws.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error("socket error"));
    });
    this.closed = new Promise((resolve) => this.ws.addEventListener("close", resolve));
    this.ws.onmessage = (e) => {
      const protocol = this.ws.protocol;
      if (protocol === "mpreg.json.v1" && typeof e.data === "string" && e.data.startsWith("[")) {
        for (const m of JSON.parse(e.data)) this.frames.push(JSON.stringify(m));
      } else if (protocol === "mpreg.msgpack.v1" && e.data instanceof ArrayBuffer) {
        const decoded = unpack(new Uint8Array(e.data));
        const items = Array.isArray(decoded) ? decoded : [decoded];
        for (const m of items) this.frames.push(new Uint8Array(pack(m)).buffer);
      } else {
        this.frames.push(e.data);
      }
      for (const w of this.#waiters.splice(0)) w();
    };
  }

  /** Waits until at least `n` frames have arrived. */
  async waitFrames(n: number, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < n) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} frames`);
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#waiters.push(resolve);
      const t = setTimeout(resolve, 50);
      await promise;
      clearTimeout(t);
    }
  }

  close(): Promise<CloseEvent> {
    if (this.ws.readyState <= 1) this.ws.close();
    return this.closed;
  }
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true or the time is up. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** Awaits a call that must fail with an RpcError, and returns the error. */
export async function rpcFailure(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof RpcError) return err;
    throw new Error(`expected an RpcError, got ${String(err)}`);
  }
  throw new Error("expected the call to fail");
}
