// Copyright 2026 the mpreg authors. MIT license.
/**
 * One client connection on a node: decodes frames, checks limits, starts
 * requests, cancels them, and sends the answers.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import type { AuthResult, Principal } from "../auth/authenticator.ts";
import type { Codec } from "../protocol/codec.ts";
import { CLOSE_DRAINED } from "../protocol/close_codes.ts";
import {
  CancelledError,
  ConnectionError,
  LimitExceededError,
  ProtocolError,
  type RpcError,
  TimeoutError,
  toRpcError,
  UnauthenticatedError,
  UnavailableError,
} from "../protocol/errors.ts";
import type { Limits } from "../protocol/limits.ts";
import { publicError } from "../protocol/public_error.ts";
import {
  type ClientMessage,
  type InMessage,
  parseClientMessage,
  readRequestId,
  type RequestId,
  type RpcRequest,
} from "../protocol/messages.ts";
import {
  AnswerEncoder,
  ORIGINAL_CLIENT_MAX_BYTES,
  tooBigForOriginalClient,
} from "../transport/answers.ts";
import { Batcher } from "../transport/batcher.ts";
import { type Call, CallTable } from "../transport/calls.ts";
import { type Channel, CONNECTING, type Frame, OPEN } from "../transport/channel.ts";
import type { RequestLifecycle } from "./request_lifecycle.ts";
import { isStreamSource } from "../registry/stream_source.ts";
import { StreamSender } from "./stream_sender.ts";
import { UploadSource } from "./upload_source.ts";

/** What a connection needs from its node. */
export interface ConnectionHost {
  /** The node's name, given with the id of an internal error. */
  readonly node: string;
  /** The connection limits. */
  readonly limits: Limits;
  /** Whether the node is draining (no new requests). */
  isDraining(): boolean;
  /** The node's request lifecycle: budgets, the deadline timer, the count in flight for a drain. */
  readonly lifecycle: RequestLifecycle;
  /** Counts a request; call the result with its outcome (`ok` or an error name). */
  countRequest(): (outcome: string) => void;
  /** A new request id, unique on this node: what its log lines carry. */
  newRequestId(): string;
  /** Runs a request: a value, a promise of one, or an RpcError thrown or rejected. */
  runRequest(
    request: RpcRequest,
    id: string,
    signal: AbortSignal,
    deadline: number,
    principal: Principal,
    progress?: (step: string, value: unknown) => void,
  ): unknown;
  /** Counts a request of `principal` in flight; false when it is over its limit. */
  acquire(principal: Principal): boolean;
  /** Uncounts a request of `principal`. */
  release(principal: Principal): void;
  /** Called once when the connection closes. */
  connectionClosed(connection: ClientConnection): void;
}

/**
 * A batch is sent as soon as it holds this many bytes. Small batches keep
 * several frames in flight, so client and node work at once instead of
 * taking turns (4 KB measured best; see docs/performance.md).
 */
const MAX_BATCH_BYTES = 4096;

// WebSocket close codes (RFC 6455 §7.4.1).
const CLOSE_POLICY = 1008;
const CLOSE_INVALID = 1007;
const CLOSE_TOO_BIG = 1009;
const CLOSE_GOING_AWAY = 1001;

function reasonOf(message: string): string {
  // A close reason is at most 123 bytes of UTF-8.
  const bytes = new TextEncoder().encode(message);
  if (bytes.length <= 123) return message;
  return new TextDecoder().decode(bytes.slice(0, 120)).replace(/\uFFFD+$/, "") + "...";
}

interface InFlight extends Call {
  /** The node-unique id of the request (see `ConnectionHost.newRequestId`). */
  readonly id: string;
  readonly controller: AbortController;
  readonly principal: Principal;
  readonly counted: (outcome: string) => void;
  /** A streamed request's sender, once its stream started. */
  stream?: StreamSender;
  /** The request's uploads, by their index in its `ins`. */
  uploads?: UploadSource[];
}

/** A client connection served by a node. */
export class ClientConnection {
  readonly #socket: Channel;
  readonly #codec: Codec;
  readonly #host: ConnectionHost;
  readonly #log: Logger;
  readonly #inFlight: CallTable<InFlight>;
  readonly #answers: AnswerEncoder<RequestId>;
  /** Encodes progress reports; one that cannot be sent throws (it is dropped). */
  readonly #reports: AnswerEncoder<RequestId>;
  readonly #batcher: Batcher | null;
  readonly #auth: AuthResult;
  #closed = false;
  /** Resolves when the socket has closed: the close handshake is over, or the connection dropped. */
  readonly #socketClosed = Promise.withResolvers<void>();

