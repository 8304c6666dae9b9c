// Copyright 2026 the mpreg authors. MIT license.
/**
 * An in-memory channel pair, and `memory://` URLs to dial one: the client,
 * peer links and the call table run over it in tests without sockets.
 *
 * @module
 */
import { type Channel, CLOSED, CLOSING, CONNECTING, type Frame, OPEN } from "./channel.ts";

const noop = (): void => {};
/** The longest delay a timer takes. */
const KEEP_ALIVE_MS = 2 ** 31 - 1;

/**
 * One end of an in-memory channel. Frames arrive at the other end in order,
 * in a later task (never in the sender's turn, as from a socket), as a
 * string or a copied `ArrayBuffer` (what a
 * WebSocket with `binaryType = "arraybuffer"` hands out). A close reaches
 * the other end after the frames sent before it, and ends both. An open end
 * keeps the process alive, as an open socket does (a timer that never fires,
 * cleared when it closes).
 *
 * @example A pair of ends
 * ```ts ignore
 * const [a, b] = memoryPair("mpreg.json.v1");
 * b.onmessage = (event) => console.log(event.data); // "hi"
 * a.send("hi");
 * ```
 */
export class MemoryChannel implements Channel {
  protocol = "";
  binaryType: "arraybuffer" | "blob" = "arraybuffer";
  readyState: number = CONNECTING;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  #peer: MemoryChannel | null = null;
  /** Frames sent and not yet handed to the peer, in order. */
  #outbox: Array<Frame | { code: number; reason: string }> = [];
  #delivery: ReturnType<typeof setTimeout> | null = null;
  #keepAlive: ReturnType<typeof setInterval> | null = null;

  /** Frames this end has sent. */
  sent = 0;

  /**
   * Sends a frame to the other end.
   *
   * @param frame The frame.
   */
  send(frame: Frame): void {
    if (this.readyState !== OPEN) {
      throw new DOMException("The channel is not open", "InvalidStateError");
    }
    this.sent++;
    // Copied now, as a socket would have: the sender may reuse its buffer.
    // (Not `slice()`: on a Node Buffer it shares the memory.)
    if (typeof frame === "string") {
      this.#post(frame);
    } else {
      const copy = new Uint8Array(frame.byteLength);
      copy.set(frame);
      this.#post(copy);
    }
  }

  /**
   * Closes both ends: the other end sees `code` and `reason` after the
   * frames sent before, then this end does.
   *
   * @param code The close code.
   * @param reason The close reason.
   */
  close(code = 1000, reason = ""): void {
    if (this.readyState === CONNECTING) {
      this.#end(1006, "closed before opening");
      return;
    }
    if (this.readyState !== OPEN) return;
    this.readyState = CLOSING;
    this.#post({ code, reason });
  }

  /**
   * Cuts the channel: both ends close with 1006 at once, and frames not yet
   * delivered are lost (a dropped connection).
   */
  drop(): void {
    const peer = this.#peer;
    this.#outbox = [];
    this.#end(1006, "connection dropped");
    if (peer !== null) {
      peer.#outbox = [];
      peer.#end(1006, "connection dropped");
    }
  }

  /** Opens both ends of a pair with the agreed subprotocol. */
  static connect(a: MemoryChannel, b: MemoryChannel, protocol: string): void {
    a.#peer = b;
    b.#peer = a;
    a.protocol = b.protocol = protocol;
    a.readyState = b.readyState = OPEN;
    a.#keepAlive = setInterval(noop, KEEP_ALIVE_MS);
    b.#keepAlive = setInterval(noop, KEEP_ALIVE_MS);
  }

