// Copyright 2026 the mpreg authors. MIT license.
/**
 * The cluster page's program: it loads the node's own browser client from
 * `/client.js`, polls `/cluster` and `/stats` once a second, renders them,
 * and sends the forms' calls and requests through the client.
 *
 * @module
 */
import type * as ClientModule from "../../client.ts";
import { byId, h } from "./dom.ts";
import { DEMO_STEPS, EXAMPLE_STEPS } from "./examples.ts";
import { InputError, parseLoose, parseSteps } from "./input.ts";
import { signatureOf } from "../client/api_types.ts";
import { argumentsProblem, exampleArgs, type FunctionDescription } from "./params.ts";
import { renderCluster } from "./render.ts";
import { showError, showProgress, showValue } from "./results.ts";
import { Samples } from "./samples.ts";
import type { ClusterView, StatsView } from "./types.ts";

/** Where the node serves its browser client (not bundled into the page: the page uses the node's own). */
const CLIENT_URL = "/client.js";

let cluster: ClusterView | null = null;
const samples = new Samples();
let httpOk: boolean | null = null;
let clientModule: typeof ClientModule | null = null;
let client: ClientModule.Client | null = null;
let clientError: unknown = null;

// The connection ---------------------------------------------------------------

function wsUrl(): string {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
}

function token(): string | undefined {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  return m === null ? undefined : decodeURIComponent(m[1] ?? "");
}

function connect(): void {
  if (clientModule === null) return;
  if (client !== null) client.close();
  client = null;
  const options: ClientModule.ClientOptions = {
    encoding: byId<HTMLSelectElement>("encoding").value as "msgpack" | "json",
  };
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

function renderStatus(): void {
  const el = byId("status");
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
  if (label !== null && label.textContent !== text) label.textContent = text;
  el.title = clientError !== null
    ? String(clientError)
    : "WebSocket " + wsUrl() + (client !== null && client.connected ? " open" : " not open") +
      "; HTTP polling " + (httpOk === false ? "failing" : "ok");
}

/** The catalog's description of `fun`: this node's own first, else another member's. */
function describedFor(fun: string): FunctionDescription | null {
  if (cluster === null) return null;
  const members = [...cluster.members].sort((a, b) => Number(b.self) - Number(a.self));
  for (const { described } of members) {
    if (described !== undefined && Object.hasOwn(described, fun)) return described[fun]!;
  }
  return null;
}

/** Shows the picked function's parameters (and its doc) under the picker. */
function renderParams(): void {
  const fun = byId<HTMLSelectElement>("call-fun").value;
  const described = describedFor(fun);
  const el = byId("call-params");
  const text = described === null
    ? ""
    : `${signatureOf(fun, described)}${described.doc ? ` — ${described.doc}` : ""}`;
  if (el.textContent !== text) el.textContent = text;
  el.hidden = text === "";
}

function render(): void {
  renderStatus();
  if (cluster === null) return;
  renderCluster(cluster, samples);
  renderParams();
  const updated = "updated " + new Date().toLocaleTimeString("en-GB");
  byId("updated").textContent = httpOk === false ? "node not answering; retrying" : updated;
}

// Polling ------------------------------------------------------------------------

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { cache: "no-store", signal: AbortSignal.timeout(4000) });
  if (!res.ok) throw new Error(path + " answered HTTP " + res.status);
  return await res.json() as T;
}

async function poll(): Promise<void> {
  try {
    const [c, s] = await Promise.all([
      getJson<ClusterView>("/cluster"),
      getJson<StatsView>("/stats"),
    ]);
    cluster = c;
    samples.record(s);
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

async function run(
  out: HTMLElement,
  button: HTMLButtonElement,
  send: (
    client: ClientModule.Client,
    onProgress: (value: unknown, step: string) => void,
  ) => Promise<unknown>,
  named = false,
): Promise<void> {
  if (client === null) {
    showError(out, clientError ?? new Error("The browser client is still loading"));
    return;
  }
  button.disabled = true;
  out.dataset.status = "pending";
  out.replaceChildren(h("p", { class: "muted" }, "Running…"));
  const start = performance.now();
  try {
    // The latest report shows until the answer replaces it.
    const onProgress = (value: unknown, step: string) =>
      showProgress(out, value, named ? step : undefined);
    const value = await send(client, onProgress);
    showValue(out, value, performance.now() - start);
  } catch (err) {
    showError(out, err, performance.now() - start);
  } finally {
    button.disabled = false;
  }
}

function submitOnCtrlEnter(form: HTMLFormElement): void {
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

byId("call-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const out = byId("call-result");
  let fun: string;
  let args: unknown;
  let kwargs: unknown;
  let locs: string[];
  try {
    fun = byId<HTMLSelectElement>("call-fun").value;
    if (!fun) throw new InputError("Pick a function");
    args = parseLoose(byId<HTMLTextAreaElement>("call-args").value, []);
    if (!Array.isArray(args)) throw new InputError("args must be a list, like [1, 2]");
    kwargs = parseLoose(byId<HTMLInputElement>("call-kwargs").value, null);
    if (kwargs !== null && (typeof kwargs !== "object" || Array.isArray(kwargs))) {
      throw new InputError("kwargs must be a mapping, like { unit: kg }");
    }
    locs = byId<HTMLInputElement>("call-locs").value.split(",").map((s) => s.trim())
      .filter((s) => s !== "");
    // Checked against the function's schemas before anything is sent.
    const described = describedFor(fun);
    const problem = described === null
      ? null
      : argumentsProblem(described, args, kwargs as Record<string, unknown> | null);
    if (problem !== null) throw new InputError(`Not sent: ${problem}`);
  } catch (err) {
    showError(out, err);
    return;
  }
  const options: ClientModule.CallOptions = { locs };
  if (kwargs !== null) options.kwargs = kwargs as Record<string, unknown>;
  const list = args;
  run(out, byId("call-submit"), (c, onProgress) => c.call(fun, list, { ...options, onProgress }));
});

byId("request-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const out = byId("request-result");
  let steps: ClientModule.StepInput[];
  try {
    steps = parseSteps(
      byId<HTMLTextAreaElement>("request-steps").value,
    ) as ClientModule.StepInput[];
  } catch (err) {
    showError(out, err);
    return;
  }
  const all = byId<HTMLInputElement>("request-all").checked;
  run(
    out,
    byId("request-submit"),
    (c, onProgress) => c.request(steps, { all, onProgress }),
    true,
  );
});

byId("call-fun").addEventListener("change", () => {
  renderParams();
  // A valid example of the arguments, when the catalog describes them.
  const described = describedFor(byId<HTMLSelectElement>("call-fun").value);
  if (described !== null && described.params.some((p) => p.schema !== undefined)) {
    byId<HTMLTextAreaElement>("call-args").value = JSON.stringify(exampleArgs(described));
  }
});

byId("request-example").addEventListener("click", () => {
  byId<HTMLTextAreaElement>("request-steps").value = EXAMPLE_STEPS;
});
byId("request-demo").addEventListener("click", () => {
  byId<HTMLTextAreaElement>("request-steps").value = DEMO_STEPS;
});
submitOnCtrlEnter(byId("call-form"));
submitOnCtrlEnter(byId("request-form"));
byId("encoding").addEventListener("change", connect);
byId<HTMLTextAreaElement>("request-steps").value = EXAMPLE_STEPS;

// A variable, so that the bundler leaves the import to the browser.
import(CLIENT_URL).then((module: typeof ClientModule) => {
  clientModule = module;
  connect();
}, (err) => {
  clientError = err;
  renderStatus();
});
setInterval(renderStatus, 500);
poll();
