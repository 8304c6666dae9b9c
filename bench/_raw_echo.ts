// Copyright 2026 the mpreg authors. MIT license.
/**
 * The ceiling: a minimal msgpack-over-WebSocket RPC client talking to a
 * server that echoes every frame unchanged.
 *
 * Per message it packs `{ u, r: payload }` with msgpackr (the same options as
 * mpreg's msgpack codec), sends one binary frame, and unpacks the echoed
 * frame to find the waiting promise by `u`. So it pays the transport, one
 * pack and one unpack of about the same bytes as an mpreg call, and a promise
 * per message on the client; the echo server does no work at all. An mpreg
 * figure divided by this one is the share of the achievable rate mpreg keeps
 * after its own costs (request envelope, server-side decode, limit scan,
 * validation, graph, dispatch, deadline timers, encode). Waiting promises are
 * kept in the same {@linkcode IdTable} mpreg uses, not a `Map`, which under
 * load makes V8's young-generation collections copy megabytes (see
 * `src/_util/id_table.ts`): the ceiling must not carry a cost mpreg avoids.
 *
 * @module
 */
import { Packr } from "msgpackr/pack";
import { Unpackr } from "msgpackr/unpack";
import { IdTable } from "../src/_util/id_table.ts";

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** A raw WebSocket client with one promise per echoed message. */
export class RawEchoClient {
  readonly #socket: WebSocket;
  readonly #packr = new Packr({ useRecords: false, moreTypes: false });
  readonly #unpackr = new Unpackr({
    useRecords: false,
    mapsAsObjects: true,
    int64AsType: "number",
  });
  readonly #waiting = new IdTable<Waiter>();
  readonly #closed: Promise<void>;
  #next = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event: MessageEvent<ArrayBuffer>) => {
      const message = this.#unpackr.unpack(new Uint8Array(event.data)) as { u: number; r: unknown };
      const waiter = this.#waiting.get(message.u);
      if (waiter === undefined) return;
      this.#waiting.delete(message.u);
      waiter.resolve(message.r);
    };
    this.#closed = new Promise((resolve) => {
      socket.addEventListener("close", () => {
        const error = new Error("raw echo connection closed");
        for (const waiter of this.#waiting.values()) waiter.reject(error);
        this.#waiting.clear();
        resolve();
      });
    });
  }

  /**
   * Opens a connection.
   *
   * @param url The echo server's URL.
   * @param protocol A subprotocol to offer (the echo server accepts any).
   * @returns The open client.
   */
  static connect(url: string, protocol?: string): Promise<RawEchoClient> {
    const socket = new WebSocket(url, protocol ?? []);
    return new Promise((resolve, reject) => {
      socket.onopen = () => {
        socket.onerror = null;
        resolve(new RawEchoClient(socket));
      };
      socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
  }

  /**
   * Sends one message and waits for its echo.
   *
   * @param payload The value to send.
   * @returns The value echoed back.
   */
  echo(payload: unknown): Promise<unknown> {
    const u = this.#next++;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#waiting.set(u, { resolve, reject });
    this.#socket.send(this.#packr.pack({ u, r: payload }));
    return promise;
  }

  /**
   * Sends a one-step request for `fun(...args)` framed as mpreg's client
   * frames `call()`, and waits for the answer's `r` (`{ [fun]: value }`),
   * with no deadline and no checks: for the bench's bare msgpack node.
   *
   * @param fun The function, also the step's name.
   * @param args Its arguments.
   * @returns The answer's `r`.
   */
  rpc(fun: string, args: unknown[]): Promise<unknown> {
    const u = this.#next++;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#waiting.set(u, { resolve, reject });
    const request = { role: "rpc", u, cmds: [{ name: fun, fun, args }], timeout: 30_000 };
    this.#socket.send(this.#packr.pack(request));
    return promise;
  }

  /** Closes the connection and waits until it is closed. */
  close(): Promise<void> {
    if (this.#socket.readyState <= WebSocket.OPEN) this.#socket.close(1000);
    return this.#closed;
  }
}