  /**
   * Dials a `memory://<name>` URL (see {@linkcode dialMemory}).
   *
   * @param url The URL.
   * @param protocols The subprotocols to offer.
   * @returns The dialing end.
   */
  static dial(url: string, protocols: readonly string[]): MemoryChannel {
    const name = new URL(url).host;
    const channel = new MemoryChannel();
    // Closing the channel before it opens clears this task.
    channel.#delivery = setTimeout(() => {
      channel.#delivery = null;
      const listener = listeners.get(name);
      if (listener === undefined) {
        channel.fail(new Error(`Connection refused: nothing listens on "memory://${name}"`));
        return;
      }
      const protocol = listener.select(protocols);
      if (protocol === null) {
        channel.fail(new Error(`"memory://${name}" accepts none of the subprotocols offered`));
        return;
      }
      const other = new MemoryChannel();
      MemoryChannel.connect(channel, other, protocol);
      listener.accept(other, protocols);
      channel.opened();
    }, 0);
    return channel;
  }

  /** Reports a dial that failed: `onerror` with `error`, then `onclose` with 1006. */
  fail(error: Error): void {
    if (this.readyState === CLOSED) return;
    this.onerror?.({ type: "error", error, message: error.message } as unknown as Event);
    this.#end(1006, "");
  }

  /** Reports that the channel opened. */
  opened(): void {
    this.onopen?.({ type: "open" } as Event);
  }

  #post(item: Frame | { code: number; reason: string }): void {
    this.#outbox.push(item);
    this.#delivery ??= setTimeout(this.#deliver, 0);
  }

  readonly #deliver = (): void => {
    this.#delivery = null;
    const peer = this.#peer;
    const items = this.#outbox;
    this.#outbox = [];
    for (const item of items) {
      if (peer === null || peer.readyState === CLOSED) return;
      if (typeof item === "string") {
        peer.onmessage?.({ type: "message", data: item } as MessageEvent);
      } else if (item instanceof Uint8Array) {
        peer.onmessage?.({ type: "message", data: item.buffer } as MessageEvent);
      } else {
        // The close handshake: the peer answers it, and both ends are closed.
        peer.#end(item.code, item.reason);
        this.#end(item.code, item.reason);
        return;
      }
    }
  };

  #end(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
    // What it still had to send is lost with it.
    if (this.#delivery !== null) clearTimeout(this.#delivery);
    this.#delivery = null;
    this.#outbox = [];
    this.onclose?.({ type: "close", code, reason, wasClean: code !== 1006 } as CloseEvent);
  }
}

/**
 * Two connected, open ends of an in-memory channel.
 *
 * @example Connect two ends
 * ```ts ignore
 * const [client, node] = memoryPair("mpreg.msgpack.v1");
 * console.log(client.readyState, node.protocol); // 1 "mpreg.msgpack.v1"
 * ```
 *
 * @param protocol The subprotocol both ends report.
 * @returns The two ends.
 */
export function memoryPair(protocol = ""): [MemoryChannel, MemoryChannel] {
  const a = new MemoryChannel();
  const b = new MemoryChannel();
  MemoryChannel.connect(a, b, protocol);
  return [a, b];
}

/** What a `memory://` listener does with a dial. */
export interface MemoryListener {
  /**
   * Picks the subprotocol from those the dialer offers, or `null` to refuse
   * the dial.
   */
  select(protocols: readonly string[]): string | null;
  /** Takes the accepting end of a new channel (already open). */
  accept(channel: MemoryChannel, protocols: readonly string[]): void;
}

const listeners = new Map<string, MemoryListener>();

/**
 * Listens on `memory://<name>` in this process until the returned function
 * is called: {@linkcode openChannel} dials it with an in-memory pair.
 *
 * @example Accept in-memory dials
 * ```ts ignore
 * const stop = listenMemory("node-a", {
 *   select: (offered) => offered[0] ?? "",
 *   accept: (channel) => channel.onmessage = (e) => channel.send(e.data),
 * });
 * stop();
 * ```
 *
 * @param name The host part of the URL.
 * @param listener Picks the subprotocol and takes each channel.
 * @returns Stops listening (channels already accepted stay open).
 */
export function listenMemory(name: string, listener: MemoryListener): () => void {
  if (listeners.has(name)) throw new TypeError(`"memory://${name}" is already listened on`);
  listeners.set(name, listener);
  return () => {
    if (listeners.get(name) === listener) listeners.delete(name);
  };
}

/**
 * Dials a `memory://<name>` URL: the channel opens in a later task when a
 * listener is there and takes one of `protocols`, else it fails (`onerror`,
 * then `onclose` with 1006), like a refused connection.
 *
 * @param url The URL.
 * @param protocols The subprotocols to offer.
 * @returns The dialing end.
 */
export function dialMemory(url: string, protocols: readonly string[]): MemoryChannel {
  return MemoryChannel.dial(url, protocols);
}
