// Copyright 2026 the mpreg authors. MIT license.
/**
 * The client's connections to a cluster's nodes: the socket new calls go out
 * on, failover to the next URL in rounds with a backoff between them, the
 * sockets of stopping nodes that still owe answers, and the calls that go to
 * the next node after a refusal (1014 with `started: false`) or a drained
 * close ({@linkcode CLOSE_DRAINED}). Private to the client; browser-safe.
 *
 * @module
 */
import { CLOSE_DRAINED } from "../protocol/close_codes.ts";
import {
  ConnectionError,
  type RpcError,
  UnavailableError,
  type WireError,
} from "../protocol/errors.ts";
import { backoffDelay, type BackoffOptions } from "../transport/backoff.ts";
import type { Call, CallTable } from "../transport/calls.ts";
import { type Channel, OPEN } from "../transport/channel.ts";
import { openChannel } from "../transport/open.ts";

/** What the connections know of a call. */
export interface Routed extends Call {
  /** The call's id. */
  readonly id: number;
  /** The channel it was sent on; `null` while it waits to be sent. */
  socket: Channel | null;
  /** While it waits: the first round of connection attempts it saw whole (see `#connectFailed`). */
  round: number;
  /** A node's refusal (1014) that sent it to the next URL: its error if no node takes it. */
  refusal?: WireError;
}

/** What the connections need from the client. */
export interface ConnectionsHost<P extends Routed> {
  /** Fails a call. */
  settle(pending: P, error: RpcError): void;
  /**
   * A call failed in a way that may have run it: true when it is to be sent
   * again (marked as a retry), false to fail it with `error`.
   */
  retry(pending: P, error: RpcError): boolean;
  /** Sends a call that waited for a connection, on the socket now open. */
  transmit(pending: P): void;
  /** Sends at once the frames the client holds back for the current socket. */
  flush(): void;
  /** A frame arrived on `socket`. */
  receive(data: unknown, socket: Channel): void;
}

/** The connections of one client, over the calls of its table. */
export class Connections<P extends Routed> {
  /** The socket new calls go out on. */
  socket: Channel | null = null;
  /** Rounds of connection attempts (each URL once) started so far. */
  rounds = 0;
  /** Whether the client is closed. */
  closed = false;
  readonly #urls: string[];
  /** The subprotocol the node must accept (`null`: none). */
  readonly #protocol: string | null;
  readonly #protocols: string[];
  readonly #backoff: BackoffOptions;
  readonly #pending: CallTable<P>;
  readonly #host: ConnectionsHost<P>;
  /**
   * Sockets to a node that refused calls because it is stopping: no new
   * call goes there, but the answers to the calls it runs still come back.
   */
  readonly #retiring = new Set<Channel>();
  #urlIndex = 0;
  #attempt = 0;
  /** Why each URL tried in this round of connection attempts could not be connected to. */
  #failures: Array<{ url: string; reason: string }> = [];
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #openWaiters: Array<{ resolve: () => void; reject: (e: RpcError) => void; round: number }> = [];

  /**
   * Creates the connections; nothing connects until `ensure()` or `connect()`.
   *
   * @param urls The nodes' URLs, tried in turn (at least one).
   * @param protocol The subprotocol the node must accept, or `null` for none.
   * @param protocols The subprotocols offered.
   * @param backoff The wait between rounds of attempts.
   * @param pending The client's calls.
   * @param host The client.
   */
  constructor(
    urls: string[],
    protocol: string | null,
    protocols: string[],
    backoff: BackoffOptions,
    pending: CallTable<P>,
    host: ConnectionsHost<P>,
  ) {
    this.#urls = urls;
    this.#protocol = protocol;
    this.#protocols = protocols;
    this.#backoff = backoff;
    this.#pending = pending;
    this.#host = host;
  }

  /** True while the current socket is open. */
  get connected(): boolean {
    return this.socket?.readyState === OPEN;
  }

