// Copyright 2026 the mpreg authors. MIT license.
// The cluster-secret challenge: each side proves it knows the secret with an
// HMAC over the whole handshake, so the secret never crosses the wire, a
// recorded proof is useless on another connection, and nothing the proof
// covers can be changed on the way without the proof failing.
import { canonicalJson } from "../_util/canonical_json.ts";
import type { NodeRecord } from "./membership.ts";

const encoder = new TextEncoder();

/** A fresh random nonce, base64url. */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

async function hmac(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(text)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What both sides of a handshake said: the whole of what a proof covers. */
export interface Transcript {
  /** The cluster id (the dialer's, which the acceptor checked equals its own). */
  cluster: string;
  /** The dialer's nonce, from its `hello`. */
  dialerNonce: string;
  /** The acceptor's nonce, from its `challenge`. */
  acceptorNonce: string;
  /** The dialer's record, as it sent it in its `hello`. */
  dialerRecord: NodeRecord;
  /** The acceptor's record, as it sent it in its `challenge`. */
  acceptorRecord: NodeRecord;
}

/**
 * The proof a side sends: HMAC-SHA256(secret, canonical JSON of
 * `["mpreg.peer.v2", role, cluster, dialer nonce, acceptor nonce, dialer
 * record, acceptor record]`). Each side computes it from the records as it
 * sent or received them, so a record changed on the way makes the other
 * side's proof fail; the role keeps one side's proof from being replayed as
 * the other's.
 */
export function proof(
  secret: string,
  role: "dialer" | "acceptor",
  transcript: Transcript,
): Promise<string> {
  return hmac(
    secret,
    canonicalJson([
      "mpreg.peer.v2",
      role,
      transcript.cluster,
      transcript.dialerNonce,
      transcript.acceptorNonce,
      transcript.dialerRecord,
      transcript.acceptorRecord,
    ]),
  );
}

/** Compares two proofs in constant time. */
export function sameProof(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
