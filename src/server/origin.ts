// Copyright 2026 the mpreg authors. MIT license.
/**
 * Which web pages may open a WebSocket to a node.
 *
 * A browser sends an `Origin` header with every WebSocket upgrade, and lets
 * any page connect anywhere: without a check, every page open in a browser
 * that can reach a node (a local one above all) could call its functions.
 * Programs (Deno, Python, the CLI, peers) send no `Origin` and are not
 * affected. An upgrade that carries an `Origin` is accepted when the origin is:
 *
 * - one of the node's own: the `http(s)://` form of its listening URL and of
 *   each advertised URL, plus `localhost`, `127.0.0.1` and `[::1]` at its port
 *   when it listens on a loopback or wildcard address;
 * - an IP address that is also the `Host` the browser connected to (the page
 *   came from the very address and port of this socket: a node on `0.0.0.0`
 *   opened as `http://10.0.0.7:6666/`);
 * - listed in `allowed_origins` (`allowedOrigins`), or that list holds `*`.
 *
 * A host *name* is never trusted because it equals `Host`: with DNS
 * rebinding, a page on `http://evil.example:6666` whose name now resolves to
 * 127.0.0.1 sends `Origin: http://evil.example:6666` and
 * `Host: evil.example:6666`, which agree. An IP address cannot be rebound.
 *
 * Anything else is refused with 403 before the upgrade, and logged once per
 * origin (at most {@linkcode MAX_LOGGED_ORIGINS} lines, so a flood of forged
 * origins cannot flood the log).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["mpreg", "server", "origin"]);

/** Refused origins logged one line each; past this, one more line says the rest are not. */
export const MAX_LOGGED_ORIGINS = 100;

/** The longest origin text written to the log. */
const MAX_ORIGIN_LOG_CHARS = 200;

/** The host names of loopback, as a page on this machine may use them. */
const LOOPBACK_ALIASES = ["localhost", "127.0.0.1", "[::1]"];

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * The origin of an `http:` or `https:` URL that has nothing but a scheme, a
 * host and a port (a trailing `/` is allowed), or `null` for anything else.
 *
 * @param value An origin as written in a config, like `https://app.example.com`.
 * @returns The serialized origin (lower-case host, default port dropped), or `null`.
 *
 * @example
 * ```ts
 * import { parseOrigin } from "./origin.ts";
 * console.log(parseOrigin("HTTPS://App.Example.com:443/")); // https://app.example.com
 * console.log(parseOrigin("https://app.example.com/path")); // null
 * ```
 */
