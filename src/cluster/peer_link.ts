// Copyright 2026 the mpreg authors. MIT license.
/**
 * One WebSocket link between two nodes, either side of it: the handshake,
 * then gossip and forwarded steps in both directions.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { IdTable, nextId } from "../_util/id_table.ts";
import { TcpWebSocket } from "../client/_tcp_websocket.ts";
import { openWebSocket } from "../client/client.ts";
import { expandedSize } from "../_util/expanded_size.ts";
import { tooManyValues, unencodableResult } from "../protocol/answer_errors.ts";
import { scanMsgpack } from "../protocol/scan.ts";
import { Batcher } from "../protocol/batcher.ts";
import { type Codec, createCodec } from "../protocol/codec.ts";
import {
  ClusterMismatchError,
  ConnectionError,
  LimitExceededError,
  NotStartedError,
  RpcError,
  UnauthenticatedError,
  type WireError,
} from "../protocol/errors.ts";
import type { Limits } from "../protocol/limits.ts";
import { newNonce, proof, sameProof, type Transcript } from "./_auth.ts";
import { type GossipMessage, isNodeRecord, type NodeRecord } from "./membership.ts";
import {
  type AuthorizedMessage,
  type AuthorizeMessage,
  PEER_PROTOCOL,
  type PeerLimits,
  type PeerMessage,
  type ResultMessage,
  type RunErrorMessage,
  type RunMessage,
} from "./peer_protocol.ts";

const log = getLogger(["mpreg", "cluster", "link"]);

/** A batch is sent as soon as it holds this many bytes (as for clients, 4 KB). */
const MAX_BATCH_BYTES = 4096;
/**
 * The same for a link dialed with Deno's built-in WebSocket client (wss://),
 * which stalls ~40 ms on frames over ~1 KB (see `client/_tcp_websocket.ts`).
 */
const MAX_BATCH_BYTES_NATIVE_CLIENT = 900;

/** What a link needs from its node. */
export interface PeerLinkHost {
  /** This node's cluster id. */
  readonly clusterId: string;
  /** The shared cluster secret, or `null`. */
  readonly secret: string | null;
  /** Limits for decoding frames from peers. */
  readonly limits: Limits;
  /** How long the handshake may take, in milliseconds. */
  readonly handshakeTimeoutMs: number;
  /** This node's current record. */
  localRecord(): NodeRecord;
  /** The handshake succeeded. */
  linkReady(link: PeerLink): void;
  /** The link closed (after or before the handshake). */
  linkClosed(link: PeerLink): void;
  /** A gossip message arrived. */
  gossip(link: PeerLink, message: GossipMessage): void;
  /** A step to run arrived; answer with `link.send()`. */
  run(link: PeerLink, message: RunMessage): void;
  /** A grant check arrived; answer with `link.send()`. */
  authorize(link: PeerLink, message: AuthorizeMessage): void;
  /** A run this node is executing was cancelled. */
  cancelRun(link: PeerLink, id: number): void;
  /** Counts a frame sent or received, by message type. */
  traffic(direction: "in" | "out", type: string, bytes: number): void;
}

/**
 * Thrown inside the cluster layer for a forwarded step that provably never
 * started on the member it was meant for: the link was not open when it was
 * sent, or the member refused it. Safe to send to another candidate; when
 * none is left, the caller gets `error` (a {@linkcode NotStartedError} when
 * the member could not be reached).
 */
export class Unstarted extends Error {
  /** The error to report if no other candidate takes the step. */
  readonly error: RpcError;

  /**
   * Wraps the refusal.
   *
   * @param error Why the step did not start.
   */
  constructor(error: RpcError) {
    super(error.message, { cause: error });
    this.name = "Unstarted";
    this.error = error;
  }
}

/** A run or a grant check waiting for its answer. */
interface PendingRun {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type Phase =
  | "opening"
  | "hello-sent"
  | "challenged"
  | "awaiting-hello"
  | "awaiting-proof"
  | "ready";

/** A link to another node. */
export class PeerLink {
  /** Whether this node dialed the link (else it accepted it). */
  readonly dialed: boolean;
  /** The URL dialed, or the remote address of an accepted link. */
  readonly address: string;
  readonly #socket: WebSocket;
  readonly #host: PeerLinkHost;
  readonly #codec: Codec;
  readonly #runs = new IdTable<PendingRun>();
  #phase: Phase;
  #nonce = newNonce();
  #theirNonce = "";
  #record: NodeRecord | null = null;
  /** The record this side sent in the handshake, as sent (the proofs cover it). */
  #sentRecord: NodeRecord | null = null;
  #nextRun = 1;
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
  /**
   * The limits the peer decodes frames with (its own word in the handshake,
   * else this node's), with one level of depth kept for a batch's array.
   */
  #peerLimits: PeerLimits;

