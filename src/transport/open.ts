// Copyright 2026 the mpreg authors. MIT license.
/**
 * Opening a channel to a URL.
 *
 * @module
 */
import { denoNet, TcpWebSocket } from "./_tcp_websocket.ts";

/**
 * Opens a WebSocket. In Deno, `ws://` URLs get a no-delay TCP WebSocket:
 * Deno's built-in client delays every frame over about 1 KB by ~40 ms
 * (see `_tcp_websocket.ts`). Browsers, and `wss://`, use `WebSocket`.
 *
 * @example Open a socket to a node
 * ```ts ignore
 * import { openWebSocket } from "@mpreg/mpreg";
 * const socket = openWebSocket("ws://127.0.0.1:9001", ["mpreg.msgpack.v1"]);
 * socket.onopen = () => socket.close();
 * ```
 *
 * @param url The URL.
 * @param protocols The subprotocols to offer.
 * @returns The socket.
 */
export function openWebSocket(url: string, protocols: string[]): WebSocket {
  const net = url.startsWith("ws:") ? denoNet() : null;
  if (net !== null) return new TcpWebSocket(url, protocols, net) as unknown as WebSocket;
  return new WebSocket(url, protocols);
}

/**
 * Whether a socket writes each frame at once (the no-delay TCP WebSocket),
 * where Deno's built-in WebSocket client stalls ~40 ms on frames over ~1 KB.
 *
 * @param socket A socket from {@linkcode openWebSocket}.
 * @returns True for the no-delay TCP WebSocket.
 */
export function isNoDelay(socket: object): boolean {
  return socket instanceof TcpWebSocket;
}
