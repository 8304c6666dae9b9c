// Copyright 2026 the mpreg authors. MIT license.
/**
 * What a peer link needs from its node ({@linkcode PeerLinkHost}), and the
 * mark of a forwarded step that provably never started
 * ({@linkcode Unstarted}). `peer_link.ts` re-exports both.
 *
 * @module
 */
import type { RpcError } from "../protocol/errors.ts";
import type { Limits } from "../protocol/limits.ts";
import type { GossipMessage, NodeRecord } from "./membership.ts";
import type { PeerLink } from "./peer_link.ts";
import type {
  AuthorizeMessage,
  FetchMessage,
  HopDoneMessage,
  HopFailedMessage,
  HopMessage,
  InputEndMessage,
  InputErrorMessage,
  InputMessage,
  RunMessage,
} from "./peer_protocol.ts";

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
  /**
   * The coordinator of a streamed run this node is executing granted `n`
   * more chunks (and `bytes` more bytes).
   */
  creditRun(link: PeerLink, id: number, n: number, bytes?: number): void;
  /**
   * A chunk, the end or the failure of an input stream of a run this node
   * is executing; false when a chunk came past the credit granted.
   */
  input(link: PeerLink, message: InputMessage | InputEndMessage | InputErrorMessage): boolean;
  /** A peer asks for a value this node holds (direct handoff); answer with `link.answer()`. */
  fetch(link: PeerLink, message: FetchMessage): void;
  /** The coordinator on `link` is done with the value this node holds under `ref`. */
  drop(link: PeerLink, ref: number): void;
  /** A step of a relayed chain arrived (from its coordinator or the member before). */
  hop(link: PeerLink, message: HopMessage): void;
  /** The last value of a relayed chain this node coordinates, or a failure in it. */
  hopAnswer(link: PeerLink, message: HopDoneMessage | HopFailedMessage): void;
  /** The coordinator of a relayed chain ended it. */
  halt(link: PeerLink, request: string): void;
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
