// Copyright 2026 the mpreg authors. MIT license.
/**
 * The cluster page's module script, as browser JavaScript source.
 *
 * It loads the node's own browser client from `/client.js`, polls `/cluster`
 * and `/stats` once a second, and renders with DOM calls only: every text it
 * inserts goes through `textContent` or text nodes, never `innerHTML`.
 * Private to the page.
 *
 * @module
 */
import { PARSE_SCRIPT } from "./_page_parse.ts";

/** Shown in the request box at first: the quick demo's shape, with the built-ins every node has. */
export const EXAMPLE_STEPS: string = `# Dependent steps, resolved on the node in one round trip.
# A step uses another's result by naming it in its args.
- { name: first, fun: echo, args: [10] }
- { name: second, fun: echo, args: [20] }
- { name: both, fun: echos, args: [first, second] }
- { name: final, fun: echos, args: [Final Answer, both] }
`;

/** The original MPREG quick demo (`examples/steps.yaml`), offered when a node has its functions. */
export const DEMO_STEPS: string = `# The original MPREG quick demo (examples/functions.ts).
- { name: sum1, fun: add, args: [10, 20] }
- { name: sum2, fun: add, args: [5, 15] }
- { name: total, fun: add, args: [sum1, sum2] }
- { name: doubled, fun: multiply, args: [total, 3] }
- { name: final, fun: format, args: [doubled, Final Answer] }
`;

