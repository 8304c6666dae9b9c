// Copyright 2026 the mpreg authors. MIT license.
/**
 * Renders the cluster and its figures: the summary tiles, the member cards,
 * the functions table and the function picker. Each part is rebuilt only
 * when what it shows changed.
 *
 * @module
 */
import { byId, type Child, h } from "./dom.ts";
import { ago, count, ms, rate } from "./format.ts";
import type { Samples } from "./samples.ts";
import type { ClusterView, MemberState, MemberView } from "./types.ts";

const STATES: readonly MemberState[] = ["alive", "suspect", "dead", "left"];
const BUILTINS = new Set(["echo", "echos"]);

/** What each element was last built from. */
const rendered = new WeakMap<Element, string>();

function replace(el: Element, key: string, build: () => Child): void {
  if (rendered.get(el) === key) return;
  rendered.set(el, key);
  el.replaceChildren(...([build()].flat(Infinity as 1) as (Node | string)[]));
}

/** Built-ins last, then by name. */
function byFunctionName(a: string, b: string): number {
  return BUILTINS.has(a) !== BUILTINS.has(b) ? (BUILTINS.has(a) ? 1 : -1) : a.localeCompare(b);
}

function sortedMembers(cluster: ClusterView): MemberView[] {
  return [...cluster.members].sort((a, b) =>
    a.self !== b.self ? (a.self ? -1 : 1) : a.name.localeCompare(b.name)
  );
}

function renderSummary(cluster: ClusterView, samples: Samples): void {
  const stats = samples.latest()?.stats ?? null;
  const byState: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
  for (const m of cluster.members) byState[m.state] = (byState[m.state] ?? 0) + 1;
  const r = samples.rates();
  const total = Object.values(r).reduce((a, b) => a + b, 0);
  const gossip = stats?.cluster;
  const loop = stats?.eventLoop;
  const alive = byState.alive ?? 0;
  const troubled = (byState.suspect ?? 0) + (byState.dead ?? 0);
  const tiles: [string, string, string, string, string][] = [
    [
      "members",
      "Members",
      alive + " / " + cluster.members.length,
      STATES.filter((s) => s !== "alive" && (byState[s] ?? 0) > 0).map((s) => byState[s] + " " + s)
        .join(" · ") || "all alive",
      troubled > 0 ? "warn" : "good",
    ],
    ["functions", "Functions", count(Object.keys(cluster.functions).length), "in the catalog", ""],
    ["rate", "Calls / s", samples.length < 2 ? "–" : rate(total), "run on this node", ""],
    ["inflight", "In flight", count(stats?.requestsInFlight), "requests", ""],
    ["connections", "Clients", count(stats?.connections), "connections", ""],
    [
      "links",
      "Peer links",
      gossip ? count(gossip.links) : "–",
      gossip
        ? count(gossip.forwarded) + (gossip.forwarded === 1 ? " step" : " steps") + " forwarded"
        : "single node",
      "",
    ],
    [
      "loop",
      "Event loop lag",
      loop ? ms(loop.maxLagMs) : "–",
      loop
        ? "largest in the last minute · now " + ms(loop.lagMs) +
          (gossip?.awareness ? " · awareness " + gossip.awareness : "")
        : "",
      loop && (loop.maxLagMs >= 500 || (gossip?.awareness ?? 0) > 0) ? "warn" : "",
    ],
  ];
  replace(
    byId("summary"),
    JSON.stringify(tiles),
    () =>
      tiles.map(([id, label, value, note, tone]) =>
        h(
          "div",
          { class: "tile " + tone, "data-testid": "tile-" + id },
          h("div", { class: "tile-label" }, label),
          h("div", { class: "tile-value" }, value),
          h("div", { class: "tile-note" }, note),
        )
      ),
  );
}

function funChip(fun: string, extra: string[]): HTMLElement {
  return h(
    "span",
    {
      class: "chip fun" + (BUILTINS.has(fun) ? " builtin" : ""),
      title: extra.length > 0 ? fun + " needs " + extra.join(", ") : fun,
    },
    fun,
    extra.length > 0 ? h("span", { class: "chip-extra" }, " +" + extra.join(",")) : null,
  );
}

function memberCard(m: MemberView): HTMLElement {
  const funs = Object.keys(m.functions).sort(byFunctionName);
  const permissions = Object.entries(m.permissions ?? {});
  const none = (): HTMLElement => h("span", { class: "muted" }, "none");
  return h(
    "article",
    {
      class: "card member " + m.state,
      "data-testid": "member",
      "data-name": m.name,
      "data-state": m.state,
    },
    h(
      "header",
      { class: "member-head" },
      h("span", { class: "dot " + m.state }),
      h("h3", { class: "member-name" }, m.name),
      m.self ? h("span", { class: "badge" }, "this node") : null,
      h("span", { class: "spacer" }),
      h("span", { class: "pill " + m.state, "data-testid": "member-state" }, m.state),
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "URL" + (m.urls.length === 1 ? "" : "s")),
      h("dd", {}, m.urls.length === 0 ? none() : m.urls.map((u) => h("code", { class: "url" }, u))),
      h("dt", {}, "Resources"),
      h(
        "dd",
        {},
        m.resources.length === 0
          ? none()
          : m.resources.map((r) => h("span", { class: "chip res" }, r)),
      ),
      h("dt", {}, "Last heard"),
      h("dd", { "data-heard": m.self ? "self" : String(m.lastHeard) }, "…"),
    ),
    h(
      "div",
      { class: "member-funs" },
      h("div", { class: "label" }, "Functions", h("span", { class: "count" }, String(funs.length))),
      h(
        "div",
        { class: "chips", "data-testid": "member-functions" },
        funs.map((f) => funChip(f, m.functions[f] ?? [])),
      ),
    ),
    permissions.length === 0 ? null : h(
      "div",
      { class: "member-perms muted" },
      "Permissions: " +
        permissions.map(([f, kinds]) => f + " (" + kinds.join(", ") + ")").join("; "),
    ),
    h(
      "footer",
      { class: "member-foot muted" },
      "incarnation " + m.incarnation + " · catalog v" + m.catalogVersion,
    ),
  );
}

