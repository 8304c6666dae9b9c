// Copyright 2026 the mpreg authors. MIT license.
/**
 * The node-to-node protocol (`mpreg.peer.v2`): a handshake that checks the
 * cluster id (and, when set, the cluster secret, bound to both sides'
 * records) before anything else, membership gossip, grant checks, and steps
 * forwarded to the node that runs them. `docs/cluster.md` describes it.
 *
 * @module
 */
import type { WireError } from "../protocol/errors.ts";
import type { Limits } from "../protocol/limits.ts";
import type { GossipMessage, NodeRecord } from "./membership.ts";

/**
 * The WebSocket subprotocol of links between nodes (msgpack, binary frames).
 * v2: the secret's proofs cover both records; grant checks; `run.grants`.
 */
export const PEER_PROTOCOL = "mpreg.peer.v2";

/**
 * The limits a node decodes its peers' frames with. Each side announces its
 * own in the handshake, and checks a step's result against the other's
 * before sending it: a result the other side would refuse is answered with
 * an error instead, so the link stays up.
 */
export type PeerLimits = Pick<
  Limits,
  "maxFrameBytes" | "maxDepth" | "maxElements" | "maxStringBytes"
>;

/** Dialer → acceptor: who I am, and a nonce for the secret challenge. */
export interface HelloMessage {
  /** Message type. */
  t: "hello";
  /** The dialer's cluster id; checked before anything is registered. */
  cluster: string;
  /** The dialer's record. */
  record: NodeRecord;
  /** A fresh random nonce. */
  nonce: string;
  /** The limits the dialer decodes frames with (absent from older nodes: assume the acceptor's own). */
  limits?: PeerLimits;
}

/**
 * Acceptor → dialer when a secret is set: my record, and my proof over the
 * whole handshake; prove you know the secret too.
 */
export interface ChallengeMessage {
  /** Message type. */
  t: "challenge";
  /** A fresh random nonce. */
  nonce: string;
  /** The acceptor's record, committed to by its proof (the `welcome` repeats it). */
  record: NodeRecord;
  /**
   * HMAC(secret, canonical `["mpreg.peer.v2", "acceptor", cluster, dialer
   * nonce, acceptor nonce, dialer record, acceptor record]`).
   */
  proof: string;
}

/** Dialer → acceptor: the same HMAC with the role `"dialer"`. */
export interface ProofMessage {
  /** Message type. */
  t: "proof";
  /** The dialer's proof. */
  proof: string;
}

/** Acceptor → dialer: admitted; the acceptor's record. */
export interface WelcomeMessage {
  /** Message type. */
  t: "welcome";
  /** The acceptor's record. */
  record: NodeRecord;
  /** The limits the acceptor decodes frames with (absent from older nodes: assume the dialer's own). */
  limits?: PeerLimits;
}

/** Either side: not admitted, and why; the link then closes. */
export interface RefusedMessage {
  /** Message type. */
  t: "refused";
  /** Why. */
  error: WireError;
}

