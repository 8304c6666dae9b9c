// Copyright 2026 the mpreg authors. MIT license.
/**
 * The plain HTTP endpoints a node answers on its port.
 *
 * @module
 */
import type { Cluster } from "../cluster/cluster.ts";

/** What the HTTP routes read from their node. */
export interface HttpHost {
  /** The node's name. */
  readonly name: string;
  /** True once listening and until draining starts. */
  readonly ready: boolean;
  /** The cluster view. */
  readonly cluster: Cluster;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

/**
 * Answers a plain HTTP request: `GET /healthz`, `GET /readyz`, `GET /cluster`.
 *
 * @param request The request.
 * @param host The node.
 * @returns The response (404 for unknown paths, 405 for other methods).
 */
export function handleHttp(request: Request, host: HttpHost): Response {
  const { pathname } = new URL(request.url);
  const known = pathname === "/healthz" || pathname === "/readyz" || pathname === "/cluster";
  if (!known) return json({ error: "not found" }, 404);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response(null, { status: 405, headers: { allow: "GET, HEAD" } });
  }
  switch (pathname) {
    case "/healthz":
      return json({ status: "ok", name: host.name });
    case "/readyz":
      return host.ready
        ? json({ status: "ready", name: host.name })
        : json({ status: "not ready", name: host.name }, 503);
    default:
      return json(host.cluster.toJSON());
  }
}
