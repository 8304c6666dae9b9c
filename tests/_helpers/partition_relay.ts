// Copyright 2026 the mpreg authors. MIT license.
// TCP relays in front of in-process nodes, so a test can partition them.
//
// Each node advertises its relay's URL, so every peer link to it passes
// through the relay. The relay learns who dialed from the handshake's first
// WebSocket frame (`hello`, whose record names the dialer) and, while a
// partition separates the two, holds their bytes in both directions: a
// stalled network, not a closed connection. On `heal()` the stalled
// connections are reset (as a real network's timeouts would have done),
// and new connections flow again. `down()` makes a relay reset every
// connection at once, like a crashed host; `up(port)` points it at a new
// process.
import { unpack } from "msgpackr/unpack";

const HEADER_END = new Uint8Array([13, 10, 13, 10]);

/** Where `needle` starts in `haystack`, or -1. */
function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The dialer's name from the first client frame (masked) after the HTTP
 * upgrade, `undefined` while more bytes are needed, `null` if it is not a
 * peer hello.
 */
function helloName(bytes: Uint8Array): string | null | undefined {
  const end = indexOf(bytes, HEADER_END);
  if (end < 0) return undefined;
  let at = end + 4;
  if (bytes.length < at + 2) return undefined;
  let length = bytes[at + 1]! & 0x7f;
  at += 2;
  if (length === 126) {
    if (bytes.length < at + 2) return undefined;
    length = (bytes[at]! << 8) | bytes[at + 1]!;
    at += 2;
  } else if (length === 127) {
    return null;
  }
  if (bytes.length < at + 4 + length) return undefined;
  const mask = bytes.subarray(at, at + 4);
  const payload = bytes.slice(at + 4, at + 4 + length);
  for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
  try {
    const decoded = unpack(payload) as unknown;
    const messages = Array.isArray(decoded) ? decoded : [decoded];
    for (const m of messages as Array<{ t?: string; record?: { name?: unknown } }>) {
      if (m?.t === "hello" && typeof m.record?.name === "string") return m.record.name;
    }
  } catch {
    // not msgpack
  }
  return null;
}

/** One connection through a relay: a dialer (client) and the node (server). */
class Pipe {
  /** The dialer's name, once its hello went by. */
  from: string | null = null;
  #seen = new Uint8Array(0);
  #closed = false;
  readonly #queues: [Uint8Array[], Uint8Array[]] = [[], []];
  readonly #ended = [false, false];
  /** The dialer's chunks that carry (part of) the HTTP upgrade. */
  readonly #upgrade = new WeakSet<Uint8Array>();
  readonly #wake: Array<(() => void) | null> = [null, null];

  constructor(
    readonly relay: NodeRelay,
    readonly client: Deno.TcpConn,
    readonly server: Deno.TcpConn,
  ) {
    this.#pump(client, 0);
    this.#pump(server, 1);
    this.#flush(server, 0);
    this.#flush(client, 1);
  }

  /** Whether a partition holds this connection's bytes. */
  get stalled(): boolean {
    return this.from !== null && this.relay.network.blocked(this.from, this.relay.name);
  }

  /** Bytes may go: the upgrade always, frames once the dialer is known and no partition holds them. */
  #mayFlow(direction: number, chunk: Uint8Array): boolean {
    if (this.#upgrade.has(chunk)) return true;
    if (this.from === null) return direction === 1;
    return !this.stalled;
  }

  wake(): void {
    for (const wake of this.#wake) wake?.();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of [this.client, this.server]) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    this.relay.pipes.delete(this);
    this.wake();
  }

  async #pump(from: Deno.TcpConn, direction: number): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        const chunk = buffer.slice(0, n);
        if (direction === 0 && this.from === null) {
          if (indexOf(this.#seen, HEADER_END) < 0) this.#upgrade.add(chunk);
          const seen = new Uint8Array(this.#seen.length + n);
          seen.set(this.#seen);
          seen.set(chunk, this.#seen.length);
          this.#seen = seen;
          const name = helloName(seen);
          if (name !== undefined) this.from = name ?? "?";
        }
        this.#queues[direction]!.push(chunk);
        this.wake();
      }
    } catch {
      // reset
    }
    // The other side goes too, once what came before went (a partition holds the news).
    this.#ended[direction] = true;
    this.wake();
  }

  async #flush(to: Deno.TcpConn, direction: number): Promise<void> {
    const queue = this.#queues[direction]!;
    try {
      while (!this.#closed) {
        if (queue.length === 0 && this.#ended[direction] && !this.stalled) break;
        if (queue.length === 0 || !this.#mayFlow(direction, queue[0]!)) {
          await this.#sleep(direction);
          continue;
        }
        const chunk = queue.shift()!;
        for (let at = 0; at < chunk.length;) at += await to.write(chunk.subarray(at));
      }
      this.close();
    } catch {
      this.close();
    }
  }

  #sleep(direction: number): Promise<void> {
    return new Promise((resolve) => {
      const previous = this.#wake[direction];
      this.#wake[direction] = () => {
        this.#wake[direction] = null;
        previous?.();
        resolve();
      };
    });
  }
}

/** A relay in front of one node. */
export class NodeRelay {
  readonly pipes = new Set<Pipe>();
  readonly #listener: Deno.TcpListener;
  #target: number | null;

  constructor(readonly network: RelayNetwork, readonly name: string, target: number | null) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#target = target;
    this.#accept();
  }

  /** The port peers dial. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** The URL the node advertises. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Resets every connection and every new one, like a crashed host. */
  down(): void {
    this.#target = null;
    for (const pipe of [...this.pipes]) pipe.close();
  }

  /** Relays to the node now listening on `port`. */
  up(port: number): void {
    this.#target = port;
  }

  async #accept(): Promise<void> {
    for await (const client of this.#listener) {
      if (this.#target === null) {
        client.close();
        continue;
      }
      try {
        const server = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
        this.pipes.add(new Pipe(this, client, server));
      } catch {
        client.close();
      }
    }
  }

  close(): void {
    this.down();
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
  }
}

/** Relays for a set of nodes, and the partition between them. */
export class RelayNetwork implements Disposable {
  readonly relays = new Map<string, NodeRelay>();
  #side = new Map<string, number>();

  /**
   * A relay for node `name`, relaying to `port` (set it later with `up()`
   * when the node must know the relay's URL first).
   */
  relay(name: string, port: number | null = null): NodeRelay {
    const relay = new NodeRelay(this, name, port);
    this.relays.set(name, relay);
    return relay;
  }

  /** Whether a partition separates `a` and `b`. */
  blocked(a: string, b: string): boolean {
    return this.#side.size > 0 && (this.#side.get(a) ?? -1) !== (this.#side.get(b) ?? -1);
  }

  /** No byte crosses between the groups until `heal()`. */
  partition(...groups: string[][]): void {
    this.#side = new Map(groups.flatMap((names, i) => names.map((n) => [n, i] as const)));
    for (const relay of this.relays.values()) for (const pipe of relay.pipes) pipe.wake();
  }

  /** Everything flows again; the connections that were stalled are reset. */
  heal(): void {
    const stalled = [...this.relays.values()].flatMap((r) => [...r.pipes].filter((p) => p.stalled));
    this.#side = new Map();
    for (const pipe of stalled) pipe.close();
  }

  [Symbol.dispose](): void {
    for (const relay of this.relays.values()) relay.close();
  }
}
