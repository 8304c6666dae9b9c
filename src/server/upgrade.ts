// Copyright 2026 the mpreg authors. MIT license.
/**
 * The WebSocket upgrade and admission: the origin check, the subprotocol
 * (peer, or a client's encoding), the token (a subprotocol entry or a bearer
 * header, never echoed), and the per-principal count of requests in flight.
 *
 * @module
 */
import type { Authenticator, AuthResult, Principal } from "../auth/authenticator.ts";
import type { ClusterNode } from "../cluster/cluster_node.ts";
import { PEER_PROTOCOL } from "../cluster/peer_protocol.ts";
import { AUTH_PROTOCOL_PREFIX, type Codec, negotiateCodec } from "../protocol/codec.ts";
import type { Limits } from "../protocol/limits.ts";
import type { OriginGuard } from "./origin.ts";

/** What an upgrade needs from its node. */
export interface UpgradeHost {
  /** The connection limits. */
  readonly limits: Limits;
  /** Tokens and principals. */
  readonly auth: Authenticator;
  /** Which web pages may connect. */
  readonly origins: OriginGuard;
  /** Whether the node is draining (refuses new connections). */
  isDraining(): boolean;
  /** The cluster layer, once started. */
  peers(): ClusterNode | null;
  /** Serves an upgraded client socket. */
  serveClient(socket: WebSocket, codec: Codec, remote: string, auth: AuthResult): void;
}

/**
 * `idleTimeout` of a peer's socket: 0, no idle pings. Deno's idle timer (a
 * refed system timer firing at half the timeout, 15 s by default) is
 * cancelled only when a close frame arrives: a socket that ends on an error
 * (a peer that crashed, or a failed write) leaves it pending, and the
 * `close` listener meant to clear it calls `clearTimeout`, which knows only
 * web timers (Deno 2.9: ext/http/02_websocket.ts, ext/websocket/01_websocket.js
 * `[_serverHandleIdleTimeout]`, ext/web/02_timers.js `clearTimeout`).
 */
const PEER_IDLE_TIMEOUT = 0;

/** The answer to an upgrade whose subprotocols name no encoding. */
const UNSUPPORTED = "unsupported WebSocket subprotocol: offer mpreg.msgpack.v1 or mpreg.json.v1";

/**
 * The subprotocols a WebSocket upgrade offers, in order.
 *
 * @param request The upgrade request.
 * @returns The entries of `Sec-WebSocket-Protocol`, trimmed.
 */
export function offeredProtocols(request: Request): string[] {
  return (request.headers.get("sec-websocket-protocol") ?? "")
    .split(",").map((p) => p.trim()).filter((p) => p !== "");
}

/**
 * Splits a client's token from its offered subprotocols. A token travels as
 * a subprotocol entry `mpreg.auth.<token>` (browsers cannot set headers) or
 * as `Authorization: Bearer <token>`.
 *
 * @param request The upgrade request.
 * @param offered Its offered subprotocols.
 * @returns The token (or `null`) and the subprotocols left.
 */
export function readToken(
  request: Request,
  offered: readonly string[],
): { token: string | null; protocols: string[] } {
  let token: string | null = null;
  const protocols = offered.filter((p) => {
    if (!p.startsWith(AUTH_PROTOCOL_PREFIX)) return true;
    token = p.slice(AUTH_PROTOCOL_PREFIX.length);
    return false;
  });
  const bearer = request.headers.get("authorization");
  if (token === null && bearer?.toLowerCase().startsWith("bearer ")) {
    token = bearer.slice(7).trim();
  }
  return { token, protocols };
}

/**
 * Answers a WebSocket upgrade: refuses pages of other origins (403) and
 * upgrades while draining (503), hands a peer's socket to the cluster layer,
 * and a client's to `serveClient` once its token is checked.
 *
 * @param request The upgrade request.
 * @param remote The remote address, `host:port`, for logs.
 * @param host The node.
 * @returns The response, or a promise of it while a token is checked.
 */
export function upgrade(
  request: Request,
  remote: string,
  host: UpgradeHost,
): Response | Promise<Response> {
  // Pages on other origins may not use the node (peers and programs send no Origin).
  const refused = host.origins.check(request);
  if (refused !== null) return refused;
  if (host.isDraining()) {
    return new Response("node is shutting down", { status: 503 });
  }
  const offered = offeredProtocols(request);
  const peers = host.peers();
  if (offered.includes(PEER_PROTOCOL) && peers !== null) {
    // No idle pings from Deno on a peer link: the cluster's own probes find a
    // silent peer, and Deno's idle timer would outlive a link that ends
    // without a close frame, keeping the process alive 15 s after stop().
    const { socket, response } = Deno.upgradeWebSocket(request, {
      protocol: PEER_PROTOCOL,
      idleTimeout: PEER_IDLE_TIMEOUT,
    });
    peers.accept(socket, remote);
    return response;
  }
  const { token, protocols } = readToken(request, offered);
  // A token with no encoding offered: a browser would refuse the legacy
  // answer (no subprotocol echoed), so say what to offer instead.
  const codec = protocols.length === 0 && offered.length > 0
    ? null
    : negotiateCodec(protocols, { limits: host.limits });
  if (codec === null) return new Response(UNSUPPORTED, { status: 400 });
  const accept = (auth: AuthResult): Response => {
    const { socket, response } = Deno.upgradeWebSocket(
      request,
      codec.protocol === null ? {} : { protocol: codec.protocol },
    );
    host.serveClient(socket, codec, remote, auth);
    return response;
  };
  return token === null ? accept(host.auth.anonymous) : host.auth.authenticate(token).then(accept);
}

/**
 * The count of requests in flight per principal, against the
 * authenticator's `maxInFlightPerPrincipal`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Authenticator } from "../auth/authenticator.ts";
 * import { PrincipalAdmission } from "./upgrade.ts";
 * const ops = new Authenticator({ principals: { ops: {} } }).principal("ops")!;
 * const admission = new PrincipalAdmission(1);
 * assert.equal(admission.acquire(ops), true);
 * assert.equal(admission.acquire(ops), false); // over its limit
 * admission.release(ops);
 * assert.equal(admission.acquire(ops), true);
 * ```
 */
export class PrincipalAdmission {
  readonly #max: number;
  readonly #load = new Map<string, number>();

  /**
   * Creates the count.
   *
   * @param max The most requests in flight per principal.
   */
  constructor(max: number) {
    this.#max = max;
  }

  /**
   * Counts a request of `principal` in flight.
   *
   * @param principal Who sent it.
   * @returns False when the principal is over its limit (nothing counted).
   */
  acquire(principal: Principal): boolean {
    const load = this.#load.get(principal.name) ?? 0;
    if (load >= this.#max) return false;
    this.#load.set(principal.name, load + 1);
    return true;
  }

  /**
   * Uncounts a request of `principal`.
   *
   * @param principal Who sent it.
   */
  release(principal: Principal): void {
    // Kept at 0 rather than deleted: principals are few (configured, or
    // anonymous), and deleting and re-adding on every request would
    // rehash the map over and over.
    const load = this.#load.get(principal.name) ?? 1;
    this.#load.set(principal.name, Math.max(0, load - 1));
  }
}
