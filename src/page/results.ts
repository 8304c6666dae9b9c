// Copyright 2026 the mpreg authors. MIT license.
/**
 * Shows a call's result or error in a form's result panel.
 *
 * @module
 */
import { h } from "./dom.ts";
import { ms, pretty, progressFraction, progressText } from "./format.ts";

/**
 * Shows a running call's latest progress report (a bar when it is a
 * fraction, and its text), until its answer replaces it.
 *
 * @param out The result panel, still pending.
 * @param value The report.
 * @param step The step that made it, shown for a request.
 */
export function showProgress(out: HTMLElement, value: unknown, step?: string): void {
  if (out.dataset.status !== "pending") return;
  const fraction = progressFraction(value);
  out.replaceChildren(
    h(
      "div",
      { class: "progress", "data-testid": "progress" },
      h("span", { class: "muted" }, "Running…"),
      fraction === null
        ? null
        : h("progress", { max: 1, value: fraction, "data-testid": "progress-bar" }),
      h(
        "span",
        { class: "progress-text", "data-testid": "progress-text" },
        (step === undefined ? "" : `${step}: `) + progressText(value),
      ),
    ),
  );
}

/**
 * Shows a value.
 *
 * @param out The result panel.
 * @param value The result.
 * @param elapsed How long it took, in milliseconds.
 */
export function showValue(out: HTMLElement, value: unknown, elapsed: number): void {
  out.dataset.status = "ok";
  out.replaceChildren(
    h(
      "div",
      { class: "result-head" },
      h("span", { class: "badge ok" }, "ok"),
      h("span", { class: "muted" }, "in " + ms(elapsed)),
    ),
    h("pre", { class: "value", "data-testid": "result-value" }, pretty(value)),
  );
}

/**
 * Shows an error with its name, its code and details when it has them.
 *
 * @param out The result panel.
 * @param err What was thrown.
 * @param elapsed How long it took, in milliseconds, when it was sent.
 */
export function showError(out: HTMLElement, err: unknown, elapsed?: number): void {
  const e = (err instanceof Error ? err : new Error(String(err))) as Error & {
    code?: unknown;
    details?: unknown;
  };
  const code = typeof e.code === "number" ? e.code : null;
  const details = e.details ?? null;
  out.dataset.status = "error";
  out.replaceChildren(
    ...[
      h(
        "div",
        { class: "result-head" },
        h("span", { class: "badge bad", "data-testid": "error-name" }, e.name),
        code === null
          ? null
          : h("span", { class: "code", "data-testid": "error-code" }, "code " + code),
        elapsed === undefined ? null : h("span", { class: "muted" }, "after " + ms(elapsed)),
      ),
      h("p", { class: "error-message", "data-testid": "error-message" }, e.message),
      details === null ? null : h("div", { class: "label" }, "details"),
      details === null
        ? null
        : h("pre", { class: "value", "data-testid": "error-details" }, pretty(details)),
    ].filter((el) => el !== null),
  );
}