  /** The URL of the current (or last tried) connection. */
  get url(): string {
    return this.#urls[this.#urlIndex]!;
  }

  /**
   * Connects unless connected.
   *
   * @param ms How long to keep trying.
   * @returns When the connection is open.
   */
  connect(ms: number): Promise<void> {
    if (this.closed) return Promise.reject(new ConnectionError("Client is closed"));
    if (this.connected) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = setTimeout(() => {
      const i = this.#openWaiters.indexOf(waiter);
      if (i >= 0) this.#openWaiters.splice(i, 1);
      reject(new ConnectionError(`Could not connect to ${this.#urls.join(", ")} in ${ms} ms`));
    }, ms);
    const waiter = {
      resolve: () => {
        clearTimeout(timer);
        resolve();
      },
      reject: (e: RpcError) => {
        clearTimeout(timer);
        reject(e);
      },
      round: this.rounds + 1,
    };
    this.#openWaiters.push(waiter);
    this.ensure();
    return promise;
  }

  /**
   * A call was settled: the socket of a stopping node closes once it owes no
   * answer.
   *
   * @param socket The socket the call was sent on.
   */
  settled(socket: Channel | null): void {
    if (this.#retiring.size > 0 && socket !== null && this.#retiring.has(socket)) {
      this.#closeIfIdle(socket);
    }
  }

