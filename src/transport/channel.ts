// Copyright 2026 the mpreg authors. MIT license.
/**
 * The message channel every connection of mpreg runs on.
 *
 * @module
 */

/**
 * An encoded frame, as a codec writes it: text for JSON, bytes for msgpack.
 *
 * @example
 * ```ts ignore
 * const frame: Frame = new TextEncoder().encode("hi");
 * ```
 */
export type Frame = string | Uint8Array<ArrayBuffer>;

/** `readyState` while the channel opens. */
export const CONNECTING = 0;
/** `readyState` while frames can be sent. */
export const OPEN = 1;
/** `readyState` once a close has started. */
export const CLOSING = 2;
/** `readyState` once the channel has closed. */
export const CLOSED = 3;

/**
 * A channel of whole messages (frames) between two ends: send, receive and
 * close. It is the part of the WebSocket API mpreg uses, so the standard
 * `WebSocket` is a channel as it is (no wrapper on the hot path); the
 * no-delay TCP WebSocket and the in-memory pair implement it too.
 *
 * Receiving is a callback, not a promise per message: `onmessage` runs once
 * for each frame, in order, with `event.data` a string (text frame), an
 * `ArrayBuffer`, or a `Uint8Array` valid only while the callback runs (the
 * no-delay TCP WebSocket's read buffer). `onclose` runs once, last, with the
 * close code and reason; `onerror` may run before it with the cause in
 * `event.error` (a browser's WebSocket never gives one).
 *
 * @example Send a frame once the channel opens
 * ```ts ignore
 * function greet(channel: Channel): void {
 *   channel.onopen = () => channel.send("hello");
 *   channel.onmessage = (event) => console.log(event.data);
 *   channel.onclose = (event) => console.log(event.code, event.reason);
 * }
 * ```
 */
export interface Channel {
  /** The subprotocol both ends agreed on, once open (`""` for none). */
  readonly protocol: string;
  /**
   * How binary frames arrive: mpreg sets `"arraybuffer"` (an in-memory
   * channel has no other).
   */
  binaryType?: "arraybuffer" | "blob";
  /** {@linkcode CONNECTING}, {@linkcode OPEN}, {@linkcode CLOSING} or {@linkcode CLOSED}. */
  readonly readyState: number;
  /**
   * Sends one frame. Throws when the channel is not open.
   *
   * @param frame The frame.
   */
  send(frame: Frame): void;
  /**
   * Starts the close handshake; `onclose` reports its end.
   *
   * @param code The close code.
   * @param reason The close reason (at most 123 bytes of UTF-8).
   */
  close(code?: number, reason?: string): void;
  /** The channel opened (only channels that dial). */
  onopen: ((event: Event) => void) | null;
  /** A frame arrived. */
  onmessage: ((event: MessageEvent) => void) | null;
  /** Something failed; `onclose` follows. */
  onerror: ((event: Event) => void) | null;
  /** The channel closed. */
  onclose: ((event: CloseEvent) => void) | null;
}
