// Copyright 2026 the mpreg authors. MIT license.
// `requireTls`: what a node that links to peers only over TLS must be given.
import type { ServerOptions } from "./options.ts";

/** Whether `url` is a `wss://` URL. */
export function isWss(url: string): boolean {
  return /^wss:/i.test(url);
}

/**
 * Why `options` break their own `requireTls`, or `null`: the node must serve
 * TLS itself, and dial and advertise only `wss://` URLs.
 */
export function requireTlsViolation(
  options: Pick<ServerOptions, "requireTls" | "tls" | "peers" | "advertisedUrls">,
): string | null {
  if (options.requireTls !== true) return null;
  if (options.tls === undefined) {
    return 'Option "requireTls" needs "tls": the node must serve wss:// itself';
  }
  const plainPeer = options.peers?.find((url) => !isWss(url));
  if (plainPeer !== undefined) {
    return `Option "requireTls" refuses the peer "${plainPeer}": not a wss:// URL`;
  }
  const plainUrl = options.advertisedUrls?.find((url) => !isWss(url));
  if (plainUrl !== undefined) {
    return `Option "requireTls" refuses the advertised URL "${plainUrl}": not a wss:// URL`;
  }
  return null;
}
