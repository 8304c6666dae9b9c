// Copyright 2026 the mpreg authors. MIT license.
/**
 * Opening a channel to a URL, and what a channel's kind means for batching.
 *
 * @module
 */
import { denoNet, TcpWebSocket } from "./_tcp_websocket.ts";
import type { Channel } from "./channel.ts";
import { dialMemory } from "./memory.ts";

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
 * Opens a channel to `url`: an in-memory pair for `memory://` (see
 * `listenMemory`), else a WebSocket as {@linkcode openWebSocket} opens one,
 * set to deliver binary frames as `ArrayBuffer`s.
 *
 * @example Open a channel to a node
 * ```ts ignore
 * const channel = openChannel("ws://127.0.0.1:9001", ["mpreg.msgpack.v1"]);
 * channel.onopen = () => channel.close();
 * ```
 *
 * @param url The URL.
 * @param protocols The subprotocols to offer.
 * @returns The channel; `onopen` or `onclose` tells how the dial went.
 */
export function openChannel(url: string, protocols: string[]): Channel {
  if (url.startsWith("memory:")) return dialMemory(url, protocols);
  const socket: Channel = openWebSocket(url, protocols);
  socket.binaryType = "arraybuffer";
  return socket;
}

/**
 * Whether a channel writes each frame at once (the no-delay TCP WebSocket,
 * an in-memory pair), where Deno's built-in WebSocket client stalls ~40 ms
 * on frames over ~1 KB.
 *
 * @param channel A channel from {@linkcode openChannel}.
 * @returns False for the standard WebSocket.
 */
export function isNoDelay(channel: Channel): boolean {
  return typeof WebSocket === "undefined" || !(channel instanceof WebSocket);
}
