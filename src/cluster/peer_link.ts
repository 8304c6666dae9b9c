// Copyright 2026 the mpreg authors. MIT license.
/**
 * One WebSocket link between two nodes, either side of it: the handshake,
 * then gossip and forwarded steps in both directions.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { AnswerEncoder } from "../transport/answers.ts";
import type { Batcher } from "../transport/batcher.ts";
import { type Call, CallTable } from "../transport/calls.ts";
import { type Channel, OPEN } from "../transport/channel.ts";
import { openChannel } from "../transport/open.ts";
import { type Codec, createCodec } from "../protocol/codec.ts";
import {
  CancelledError,
  ConnectionError,
  NotStartedError,
  type RpcError,
  type WireError,
} from "../protocol/errors.ts";
import { isCredit } from "../protocol/messages.ts";
import { isByteCredit } from "../protocol/chunk_size.ts";
import { EncodedValue } from "../protocol/encoded_value.ts";
import { type ScanLimits, scanMsgpack } from "../protocol/scan.ts";
import type { NodeRecord } from "./membership.ts";
import {
  type AuthorizedMessage,
  type AuthorizeMessage,
  type CreditMessage,
  type EndMessage,
  type HeldMessage,
  type HopMessage,
  PEER_PROTOCOL,
  type PeerMessage,
  type ResultMessage,
  type RunErrorMessage,
  type RunMessage,
} from "./peer_protocol.ts";
import { type PeerLinkHost, Unstarted } from "./peer_link_host.ts";
import { RelaySource } from "./_stream_relay.ts";
import { HeldValue } from "./held_value.ts";
import { roomBefore } from "./_chunk_frame.ts";
import {
  endFeeds,
  feedInputs,
  type InputFeed,
  type InputOut,
  receiveInput,
} from "./_stream_inputs.ts";
import type { StreamSource } from "../registry/stream_source.ts";
import { Handshake } from "./_handshake.ts";
import { encodeRun } from "./_peer_envelopes.ts";
import {
  answerEncoder,
  hopDoneEncoder,
  hopEncoder,
  type HopKey,
  inputEncoder,
  peerBatcher,
  progressEncoder,
} from "./_peer_frames.ts";
import {
  isAuthorizedMessage,
  isAuthorizeMessage,
  isHeldMessage,
  isHopAnswer,
  isHopMessage,
  isProgressMessage,
  isRunMessage,
  runError,
} from "./_peer_messages.ts";

export { type PeerLinkHost, Unstarted } from "./peer_link_host.ts";

const log = getLogger(["mpreg", "cluster", "link"]);

/** A run or a grant check waiting for its answer (its deadline is its signal's). */
interface PendingRun extends Call {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** A streamed run's chunks, relayed. */
  stream?: RelaySource;
  /** The run's input streams, fed under the member's credit. */
  feeds?: InputFeed[];
  /** Takes the run's progress reports, when they were asked for. */
  progress?: (value: unknown) => void;
}

const never = (): void => {};

