// Copyright 2026 the mpreg authors. MIT license.
// A WebSocket client over a TCP connection with TCP_NODELAY, for Deno.
//
// Deno's built-in WebSocket client writes a frame's header and payload
// separately without TCP_NODELAY, so every frame over about 1 KB waits for
// the peer's delayed ACK: ~40 ms per message (measured: 22 round trips/s at
// 1,030 bytes against 45,000/s at 1,020). This client writes each frame in
// one piece on a socket with Nagle's algorithm off. It implements what mpreg
// needs of RFC 6455 and the WebSocket API: the client handshake with
// subprotocols, masked text and binary frames, fragmented messages, ping and
// pong, and the close handshake. It reaches Deno through a small structural
// interface, so the client stays type-checkable with DOM libraries only; in
// a browser it is never used.
//
// Unlike a WebSocket, a binary message may arrive as a Uint8Array that views
// the reused read buffer, valid only while `onmessage` runs: copying each
// message out of it (`slice`) took 1.2 µs for 150 bytes in a tight loop, more
// than decoding it. mpreg's codecs copy binary values out of such a view (see
// `Codec.decode`).

import { concatBytes } from "../_util/concat.ts";
import type { Channel } from "./channel.ts";

/** The parts of `Deno` this client needs. */
interface TcpConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  setNoDelay(noDelay?: boolean): void;
  close(): void;
}

interface DenoNet {
  connect(options: { hostname: string; port: number }): Promise<TcpConn>;
}

/** `Deno`, when this runs in Deno and may open TCP connections. */
export function denoNet(): DenoNet | null {
  const deno = (globalThis as { Deno?: Partial<DenoNet> }).Deno;
  return typeof deno?.connect === "function" ? deno as DenoNet : null;
}

/**
 * How long `close()` waits for the server's close frame before it closes the
 * connection anyway, in milliseconds.
 */
const CLOSE_REPLY_MS = 1_000;

/** The size of the buffer frames are built in when it is free (see `#write`). */
const WRITE_BUFFER_BYTES = 8192;
/**
 * The largest frame whose buffer is kept, once written, for the next large
 * frame (a stream's 64 KiB chunks): a new buffer per frame was zeroed by V8,
 * paged in, and left to the collector.
 */