/** Coordinator → runner: run one step whose arguments are already resolved. */
export interface RunMessage {
  /** Message type. */
  t: "run";
  /** Id chosen by the coordinator, unique on this link while in flight. */
  id: number;
  /** The step's name (for errors and logs). */
  step: string;
  /** The function. */
  fun: string;
  /** Resolved positional arguments. */
  args: unknown[];
  /** Resolved keyword arguments (omitted when empty). */
  kwargs?: Record<string, unknown>;
  /** Resources the runner must offer (omitted when empty). */
  locs?: string[];
  /** What is left of the request's deadline, in milliseconds. */
  timeout: number;
  /** The request's id on the node it entered (`<node>#<n>`), for logs. */
  request?: string | number;
  /** The caller's principal; the runner checks its grant again. */
  principal?: string;
  /**
   * The digest of the runner's grants the coordinator relied on when it
   * authorized the request, when it is not the coordinator's own: omitted,
   * it is the digest the coordinator presented in this link's handshake
   * (so the common frame, one config everywhere, carries nothing more).
   * The runner refuses the step unstarted when it is not its own digest.
   */
  grants?: string;
  /** W3C `traceparent` of the coordinator's step span, when tracing. */
  trace?: string;
  /**
   * A streamed step and its initial credit, in chunks: the runner answers
   * with `chunk` messages (never more than the credit granted), then `end`
   * or `error`; the coordinator grants more with `credit`.
   */
  stream?: number;
  /**
   * With `stream`: the initial byte credit (see `protocol/chunk_size.ts`),
   * the client's own: the runner sends a chunk only while it holds both
   * credits, and asks its producer for none it could not send. Without it,
   * chunks only.
   */
  streamBytes?: number;
  /**
   * With `stream`: the step may stream (its value goes to one other step of
   * the request): a value that is not a stream is answered with `result`.
   */
  may?: true;
  /**
   * Input streams: the argument at each position (`null` in `args` or
   * `kwargs`) is the stream `i`, fed with `in` messages under the credit
   * the runner grants with `in-credit`.
   */
  ins?: InputPosition[];
  /**
   * The caller asked for the step's progress reports: the runner sends them
   * as `progress` messages (coalesced, the last one before the answer).
   * Omitted, it sends none.
   */
  progress?: true;
  /**
   * Direct handoff: only other steps take the value, whole. When it is at
   * least `HANDOFF_MIN_BYTES` (src/cluster/held_value.ts), the runner keeps
   * it and answers `held` instead of `result`.
   */
  keep?: true;
  /**
   * Direct handoff: the argument at each position (`null` in `args` or
   * `kwargs`) is a value held on member `from` under `ref`: the runner
   * fetches it from there (`fetch`) before it calls the function.
   */
  held?: HeldPosition[];
}

/** Where a held value goes in a run's arguments, and where it is held. */
export type HeldPosition =
  & { from: string; ref: number }
  & ({ arg: number } | { kwarg: string });

/** Runner → coordinator: the value of a `keep` run, held here under `ref`. */
export interface HeldMessage {
  /** Message type. */
  t: "held";
  /** The run's id. */
  id: number;
  /** The value's reference on this member. */
  ref: number;
  /** Its size, at least (bytes). */
  size: number;
}

/**
 * Consumer → the member that holds a value: send it (answered with
 * `result` or `error` under this `id`, shared with runs on the link).
 */
export interface FetchMessage {
  /** Message type. */
  t: "fetch";
  /** Id chosen by the asking node, unique on this link while in flight. */
  id: number;
  /** The value's reference. */
  ref: number;
  /**
   * The member that holds it, when it is not the receiver: a member that
   * cannot reach the holder asks the coordinator, which fetches it over its
   * own link and answers with it.
   */
  from?: string;
}

/** Coordinator → the member that holds a value: its request is over, let it go. */
export interface DropMessage {
  /** Message type. */
  t: "drop";
  /** The value's reference. */
  ref: number;
}

/** Where a value goes in a step's top-level arguments. */
export type ValuePosition = { arg: number } | { kwarg: string };

/** A later step of a relayed chain, as its coordinator planned it. */
export interface HopStep {
  /** The member chosen to run it. */
  node: string;
  /** The step's name. */
  step: string;
  /** The function. */
  fun: string;
  /** Its positional arguments, `null` where the value of the step before it goes. */
  args: unknown[];
  /** Its keyword arguments (omitted when empty), `null` where that value goes. */
  kwargs?: Record<string, unknown>;
  /** Resources the member must offer (omitted when empty). */
  locs?: string[];
  /** Where the value of the step before it goes (one place at least). */
  at: ValuePosition[];
  /**
   * The member's URLs as the coordinator knows them: the member before it
   * dials them when it does not know the member yet.
   */
  urls?: string[];
}

/**
 * Coordinator, or the member of the step before → the member of a step of a
 * relayed chain (docs/cluster.md, "Relayed chains"): run it, then pass the
 * next step (`then[0]`) on with the value, or, for the last one, answer the
 * coordinator with `hop-done`.
 */
