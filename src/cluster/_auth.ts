// Copyright 2026 the mpreg authors. MIT license.
// The cluster-secret challenge: each side proves it knows the secret with an
// HMAC over both sides' fresh nonces, so the secret never crosses the wire
// and a recorded proof is useless on another connection.

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

/** The proof a side sends: HMAC(secret, role | its peer's nonce | its own nonce | cluster). */
export function proof(
  secret: string,
  role: "dialer" | "acceptor",
  theirNonce: string,
  ourNonce: string,
  clusterId: string,
): Promise<string> {
  return hmac(secret, `mpreg-peer-v1|${role}|${theirNonce}|${ourNonce}|${clusterId}`);
}

/** Compares two proofs in constant time. */
export function sameProof(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
