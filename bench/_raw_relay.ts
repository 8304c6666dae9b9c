// Copyright 2026 the mpreg authors. MIT license.
/**
 * The floor of a route through several processes: a raw WebSocket relay,
 * started in each process the chain figures use (the entry node's and the
 * three chain nodes'), that passes each message on to the next URL of its
 * route, unpacking and packing it with msgpackr as a node would, and nothing
 * else. A message `{u, route, p}` from a client names every hop; the last,
 * `"client"`, sends it back to the client on the socket it came from (at the
 * relay it entered). So the same hops as mpreg's forwarded call (client →
 * A → B → A → client) and chain (client → A → B → C → D → A → client) can
 * be timed without mpreg, between the same processes: their ratio is what
 * the machine allows for the chain against the forwarded call.
 *
 * @module
 */
import { Packr } from "msgpackr/pack";
import { Unpackr } from "msgpackr/unpack";
import { IdTable } from "../src/_util/id_table.ts";
import { openWebSocket } from "../src/transport/open.ts";

const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

interface RelayMessage {
  u: number;
  route: string[];
  p: unknown;
  /** Set by the client: the relay it enters sends the answer back on this socket. */
  c?: true;
}

/** A raw relay listening on a free port of `host`. */
export interface RawRelay {
  /** Its URL, once it listens. */
  url: Promise<string>;
  /** Closes its sockets and stops it. */
  close(): Promise<void>;
}

/**
 * Starts a raw relay.
 *
 * @param host The address to listen on.
 * @returns The relay.
 */
export function serveRawRelay(host: string): RawRelay {
  const sockets = new Set<WebSocket>();
  const clients = new IdTable<WebSocket>();
  const next = new Map<string, WebSocket>();
  const queued = new Map<string, Uint8Array[]>();
  const out = (url: string, frame: Uint8Array): void => {
    const open = next.get(url);
    if (open !== undefined && open.readyState === WebSocket.OPEN) return open.send(frame);
    let waiting = queued.get(url);
    if (waiting !== undefined) return void waiting.push(frame);
    queued.set(url, waiting = [frame]);
    const socket = Deno.env.get("RAW_RELAY_TCP") ? openWebSocket(url, []) : new WebSocket(url);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      next.set(url, socket);
      for (const f of queued.get(url) ?? []) socket.send(f);
      queued.delete(url);
    };
    socket.onmessage = (event) => relay(socket, event.data as ArrayBuffer);
    socket.onerror = () => {};
    sockets.add(socket);
  };
  const relay = (from: WebSocket, data: ArrayBuffer): void => {
    const message = unpackr.unpack(new Uint8Array(data)) as RelayMessage;
    if (message.c === true) {
      clients.set(message.u, from);
      delete message.c;
    }
    const to = message.route.shift();
    if (to === undefined) return;
    if (to === "client") {
      const client = clients.get(message.u);
      clients.delete(message.u);
      client?.send(packr.pack({ u: message.u, p: message.p }));
      return;
    }
    out(to, packr.pack(message));
  };
  const { promise, resolve } = Promise.withResolvers<string>();
  const server = Deno.serve({
    hostname: host,
    port: 0,
    onListen: (addr) => resolve(`ws://${host}:${addr.port}`),
  }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    sockets.add(socket);
    socket.onmessage = (event) => relay(socket, event.data as ArrayBuffer);
    socket.onclose = () => sockets.delete(socket);
    socket.onerror = () => {};
    return response;
  });
  return {
    url: promise,
    async close() {
      for (const socket of sockets) socket.close();
      await server.shutdown();
    },
  };
}

/** A client of raw relays: one promise per message sent along a route. */
export class RawRelayClient {
  readonly #socket: WebSocket;
  readonly #waiting = new IdTable<(value: unknown) => void>();
  #next = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event: MessageEvent<ArrayBuffer>) => {
      const message = unpackr.unpack(new Uint8Array(event.data)) as { u: number; p: unknown };
      const resolve = this.#waiting.get(message.u);
      this.#waiting.delete(message.u);
      resolve?.(message.p);
    };
  }

  /**
   * Connects to the relay the messages enter.
   *
   * @param url Its URL.
   * @returns The client.
   */
  static connect(url: string): Promise<RawRelayClient> {
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      socket.onopen = () => resolve(new RawRelayClient(socket));
      socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
  }

  /**
   * Sends `payload` along `route` (relay URLs after the one it enters, then
   * `"client"`) and waits for it to come back.
   *
   * @param route The hops.
   * @param payload The payload.
   * @returns The payload, back.
   */
  send(route: readonly string[], payload: unknown): Promise<unknown> {
    const u = this.#next++;
    const { promise, resolve } = Promise.withResolvers<unknown>();
    this.#waiting.set(u, resolve);
    this.#socket.send(packr.pack({ u, route: [...route], p: payload, c: true }));
    return promise;
  }

  /** Closes the connection. */
  close(): void {
    this.#socket.close();
  }
}