export interface HopMessage {
  /** Message type. */
  t: "hop";
  /** The request's id on the coordinator (`<node>#<n>`): the chain's key everywhere. */
  request: string;
  /** The coordinator's name: where `hop-done` and `hop-failed` go. */
  coordinator: string;
  /** The caller's principal; each member checks its grant. */
  principal: string;
  /** The digest of the grants the coordinator authorized the request against. */
  grants: string;
  /** What is left of the request's deadline, in milliseconds, when sent. */
  timeout: number;
  /** W3C `traceparent` of the coordinator's span, when tracing. */
  trace?: string;
  /** The step's name. */
  step: string;
  /** The function. */
  fun: string;
  /** Its positional arguments, the value of the step before in its places. */
  args: unknown[];
  /** Its keyword arguments (omitted when empty). */
  kwargs?: Record<string, unknown>;
  /** Resources the member must offer (omitted when empty). */
  locs?: string[];
  /** Where the value of the step before it went (absent for the first step). */
  at?: ValuePosition[];
  /** The steps after it, in order (absent for the last). */
  then?: HopStep[];
}

/** The member of a relayed chain's last step → its coordinator: the step's value. */
export interface HopDoneMessage {
  /** Message type. */
  t: "hop-done";
  /** The request's id on the coordinator. */
  request: string;
  /** The last step's name. */
  step: string;
  /** Its value. */
  value: unknown;
}

/**
 * A member of a relayed chain → its coordinator: its step failed
 * (`started`), or was refused unstarted, or could not be passed on to the
 * next member; then `input` is the value that step was to take, and the
 * coordinator runs the rest of the chain itself, from `step`.
 */
export interface HopFailedMessage {
  /** Message type. */
  t: "hop-failed";
  /** The request's id on the coordinator. */
  request: string;
  /** The step. */
  step: string;
  /** Why. */
  error: WireError;
  /** False when the step provably did not start. */
  started: boolean;
  /** With `started: false` for a step after the first: the value it was to take. */
  input?: unknown;
}

/**
 * Coordinator → the members of a relayed chain: the request is over
 * (cancelled, out of time, or a member was lost): stop its step, and never
 * start one of it.
 */
export interface HaltMessage {
  /** Message type. */
  t: "halt";
  /** The request's id on the coordinator. */
  request: string;
}

/** Runner → coordinator: a progress report of a run whose `run` asked for them. */
export interface ProgressMessage {
  /** Message type. */
  t: "progress";
  /** The run's id. */
  id: number;
  /** The report, as the function made it. */
  value: unknown;
}

/** Where input stream `i` of a run goes: positional argument `arg`, or keyword argument `kwarg`. */
export type InputPosition = { i: number; arg: number } | { i: number; kwarg: string };

/** Coordinator → runner: one chunk of input stream `i` of run `id`. */
export interface InputMessage {
  /** Message type. */
  t: "in";
  /** The run's id. */
  id: number;
  /** The input stream. */
  i: number;
  /** The chunk. */
  value: unknown;
}

/** Coordinator → runner: input stream `i` of run `id` ended. */
export interface InputEndMessage {
  /** Message type. */
  t: "in-end";
  /** The run's id. */
  id: number;
  /** The input stream. */
  i: number;
}

/** Coordinator → runner: input stream `i` of run `id` failed. */
export interface InputErrorMessage {
  /** Message type. */
  t: "in-error";
  /** The run's id. */
  id: number;
  /** The input stream. */
  i: number;
  /** Why (the producer's error, or the loss of its node). */
  error: WireError;
}

/** Runner → coordinator: `n` more chunks of input stream `i` of run `id` may be sent. */
export interface InputCreditMessage {
  /** Message type. */
  t: "in-credit";
  /** The run's id. */
  id: number;
  /** The input stream. */
  i: number;
  /** How many (a positive integer, at most `MAX_STREAM_CREDIT`). */
  n: number;
}

/** Runner → coordinator: the run reads no more of input stream `i`: stop its producer. */
export interface InputCancelMessage {
  /** Message type. */
  t: "in-cancel";
  /** The run's id. */
  id: number;
  /** The input stream. */
  i: number;
}

/** Runner → coordinator: one chunk of a streamed run. */
export interface ChunkMessage {
  /** Message type. */
  t: "chunk";
  /** The run's id. */
  id: number;
  /**
   * The chunk's msgpack encoding, as a msgpack `bin`: the coordinator
   * passes these bytes on into its client's frame without decoding them.
   * A runner sends this; a coordinator also takes `value`.
   */
  encoded?: Uint8Array;
  /** The chunk itself (older runners). */
  value?: unknown;
}

