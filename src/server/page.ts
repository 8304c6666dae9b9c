// Copyright 2026 the mpreg authors. MIT license.
/**
 * The cluster page every node serves at `/`.
 *
 * One self-contained HTML document (inline CSS and script, no external
 * assets) built on the node's own browser client: it loads `/client.js`,
 * connects to the node's WebSocket, and polls `/cluster` and `/stats` about
 * once a second. It shows the members with their state, URLs, resources and
 * functions; per function, the members offering it and this node's calls per
 * second and latency percentiles; and forms to send a call or a request of
 * dependent steps, with the result or the error.
 *
 * Elements the browser test reads carry `data-testid` attributes.
 *
 * @module
 */
import { pageScript } from "./_page_script.ts";
import { PAGE_STYLE } from "./_page_style.ts";

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

// The script does not depend on the node: build it once.
const SCRIPT = pageScript();

const FORMS = `
<div class="try">
  <form class="card" data-testid="call-form" autocomplete="off">
    <div class="form-head"><h3>Call a function</h3><span class="muted">one step, routed to a member that offers it</span></div>
    <label class="field"><span>Function</span>
      <select data-testid="call-fun" name="fun"><option value="echo">echo</option></select></label>
    <label class="field"><span>Arguments <small>a JSON list</small></span>
      <textarea data-testid="call-args" name="args" rows="2" spellcheck="false">["hello from the browser"]</textarea></label>
    <div class="row">
      <label class="field"><span>Keyword arguments <small>optional mapping</small></span>
        <input data-testid="call-kwargs" name="kwargs" spellcheck="false" placeholder='{ "unit": "kg" }'></label>
      <label class="field"><span>Resources (locs) <small>comma-separated</small></span>
        <input data-testid="call-locs" name="locs" spellcheck="false" placeholder="gpu, dataset-1"></label>
    </div>
    <div class="actions">
      <button type="submit" data-testid="call-submit">Call</button>
      <span class="hint">Ctrl+Enter sends</span>
    </div>
    <div class="result" data-testid="call-result" data-status="idle" aria-live="polite"></div>
  </form>
  <form class="card" data-testid="request-form" autocomplete="off">
    <div class="form-head"><h3>Send a request</h3><span class="muted">steps in JSON or YAML; the answer holds the sinks</span></div>
    <label class="field"><span>Steps</span>
      <textarea data-testid="request-steps" name="steps" rows="8" spellcheck="false"></textarea></label>
    <div class="actions">
      <button type="submit" data-testid="request-submit">Send request</button>
      <label class="check"><input type="checkbox" data-testid="request-all"> every step's result</label>
      <span class="hint">
        <button type="button" class="ghost" data-testid="request-example">echo example</button>
        <button type="button" class="ghost" data-testid="request-demo" disabled>quick demo</button>
      </span>
    </div>
    <div class="result" data-testid="request-result" data-status="idle" aria-live="polite"></div>
  </form>
</div>`;

/**
 * The HTML of the cluster page.
 *
 * @param node The name of the node serving it.
 * @returns The page: one HTML document with its CSS and script inline.
 */
export function pageHtml(node: string): string {
  const name = escapeHtml(node);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>mpreg · ${name}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<header class="top">
  <div class="brand">
    <span class="logo">mpreg</span><span class="sep">/</span>
    <span class="node" data-testid="node-name">${name}</span>
    <span class="sub">cluster</span>
  </div>
  <div class="top-right">
    <label class="enc">encoding
      <select data-testid="encoding"><option value="msgpack">msgpack</option><option value="json">json</option></select>
    </label>
    <span class="status" data-testid="status" data-state="wait" role="status"><span class="dot"></span><span class="status-text">connecting…</span></span>
  </div>
</header>
<main>
  <section class="tiles" data-testid="summary"></section>
  <section>
    <div class="section-head"><h2>Members</h2><span class="muted right" data-testid="updated">loading…</span></div>
    <div class="members" data-testid="members"></div>
  </section>
  <section>
    <div class="section-head"><h2>Functions</h2><span class="muted">who offers each one; calls, rate and latency of the calls run on <b>${name}</b></span></div>
    <div class="card table-wrap"><table data-testid="functions">
      <thead><tr><th>Function</th><th>Offered by</th><th class="num">Calls</th><th class="num">Calls/s</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">Errors</th></tr></thead>
      <tbody data-testid="functions-body"></tbody>
    </table></div>
  </section>
  <section>
    <div class="section-head"><h2>Try it</h2><span class="muted">through this page's own mpreg browser client</span></div>
    ${FORMS}
  </section>
</main>
<footer class="foot">Raw data: <a href="/cluster">/cluster</a><a href="/stats">/stats</a><a href="/metrics">/metrics</a><a href="/healthz">/healthz</a></footer>
<script type="module">
${SCRIPT}
</script>
</body>
</html>
`;
}
