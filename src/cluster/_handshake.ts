// Copyright 2026 the mpreg authors. MIT license.
/**
 * The peer handshake, either side of it: `hello`, then with a cluster secret
 * `challenge` and `proof` (each side proves the secret over both nonces and
 * both records), then `welcome`. Private to the cluster layer.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ClusterMismatchError, RpcError, UnauthenticatedError } from "../protocol/errors.ts";
import { newNonce, proof, sameProof, type Transcript } from "./_auth.ts";
import { isNodeRecord, type NodeRecord } from "./membership.ts";
import { DUPLICATE_NAME, type PeerLimits, type PeerMessage } from "./peer_protocol.ts";
import type { PeerLinkHost } from "./peer_link_host.ts";
import { forAnswers, peerLimitsOf, readPeerLimits } from "./_peer_messages.ts";

const log = getLogger(["mpreg", "cluster", "link"]);

/** Where a link is in its handshake. */
type Phase =
  | "opening"
  | "hello-sent"
  | "challenged"
  | "awaiting-hello"
  | "awaiting-proof"
  | "ready";

/** What the handshake does to its link. */
export interface HandshakeLink {
  /** Whether this node dialed the link. */
  readonly dialed: boolean;
  /** The URL dialed, or the remote address, for logs. */
  readonly address: string;
  /** This node. */
  readonly host: PeerLinkHost;
  /** Writes a message (at once, during the handshake). */
  write(message: PeerMessage): boolean;
  /** Closes the link. */
  close(reason: string): void;
  /** Tells the peer why it is refused, then closes the link. */
  refuse(error: RpcError): void;
  /** Sets the limits answers are encoded within. */
  setAnswerLimits(limits: PeerLimits): void;
  /** The handshake succeeded. */
  ready(): void;
}

/** One link's handshake state: the nonces, the records, the phase. */
export class Handshake {
  /** Where the handshake is; `ready` once it succeeded. */
  phase: Phase;
  /** This side's nonce. */
  readonly nonce: string = newNonce();
  /** The peer's nonce, once known. */
  theirNonce = "";
  /** The peer's record, once the proofs (or the welcome) gave it. */
  record: NodeRecord | null = null;
  /** The record this side sent in the handshake, as sent (the proofs cover it). */
  sentRecord: NodeRecord | null = null;
  readonly #link: HandshakeLink;

  /** @param link The link. */
  constructor(link: HandshakeLink) {
    this.#link = link;
    this.phase = link.dialed ? "opening" : "awaiting-hello";
  }

  /** The dialer's first message, once its socket opened with the peer subprotocol. */
  hello(): void {
    const host = this.#link.host;
    this.phase = "hello-sent";
    const record = this.sentRecord = host.localRecord();
    this.#link.write({
      t: "hello",
      cluster: host.clusterId,
      record,
      nonce: this.nonce,
      limits: peerLimitsOf(host.limits),
    });
  }

  /**
   * Takes the next handshake message; the link closes on any misstep.
   *
   * @param message The message.
   */
  async receive(message: PeerMessage): Promise<void> {
    const host = this.#link.host;
    switch (this.phase) {
      case "awaiting-hello": {
        if (message.t !== "hello") return this.#link.close("expected hello");
        if (message.cluster !== host.clusterId) {
          return this.#link.refuse(
            new ClusterMismatchError(
              `Cluster ID mismatch: this node is in "${host.clusterId}", the peer in "${message.cluster}"`,
            ),
          );
        }
        if (!isNodeRecord(message.record) || typeof message.nonce !== "string") {
          return this.#link.close("malformed hello");
        }
        const own = host.localRecord();
        if (message.record.name === own.name) {
          if (message.record.incarnation === own.incarnation) {
            return this.#link.refuse(new ClusterMismatchError("Refusing a link to myself"));
          }
          // Another node with this node's name: one error, and the dialer
          // stops (it recognizes DUPLICATE_NAME in the refusal).
          return this.#link.refuse(
            new ClusterMismatchError(
              `Node name "${own.name}" ${DUPLICATE_NAME} ${own.urls.join(", ")}: every node of a ` +
                "cluster needs its own name (name: in the YAML, --name, or ServerOptions.name)",
              { details: { duplicateName: own.name, urls: own.urls } },
            ),
          );
        }
        this.record = message.record;
        this.theirNonce = message.nonce;
        this.#link.setAnswerLimits(forAnswers(readPeerLimits(message.limits) ?? host.limits));
        if (host.secret === null) return this.#welcome();
        // The acceptor commits to its record here, under its proof.
        const record = this.sentRecord = host.localRecord();
        this.phase = "awaiting-proof";
        this.#link.write({
          t: "challenge",
          nonce: this.nonce,
          record,
          proof: await proof(host.secret, "acceptor", this.#transcript(record, this.record)),
        });
        return;
      }
      case "awaiting-proof": {
        if (message.t !== "proof" || host.secret === null) {
          return this.#link.close("expected proof");
        }
        const expected = await proof(
          host.secret,
          "dialer",
          this.#transcript(this.sentRecord!, this.record!),
        );
        if (!sameProof(String(message.proof), expected)) {
          return this.#link.refuse(
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
            address: this.#link.address,
            error: error.message,
          });
          return this.#link.close(`refused: ${error.message}`);
        }
        if (message.t === "challenge" && this.phase === "hello-sent") {
          if (host.secret === null) {
            return this.#link.close("the peer requires a cluster secret and this node has none");
          }
          if (!isNodeRecord(message.record) || typeof message.nonce !== "string") {
            return this.#link.close("malformed challenge");
          }
          this.theirNonce = message.nonce;
          const transcript = this.#transcript(message.record, this.sentRecord!);
          const expected = await proof(host.secret, "acceptor", transcript);
          if (!sameProof(String(message.proof), expected)) {
            return this.#link.close(
              "the peer does not know the cluster secret, or the handshake was altered on the way",
            );
          }
          // The record the acceptor's proof covers; the welcome only repeats it.
          this.record = message.record;
          this.phase = "challenged";
          this.#link.write({ t: "proof", proof: await proof(host.secret, "dialer", transcript) });
          return;
        }
        if (message.t === "welcome") {
          this.#link.setAnswerLimits(forAnswers(readPeerLimits(message.limits) ?? host.limits));
          if (host.secret !== null) {
            if (this.phase !== "challenged") {
              return this.#link.close("the peer did not prove the cluster secret");
            }
            return this.#link.ready();
          }
          if (!isNodeRecord(message.record)) return this.#link.close("malformed welcome");
          this.record = message.record;
          return this.#link.ready();
        }
        return this.#link.close(`unexpected ${message.t} during the handshake`);
      }
      default:
        return this.#link.close("unexpected handshake state");
    }
  }

  /** What both proofs cover, from this side's view of the handshake. */
  #transcript(acceptorRecord: NodeRecord, dialerRecord: NodeRecord): Transcript {
    const ours = this.nonce;
    const theirs = this.theirNonce;
    return {
      cluster: this.#link.host.clusterId,
      dialerNonce: this.#link.dialed ? ours : theirs,
      acceptorNonce: this.#link.dialed ? theirs : ours,
      dialerRecord,
      acceptorRecord,
    };
  }

  #welcome(): void {
    this.#link.write({
      t: "welcome",
      record: this.sentRecord ?? this.#link.host.localRecord(),
      limits: peerLimitsOf(this.#link.host.limits),
    });
    this.#link.ready();
  }
}