  /**
   * Closes: fails every call and every wait for a connection with `error`,
   * closes every socket and stops reconnecting.
   *
   * @param error The error of the calls still pending.
   */
  close(error: ConnectionError): void {
    this.closed = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    for (const pending of this.#pending.values()) this.#host.settle(pending, error);
    for (const waiter of this.#openWaiters.splice(0)) waiter.reject(error);
    this.#pending.clear();
    const sockets = [...this.#retiring, ...(this.socket === null ? [] : [this.socket])];
    this.socket = null;
    this.#retiring.clear();
    for (const socket of sockets) {
      socket.onopen = socket.onmessage = socket.onerror = null;
      socket.onclose = null;
      socket.close(1000, "Client closed");
    }
  }

  /** Opens a connection unless one is open, opening, or waits for its backoff. */
  ensure(): void {
    if (this.closed || this.socket !== null || this.#retryTimer !== null) return;
    const url = this.#urls[this.#urlIndex]!;
    if (this.#failures.length === 0) this.rounds++;
    let socket: Channel;
    try {
      socket = openChannel(url, this.#protocols);
    } catch (err) {
      this.#connectFailed(url, reasonOf(err));
      return;
    }
    this.socket = socket;
    let opened = false;
    let failure = "";
    socket.onopen = () => {
      if (socket.protocol !== (this.#protocol ?? "")) {
        failure = `the node did not accept the subprotocol ${this.#protocol ?? "(none)"}`;
        socket.close(1002, "Subprotocol not accepted");
        return;
      }
      opened = true;
      this.#attempt = 0;
      this.#failures = [];
      for (const waiter of this.#openWaiters.splice(0)) waiter.resolve();
      this.#sendWaiting();
    };
    socket.onmessage = (event: MessageEvent) => this.#host.receive(event.data, socket);
    socket.onerror = (event: Event) => {
      // The no-delay TCP WebSocket says why; a browser's WebSocket never does.
      failure ||= reasonOf((event as ErrorEvent).error ?? "");
    };
    socket.onclose = (event: CloseEvent) => {
      if (opened) {
        this.#onClosed(socket, url, event);
      } else if (this.socket === socket) {
        this.socket = null;
        this.#connectFailed(
          url,
          failure || `the connection closed (${event.code}) before it opened`,
        );
      }
    };
  }

  /**
   * A connection could not be opened: try the next URL at once. When every
   * URL has failed in this round, fail now the calls that waited for a
   * connection through the whole round (they were never sent; a call made
   * during the round waits for the next one) and start the next round after
   * a backoff.
   */
  #connectFailed(url: string, reason: string): void {
    if (this.closed) return;
    this.#failures.push({ url, reason });
    this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
    if (this.#failures.length < this.#urls.length) {
      this.ensure();
      return;
    }
    const failures = this.#failures;
    this.#failures = [];
    const error = new ConnectionError(
      `Cannot connect to ${failures.map((f) => `"${f.url}": ${f.reason}`).join("; ")}`,
      { details: { failures } },
    );
    const round = this.rounds;
    for (const pending of this.#pending.values()) {
      if (pending.socket !== null || pending.round > round) continue;
      const refusal = pending.refusal;
      this.#host.settle(
        pending,
        refusal === undefined
          ? error
          : new UnavailableError(refusal.message, { details: refusal.details, cause: error }),
      );
    }
    this.#openWaiters = this.#openWaiters.filter((waiter) => {
      if (waiter.round > round) return true;
      waiter.reject(error);
      return false;
    });
    this.#retryLater();
  }

  #retryLater(): void {
    if (this.closed || this.#retryTimer !== null) return;
    const delay = backoffDelay(this.#attempt++, this.#backoff);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.ensure();
    }, delay);
  }

  /**
   * An open connection closed. A node that stopped gracefully closes with
   * {@linkcode CLOSE_DRAINED} once it has answered every call it read:
   * the calls still unanswered never reached it and go to the next URL.
   * Otherwise they may have run, and fail.
   */
  #onClosed(socket: Channel, url: string, event: CloseEvent): void {
    const drained = event.code === CLOSE_DRAINED;
    const reason = event.reason ? `: ${event.reason}` : "";
    const error = new ConnectionError(`Connection to ${url} closed (${event.code})${reason}`, {
      details: { url, code: event.code, reason: event.reason },
    });
    for (const pending of this.#pending.values()) {
      if (pending.socket !== socket) continue;
      if (drained || this.#host.retry(pending, error)) this.#unsent(pending);
      else this.#host.settle(pending, error);
    }
    this.#retiring.delete(socket);
    if (this.socket === socket) {
      this.socket = null;
      this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
      // A node that left on purpose: the next URL at once.
      if (!drained) {
        this.#retryLater();
        return;
      }
    }
    this.#sendWaiting();
  }

  /** Sends the calls waiting to be sent, or opens a connection for them. */
  #sendWaiting(): void {
    if (!this.connected) {
      this.ensure();
      return;
    }
    for (const pending of this.#pending.values()) {
      if (pending.socket === null) this.#host.transmit(pending);
    }
  }

  /**
   * The node refused a call unstarted because it is stopping (1014 with
   * `started: false`): the call goes to the next URL, and so do the calls
   * after it. The socket stays open for the answers to the calls the node
   * still runs; the node closes it when its drain is over.
   */
  refused(pending: P): void {
    const socket = pending.socket;
    this.#unsent(pending);
    if (socket !== null && socket === this.socket) {
      // What is queued goes to this node: it is answered, or refused too.
      this.#host.flush();
      this.socket = null;
      this.#retiring.add(socket);
      this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
      this.#closeIfIdle(socket);
    }
    this.#sendWaiting();
  }

  /**
   * Sends a call again (a retry the node answered may-have-run on this
   * socket): on the current socket, or once one is open.
   */
  again(pending: P): void {
    this.#unsent(pending);
    this.#sendWaiting();
  }

  /** A call that provably did not reach the node it was sent to waits to be sent again. */
  #unsent(pending: P): void {
    pending.socket = null;
    pending.round = this.rounds + 1;
  }

  /** Closes a retiring socket once no call waits for an answer on it. */
  #closeIfIdle(socket: Channel): void {
    for (const pending of this.#pending.values()) if (pending.socket === socket) return;
    this.#retiring.delete(socket);
    socket.onopen =
      socket.onmessage =
      socket.onerror =
      socket.onclose =
        null;
    socket.close(1000, "Client moved to another node");
  }
}

/** Why a connection attempt failed, from what the socket threw or reported. */
function reasonOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === "string" ? err : String(err);
}