export function parseOrigin(value: string): string | null {
  if (!/^https?:\/\/[^/?#]+\/?$/i.test(value) || !URL.canParse(value)) return null;
  const url = new URL(value);
  if (url.username !== "" || url.password !== "") return null;
  return url.origin;
}

/** The `http(s)://` origin a browser has when it loads a page from a node's `ws(s)://` URL. */
function pageOrigin(url: string): string | null {
  if (!URL.canParse(url)) return null;
  const parsed = new URL(url);
  const scheme = { "ws:": "http:", "wss:": "https:", "http:": "http:", "https:": "https:" }[
    parsed.protocol
  ];
  if (scheme === undefined) return null;
  return new URL(`${scheme}//${parsed.host}`).origin;
}

/** Whether a node listening on `host` is reachable over loopback. */
function listensOnLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return h === "localhost" || h.endsWith(".localhost") || h.startsWith("127.") || h === "::1" ||
    h === "0.0.0.0" || h === "::";
}

function isIpAddress(hostname: string): boolean {
  return IPV4.test(hostname) || hostname.startsWith("[");
}

/** What the guard needs to know of its node once it listens. */
export interface OriginNode {
  /** The address the node listens on. */
  readonly host: string;
  /** The bound port. */
  readonly port: number;
  /** Whether it serves TLS. */
  readonly secure: boolean;
  /** Its listening URL and advertised URLs (`ws://`, `wss://`). */
  readonly urls: readonly string[];
}

/**
 * Checks the `Origin` of WebSocket upgrades for one node.
 *
 * @example
 * ```ts
 * import { OriginGuard } from "./origin.ts";
 * const guard = new OriginGuard(["https://app.example.com"]);
 * guard.bind({ host: "127.0.0.1", port: 9001, secure: false, urls: ["ws://127.0.0.1:9001"] });
 * const upgrade = (origin: string) =>
 *   new Request("http://127.0.0.1:9001/", { headers: { origin, host: "127.0.0.1:9001" } });
 * console.log(guard.check(upgrade("http://localhost:9001"))); // null: accepted
 * console.log(guard.check(upgrade("https://evil.example"))?.status); // 403
 * ```
 */
export class OriginGuard {
  readonly #allowed = new Set<string>();
  readonly #any: boolean;
  #own = new Set<string>();
  readonly #logged = new Set<string>();
  #saturated = false;

  /**
   * Validates the allowed origins.
   *
   * @param allowed Origins pages may come from besides the node's own
   *   (`https://app.example.com`), or `*` for every page.
   * @throws {TypeError} when an entry is not `*` nor an `http(s)://host[:port]` origin.
   */
  constructor(allowed: readonly string[] = []) {
    let any = false;
    for (const entry of allowed) {
      if (entry === "*") {
        any = true;
        continue;
      }
      const origin = parseOrigin(entry);
      if (origin === null) {
        throw new TypeError(
          `Invalid allowed origin "${entry}": expected "*" or an origin like https://app.example.com ` +
            "(scheme, host and optional port, no path)",
        );
      }
      this.#allowed.add(origin);
    }
    this.#any = any;
  }

  /**
   * Learns the node's own origins once it listens, and warns when every
   * origin is allowed.
   *
   * @param node The node's address, port, TLS and URLs.
   */
  bind(node: OriginNode): void {
    const own = new Set<string>();
    for (const url of node.urls) {
      const origin = pageOrigin(url);
      if (origin !== null) own.add(origin);
    }
    if (listensOnLoopback(node.host)) {
      const scheme = node.secure ? "https" : "http";
      for (const alias of LOOPBACK_ALIASES) {
        own.add(new URL(`${scheme}://${alias}:${node.port}`).origin);
      }
    }
    this.#own = own;
    if (this.#any) {
      log.warn(
        'allowed_origins holds "*": any web page open in a browser that reaches {url} may call ' +
          "its functions with the anonymous grant",
        { url: node.urls[0] },
      );
    }
    log.debug("Pages may connect from {origins}", {
      origins: [...own, ...this.#allowed],
      any: this.#any,
    });
  }

  /**
   * Checks an upgrade request.
   *
   * @param request The upgrade request.
   * @returns `null` to accept it, or the 403 response to refuse it with.
   */
  check(request: Request): Response | null {
    const origin = request.headers.get("origin");
    if (origin === null || this.#any) return null;
    const normalized = parseOrigin(origin);
    if (normalized !== null) {
      if (this.#own.has(normalized) || this.#allowed.has(normalized)) return null;
      if (this.#sameAddress(normalized, request.headers.get("host"))) return null;
    }
    const shown = origin.length > MAX_ORIGIN_LOG_CHARS
      ? `${origin.slice(0, MAX_ORIGIN_LOG_CHARS)}...`
      : origin;
    this.#logRefusal(shown);
    return new Response(
      `WebSocket upgrade refused: origin ${
        JSON.stringify(shown)
      } is not allowed on this node; add it to allowed_origins\n`,
      { status: 403, headers: { "content-type": "text/plain; charset=utf-8" } },
    );
  }

  /** An IP-address origin whose host and port are those the browser connected to. */
  #sameAddress(origin: string, host: string | null): boolean {
    if (host === null) return false;
    const url = new URL(origin);
    if (!isIpAddress(url.hostname)) return false;
    const target = `${url.protocol}//${host}`;
    return URL.canParse(target) && new URL(target).host === url.host;
  }

  #logRefusal(origin: string): void {
    if (this.#logged.has(origin)) return;
    if (this.#logged.size < MAX_LOGGED_ORIGINS) {
      this.#logged.add(origin);
      log.warn(
        "Refused a WebSocket upgrade from origin {origin}: not this node's own origin nor in " +
          "allowed_origins (logged once per origin)",
        { origin },
      );
    } else if (!this.#saturated) {
      this.#saturated = true;
      log.warn("Refused WebSocket upgrades from more than {max} origins; no longer logging each", {
        max: MAX_LOGGED_ORIGINS,
      });
    }
  }
}