  /**
   * Serves a socket.
   *
   * @param socket The upgraded server-side WebSocket, or another channel.
   * @param codec The codec negotiated for it.
   * @param host The node.
   * @param remote A description of the peer for logs.
   * @param auth The principal the connection authenticated as, or why it did not.
   */
  constructor(
    socket: Channel,
    codec: Codec,
    host: ConnectionHost,
    remote: string,
    auth: AuthResult,
  ) {
    this.#socket = socket;
    this.#auth = auth;
    this.#batcher = codec.batches
      ? new Batcher(codec, (frame) => {
        if (socket.readyState === OPEN) socket.send(frame);
      }, MAX_BATCH_BYTES)
      : null;
    this.#codec = codec;
    this.#host = host;
    this.#inFlight = new CallTable(host.lifecycle.deadlines);
    // The client decodes without limits: only `maxElements` is checked, before encoding.
    this.#answers = new AnswerEncoder<RequestId>(codec, {
      result: (u, r) => codec.encodeAnswer(u, r),
      error: (u, error) => codec.encode({ u, r: null, error }),
    }, host.limits);
    this.#reports = new AnswerEncoder<RequestId>(codec, {
      result: (_u, report) => codec.encode(report),
      error: () => {
        throw new RangeError("The progress report cannot be sent");
      },
    }, host.limits);
    this.#log = getLogger(["mpreg", "server", "connection"]).with({
      remote,
      encoding: codec.encoding,
    });
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      // Nothing is read once the connection is closing (a drain promises it).
      if (this.#closed) return;
      // Answers the frame produces at once go out as soon as it is handled.
      const batcher = this.#batcher;
      batcher?.cork();
      try {
        this.#onFrame(event.data);
      } catch (err) {
        // Never let a frame throw out of the socket's handler.
        this.#log.error("Closing connection after an internal error: {error}", {
          error: String(err),
        });
        this.close(1011, "Internal error");
      } finally {
        batcher?.uncork();
      }
    };
    socket.onclose = () => {
      this.#onClose();
      this.#socketClosed.resolve();
    };
    socket.onerror = () => {};
  }

  /**
   * Ends the connection for a node that stops, once its drain is over:
   * every request still running is cancelled and answered with a
   * {@linkcode ConnectionError} (it may have run), then the connection is
   * closed with {@linkcode CLOSE_DRAINED}, which tells the client that any
   * call it still waits for never reached this node.
   *
   * @param cutShort The message of the answers to the requests cancelled.
   * @returns When the client has answered the close, or the connection dropped.
   */
  drain(cutShort: string): Promise<void> {
    if (!this.#closed) {
      for (const [u, entry] of this.#inFlight.entries()) {
        this.#finish(u, entry, new CancelledError(cutShort));
        this.#sendError(
          u,
          new ConnectionError(cutShort, { details: { node: this.#host.node } }),
          entry.id,
          entry.principal.name,
        );
      }
      this.close(CLOSE_DRAINED, "Node shutting down");
    }
    return this.#socketClosed.promise;
  }

  /**
   * Closes the connection, cancelling what is in flight.
   *
   * @param code The close code.
   * @param reason The close reason.
   */
  close(code: number = CLOSE_GOING_AWAY, reason = "Node shutting down"): void {
    this.#batcher?.flush();
    if (this.#socket.readyState === OPEN || this.#socket.readyState === CONNECTING) {
      this.#socket.close(code, reasonOf(reason));
    }
    this.#onClose();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    const reason = new CancelledError("Client connection closed");
    const lost = new ConnectionError("Client connection closed");
    for (const [u, entry] of this.#inFlight.entries()) {
      // A function reading an upload learns the connection is gone.
      for (const upload of entry.uploads ?? []) upload.fail(lost, false);
      this.#finish(u, entry, reason);
    }
    this.#host.connectionClosed(this);
  }

  #onFrame(data: unknown): void {
    let message: unknown;
    try {
      message = this.#codec.decode(data as string | ArrayBuffer);
    } catch (err) {
      const error = toRpcError(err);
      this.#log.warn("Closing connection: {error}", { error: error.message });
      const code = error instanceof LimitExceededError
        ? ((error.details as { limit?: string } | null)?.limit === "maxFrameBytes"
          ? CLOSE_TOO_BIG
          : CLOSE_POLICY)
        : CLOSE_INVALID;
      this.close(code, error.message);
      return;
    }
    // On the mpreg.* subprotocols a frame may hold a batch: an array of messages.
    if (Array.isArray(message) && this.#codec.batches) {
      if (message.length === 0) {
        this.#log.warn("Closing connection: an empty batch");
        this.close(CLOSE_POLICY, "Frame holds an empty batch");
        return;
      }
      for (const item of message) {
        if (this.#closed) return;
        this.#onMessage(item);
      }
      return;
    }
    this.#onMessage(message);
  }

  #onMessage(message: unknown): void {
    let parsed: ClientMessage;
    try {
      parsed = parseClientMessage(message, this.#host.limits.maxSteps);
    } catch (err) {
      const error = toRpcError(err);
      const u = readRequestId(message);
      if (u === null) {
        this.#log.warn("Closing connection: {error}", { error: error.message });
        this.close(CLOSE_POLICY, error.message);
        return;
      }
      // A malformed upload or credit message fails the request it names
      // (as one that breaks the upload's protocol does, see #upload): a
      // request in flight gets one answer, never an error and then its own.
      const entry = namesItsRequest(message) ? this.#inFlight.get(u) : undefined;
      if (entry === undefined) return this.#sendError(u, error);
      this.#finish(u, entry, error);
      this.#sendError(u, error, entry.id, entry.principal.name);
      return;
    }
    if (parsed.role === "credit") {
      this.#inFlight.get(parsed.u)?.stream?.grant(parsed.n);
      return;
    }
    if (parsed.role === "in") {
      this.#upload(parsed);
      return;
    }
    if (parsed.role === "cancel") {
      const entry = this.#inFlight.get(parsed.u);
      if (entry) this.#finish(parsed.u, entry, new CancelledError("Cancelled by the client"));
      return;
    }
    this.#start(parsed);
  }

  #start(request: RpcRequest): void {
    const host = this.#host;
    const u = request.u;
    const auth = this.#auth;
    if ("error" in auth) {
      this.#sendError(u, new UnauthenticatedError(auth.error));
      return;
    }
    if (host.isDraining()) {
      // Refused before anything ran: `started: false` lets the client send it elsewhere.
      this.#sendError(
        u,
        new UnavailableError(`Node "${host.node}" is shutting down; send the request elsewhere`, {
          details: { node: host.node, started: false },
        }),
      );
      return;
    }
    if (this.#inFlight.has(u)) {
      this.#sendError(u, new ProtocolError(`Request id ${JSON.stringify(u)} is already in flight`));
      return;
    }
    const max = host.limits.maxInFlightPerConnection;
    if (this.#inFlight.size >= max) {
      this.#sendError(
        u,
        new LimitExceededError(`More than ${max} requests in flight on one connection`, {
          details: { limit: "maxInFlightPerConnection", max },
        }),
      );
      return;
    }
    if (!host.acquire(auth)) {
      this.#sendError(
        u,
        new LimitExceededError(`Principal "${auth.name}" has too many requests in flight`, {
          details: { limit: "maxInFlightPerPrincipal", principal: auth.name },
        }),
      );
      return;
    }
    const budget = host.lifecycle.budget(request.timeout);
    const deadline = Date.now() + budget;
    const controller = new AbortController();
    const id = host.newRequestId();
    const entry: InFlight = {
      id,
      controller,
      principal: auth,
      counted: host.countRequest(),
      at: deadline,
      expire: () => {
        if (this.#inFlight.get(u) !== entry) return;
        controller.abort(
          new TimeoutError(`Request timed out after ${budget} ms`, {
            details: { timeout: budget },
          }),
        );
      },
      deadline: 0,
    };
    this.#inFlight.add(u, entry);
    host.lifecycle.started();
    let result: unknown;
    try {
      if (request.stream !== undefined && this.#codec.encoding === "legacy") {
        throw new ProtocolError("The original MPREG protocol has no streams");
      }
      if (request.ins !== undefined) {
        if (this.#codec.encoding === "legacy") {
          throw new ProtocolError("The original MPREG protocol has no uploads");
        }
        entry.uploads = this.#placeUploads(request);
      }
      if (request.progress === true && this.#codec.encoding === "legacy") {
        throw new ProtocolError("The original MPREG protocol has no progress reports");
      }
      result = host.runRequest(
        request,
        id,
        controller.signal,
        deadline,
        auth,
        request.progress === true
          ? (step, value) => this.#progress(u, entry, step, value)
          : undefined,
      );
    } catch (err) {
      const error = toRpcError(err);
      this.#finish(u, entry, null, error.name);
      this.#sendError(u, error, id, auth.name);
      return;
    }
    if (request.stream !== undefined) {
      this.#stream(request, entry, result);
      return;
    }
    if (!(result instanceof Promise)) {
      this.#finish(u, entry, null);
      this.#sendResult(u, result);
      return;
    }
    result.then(
      (r) => {
        if (this.#inFlight.get(u) !== entry) return;
        this.#finish(u, entry, null);
        this.#sendResult(u, r);
      },
      (err: unknown) => {
        if (this.#inFlight.get(u) !== entry) return;
        const error = toRpcError(err);
        this.#finish(u, entry, null, error.name);
        this.#sendError(u, error, id, auth.name);
      },
    );
  }

  /**
   * A request's uploads: one {@linkcode UploadSource} at each position its
   * `ins` names (checked when it was parsed), before any step runs.
   */
  #placeUploads(request: RpcRequest): UploadSource[] {
    const u = request.u;
    return request.ins!.map((at, i) => {
      const source = new UploadSource({
        credit: (n) => this.#sendOpen({ u, i, credit: n }),
        stop: () => this.#sendOpen({ u, i, stop: true }),
      });
      const step = request.cmds.find((s) => s.name === at.step)!;
      if (at.arg !== undefined) step.args[at.arg] = source;
      else step.kwargs[at.kwarg!] = source;
      return source;
    });
  }

  /**
   * A message of an upload: a chunk, its end or its failure. One for a
   * request no longer in flight is dropped (it crossed the answer, or the
   * stop); one that breaks the protocol (an upload the request does not
   * have, a chunk past the credit) fails the request with 1004.
   */
  #upload(message: InMessage): void {
    const u = message.u;
    const entry = this.#inFlight.get(u);
    if (entry === undefined) return;
    const upload = entry.uploads?.[message.i];
    let problem: string | null = null;
    if (upload === undefined) {
      problem = `Request ${JSON.stringify(u)} has no upload ${message.i}`;
    } else if ("chunk" in message) {
      if (!upload.push(message.chunk)) {
        problem = `Upload ${message.i} of request ${
          JSON.stringify(u)
        } sent a chunk past its credit`;
      }
    } else if (message.end === true) {
      upload.end();
    } else {
      upload.fail(
        new CancelledError(`The caller's stream (upload ${message.i}) failed: ${message.error}`, {
          details: { upload: message.i, message: message.error },
        }),
        false,
      );
    }
    if (problem === null) return;
    const error = new ProtocolError(problem, { details: { upload: message.i } });
    this.#finish(u, entry, error);
    this.#sendError(u, error, entry.id, entry.principal.name);
  }

  /** Sends a message about a request, if the socket is still open. */
  #sendOpen(message: Record<string, unknown>): void {
    if (this.#socket.readyState === OPEN) this.#send(this.#codec.encode(message));
  }

  /**
   * A streamed request's answer: its stream's chunks under the client's
   * credit, then the usual answer (`r` is the count of chunks sent).
   */
  #stream(request: RpcRequest, entry: InFlight, result: unknown): void {
    const u = request.u;
    const fail = (err: unknown) => {
      if (this.#inFlight.get(u) !== entry) return;
      const error = toRpcError(err);
      // The producer stops too (its signal aborts), if it still runs.
      this.#finish(u, entry, error);
      this.#sendError(u, error, entry.id, entry.principal.name);
    };
    const start = (r: unknown) => {
      if (this.#inFlight.get(u) !== entry) return;
      // The value of its one result step (its only step, or its only sink).
      let source: unknown;
      for (const name in r as Record<string, unknown>) {
        source = (r as Record<string, unknown>)[name];
      }
      if (!isStreamSource(source)) return fail(new ProtocolError("The step did not stream"));
      entry.stream = new StreamSender(source, request.stream!, {
        chunk: (chunk) => {
          if (this.#socket.readyState !== OPEN) return;
          try {
            this.#send(this.#codec.encodeChunk(u, chunk));
          } catch (err) {
            fail(new ProtocolError(`A chunk cannot be encoded: ${(err as Error).message}`));
          }
        },
        end: (count) => {
          if (this.#inFlight.get(u) !== entry) return;
          this.#finish(u, entry, null);
          this.#sendResult(u, count);
        },
        error: fail,
      });
    };
    if (result instanceof Promise) result.then(start, fail);
    else start(result);
  }

  /**
   * Sends a progress report of request `u` while it is in flight. A report
   * that cannot be encoded, or is over `maxElements`, is dropped.
   */
  #progress(u: RequestId, entry: InFlight, step: string, progress: unknown): void {
    if (this.#inFlight.get(u) !== entry || this.#socket.readyState !== OPEN) return;
    let frame: Frame;
    try {
      frame = this.#reports.result(u, { u, step, progress });
    } catch {
      return;
    }
    this.#send(frame);
  }

  #finish(
    u: RequestId,
    entry: InFlight,
    abortWith: RpcError | null,
    outcome: string = abortWith?.name ?? "ok",
  ): void {
    entry.stream?.stop();
    // An upload still open stops: its reader's read fails with the reason.
    if (entry.uploads !== undefined) {
      const reason = abortWith ?? new CancelledError("The request ended");
      for (const upload of entry.uploads) upload.fail(reason, true);
    }
    entry.counted(outcome);
    this.#host.release(entry.principal);
    this.#inFlight.delete(u, entry);
    if (abortWith !== null) entry.controller.abort(abortWith);
    this.#host.lifecycle.ended();
  }

  /** The principal's name, or `null` when the connection did not authenticate. */
  #principal(): string | null {
    return "name" in this.#auth ? this.#auth.name : null;
  }

  /**
   * Answers request `u` with an error, and logs the failure once: at `warn`
   * with the request's id, its principal, and the step and function when
   * the error names them; at `debug` for a refusal the client sends
   * elsewhere (the node is draining).
   */
  #sendError(
    u: RequestId,
    failure: RpcError,
    id: string = this.#host.newRequestId(),
    principal: string | null = this.#principal(),
  ): void {
    // An internal failure's text stays in this node's log, under an id.
    const error = publicError(failure, this.#host.node, { requestId: id });
    const details = error.details as { step?: unknown; fun?: unknown; started?: unknown } | null;
    const properties = {
      requestId: id,
      u,
      principal,
      node: this.#host.node,
      step: details?.step,
      fun: details?.fun,
      code: error.code,
      error: error.message,
    };
    if (error instanceof UnavailableError && details?.started === false) {
      this.#log.debug("Request {requestId} refused: {error}", properties);
    } else {
      this.#log.warn("Request {requestId} failed: {error}", properties);
    }
    if (this.#socket.readyState === OPEN) this.#send(this.#answers.error(u, error.toWire()));
  }

  #sendResult(u: RequestId, r: unknown): void {
    if (this.#socket.readyState !== OPEN) return;
    const frame = this.#answers.result(u, r);
    if (
      this.#codec.encoding === "legacy" && typeof frame !== "string" &&
      frame.byteLength > ORIGINAL_CLIENT_MAX_BYTES
    ) {
      // The original client would fail its connection on it (see
      // tooBigForOriginalClient): an error answer it can read instead.
      this.#send(this.#answers.error(u, tooBigForOriginalClient(frame.byteLength).toWire()));
      return;
    }
    this.#send(frame);
  }

  /**
   * Queues an answer. Answers produced in the same turn go out together,
   * as one batch frame, when the encoding batches: with many requests in
   * flight that saves most of the per-frame cost.
   */
  #send(frame: Frame): void {
    if (this.#batcher === null) this.#socket.send(frame);
    else this.#batcher.push(frame);
  }
}

/**
 * Whether a message that did not parse claims to be about a request in
 * flight: an upload's chunk (`role: "in"`) or a stream's `credit`.
 */
function namesItsRequest(message: unknown): boolean {
  if (typeof message !== "object" || message === null) return false;
  const role = (message as { role?: unknown }).role;
  return role === "in" || role === "credit";
}