  /**
   * Dials `url` and runs the handshake.
   *
   * @param url The peer's URL.
   * @param host This node.
   * @returns The link; `host.linkReady` reports the end of the handshake.
   */
  static dial(url: string, host: PeerLinkHost): PeerLink {
    return new PeerLink(openWebSocket(url, [PEER_PROTOCOL]), host, true, url);
  }

  /**
   * Serves an accepted socket (upgraded with the peer subprotocol).
   *
   * @param socket The server-side socket.
   * @param host This node.
   * @param address The remote address, for logs.
   * @returns The link.
   */
  static accept(socket: WebSocket, host: PeerLinkHost, address: string): PeerLink {
    return new PeerLink(socket, host, false, address);
  }

  private constructor(socket: WebSocket, host: PeerLinkHost, dialed: boolean, address: string) {
    this.#socket = socket;
    this.#host = host;
    this.dialed = dialed;
    this.address = address;
    this.#codec = createCodec("msgpack", { limits: host.limits });
    this.#peerLimits = forAnswers(host.limits);
    this.#batcher = new Batcher(
      this.#codec,
      (frame) => {
        if (socket.readyState === 1) socket.send(frame);
      },
      dialed && !(socket instanceof (TcpWebSocket as unknown as typeof WebSocket))
        ? MAX_BATCH_BYTES_NATIVE_CLIENT
        : MAX_BATCH_BYTES,
    );
    this.#phase = dialed ? "opening" : "awaiting-hello";
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      if (!this.dialed) return;
      if (socket.protocol !== PEER_PROTOCOL) {
        this.close(`peer did not accept the ${PEER_PROTOCOL} subprotocol`);
        return;
      }
      this.#phase = "hello-sent";
      const record = this.#sentRecord = host.localRecord();
      this.#write({
        t: "hello",
        cluster: host.clusterId,
        record,
        nonce: this.#nonce,
        limits: peerLimitsOf(host.limits),
      });
    };
    socket.onmessage = (event) => this.#onFrame(event.data);
    // The no-delay TCP WebSocket says why a dial failed (a refused connection).
    socket.onerror = (event) => {
      const error = (event as ErrorEvent).error;
      if (error instanceof Error) this.#closeReason ||= error.message;
    };
    socket.onclose = (event) => this.#onClose(event.reason);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#phase !== "ready") this.close("handshake timed out");
    }, host.handshakeTimeoutMs);
  }

  /** Resolves `true` when the handshake succeeds, `false` when the link closes first. */
  get handshake(): Promise<boolean> {
    return this.#handshake.promise;
  }

  /** The peer's record from the handshake, once ready. */
  get record(): NodeRecord | null {
    return this.#record;
  }

  /** The peer's name, once ready. */
  get peer(): string | null {
    return this.#record?.name ?? null;
  }

  /** True once the handshake succeeded and until the link closes. */
  get ready(): boolean {
    return this.#phase === "ready" && !this.#closed;
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
   * @param message The step (its `id` is set here).
   * @param signal Aborting it sends a cancel and rejects with its reason.
   * @returns The step's value.
   * @throws {Unstarted} when the step provably did not start.
   * @throws {RpcError} the step's error, or a {@linkcode ConnectionError} when
   *   the link closed while the step was in flight.
   */
  run(message: Omit<RunMessage, "id" | "t">, signal: AbortSignal): Promise<unknown> {
    if (!this.ready || this.#retired || this.#peerLeaving) {
      return Promise.reject(
        new Unstarted(new NotStartedError(`No open link to ${this.peer ?? this.address}`)),
      );
    }
    if (signal.aborted) return Promise.reject(signal.reason);
    const id = this.#nextRun;
    this.#nextRun = nextId(id);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const onAbort = () => {
      if (!this.#runs.delete(id)) return;
      this.send({ t: "cancel", id });
      reject(signal.reason);
    };
    this.#runs.set(id, {
      resolve: (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      reject: (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    });
    signal.addEventListener("abort", onAbort, { once: true });
    if (!this.#write({ t: "run", id, ...message })) {
      this.#runs.get(id)?.reject(
        new Unstarted(new NotStartedError(`Link to ${this.peer} closed`)),
      );
      this.#runs.delete(id);
    }
    return promise;
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
    const id = this.#nextRun;
    this.#nextRun = nextId(id);
    const { promise, resolve, reject } = Promise.withResolvers<AuthorizedMessage>();
    const onAbort = () => {
      if (this.#runs.delete(id)) reject(signal.reason);
    };
    this.#runs.set(id, {
      resolve: (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value as AuthorizedMessage);
      },
      reject: (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    });
    signal.addEventListener("abort", onAbort, { once: true });
    if (!this.#write({ t: "authorize", id, ...message })) {
      this.#runs.get(id)?.reject(new NotStartedError(`Link to ${this.peer} closed`));
      this.#runs.delete(id);
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
  answer(message: ResultMessage | RunErrorMessage): void {
    this.#incoming--;
    if (!this.ready) return;
    let frame: Uint8Array<ArrayBuffer>;
    try {
      frame = this.#encodeAnswer(message);
    } catch (err) {
      const error = err instanceof LimitExceededError ? err : unencodableResult("msgpack", err);
      frame = this.#codec.encode({
        t: "error",
        id: message.id,
        error: error.toWire(),
        // A refusal stays one, whatever its error's details held.
        started: message.t === "result" || message.started,
      }) as Uint8Array<ArrayBuffer>;
    }
    this.#host.traffic("out", message.t, frame.byteLength);
    this.#batcher.push(frame);
    if (this.#retired) this.#closeIfIdle();
  }

  /** Encodes an answer, or throws why the peer could not take it. */
  #encodeAnswer(message: ResultMessage | RunErrorMessage): Uint8Array<ArrayBuffer> {
    const limits = this.#peerLimits;
    if (message.t === "result") {
      const value = message.value;
      const max = limits.maxElements;
      // Checked before encoding: a value that shares structure may expand
      // exponentially, and encoding it would block the event loop.
      if (value !== null && typeof value === "object" && expandedSize(value, max) > max) {
        throw tooManyValues(max);
      }
    }
    const frame = this.#codec.encode(message) as Uint8Array<ArrayBuffer>;
    if (frame.byteLength > limits.maxFrameBytes) {
      throw new LimitExceededError(
        `The answer would be ${frame.byteLength} bytes, over the limit of ${limits.maxFrameBytes} of node "${this.peer}"`,
        { details: { limit: "maxFrameBytes", max: limits.maxFrameBytes } },
      );
    }
    // The peer pre-scans every frame it reads.
    scanMsgpack(frame, limits);
    return frame;
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
    return this.dialed ? this.#nonce : this.#theirNonce;
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
    if (this.#socket.readyState !== 1) return false;
    try {
      const frame = this.#codec.encode(message) as Uint8Array<ArrayBuffer>;
      this.#host.traffic("out", message.t, frame.byteLength);
      if (this.#phase !== "ready") {
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
    for (const run of this.#runs.values()) run.reject(error);
    this.#runs.clear();
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
    if (this.#phase !== "ready") {
      this.#onHandshake(message).catch((err) => this.close(String(err)));
      return;
    }
    switch (message.t) {
      case "result":
        this.#settle(message.id, (run) => run.resolve(message.value));
        break;
      case "error":
        this.#settle(message.id, (run) => run.reject(runError(message)));
        break;
      case "authorized":
        if (
          typeof message.grants !== "string" || !Array.isArray(message.verdicts) ||
          !message.verdicts.every((v) => v === null || (typeof v === "object" && v !== null))
        ) {
          this.close("malformed authorized");
          return;
        }
        this.#settle(message.id, (run) => run.resolve(message));
        break;
      case "authorize":
        if (
          typeof message.id !== "number" || typeof message.principal !== "string" ||
          !Array.isArray(message.steps) || !message.steps.every(isAuthorizeStep)
        ) {
          this.close("malformed authorize");
          return;
        }
        this.#host.authorize(this, message);
        break;
      case "run":
        if (
          typeof message.id !== "number" || typeof message.fun !== "string" ||
          typeof message.step !== "string" || !Array.isArray(message.args) ||
          typeof message.timeout !== "number" ||
          (message.grants !== undefined && typeof message.grants !== "string") ||
          (message.kwargs !== undefined &&
            (typeof message.kwargs !== "object" || message.kwargs === null)) ||
          (message.locs !== undefined && !Array.isArray(message.locs))
        ) {
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
    this.#runs.delete(id);
    action(run);
    if (this.#retired) this.#closeIfIdle();
  }

  async #onHandshake(message: PeerMessage): Promise<void> {
    const host = this.#host;
    switch (this.#phase) {
      case "awaiting-hello": {
        if (message.t !== "hello") return this.close("expected hello");
        if (message.cluster !== host.clusterId) {
          return this.#refuse(
            new ClusterMismatchError(
              `Cluster ID mismatch: this node is in "${host.clusterId}", the peer in "${message.cluster}"`,
            ),
          );
        }
        if (!isNodeRecord(message.record) || typeof message.nonce !== "string") {
          return this.close("malformed hello");
        }
        if (message.record.name === host.localRecord().name) {
          return this.#refuse(new ClusterMismatchError("Refusing a link to myself"));
        }
        this.#record = message.record;
        this.#theirNonce = message.nonce;
        this.#peerLimits = forAnswers(readPeerLimits(message.limits) ?? host.limits);
        if (host.secret === null) return this.#welcome();
        // The acceptor commits to its record here, under its proof.
        const record = this.#sentRecord = host.localRecord();
        this.#phase = "awaiting-proof";
        this.#write({
          t: "challenge",
          nonce: this.#nonce,
          record,
          proof: await proof(host.secret, "acceptor", this.#transcript(record, this.#record)),
        });
        return;
      }
      case "awaiting-proof": {
        if (message.t !== "proof" || host.secret === null) return this.close("expected proof");
        const expected = await proof(
          host.secret,
          "dialer",
          this.#transcript(this.#sentRecord!, this.#record!),
        );
        if (!sameProof(String(message.proof), expected)) {
          return this.#refuse(
            new UnauthenticatedError(
              "Wrong cluster secret, or the handshake was altered on the way",
            ),
          );
        }
        return this.#welcome();
      }
      case "hello-sent":
      case "challenged": {
        if (message.t === "refused") {
          const error = RpcError.fromWire(message.error);
          log.warn("Peer {address} refused this node: {error}", {
            address: this.address,
            error: error.message,
          });
          return this.close(`refused: ${error.message}`);
        }
        if (message.t === "challenge" && this.#phase === "hello-sent") {
          if (host.secret === null) {
            return this.close("the peer requires a cluster secret and this node has none");
          }
          if (!isNodeRecord(message.record) || typeof message.nonce !== "string") {
            return this.close("malformed challenge");
          }
          this.#theirNonce = message.nonce;
          const transcript = this.#transcript(message.record, this.#sentRecord!);
          const expected = await proof(host.secret, "acceptor", transcript);
          if (!sameProof(String(message.proof), expected)) {
            return this.close(
              "the peer does not know the cluster secret, or the handshake was altered on the way",
            );
          }
          // The record the acceptor's proof covers; the welcome only repeats it.
          this.#record = message.record;
          this.#phase = "challenged";
          this.#write({ t: "proof", proof: await proof(host.secret, "dialer", transcript) });
          return;
        }
        if (message.t === "welcome") {
          this.#peerLimits = forAnswers(readPeerLimits(message.limits) ?? host.limits);
          if (host.secret !== null) {
            if (this.#phase !== "challenged") {
              return this.close("the peer did not prove the cluster secret");
            }
            return this.#ready();
          }
          if (!isNodeRecord(message.record)) return this.close("malformed welcome");
          this.#record = message.record;
          return this.#ready();
        }
        return this.close(`unexpected ${message.t} during the handshake`);
      }
      default:
        return this.close("unexpected handshake state");
    }
  }

  /** What both proofs cover, from this side's view of the handshake. */
  #transcript(acceptorRecord: NodeRecord, dialerRecord: NodeRecord): Transcript {
    const ours = this.#nonce;
    const theirs = this.#theirNonce;
    return {
      cluster: this.#host.clusterId,
      dialerNonce: this.dialed ? ours : theirs,
      acceptorNonce: this.dialed ? theirs : ours,
      dialerRecord,
      acceptorRecord,
    };
  }

  #welcome(): void {
    this.#write({
      t: "welcome",
      record: this.#sentRecord ?? this.#host.localRecord(),
      limits: peerLimitsOf(this.#host.limits),
    });
    this.#ready();
  }

  #ready(): void {
    if (this.#closed) return;
    this.#phase = "ready";
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#handshake.resolve(true);
    this.#host.linkReady(this);
  }
}