function renderMembers(cluster: ClusterView, samples: Samples): void {
  const members = sortedMembers(cluster);
  const key = JSON.stringify(members.map((m) => ({ ...m, lastHeard: m.self ? 0 : m.lastHeard })));
  replace(byId("members"), key, () => members.map(memberCard));
  const now = samples.serverNow();
  for (const el of document.querySelectorAll<HTMLElement>("[data-heard]")) {
    const text = el.dataset.heard === "self"
      ? "now (this node)"
      : ago(now - Number(el.dataset.heard));
    if (el.textContent !== text) el.textContent = text;
  }
}

interface Offer {
  name: string;
  state: MemberState;
  extra: string[];
}

function renderFunctions(cluster: ClusterView, samples: Samples): void {
  const stats = samples.latest()?.stats?.functions ?? {};
  const r = samples.rates();
  const offers = new Map<string, Offer[]>();
  for (const m of sortedMembers(cluster)) {
    for (const [fun, extra] of Object.entries(m.functions)) {
      let list = offers.get(fun);
      if (list === undefined) offers.set(fun, list = []);
      list.push({ name: m.name, state: m.state, extra });
    }
  }
  for (const fun of Object.keys(stats)) if (!offers.has(fun)) offers.set(fun, []);
  const rows = [...offers.keys()].sort(byFunctionName).map((fun) => {
    const s = stats[fun];
    const offered = offers.get(fun) ?? [];
    const errors = s
      ? Object.entries(s.outcomes).filter(([o]) => o !== "ok").reduce((n, [, v]) => n + v, 0)
      : 0;
    const selfOffers = offered.some((o) => o.name === cluster.self);
    return {
      fun,
      offers: offered,
      elsewhere: s ? null : selfOffers ? "no calls here yet" : "runs on " +
        (offered.map((o) => o.name).join(", ") || "no member now") + ", not here",
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
  replace(
    byId("functions-body"),
    JSON.stringify(rows),
    () =>
      rows.length === 0
        ? h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No functions yet."))
        : rows.map((row) => {
          const up = row.offers.some((o) => o.state === "alive");
          return h(
            "tr",
            { "data-testid": "function-row", "data-fun": row.fun, class: up ? "" : "unavailable" },
            h(
              "td",
              {},
              h("code", { class: "fun-name" }, row.fun),
              BUILTINS.has(row.fun) ? h("span", { class: "tag" }, "built-in") : null,
              row.inFlight > 0 ? h("span", { class: "tag busy" }, row.inFlight + " running") : null,
            ),
            h(
              "td",
              { "data-testid": "function-offers" },
              row.offers.length === 0
                ? h("span", { class: "muted" }, "nobody now")
                : row.offers.map((o) =>
                  h(
                    "span",
                    {
                      class: "chip member-chip " + o.state,
                      title: o.name + " is " + o.state +
                        (o.extra.length > 0 ? "; needs " + o.extra.join(", ") : ""),
                    },
                    h("span", { class: "dot " + o.state }),
                    o.name,
                  )
                ),
            ),
            row.elsewhere !== null
              ? h(
                "td",
                { colspan: 6, class: "elsewhere", "data-testid": "function-rate" },
                row.elsewhere,
              )
              : [
                h("td", { class: "num", "data-testid": "function-calls" }, row.calls),
                h("td", { class: "num strong", "data-testid": "function-rate" }, row.rate),
                h("td", { class: "num" }, row.p50),
                h("td", { class: "num" }, row.p90),
                h("td", { class: "num" }, row.p99),
                h("td", { class: "num" + (row.hasErrors ? " bad" : "") }, row.errors),
              ],
          );
        }),
  );
}

function renderFunSelect(cluster: ClusterView): void {
  const select = byId<HTMLSelectElement>("call-fun");
  const funs = Object.keys(cluster.functions).sort();
  const key = JSON.stringify(funs);
  if (rendered.get(select) === key) return;
  const current = select.value || "echo";
  rendered.set(select, key);
  const names = funs.includes(current) ? funs : [current, ...funs];
  select.replaceChildren(
    ...names.map((f) =>
      h("option", { value: f }, f + (funs.includes(f) ? "" : " (not offered now)"))
    ),
  );
  select.value = current;
  const demo = byId<HTMLButtonElement>("request-demo");
  demo.disabled = !["add", "multiply", "format"].every((f) => funs.includes(f));
  demo.title = demo.disabled ? "Needs add, multiply and format (examples/functions.ts)" : "";
}

/**
 * Renders everything the cluster view and the samples show.
 *
 * @param cluster The latest `/cluster`.
 * @param samples The recent `/stats`.
 */
export function renderCluster(cluster: ClusterView, samples: Samples): void {
  const name = byId("node-name");
  if (name.textContent !== cluster.self) name.textContent = cluster.self;
  renderSummary(cluster, samples);
  renderMembers(cluster, samples);
  renderFunctions(cluster, samples);
  renderFunSelect(cluster);
}
