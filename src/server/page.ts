// Copyright 2026 the mpreg authors. MIT license.
/**
 * The cluster page every node serves at `/`, and the browser client it
 * serves at `/client.js`.
 *
 * The page is one self-contained HTML document (inline CSS and script, no
 * external assets) built on the node's own browser client: it loads
 * `/client.js`, connects to the node's WebSocket, and polls `/cluster` and
 * `/stats` about once a second. It shows the members with their state, URLs,
 * resources and functions; per function, the members offering it and this
 * node's calls per second and latency percentiles; and forms to send a call
 * or a request of dependent steps, with the result or the error.
 *
 * Its sources are TypeScript, CSS and HTML under `src/page/`; `deno task
 * bundle` builds them and the client into `page_assets.ts`, so a node
 * serves both from memory and never bundles.
 *
 * @module
 */
import { CLIENT_JS, NODE_PLACEHOLDER, PAGE_HTML } from "./page_assets.ts";

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML element content and quoted attribute values. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/**
 * The HTML of the cluster page.
 *
 * @param node The name of the node serving it.
 * @returns The page: one HTML document with its CSS and script inline.
 */
export function pageHtml(node: string): string {
  return PAGE_HTML.replaceAll(NODE_PLACEHOLDER, escapeHtml(node));
}

/** The browser client (`client.ts` bundled for browsers, ESM, minified), served at `/client.js`. */
export const CLIENT_SCRIPT: string = CLIENT_JS;