const SPARE_BUFFER_BYTES = 256 * 1024;

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Byte `i % 4` of a mask held big-endian in a number (the order it goes on the wire). */
function maskByte(mask: number, i: number): number {
  return (mask >>> (24 - ((i & 3) << 3))) & 0xff;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The 32-bit word that XORs four payload bytes starting at payload offset
 * `i` (a multiple of 4 past a 4-byte boundary of the frame) in this
 * platform's byte order.
 */
function maskWord(mask: number, i: number): number {
  const b0 = maskByte(mask, i);
  const b1 = maskByte(mask, i + 1);
  const b2 = maskByte(mask, i + 2);
  const b3 = maskByte(mask, i + 3);
  return LITTLE_ENDIAN
    ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0
    : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return base64(new Uint8Array(digest));
}

/**
 * A WebSocket (the parts mpreg uses: the `on…` handlers, `send`, `close`,
 * `readyState`, `protocol`) over a no-delay TCP connection. Events are
 * plain objects with the fields mpreg reads (`data`, `code`, `reason`).
 */
export class TcpWebSocket implements Channel {
  readonly url: string;
  protocol = "";
  binaryType: "arraybuffer" | "blob" = "arraybuffer";
  readyState = 0;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  #conn: TcpConn | null = null;
  #closeSent = false;
  /** The peer's close frame arrived. */
  #closeReceived = false;
  /** What `close()` asked for: from then on no message is delivered. */
  #closeRequested: { code: number; reason: string } | null = null;
  /** Ends a close handshake the server does not answer (see `CLOSE_REPLY_MS`). */
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** The close frame sent or received: `onclose` reports it once it is written. */
  #closeWhenWritten: { code: number; reason: string } | null = null;
  /**
   * A write failed: nothing more is written, but reading goes on to the end
   * of the connection, so every message the peer sent before it went away
   * (answers, its close frame) is still delivered.
   */
  #writeFailed = false;
  readonly #readBuffer = new Uint8Array(64 * 1024);
  /**
   * Frames up to its size are built here when no write is using it, which
   * is always so one call at a time: a new 150-byte Uint8Array took 0.7 µs
   * in Deno in a tight loop (its ArrayBuffer, and collecting it).
   */
  readonly #writeBuffer = new Uint8Array(WRITE_BUFFER_BYTES);
  #writeBufferBusy = false;
  /** A written large frame's buffer, for the next one that fits (see `SPARE_BUFFER_BYTES`). */
  #spare: ArrayBuffer | null = null;
  #queue: Uint8Array[] = [];
  #draining = false;

  constructor(url: string, protocols: string[], net: DenoNet) {
    this.url = url;
    this.#open(new URL(url), protocols, net).catch((err) => this.#fail(err));
  }

  send(data: string | ArrayBufferView | ArrayBuffer): void {
    if (this.readyState !== 1) throw new DOMException("WebSocket is not open", "InvalidStateError");
    if (typeof data === "string") {
      this.#write(1, encoder.encode(data));
    } else if (data instanceof Uint8Array) {
      this.#write(2, data);
    } else if (data instanceof ArrayBuffer) {
      this.#write(2, new Uint8Array(data));
    } else {
      this.#write(2, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState === 0) {
      this.#finish(1006, "closed before opening", false);
    } else if (this.readyState === 1) {
      this.readyState = 2;
      this.#closeRequested = { code, reason };
      this.#sendClose(code, reason, { code, reason });
    } else if (this.#writeFailed) {
      // Nothing can be written, and the caller wants nothing more read.
      this.#finish(code, reason, false);
    }
  }

  async #open(url: URL, protocols: string[], net: DenoNet): Promise<void> {
    const port = Number(url.port || 80);
    const conn = await net.connect({ hostname: url.hostname.replace(/^\[|\]$/g, ""), port });
    if (this.#closed) {
      // close() was called while connecting.
      conn.close();
      return;
    }
    conn.setNoDelay(true);
    this.#conn = conn;
    const key = base64(crypto.getRandomValues(new Uint8Array(16)));
    const lines = [
      `GET ${url.pathname || "/"}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
    ];
    if (protocols.length > 0) lines.push(`Sec-WebSocket-Protocol: ${protocols.join(", ")}`);
    await this.#writeAll(encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
    // Read the response head; whatever follows it is the first frame data.
    let buffer: Uint8Array = new Uint8Array(0);
    let end = -1;
    while (end < 0) {
      const chunk = await this.#read();
      if (chunk === null) throw new Error("connection closed during the handshake");
      buffer = concat(buffer, chunk);
      end = indexOfHeadEnd(buffer);
      if (end < 0 && buffer.length > 16384) throw new Error("handshake response too large");
    }
    const head = decoder.decode(buffer.subarray(0, end)).split("\r\n");
    if (!/^HTTP\/1\.1 101\b/.test(head[0] ?? "")) throw new Error(`handshake refused: ${head[0]}`);
    const headers = new Map<string, string>();
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
    }
    if (headers.get("sec-websocket-accept") !== await acceptKey(key)) {
      throw new Error("handshake: wrong Sec-WebSocket-Accept");
    }
    this.protocol = headers.get("sec-websocket-protocol") ?? "";
    if (this.#closed) return;
    this.readyState = 1;
    this.onopen?.({ type: "open" } as Event);
    await this.#readFrames(buffer.subarray(end + 4));
  }

  /** Reads into one reused buffer: callers copy what they keep. */
  async #read(): Promise<Uint8Array | null> {
    const n = await this.#conn!.read(this.#readBuffer);
    return n === null ? null : this.#readBuffer.subarray(0, n);
  }

  async #readFrames(initial: Uint8Array): Promise<void> {
    let buffer = initial;
    let fragments: Uint8Array[] = [];
    let fragmentOpcode = 0;
    while (!this.#closed) {
      let delivered = false;
      // Parse every complete frame in the buffer.
      while (buffer.length >= 2) {
        const b0 = buffer[0]!;
        const b1 = buffer[1]!;
        let length = b1 & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) break;
          length = (buffer[2]! << 8) | buffer[3]!;
          offset = 4;
        } else if (length === 127) {
          if (buffer.length < 10) break;
          length = Number(new DataView(buffer.buffer, buffer.byteOffset + 2, 8).getBigUint64(0));
          offset = 10;
        }
        if (b1 & 0x80) offset += 4; // a server never masks, but skip a mask if present
        if (buffer.length < offset) break;
        let payload: Uint8Array;
        if (buffer.length >= offset + length) {
          // A view, not a copy: valid until the next read reuses the buffer.
          payload = buffer.subarray(offset, offset + length);
          buffer = buffer.subarray(offset + length);
        } else if (offset + length > this.#readBuffer.length) {
          // A large frame: read the rest of its payload straight into one
          // buffer of its size (handed out without another copy).
          payload = new Uint8Array(length);
          payload.set(buffer.subarray(offset));
          let filled = buffer.length - offset;
          while (filled < length) {
            const n = await this.#conn!.read(payload.subarray(filled)).catch(() => null);
            if (n === null) {
              this.#finish(1006, "", false);
              return;
            }
            filled += n;
          }
          buffer = new Uint8Array(0);
        } else {
          break;
        }
        const fin = (b0 & 0x80) !== 0;
        const opcode = b0 & 0x0f;
        if (opcode === 8) {
          const code = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 1005;
          const reason = payload.length > 2 ? decoder.decode(payload.subarray(2)) : "";
          this.#closeReceived = true;
          if (this.#closeSent || this.#writeFailed) {
            // The answer to this side's close (reported as `close()` asked),
            // or nothing can be written: the handshake is over.
            const report = this.#closeRequested ?? { code, reason };
            this.#finish(report.code, report.reason, true);
          } else {
            // Answer the close, and close the connection once the answer is
            // written: the peer waits for it before it lets go of the
            // connection (a node that stops does).
            this.readyState = 2;
            this.#sendClose(code === 1005 ? 1000 : code, "", { code, reason });
          }
          return;
        }
        if (opcode === 9) {
          this.#write(10, payload);
          continue;
        }
        if (opcode === 10) continue;
        if (opcode !== 0) {
          fragmentOpcode = opcode;
          fragments = [];
        }
        if (!fin) {
          // A fragment waits for the next read: keep a copy.
          fragments.push(payload.buffer === this.#readBuffer.buffer ? payload.slice() : payload);
          continue;
        }
        let data = payload;
        if (fragments.length > 0) {
          fragments.push(payload);
          data = concatBytes(fragments);
          fragments = [];
        }
        // After close(), as a WebSocket, nothing more is delivered.
        if (this.#closeRequested !== null) continue;
        delivered = true;
        this.onmessage?.(
          { data: fragmentOpcode === 1 ? decoder.decode(data) : binary(data) } as MessageEvent,
        );
      }
      // The read buffer is about to be reused: keep a copy of what is left
      // unparsed of it (frames are parsed straight from it, payloads copied).
      if (buffer.length > 0 && buffer.buffer === this.#readBuffer.buffer) buffer = buffer.slice();
      if (delivered) {
        // Let the code waiting on these messages run first: what it sends
        // in reply is written before the next read is started, so starting
        // the read is not on the way from one answer to the next call.
        await undefined;
        if (this.#closed) return;
      }
      // Read here rather than through #read(): an async call and a catch()
      // are two more promises per message.
      let n: number | null;
      try {
        n = await this.#conn!.read(this.#readBuffer);
      } catch {
        n = null;
      }
      if (n === null) {
        const asked = this.#closeRequested;
        if (asked !== null) this.#finish(asked.code, asked.reason, false);
        else this.#finish(1006, this.#writeFailed ? "write failed" : "", false);
        return;
      }
      const chunk = this.#readBuffer.subarray(0, n);
      buffer = buffer.length === 0 ? chunk : concat(buffer, chunk);
    }
  }

  /** Sends a close frame; `onclose` reports `report` once it is written. */
  #sendClose(code: number, reason: string, report: { code: number; reason: string }): void {
    this.#closeSent = true;
    const text = encoder.encode(reason.slice(0, 120));
    const payload = new Uint8Array(2 + text.length);
    payload[0] = code >> 8;
    payload[1] = code & 0xff;
    payload.set(text, 2);
    // Once the close frame is written, the connection is closed when the
    // peer's close frame has arrived (this one answers it), else when it
    // arrives, within CLOSE_REPLY_MS (RFC 6455 §7.1.1: the server closes the
    // connection first). Closing it at once made the peer's next write fail:
    // a Deno server then ends the socket on an error, which leaves Deno's
    // idle timer pending and its process alive for 15 s.
    this.#closeWhenWritten = report;
    this.#write(8, payload);
    if (this.#writeFailed) this.#finish(report.code, report.reason, true);
  }

  /**
   * Writes one masked frame in a single write, after the frames before it:
   * at once when no write is under way, else queued, and the queue is
   * written in order one write per frame (callbacks, not an async loop:
   * this runs once per message).
   */
  #write(opcode: number, payload: Uint8Array): void {
    const length = payload.length;
    const head = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
    const size = head + 4 + length;
    let frame: Uint8Array;
    if (!this.#writeBufferBusy && size <= WRITE_BUFFER_BYTES) {
      this.#writeBufferBusy = true;
      frame = this.#writeBuffer.subarray(0, size);
    } else if (this.#spare !== null && size <= this.#spare.byteLength) {
      frame = new Uint8Array(this.#spare, 0, size);
      this.#spare = null;
    } else {
      frame = new Uint8Array(size);
    }
    frame[0] = 0x80 | opcode;
    if (head === 2) {
      frame[1] = 0x80 | length;
    } else if (head === 4) {
      frame[1] = 0x80 | 126;
      frame[2] = length >> 8;
      frame[3] = length & 0xff;
    } else {
      frame[1] = 0x80 | 127;
      new DataView(frame.buffer).setBigUint64(2, BigInt(length));
    }
    // Masks need only be unpredictable to the page's scripts (RFC 6455 §10.3).
    // The mask stays in a number: a 4-byte typed array per frame, and above
    // all reading its `.buffer`, cost more than masking a small frame.
    const mask = (Math.random() * 0x100000000) >>> 0;
    frame[head] = mask >>> 24;
    frame[head + 1] = (mask >>> 16) & 0xff;
    frame[head + 2] = (mask >>> 8) & 0xff;
    frame[head + 3] = mask & 0xff;
    const body = head + 4;
    frame.set(payload, body);
    // XOR byte by byte up to a 4-byte boundary, then four bytes at a time
    // with the mask rotated to match, then the rest.
    let i = Math.min((4 - (body & 3)) & 3, length);
    for (let j = 0; j < i; j++) frame[body + j]! ^= maskByte(mask, j);
    // Typed-array views cost more than they save on a few words.
    const count = length - i >= 64 ? (length - i) >> 2 : 0;
    if (count > 0) {
      const word = maskWord(mask, i);
      const words = new Uint32Array(frame.buffer, body + i, count);
      for (let w = 0; w < count; w++) words[w]! ^= word;
      i += count << 2;
    }
    for (; i < length; i++) frame[body + i]! ^= maskByte(mask, i);
    if (this.#writeFailed) {
      if (frame.buffer === this.#writeBuffer.buffer) this.#writeBufferBusy = false;
    } else if (this.#draining) {
      this.#queue.push(frame);
    } else {
      this.#draining = true;
      this.#writeFrom(frame, 0);
    }
  }

  #writeFrom(frame: Uint8Array, offset: number): void {
    let written: Promise<number>;
    try {
      written = this.#conn!.write(offset === 0 ? frame : frame.subarray(offset));
    } catch {
      this.#onWriteFailed();
      return;
    }
    written.then((n) => {
      if (offset + n < frame.length) return this.#writeFrom(frame, offset + n);
      const buffer = frame.buffer as ArrayBuffer;
      if (buffer === this.#writeBuffer.buffer) this.#writeBufferBusy = false;
      else if (buffer.byteLength <= SPARE_BUFFER_BYTES) this.#spare = buffer;
      const next = this.#queue.shift();
      if (next !== undefined) return this.#writeFrom(next, 0);
      this.#draining = false;
      const closing = this.#closeWhenWritten;
      if (closing === null) return;
      if (this.#closeReceived) {
        this.#finish(closing.code, closing.reason, true);
      } else {
        this.#closeTimer ??= setTimeout(
          () => this.#finish(closing.code, closing.reason, false),
          CLOSE_REPLY_MS,
        );
      }
    }, () => this.#onWriteFailed());
  }

  /**
   * The peer is gone (or going) for writing; what it sent before may still
   * be unread. Stop writing, and let the reader deliver it and report the
   * end: its close frame, or the end of the connection.
   */
  #onWriteFailed(): void {
    this.#draining = false;
    this.#writeFailed = true;
    this.#queue = [];
    this.#writeBufferBusy = false;
    if (this.readyState === 1) this.readyState = 2;
    const closing = this.#closeWhenWritten;
    // A close frame was received, or sent: nothing more is to be read.
    if (closing !== null) this.#finish(closing.code, closing.reason, true);
  }

  async #writeAll(data: Uint8Array): Promise<void> {
    let written = 0;
    while (written < data.length) written += await this.#conn!.write(data.subarray(written));
  }

  #fail(err: unknown): void {
    if (this.#closed) return;
    this.onerror?.({ type: "error", message: String(err), error: err } as unknown as Event);
    this.#finish(1006, "", false);
  }

  #finish(code: number, reason: string, wasClean: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.readyState = 3;
    clearTimeout(this.#closeTimer);
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
    this.onclose?.({ type: "close", code, reason, wasClean } as CloseEvent);
  }
}

/**
 * A binary message as `onmessage` hands it out: an ArrayBuffer when the
 * message has one to itself, else a view that is only valid during the
 * call (mpreg's codecs copy binary values out of a view; see `Codec.decode`).
 */
function binary(data: Uint8Array): ArrayBuffer | Uint8Array {
  const buffer = data.buffer as ArrayBuffer;
  return data.byteOffset === 0 && data.byteLength === buffer.byteLength ? buffer : data;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOfHeadEnd(buffer: Uint8Array): number {
  for (let i = 0; i + 3 < buffer.length; i++) {
    if (buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}