/** A link to another node. */
export class PeerLink {
  /** Whether this node dialed the link (else it accepted it). */
  readonly dialed: boolean;
  /** The URL dialed, or the remote address of an accepted link. */
  readonly address: string;
  readonly #socket: Channel;
  readonly #host: PeerLinkHost;
  readonly #codec: Codec;
  readonly #runs = new CallTable<PendingRun>();
  /** The handshake's state: the phase, the nonces and the records. */
  readonly #hs: Handshake;
  #closed = false;
  #retired = false;
  /** The peer retired this link too: it sends no more steps on it. */
  #peerRetired = false;
  /** Steps the peer sent on this link that this node has not answered yet. */
  #incoming = 0;
  readonly #batcher: Batcher;
  #peerLeaving = false;
  #leaveAcked = Promise.withResolvers<void>();
  #timer: ReturnType<typeof setTimeout> | null;
  #closeReason = "";
  readonly #handshake = Promise.withResolvers<boolean>();
  /** Resolved by the socket's close event: its connection is let go. */
  readonly #released = Promise.withResolvers<void>();
  /**
   * Encodes answers within the limits the peer decodes frames with (its own
   * word in the handshake, else this node's), with one level of depth kept
   * for a batch's array.
   */
  readonly #answers: AnswerEncoder<number>;
  /** Encodes chunks within the same limits as the answers. */
  readonly #chunks: AnswerEncoder<number>;
  /** Encodes progress reports within the same limits. */
  readonly #progress: AnswerEncoder<number>;
  /** Encodes the steps of relayed chains within the same limits. */
  readonly #hops: AnswerEncoder<null>;
  #hopRefused: WireError | null = null;
  /** Encodes the last values of relayed chains within the same limits. */
  readonly #hopsDone: AnswerEncoder<HopKey>;
  #chunkFailed = false;
  /** This node's limits for a chunk's encoding (the value of a message). */
  readonly #chunkLimits: ScanLimits;
  /** Encodes the chunks of input streams within the same limits. */
  readonly #inputs: AnswerEncoder<readonly [number, number]>;
  #inputFailed = false;
  readonly #inputOut: InputOut = {
    chunk: (id, i, value) => this.#inputChunk(id, i, value),
    send: (message) => this.send(message),
  };

  /**
   * Dials `url` and runs the handshake.
   *
   * @param url The peer's URL.
   * @param host This node.
   * @returns The link; `host.linkReady` reports the end of the handshake.
   */
  static dial(url: string, host: PeerLinkHost): PeerLink {
    return new PeerLink(openChannel(url, [PEER_PROTOCOL]), host, true, url);
  }

  /**
   * Serves an accepted socket (upgraded with the peer subprotocol).
   *
   * @param socket The server-side socket.
   * @param host This node.
   * @param address The remote address, for logs.
   * @returns The link.
   */
  static accept(socket: Channel, host: PeerLinkHost, address: string): PeerLink {
    return new PeerLink(socket, host, false, address);
  }

  private constructor(socket: Channel, host: PeerLinkHost, dialed: boolean, address: string) {
    this.#socket = socket;
    this.#host = host;
    this.dialed = dialed;
    this.address = address;
    this.#codec = createCodec("msgpack", { limits: host.limits });
    this.#answers = answerEncoder(this.#codec, host.limits, () => this.peer);
    this.#chunks = answerEncoder(this.#codec, host.limits, () => this.peer, {
      t: "chunk",
      failed: () => this.#chunkFailed = true,
    });
    this.#inputs = inputEncoder(this.#codec, host.limits, () => this.peer, () => {
      this.#inputFailed = true;
    });
    this.#progress = progressEncoder(this.#codec, host.limits, () => this.peer);
    this.#hops = hopEncoder(this.#codec, host.limits, () => this.peer, (error) => {
      this.#hopRefused = error;
    });
    this.#hopsDone = hopDoneEncoder(this.#codec, host.limits, () => this.peer);
    this.#batcher = peerBatcher(this.#codec, socket, dialed);
    const { maxDepth, maxElements, maxStringBytes } = host.limits;
    this.#chunkLimits = { maxDepth: maxDepth - 1, maxElements, maxStringBytes };
    this.#hs = new Handshake({
      dialed,
      address,
      host,
      write: (message) => this.#write(message),
      close: (reason) => this.close(reason),
      refuse: (error) => this.#refuse(error),
      setAnswerLimits: (limits) => {
        this.#answers.limits = limits;
        this.#chunks.limits = limits;
        this.#inputs.limits = limits;
        this.#progress.limits = limits;
        this.#hops.limits = limits;
        this.#hopsDone.limits = limits;
      },
      ready: () => this.#ready(),
    });
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      if (!this.dialed) return;
      if (socket.protocol !== PEER_PROTOCOL) {
        this.close(`peer did not accept the ${PEER_PROTOCOL} subprotocol`);
        return;
      }
      this.#hs.hello();
    };
    socket.onmessage = (event) => this.#onFrame(event.data);
    // The no-delay TCP WebSocket says why a dial failed (a refused connection).
    socket.onerror = (event) => {
      const error = (event as ErrorEvent).error;
      if (error instanceof Error) this.#closeReason ||= error.message;
    };
    socket.onclose = (event) => {
      this.#released.resolve();
      this.#onClose(event.reason);
    };
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#hs.phase !== "ready") this.close("handshake timed out");
    }, host.handshakeTimeoutMs);
  }

  /**
   * Resolves once the socket has closed: after `close()`, when the peer has
   * answered the close frame (or the connection ended), so nothing of the
   * link is left open.
   */
  get released(): Promise<void> {
    return this.#released.promise;
  }

  /** Resolves `true` when the handshake succeeds, `false` when the link closes first. */
  get handshake(): Promise<boolean> {
    return this.#handshake.promise;
  }

  /** The peer's record from the handshake, once ready. */
  get record(): NodeRecord | null {
    return this.#hs.record;
  }

  /** The peer's name, once ready. */
  get peer(): string | null {
    return this.#hs.record?.name ?? null;
  }

  /** True once the handshake succeeded and until the link closes. */
  get ready(): boolean {
    return this.#hs.phase === "ready" && !this.#closed;
  }

  /** Why the link closed, when it did. */
  get closeReason(): string {
    return this.#closeReason;
  }

  /**
   * Sends a message on a ready link.
   *
   * @param message The message.
   * @returns Whether it was handed to the socket.
   */
  send(message: PeerMessage): boolean {
    if (!this.ready) return false;
    return this.#write(message);
  }

  /**
   * Forwards a step and waits for its answer.
   *
   * @param message The step; completed here with its `t` and `id`, and sent as it is.
   * @param signal Aborting it sends a cancel and rejects with its reason.
   * @param progress Takes the step's progress reports; the run asks the
   *   member for them (`progress: true`) only when it is given.
   * @param inputs The streams of `message.ins`, by index: each is fed to the
   *   member under the credit it grants, from its first grant on (a step
   *   refused unstarted leaves them untouched).
   * @returns The step's value; for a streamed step (`message.stream`), a
   *   stream source, once the first chunk or the end came (its later
   *   failure, the link's loss included, fails the stream); with
   *   `message.may`, a plain value when the member answers one.
   * @throws {Unstarted} when the step provably did not start.
   * @throws {RpcError} the step's error, or a {@linkcode ConnectionError} when
   *   the link closed while the step was in flight.
   */
  run(
    message: Omit<RunMessage, "id" | "t">,
    signal: AbortSignal,
    progress?: (value: unknown) => void,
    inputs?: readonly StreamSource[],
  ): Promise<unknown> {
    if (!this.ready || this.#retired || this.#peerLeaving) {
      return Promise.reject(
        new Unstarted(new NotStartedError(`No open link to ${this.peer ?? this.address}`)),
      );
    }
    if (signal.aborted) return Promise.reject(signal.reason);
    const id = this.#runs.nextId();
    const { promise, resolve, reject: fail } = Promise.withResolvers<unknown>();
    const stream = message.stream === undefined ? undefined : new RelaySource(
      (n, bytes) => {
        const credit: CreditMessage = { t: "credit", id, n };
        if (bytes !== undefined) credit.bytes = bytes;
        this.send(credit);
      },
      message.stream,
      () => {
        // Its reader is done with it: the member stops the producer, and
        // this side the streams it fed the run.
        if (this.#runs.get(id) !== run) return;
        this.#runs.delete(id, run);
        this.send({ t: "cancel", id });
        endFeeds(run.feeds, new CancelledError("Cancelled by its reader"));
        if (this.#retired) this.#closeIfIdle();
      },
    );
    const reject = stream === undefined ? fail : (error: unknown) => {
      fail(error);
      stream.finish(error);
    };
    const run: PendingRun = { at: Infinity, expire: never, deadline: 0, resolve, reject };
    if (stream !== undefined) run.stream = stream;
    if (progress !== undefined) run.progress = progress;
    if (inputs !== undefined && inputs.length > 0) {
      run.feeds = feedInputs(this.#inputOut, id, inputs);
    }
    this.#runs.add(id, run, signal, () => {
      if (this.#runs.get(id) !== run) return;
      this.#runs.delete(id, run);
      this.send({ t: "cancel", id });
      reject(signal.reason);
      endFeeds(run.feeds, signal.reason);
      if (this.#retired) this.#closeIfIdle();
    });
    // The caller's message itself, completed (no copy per step).
    const sent = message as RunMessage;
    sent.t = "run";
    sent.id = id;
    if (progress !== undefined) sent.progress = true;
    if (!this.#write(sent)) {
      this.#runs.delete(id, run);
      reject(new Unstarted(new NotStartedError(`Link to ${this.peer} closed`)));
    }
    return promise;
  }

  /**
   * Sends chunk `value` of input stream `i` of run `id`, within the member's
   * limits; false when it went as the stream's `in-error` instead.
   */
  #inputChunk(id: number, i: number, value: unknown): boolean {
    if (!this.ready) return true;
    const frame = this.#inputs.result([id, i], value) as Uint8Array<ArrayBuffer>;
    const failed = this.#inputFailed;
    this.#inputFailed = false;
    this.#host.traffic("out", failed ? "in-error" : "in", frame.byteLength);
    this.#batcher.push(frame);
    return !failed;
  }

  /**
   * Asks the peer whether a principal may run steps there (a grant check).
   *
   * @param message The principal and the steps (the `id` is set here).
   * @param signal Aborting it rejects with its reason (the answer is then ignored).
   * @returns The peer's answer.
   * @throws {NotStartedError} when the link is not open.
   * @throws {ConnectionError} when the link closes first.
   */
  authorize(
    message: Omit<AuthorizeMessage, "id" | "t">,
    signal: AbortSignal,
  ): Promise<AuthorizedMessage> {
    if (!this.ready || this.#retired || this.#peerLeaving) {
      return Promise.reject(new NotStartedError(`No open link to ${this.peer ?? this.address}`));
    }
    if (signal.aborted) return Promise.reject(signal.reason);
    const id = this.#runs.nextId();
    const { promise, resolve, reject } = Promise.withResolvers<AuthorizedMessage>();
    const run: PendingRun = {
      at: Infinity,
      expire: never,
      deadline: 0,
      resolve: resolve as (value: unknown) => void,
      reject,
    };
    this.#runs.add(id, run, signal, () => {
      if (this.#runs.get(id) !== run) return;
      this.#runs.delete(id, run);
      reject(signal.reason);
    });
    if (!this.#write({ t: "authorize", id, ...message })) {
      this.#runs.delete(id, run);
      reject(new NotStartedError(`Link to ${this.peer} closed`));
    }
    return promise;
  }

  /**
   * Fetches a value the peer holds for direct handoff (`fetch`).
   *
   * @param ref The value's reference on the peer (or on `from`).
   * @param from The member that holds it, when the peer only relays the fetch.
   * @param signal Aborting it rejects with its reason (the answer is then ignored).
   * @returns The value.
   * @throws {NotStartedError} when the link is not open.
   * @throws {RpcError} the peer's error (it holds no such value), or a
   *   {@linkcode ConnectionError} when the link closes first.
   */
  fetch(ref: number, signal: AbortSignal, from?: string): Promise<unknown> {
    if (!this.ready) {
      return Promise.reject(new NotStartedError(`No open link to ${this.peer ?? this.address}`));
    }
    if (signal.aborted) return Promise.reject(signal.reason);
    const id = this.#runs.nextId();
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const run: PendingRun = { at: Infinity, expire: never, deadline: 0, resolve, reject };
    this.#runs.add(id, run, signal, () => {
      if (this.#runs.get(id) !== run) return;
      this.#runs.delete(id, run);
      reject(signal.reason);
    });
    if (
      !this.#write(from === undefined ? { t: "fetch", id, ref } : { t: "fetch", id, ref, from })
    ) {
      this.#runs.delete(id, run);
      reject(new NotStartedError(`Link to ${this.peer} closed`));
    }
    return promise;
  }

  /**
   * Answers a step the peer sent: its `result`, or its `error`. A result the
   * peer could not take (one that cannot be encoded, or that is over the
   * limits the peer decodes frames with) is answered instead with the error
   * a client of this node would get for it (1003, 1011): the step fails, and
   * the link and the steps it carries stay up.
   *
   * @param message The answer.
   */
  answer(message: ResultMessage | RunErrorMessage | EndMessage | HeldMessage): void {
    this.#incoming--;
    if (!this.ready) return;
    // A refusal stays one, whatever its error's details held.
    const frame =
      (message.t === "end" || message.t === "held"
        ? this.#codec.encode(message)
        : message.t === "result"
        ? this.#answers.result(message.id, message.value)
        : this.#answers.error(message.id, message.error, message.started)) as Uint8Array<
          ArrayBuffer
        >;
    this.#host.traffic("out", message.t, frame.byteLength);
    this.#batcher.push(frame);
    if (this.#retired) this.#closeIfIdle();
  }

  /**
   * Sends one chunk of a streamed run the peer sent, checked against the
   * limits the peer decodes frames with: a chunk over them goes as the
   * run's error instead (1003, 1011), and the run must stop.
   *
   * @param id The run's id.
   * @param value The chunk.
   * @returns False when the chunk went as an error (or the link is down).
   */
  chunk(id: number, value: unknown): boolean {
    if (!this.ready) return false;
    const frame = this.#chunks.result(id, value) as Uint8Array<ArrayBuffer>;
    const ok = !this.#chunkFailed;
    this.#chunkFailed = false;
    this.#host.traffic("out", "chunk", frame.byteLength);
    this.#batcher.push(frame);
    return ok;
  }

  /**
   * Sends a step of a relayed chain to the peer, within the limits it
   * decodes frames with.
   *
   * @param message The step, the value of the step before in its arguments.
   * @returns `null` once handed to the socket; else why it was not sent:
   *   the link is not open (`open: false`, a {@linkcode NotStartedError}),
   *   or the peer could not take the message (1003, 1011: the step before
   *   fails with it).
   */
  hop(message: HopMessage): { error: WireError; open: boolean } | null {
    if (!this.ready || this.#retired || this.#peerLeaving) {
      const error = new NotStartedError(`No open link to ${this.peer ?? this.address}`);
      return { error: error.toWire(), open: false };
    }
    this.#hopRefused = null;
    const frame = this.#hops.result(null, message) as Uint8Array<ArrayBuffer>;
    const refused = this.#hopRefused as WireError | null;
    if (refused !== null) return { error: refused, open: true };
    this.#host.traffic("out", "hop", frame.byteLength);
    this.#batcher.push(frame);
    return null;
  }

  /**
   * Answers the peer, the coordinator of a relayed chain, with its last
   * step's value (`hop-done`); one it could not take goes as the step's
   * `hop-failed` (1003, 1011).
   *
   * @param key The request and the step.
   * @param value The value.
   * @returns Whether it was handed to the socket.
   */
  hopDone(key: HopKey, value: unknown): boolean {
    if (!this.ready) return false;
    const frame = this.#hopsDone.result(key, value) as Uint8Array<ArrayBuffer>;
    this.#host.traffic("out", "hop-done", frame.byteLength);
    this.#batcher.push(frame);
    return true;
  }

  /**
   * Sends a progress report of a run the peer sent (and asked reports of).
   * A report the peer could not take (one that cannot be encoded, or over
   * the limits it decodes frames with) is dropped; the run goes on.
   *
   * @param id The run's id.
   * @param value The report.
   */
  progress(id: number, value: unknown): void {
    if (!this.ready) return;
    let frame: Uint8Array<ArrayBuffer>;
    try {
      frame = this.#progress.result(id, value) as Uint8Array<ArrayBuffer>;
    } catch {
      return;
    }
    this.#host.traffic("out", "progress", frame.byteLength);
    this.#batcher.push(frame);
  }

  /**
   * Tells the peer this node is leaving and resolves when the peer confirms
   * it will send no more steps (or the link closes).
   *
   * @returns When the peer has acknowledged.
   */
  announceLeave(): Promise<void> {
    if (!this.#write({ t: "leaving" })) this.#leaveAcked.resolve();
    return this.#leaveAcked.promise;
  }

  /** Whether this node retired the link (it sends no new steps on it). */
  get retired(): boolean {
    return this.#retired;
  }

  /** The nonce of the node that dialed the link: both sides know it from the `hello`. */
  get dialerNonce(): string {
    return this.dialed ? this.#hs.nonce : this.#hs.theirNonce;
  }

  /**
   * Whether this link is the one to keep of two ready links to the same
   * peer: the one dialed by the node with the smaller name, and of two
   * dialed by the same node, the one with the smaller dialer nonce. Both
   * sides decide alike.
   *
   * @param other The other link.
   * @param self This node's name.
   * @returns True when this link wins.
   */
  outranks(other: PeerLink, self: string): boolean {
    const dialer = (link: PeerLink) => link.dialed ? self : link.peer!;
    const mine = dialer(this);
    const theirs = dialer(other);
    return mine !== theirs ? mine < theirs : this.dialerNonce < other.dialerNonce;
  }

  /**
   * Used when two nodes dialed each other at once and one link must go:
   * sends no new steps on it, tells the peer (which retires it too, having
   * chosen the same link to keep), and closes once both sides retired it
   * and every step sent on it, in either direction, is answered.
   */
  retire(): void {
    if (this.#retired) return;
    this.#retired = true;
    this.#write({ t: "leaving", retire: true });
    this.#closeIfIdle();
  }

  /** Closes a retired link once the peer retired it too and nothing is in flight on it. */
  #closeIfIdle(): void {
    if (this.#peerRetired && this.#runs.size === 0 && this.#incoming === 0) {
      this.close("duplicate link");
    }
  }

  /**
   * Closes the link; steps in flight fail with a {@linkcode ConnectionError}.
   *
   * @param reason Why, sent as the close reason and logged.
   */
  close(reason: string): void {
    this.#batcher.flush();
    if (this.#socket.readyState <= 1) {
      try {
        this.#socket.close(1000, reason.slice(0, 120));
      } catch {
        // already closing
      }
    }
    this.#onClose(reason);
  }

  /**
   * Encodes a message and queues it: once the handshake is over, messages
   * written in the same turn leave together as one batch frame.
   */
  #write(message: PeerMessage): boolean {
    if (this.#socket.readyState !== OPEN) return false;
    try {
      // A forwarded step's usual run is written by hand around its arguments.
      const frame = (message.t === "run" ? encodeRun(message) : null) ??
        this.#codec.encode(message) as Uint8Array<ArrayBuffer>;
      this.#host.traffic("out", message.t, frame.byteLength);
      if (this.#hs.phase !== "ready") {
        this.#socket.send(frame);
        return true;
      }
      this.#batcher.push(frame);
      return true;
    } catch (err) {
      log.warn("Cannot send to {peer}: {error}", {
        peer: this.peer ?? this.address,
        error: String(err),
      });
      return false;
    }
  }

  #onClose(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason ||= reason;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    // Why, when this node closed it (a member declared dead says how long it was silent).
    const why = this.#closeReason === "" ? "" : `: ${this.#closeReason}`;
    const error = new ConnectionError(
      `Lost the link to node "${this.peer ?? this.address}" while a step was running there${why}`,
      { details: { node: this.peer, address: this.address, reason: this.#closeReason } },
    );
    const runs = this.#runs.values();
    this.#runs.clear();
    for (const run of runs) {
      run.reject(error);
      endFeeds(run.feeds, error);
    }
    this.#handshake.resolve(false);
    this.#leaveAcked.resolve();
    this.#host.linkClosed(this);
  }

  #refuse(error: RpcError): void {
    this.#write({ t: "refused", error: error.toWire() });
    log.warn("Refused peer {address}: {error}", { address: this.address, error: error.message });
    this.close(error.message);
  }

  #onFrame(data: unknown): void {
    let decoded: unknown;
    try {
      decoded = this.#codec.decode(data as ArrayBuffer);
    } catch (err) {
      this.close(`bad frame: ${(err as Error).message}`);
      return;
    }
    // A peer's malformed message closes its link; it never throws out of
    // the socket's handler (which would end the process).
    try {
      if (Array.isArray(decoded)) {
        const size = (data as ArrayBuffer).byteLength / Math.max(1, decoded.length);
        for (const message of decoded) {
          if (this.#closed) return;
          this.#onMessage(message as PeerMessage, size);
        }
      } else {
        this.#onMessage(decoded as PeerMessage, (data as ArrayBuffer).byteLength);
      }
    } catch (err) {
      this.close(`malformed message: ${(err as Error).message}`);
    }
  }

  #onMessage(message: PeerMessage, bytes: number): void {
    if (message === null || typeof message !== "object" || typeof message.t !== "string") {
      this.close("bad message");
      return;
    }
    this.#host.traffic("in", message.t, bytes);
    if (this.#hs.phase !== "ready") {
      this.#hs.receive(message).catch((err) => this.close(String(err)));
      return;
    }
    switch (message.t) {
      case "result":
        this.#settle(message.id, (run) => run.resolve(message.value));
        break;
      case "held": {
        if (!isHeldMessage(message)) {
          this.close("malformed held");
          return;
        }
        const from = this.peer!;
        const ref = message.ref;
        const drop = () => this.send({ t: "drop", ref });
        // A run cancelled or timed out here meanwhile: nobody will take it.
        if (this.#runs.get(message.id) === undefined) drop();
        this.#settle(
          message.id,
          (run) => run.resolve(new HeldValue(from, ref, message.size, drop)),
        );
        break;
      }
      case "fetch":
        if (
          typeof message.id !== "number" || typeof message.ref !== "number" ||
          (message.from !== undefined && typeof message.from !== "string")
        ) {
          this.close("malformed fetch");
          return;
        }
        this.#incoming++;
        this.#host.fetch(this, message);
        break;
      case "drop":
        if (typeof message.ref === "number") this.#host.drop(this, message.ref);
        break;
      case "hop":
        if (!isHopMessage(message)) {
          this.close("malformed hop");
          return;
        }
        this.#host.hop(this, message);
        break;
      case "hop-done":
      case "hop-failed":
        if (!isHopAnswer(message)) {
          this.close(`malformed ${message.t}`);
          return;
        }
        this.#host.hopAnswer(this, message);
        break;
      case "halt":
        if (typeof message.request !== "string") {
          this.close("malformed halt");
          return;
        }
        this.#host.halt(this, message.request);
        break;
      case "chunk": {
        const run = this.#runs.get(message.id);
        if (run?.stream === undefined) break;
        const encoded = message.encoded;
        let value = message.value;
        if (encoded !== undefined) {
          if (!(encoded instanceof Uint8Array)) {
            this.close("malformed chunk");
            return;
          }
          // Checked as the chunk itself would be: relayed as these bytes,
          // decoded only for a reader that needs the value.
          scanMsgpack(encoded, this.#chunkLimits);
          value = new EncodedValue(encoded, roomBefore(encoded));
        }
        if (!run.stream.push(value)) {
          // A member keeps to the credit it was given: past it, a node would hold without bound.
          this.close("malformed chunk: past the stream's credit");
          return;
        }
        run.resolve(run.stream);
        break;
      }
      case "progress": {
        if (!isProgressMessage(message)) {
          this.close("malformed progress");
          return;
        }
        const run = this.#runs.get(message.id);
        if (run?.progress === undefined) break;
        try {
          run.progress(message.value);
        } catch {
          // The caller's trouble, not the link's.
        }
        break;
      }
      case "end": {
        const ending = this.#runs.get(message.id);
        if (ending !== undefined && ending.stream === undefined) {
          // Only a streamed run ends this way: for any other, it would
          // answer the step with nothing.
          this.close("malformed end: the run is not a stream");
          return;
        }
        this.#settle(message.id, (run) => {
          run.stream?.finish(null);
          run.resolve(run.stream);
        });
        break;
      }
      case "in":
      case "in-end":
      case "in-error":
      case "in-credit":
      case "in-cancel": {
        const problem = receiveInput(
          message,
          (id) => this.#runs.get(id)?.feeds,
          (input) => this.#host.input(this, input),
        );
        if (problem !== null) {
          this.close(problem);
          return;
        }
        break;
      }
      case "credit":
        if (
          message.bytes === undefined
            ? !isCredit(message.n)
            : !isByteCredit(message.bytes) || !(message.n === 0 || isCredit(message.n))
        ) {
          this.close("malformed credit");
          return;
        }
        this.#host.creditRun(this, message.id, message.n, message.bytes);
        break;
      case "error":
        this.#settle(message.id, (run) => run.reject(runError(message)));
        break;
      case "authorized":
        if (!isAuthorizedMessage(message)) {
          this.close("malformed authorized");
          return;
        }
        this.#settle(message.id, (run) => run.resolve(message));
        break;
      case "authorize":
        if (!isAuthorizeMessage(message)) {
          this.close("malformed authorize");
          return;
        }
        this.#host.authorize(this, message);
        break;
      case "run":
        if (!isRunMessage(message)) {
          this.close("malformed run");
          return;
        }
        this.#incoming++;
        this.#host.run(this, message);
        break;
      case "cancel":
        this.#host.cancelRun(this, message.id);
        break;
      case "leaving":
        if (message.retire === true) {
          // A duplicate the peer retired: it sends no more steps here, and
          // closes nothing until this side has retired it too.
          this.#peerRetired = true;
          if (this.#retired) this.#closeIfIdle();
          break;
        }
        // The peer is stopping: no new steps from here on; every step sent
        // so far precedes the ack on this ordered link.
        this.#peerLeaving = true;
        this.#write({ t: "leaving-ack" });
        break;
      case "leaving-ack":
        this.#leaveAcked.resolve();
        break;
      case "ping":
      case "ack":
      case "ping-req":
      case "gossip":
      case "sync":
      case "pull":
      case "records":
        this.#host.gossip(this, message);
        break;
      default:
        this.close(`unexpected message ${JSON.stringify(message.t)}`);
    }
  }

  #settle(id: number, action: (run: PendingRun) => void): void {
    const run = this.#runs.get(id);
    if (run === undefined) return;
    this.#runs.delete(id, run);
    action(run);
    // Built only for a run that fed input streams: an error's stack trace
    // is costly, and most runs have none.
    if (run.feeds !== undefined) endFeeds(run.feeds, new ConnectionError("The run ended"));
    if (this.#retired) this.#closeIfIdle();
  }

  #ready(): void {
    if (this.#closed) return;
    this.#hs.phase = "ready";
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#handshake.resolve(true);
    this.#host.linkReady(this);
  }
}