/** Coordinator → runner: `n` more chunks of a streamed run may be sent. */
export interface CreditMessage {
  /** Message type. */
  t: "credit";
  /** The run's id. */
  id: number;
  /** How many (a positive integer; 0 with `bytes`). */
  n: number;
  /** How many more bytes (the client's grant, passed on unchanged). */
  bytes?: number;
}

/** Runner → coordinator: a streamed run ended after `count` chunks. */
export interface EndMessage {
  /** Message type. */
  t: "end";
  /** The run's id. */
  id: number;
}

/** One step a coordinator asks a member about, in an {@linkcode AuthorizeMessage}. */
export interface AuthorizeStep {
  /** The step's name (for errors). */
  step: string;
  /** The function. */
  fun: string;
  /** The step's resources (omitted when empty). */
  locs?: string[];
}

/**
 * Coordinator → member whose grants differ from the coordinator's, before
 * any step of a request starts: may this principal run these steps there?
 */
export interface AuthorizeMessage {
  /** Message type. */
  t: "authorize";
  /** Id chosen by the coordinator, unique on this link while in flight (shared with runs). */
  id: number;
  /** The caller's principal. */
  principal: string;
  /** The steps of the request that may run on this member. */
  steps: AuthorizeStep[];
}

/** Member → coordinator: its verdict on each step of an {@linkcode AuthorizeMessage}. */
export interface AuthorizedMessage {
  /** Message type. */
  t: "authorized";
  /** The check's id. */
  id: number;
  /** The digest of the member's grants the verdicts were made with. */
  grants: string;
  /** Per step, in order: `null` when it may run there, else why not. */
  verdicts: Array<WireError | null>;
}

/** Runner → coordinator: the step's value. */
export interface ResultMessage {
  /** Message type. */
  t: "result";
  /** The run's id. */
  id: number;
  /** The value. */
  value: unknown;
}

/**
 * Runner → coordinator: the step failed. `started: false` means the runner
 * refused it without running it (it no longer offers the function, or it is
 * shutting down or overloaded), so the coordinator may send it elsewhere.
 */
export interface RunErrorMessage {
  /** Message type. */
  t: "error";
  /** The run's id. */
  id: number;
  /** The error. */
  error: WireError;
  /** Whether the function was called. */
  started: boolean;
}

/** Coordinator → runner: stop a run (cancelled, failed elsewhere, or past its deadline). */
export interface CancelRunMessage {
  /** Message type. */
  t: "cancel";
  /** The run's id. */
  id: number;
}

/**
 * A node stopping gracefully → each linked peer, right after its leave
 * update: send no more steps on this link. With `retire`, the sender only
 * retires this link, a duplicate of another one to the same peer: it sends
 * no more steps on it, still answers the steps it gets on it, and the link
 * closes once both sides retired it and nothing is in flight on it.
 */
export interface LeavingMessage {
  /** Message type. */
  t: "leaving";
  /** Only this link is retired, not the node. */
  retire?: boolean;
}

/**
 * Peer → the leaving node: every step this peer sent on the link was sent
 * before this message, so once the leaving node has answered them, it may
 * close the link without losing a step in transit.
 */
export interface LeavingAckMessage {
  /** Message type. */
  t: "leaving-ack";
}

/** Any message on a peer link. */
export type PeerMessage =
  | HelloMessage
  | ChallengeMessage
  | ProofMessage
  | WelcomeMessage
  | RefusedMessage
  | RunMessage
  | AuthorizeMessage
  | AuthorizedMessage
  | ResultMessage
  | RunErrorMessage
  | CancelRunMessage
  | ChunkMessage
  | ProgressMessage
  | CreditMessage
  | EndMessage
  | InputMessage
  | InputEndMessage
  | InputErrorMessage
  | InputCreditMessage
  | InputCancelMessage
  | HeldMessage
  | FetchMessage
  | DropMessage
  | HopMessage
  | HopDoneMessage
  | HopFailedMessage
  | HaltMessage
  | LeavingMessage
  | LeavingAckMessage
  | GossipMessage;

/**
 * The words of a refusal of a node whose name another member already has
 * (`Node name "x" is already taken by the node at ws://…`): the dialer stops
 * dialing that URL when it reads them.
 */
export const DUPLICATE_NAME = "is already taken by the node at";
