// Copyright 2026 the mpreg authors. MIT license.
/**
 * The plain HTTP endpoints a node answers on its port.
 *
 * @module
 */
import type { Cluster } from "../cluster/cluster.ts";
import { CLIENT_SCRIPT, pageHtml } from "./page.ts";

/** What the HTTP routes read from their node. */
export interface HttpHost {
  /** The node's name. */
  readonly name: string;
  /** True once listening and until draining starts. */
  readonly ready: boolean;
  /** The cluster view. */
  readonly cluster: Cluster;
  /** The Prometheus text of the node's metrics. */
  metrics(): string;
  /** The node's figures as JSON, for the cluster page. */
  stats(): unknown;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      // The read-only views may be read by pages on other origins.
      "access-control-allow-origin": "*",
    },
  });
}

const ROUTES = new Set([
  "/",
  "/client.js",
  "/healthz",
  "/readyz",
  "/cluster",
  "/stats",
  "/metrics",
]);

/**
 * Answers a plain HTTP request: the cluster page (`/`), the browser client
 * (`/client.js`), `/healthz`, `/readyz`, `/cluster`, `/stats` and `/metrics`.
 *
 * @param request The request.
 * @param host The node.
 * @returns The response (404 for unknown paths, 405 for other methods).
 */
export function handleHttp(request: Request, host: HttpHost): Response {
  const { pathname } = new URL(request.url);
  if (!ROUTES.has(pathname)) return json({ error: "not found" }, 404);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response(null, { status: 405, headers: { allow: "GET, HEAD" } });
  }
  switch (pathname) {
    case "/":
      return new Response(pageHtml(host.name), {
        headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
      });
    case "/client.js":
      return new Response(CLIENT_SCRIPT, {
        headers: {
          "content-type": "text/javascript; charset=utf-8",
          "cache-control": "max-age=60",
          // Pages on other origins import it as a module, which needs CORS.
          "access-control-allow-origin": "*",
        },
      });
    case "/healthz":
      return json({ status: "ok", name: host.name });
    case "/readyz":
      return host.ready
        ? json({ status: "ready", name: host.name })
        : json({ status: "not ready", name: host.name }, 503);
    case "/metrics":
      return new Response(host.metrics(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    case "/stats":
      return json(host.stats());
    default:
      return json(host.cluster.toJSON());
  }
}