const MAIN_SCRIPT: string = String.raw`
const STATES = ["alive", "suspect", "dead", "left"];
const BUILTINS = new Set(["echo", "echos"]);
const WINDOW_MS = 5000;
const $ = (id) => document.querySelector('[data-testid="' + id + '"]');

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// Formatting -----------------------------------------------------------------

function ms(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  if (value < 1) return value.toFixed(2) + " ms";
  if (value < 10) return value.toFixed(1) + " ms";
  if (value < 1000) return Math.round(value) + " ms";
  return (value / 1000).toFixed(2) + " s";
}

function rate(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  if (value === 0) return "0";
  if (value < 10) return value.toFixed(1);
  return Math.round(value).toLocaleString("en");
}

function count(value) {
  return typeof value === "number" ? value.toLocaleString("en") : "–";
}

function ago(delta) {
  if (delta < 1500) return "just now";
  const s = Math.round(delta / 1000);
  if (s < 60) return s + " s ago";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min ago";
  const hours = Math.floor(m / 60);
  return hours < 48 ? hours + " h ago" : Math.floor(hours / 24) + " d ago";
}

function pretty(value, indent = "") {
  if (value === undefined) return "undefined";
  if (value === null || typeof value === "boolean") return String(value);
  if (typeof value === "number") return Number.isFinite(value) ? JSON.stringify(value) : String(value);
  if (typeof value === "bigint") return value + "n";
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Uint8Array) return "<" + value.length + " bytes>";
  if (value instanceof ArrayBuffer) return "<" + value.byteLength + " bytes>";
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    if (value.every((x) => x === null || typeof x !== "object" || x instanceof Date)) {
      const line = "[" + value.map((x) => pretty(x)).join(", ") + "]";
      if (line.length + indent.length <= 80) return line;
    }
    return "[\n" + value.map((x) => inner + pretty(x, inner)).join(",\n") + "\n" + indent + "]";
  }
  if (typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 0) return "{}";
    return "{\n" + keys.map((k) => inner + JSON.stringify(k) + ": " + pretty(value[k], inner))
      .join(",\n") + "\n" + indent + "}";
  }
  return String(value);
}

// State ----------------------------------------------------------------------

let cluster = null;
let samples = [];
let httpOk = null;
let clientModule = null;
let client = null;
let clientError = null;
const rendered = new Map();

function latest() {
  return samples.length === 0 ? null : samples[samples.length - 1];
}

function serverNow() {
  const last = latest();
  return last === null ? Date.now() : last.stats.time + (Date.now() - last.at);
}

function rates() {
  const out = {};
  const last = latest();
  if (last === null || samples.length < 2) return out;
  const first = samples[0];
  const seconds = (last.stats.time - first.stats.time) / 1000;
  if (seconds < 0.5) return out;
  for (const [fun, figures] of Object.entries(last.stats.functions ?? {})) {
    const before = first.stats.functions?.[fun]?.calls ?? 0;
    out[fun] = Math.max(0, figures.calls - before) / seconds;
  }
  return out;
}

function record(stats) {
  const now = Date.now();
  const last = latest();
  if (last !== null && (last.stats.node !== stats.node || stats.time < last.stats.time)) {
    samples = [];
  }
  samples.push({ at: now, stats });
  while (samples.length > 2 && samples[1].stats.time <= stats.time - WINDOW_MS) samples.shift();
}

// The connection ---------------------------------------------------------------

function wsUrl() {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
}

function token() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  return m === null ? undefined : decodeURIComponent(m[1]);
}

function connect() {
  if (clientModule === null) return;
  if (client !== null) client.close();
  client = null;
  const options = { encoding: $("encoding").value };
  const t = token();
  if (t !== undefined) options.token = t;
  try {
    client = new clientModule.Client(wsUrl(), options);
    clientError = null;
    client.connect({ timeoutMs: 24 * 3600 * 1000 }).catch(() => {});
  } catch (err) {
    clientError = err;
  }
  renderStatus();
}

function renderStatus() {
  const el = $("status");
  let state = "wait";
  let text = "connecting…";
  if (clientError !== null) {
    state = "down";
    text = "client unavailable";
  } else if (client !== null && client.connected && httpOk !== false) {
    state = "up";
    text = "connected";
  } else if (httpOk === false || (client !== null && samples.length > 0)) {
    text = "reconnecting…";
  }
  if (el.dataset.state !== state) el.dataset.state = state;
  const label = el.querySelector(".status-text");
  if (label.textContent !== text) label.textContent = text;
  el.title = clientError !== null
    ? String(clientError)
    : "WebSocket " + wsUrl() + (client !== null && client.connected ? " open" : " not open") +
      "; HTTP polling " + (httpOk === false ? "failing" : "ok");
}

// Rendering ----------------------------------------------------------------------

function replace(el, key, build) {
  if (rendered.get(el) === key) return;
  rendered.set(el, key);
  el.replaceChildren(...[build()].flat());
}

function pill(state) {
  return h("span", { class: "pill " + state, "data-testid": "member-state" }, state);
}

function sortedMembers() {
  return [...cluster.members].sort((a, b) =>
    a.self !== b.self ? (a.self ? -1 : 1) : a.name.localeCompare(b.name)
  );
}

function renderSummary() {
  const stats = latest()?.stats ?? null;
  const byState = { alive: 0, suspect: 0, dead: 0, left: 0 };
  for (const m of cluster.members) byState[m.state] = (byState[m.state] ?? 0) + 1;
  const r = rates();
  const total = Object.values(r).reduce((a, b) => a + b, 0);
  const gossip = stats?.cluster;
  const loop = stats?.eventLoop;
  const tiles = [
    ["members", "Members", byState.alive + " / " + cluster.members.length,
      STATES.filter((s) => s !== "alive" && byState[s] > 0).map((s) => byState[s] + " " + s)
        .join(" · ") || "all alive", byState.suspect + byState.dead > 0 ? "warn" : "good"],
    ["functions", "Functions", count(Object.keys(cluster.functions).length), "in the catalog", ""],
    ["rate", "Calls / s", samples.length < 2 ? "–" : rate(total), "run on this node", ""],
    ["inflight", "In flight", count(stats?.requestsInFlight), "requests", ""],
    ["connections", "Clients", count(stats?.connections), "connections", ""],
    ["links", "Peer links", gossip ? count(gossip.links) : "–",
      gossip ? count(gossip.forwarded) + (gossip.forwarded === 1 ? " step" : " steps") + " forwarded"
        : "single node", ""],
    ["loop", "Event loop lag", loop ? ms(loop.maxLagMs) : "–",
      loop ? "largest in the last minute · now " + ms(loop.lagMs) +
        (gossip?.awareness ? " · awareness " + gossip.awareness : "") : "",
      loop && (loop.maxLagMs >= 500 || gossip?.awareness > 0) ? "warn" : ""],
  ];
  replace($("summary"), JSON.stringify(tiles), () =>
    tiles.map(([id, label, value, note, tone]) =>
      h("div", { class: "tile " + tone, "data-testid": "tile-" + id },
        h("div", { class: "tile-label" }, label),
        h("div", { class: "tile-value" }, value),
        h("div", { class: "tile-note" }, note))
    ));
}

function funChip(fun, extra) {
  return h("span", {
    class: "chip fun" + (BUILTINS.has(fun) ? " builtin" : ""),
    title: extra.length > 0 ? fun + " needs " + extra.join(", ") : fun,
  }, fun, extra.length > 0 ? h("span", { class: "chip-extra" }, " +" + extra.join(",")) : null);
}

function memberCard(m) {
  const funs = Object.keys(m.functions).sort((a, b) =>
    BUILTINS.has(a) !== BUILTINS.has(b) ? (BUILTINS.has(a) ? 1 : -1) : a.localeCompare(b)
  );
  const permissions = Object.entries(m.permissions ?? {});
  return h("article", {
    class: "card member " + m.state,
    "data-testid": "member",
    "data-name": m.name,
    "data-state": m.state,
  },
  h("header", { class: "member-head" },
    h("span", { class: "dot " + m.state }),
    h("h3", { class: "member-name" }, m.name),
    m.self ? h("span", { class: "badge" }, "this node") : null,
    h("span", { class: "spacer" }),
    pill(m.state)),
  h("dl", { class: "facts" },
    h("dt", {}, "URL" + (m.urls.length === 1 ? "" : "s")),
    h("dd", {}, m.urls.length === 0 ? h("span", { class: "muted" }, "none") : m.urls.map((u) =>
      h("code", { class: "url" }, u))),
    h("dt", {}, "Resources"),
    h("dd", {}, m.resources.length === 0
      ? h("span", { class: "muted" }, "none")
      : m.resources.map((r) => h("span", { class: "chip res" }, r))),
    h("dt", {}, "Last heard"),
    h("dd", { "data-heard": m.self ? "self" : String(m.lastHeard) }, "…")),
  h("div", { class: "member-funs" },
    h("div", { class: "label" }, "Functions", h("span", { class: "count" }, String(funs.length))),
    h("div", { class: "chips", "data-testid": "member-functions" },
      funs.map((f) => funChip(f, m.functions[f] ?? [])))),
  permissions.length === 0 ? null : h("div", { class: "member-perms muted" },
    "Permissions: " + permissions.map(([f, kinds]) => f + " (" + kinds.join(", ") + ")").join("; ")),
  h("footer", { class: "member-foot muted" },
    "incarnation " + m.incarnation + " · catalog v" + m.catalogVersion));
}

function renderMembers() {
  const members = sortedMembers();
  const key = JSON.stringify(members.map((m) => ({ ...m, lastHeard: m.self ? 0 : m.lastHeard })));
  replace($("members"), key, () => members.map(memberCard));
  const now = serverNow();
  for (const el of document.querySelectorAll("[data-heard]")) {
    const text = el.dataset.heard === "self" ? "now (this node)" : ago(now - Number(el.dataset.heard));
    if (el.textContent !== text) el.textContent = text;
  }
}

function renderFunctions() {
  const stats = latest()?.stats?.functions ?? {};
  const r = rates();
  const offers = new Map();
  for (const m of sortedMembers()) {
    for (const [fun, extra] of Object.entries(m.functions)) {
      if (!offers.has(fun)) offers.set(fun, []);
      offers.get(fun).push({ name: m.name, state: m.state, extra });
    }
  }
  for (const fun of Object.keys(stats)) if (!offers.has(fun)) offers.set(fun, []);
  const rows = [...offers.keys()].sort((a, b) =>
    BUILTINS.has(a) !== BUILTINS.has(b) ? (BUILTINS.has(a) ? 1 : -1) : a.localeCompare(b)
  ).map((fun) => {
    const s = stats[fun];
    const errors = s ? Object.entries(s.outcomes).filter(([o]) => o !== "ok")
      .reduce((n, [, v]) => n + v, 0) : 0;
    const selfOffers = offers.get(fun).some((o) => o.name === cluster.self);
    return {
      fun,
      offers: offers.get(fun),
      elsewhere: s ? null : selfOffers ? "no calls here yet" : "runs on " +
        (offers.get(fun).map((o) => o.name).join(", ") || "no member now") + ", not here",
      calls: s ? count(s.calls) : "–",
      rate: s && samples.length >= 2 ? rate(r[fun] ?? 0) : "–",
      p50: s ? ms(s.p50Ms) : "–",
      p90: s ? ms(s.p90Ms) : "–",
      p99: s ? ms(s.p99Ms) : "–",
      errors: s ? count(errors) : "–",
      hasErrors: errors > 0,
      inFlight: s?.inFlight ?? 0,
    };
  });
  replace($("functions-body"), JSON.stringify(rows), () =>
    rows.length === 0
      ? h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No functions yet."))
      : rows.map((row) => {
        const up = row.offers.some((o) => o.state === "alive");
        return h("tr", {
          "data-testid": "function-row",
          "data-fun": row.fun,
          class: up ? "" : "unavailable",
        },
        h("td", {}, h("code", { class: "fun-name" }, row.fun),
          BUILTINS.has(row.fun) ? h("span", { class: "tag" }, "built-in") : null,
          row.inFlight > 0 ? h("span", { class: "tag busy" }, row.inFlight + " running") : null),
        h("td", { "data-testid": "function-offers" }, row.offers.length === 0
          ? h("span", { class: "muted" }, "nobody now")
          : row.offers.map((o) =>
            h("span", {
              class: "chip member-chip " + o.state,
              title: o.name + " is " + o.state +
                (o.extra.length > 0 ? "; needs " + o.extra.join(", ") : ""),
            }, h("span", { class: "dot " + o.state }), o.name)
          )),
        row.elsewhere !== null
          ? h("td", { colspan: 6, class: "elsewhere", "data-testid": "function-rate" }, row.elsewhere)
          : [
            h("td", { class: "num", "data-testid": "function-calls" }, row.calls),
            h("td", { class: "num strong", "data-testid": "function-rate" }, row.rate),
            h("td", { class: "num" }, row.p50),
            h("td", { class: "num" }, row.p90),
            h("td", { class: "num" }, row.p99),
            h("td", { class: "num" + (row.hasErrors ? " bad" : "") }, row.errors),
          ]);
      }));
}

function renderFunSelect() {
  const select = $("call-fun");
  const funs = Object.keys(cluster.functions).sort();
  const key = JSON.stringify(funs);
  if (rendered.get(select) === key) return;
  const current = select.value || "echo";
  rendered.set(select, key);
  const names = funs.includes(current) ? funs : [current, ...funs];
  select.replaceChildren(...names.map((f) =>
    h("option", { value: f }, f + (funs.includes(f) ? "" : " (not offered now)"))
  ));
  select.value = current;
  const demo = $("request-demo");
  demo.disabled = !["add", "multiply", "format"].every((f) => funs.includes(f));
  demo.title = demo.disabled ? "Needs add, multiply and format (examples/functions.ts)" : "";
}

function render() {
  renderStatus();
  if (cluster === null) return;
  if ($("node-name").textContent !== cluster.self) $("node-name").textContent = cluster.self;
  renderSummary();
  renderMembers();
  renderFunctions();
  renderFunSelect();
  const updated = "updated " + new Date().toLocaleTimeString("en-GB");
  $("updated").textContent = httpOk === false ? "node not answering; retrying" : updated;
}

// Polling ------------------------------------------------------------------------

async function getJson(path) {
  const res = await fetch(path, { cache: "no-store", signal: AbortSignal.timeout(4000) });
  if (!res.ok) throw new Error(path + " answered HTTP " + res.status);
  return await res.json();
}

async function poll() {
  try {
    const [c, s] = await Promise.all([getJson("/cluster"), getJson("/stats")]);
    cluster = c;
    record(s);
    httpOk = true;
  } catch {
    httpOk = false;
  }
  try {
    render();
  } finally {
    setTimeout(poll, 1000);
  }
}

// The forms ------------------------------------------------------------------------

function showValue(out, value, elapsed) {
  out.dataset.status = "ok";
  out.replaceChildren(
    h("div", { class: "result-head" },
      h("span", { class: "badge ok" }, "ok"),
      h("span", { class: "muted" }, "in " + ms(elapsed))),
    h("pre", { class: "value", "data-testid": "result-value" }, pretty(value)),
  );
}

function showError(out, err, elapsed) {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = typeof e.code === "number" ? e.code : null;
  const details = e.details ?? null;
  out.dataset.status = "error";
  out.replaceChildren(...[
    h("div", { class: "result-head" },
      h("span", { class: "badge bad", "data-testid": "error-name" }, e.name),
      code === null ? null : h("span", { class: "code", "data-testid": "error-code" }, "code " + code),
      elapsed === undefined ? null : h("span", { class: "muted" }, "after " + ms(elapsed))),
    h("p", { class: "error-message", "data-testid": "error-message" }, e.message),
    details === null ? null : h("div", { class: "label" }, "details"),
    details === null ? null : h("pre", { class: "value", "data-testid": "error-details" }, pretty(details)),
  ].filter((el) => el !== null));
}

async function run(out, button, send) {
  if (client === null) {
    showError(out, clientError ?? new Error("The browser client is still loading"));
    return;
  }
  button.disabled = true;
  out.dataset.status = "pending";
  out.replaceChildren(h("p", { class: "muted" }, "Running…"));
  const start = performance.now();
  try {
    const value = await send();
    showValue(out, value, performance.now() - start);
  } catch (err) {
    showError(out, err, performance.now() - start);
  } finally {
    button.disabled = false;
  }
}

function submitOnCtrlEnter(form) {
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

$("call-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const out = $("call-result");
  let fun, args, kwargs, locs;
  try {
    fun = $("call-fun").value;
    if (!fun) throw new InputError("Pick a function");
    args = parseLoose($("call-args").value, []);
    if (!Array.isArray(args)) throw new InputError("args must be a list, like [1, 2]");
    kwargs = parseLoose($("call-kwargs").value, null);
    if (kwargs !== null && (typeof kwargs !== "object" || Array.isArray(kwargs))) {
      throw new InputError("kwargs must be a mapping, like { unit: kg }");
    }
    locs = $("call-locs").value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  } catch (err) {
    showError(out, err);
    return;
  }
  const options = { locs };
  if (kwargs !== null) options.kwargs = kwargs;
  run(out, $("call-submit"), () => client.call(fun, args, options));
});

$("request-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const out = $("request-result");
  let steps;
  try {
    steps = parseSteps($("request-steps").value);
  } catch (err) {
    showError(out, err);
    return;
  }
  const all = $("request-all").checked;
  run(out, $("request-submit"), () => client.request(steps, { all }));
});

$("request-example").addEventListener("click", () => {
  $("request-steps").value = EXAMPLE_STEPS;
});
$("request-demo").addEventListener("click", () => {
  $("request-steps").value = DEMO_STEPS;
});
submitOnCtrlEnter($("call-form"));
submitOnCtrlEnter($("request-form"));
$("encoding").addEventListener("change", connect);
$("request-steps").value = EXAMPLE_STEPS;

import("/client.js").then((module) => {
  clientModule = module;
  connect();
}, (err) => {
  clientError = err;
  renderStatus();
});
setInterval(renderStatus, 500);
poll();
`;

/**
 * The page's whole module script: the parser, the two example texts and the
 * main program.
 *
 * @returns Browser JavaScript, safe to place inside a `<script>` element.
 */
export function pageScript(): string {
  const source = PARSE_SCRIPT +
    `const EXAMPLE_STEPS = ${JSON.stringify(EXAMPLE_STEPS)};\n` +
    `const DEMO_STEPS = ${JSON.stringify(DEMO_STEPS)};\n` +
    MAIN_SCRIPT;
  // Nothing here may end the element early.
  return source.replaceAll("</", "<\\/");
}