function isAuthorizeStep(x: unknown): boolean {
  if (typeof x !== "object" || x === null) return false;
  const step = x as Record<string, unknown>;
  return typeof step.step === "string" && typeof step.fun === "string" &&
    (step.locs === undefined ||
      (Array.isArray(step.locs) && step.locs.every((l) => typeof l === "string")));
}

function runError(message: RunErrorMessage): unknown {
  const error = RpcError.fromWire(message.error as WireError);
  return message.started ? error : new Unstarted(error);
}

/** `limits` less one level of depth: a small answer may share a batch frame, one level deeper. */
function forAnswers(limits: PeerLimits): PeerLimits {
  return { ...peerLimitsOf(limits), maxDepth: limits.maxDepth - 1 };
}

function peerLimitsOf(limits: PeerLimits): PeerLimits {
  const { maxFrameBytes, maxDepth, maxElements, maxStringBytes } = limits;
  return { maxFrameBytes, maxDepth, maxElements, maxStringBytes };
}

/** The limits a peer announced, when they are well-formed. */
function readPeerLimits(x: unknown): PeerLimits | null {
  if (typeof x !== "object" || x === null) return null;
  const limits = x as Record<string, unknown>;
  const keys = ["maxFrameBytes", "maxDepth", "maxElements", "maxStringBytes"] as const;
  for (const key of keys) {
    const value = limits[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) return null;
  }
  return peerLimitsOf(limits as unknown as PeerLimits);
}
