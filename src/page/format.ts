// Copyright 2026 the mpreg authors. MIT license.
/**
 * How the page writes figures and values. Pure functions.
 *
 * @module
 */

/**
 * The fraction done a progress report stands for, by the convention of
 * `this.progress()`: a number from 0 to 1, or `{ done, total }`; `null` for
 * any other value.
 *
 * @param value The report.
 * @returns The fraction, clamped to 0..1, or `null`.
 */
export function progressFraction(value: unknown): number | null {
  let fraction: number | null = null;
  if (typeof value === "number") fraction = value;
  else if (value !== null && typeof value === "object") {
    const { done, total } = value as { done?: unknown; total?: unknown };
    if (typeof done === "number" && typeof total === "number" && total > 0) {
      fraction = done / total;
    }
  }
  if (fraction === null || !Number.isFinite(fraction)) return null;
  return Math.min(1, Math.max(0, fraction));
}

/**
 * A progress report as text: `50%` for a number, `3 / 10 (30%) message`
 * for `{ done, total, message? }`, else the value as JSON.
 *
 * @param value The report.
 * @returns The text.
 */
export function progressText(value: unknown): string {
  const fraction = progressFraction(value);
  const percent = fraction === null ? "" : `${Math.round(fraction * 100)}%`;
  if (typeof value === "number" && fraction !== null) return percent;
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const { done, total, message } = value as Record<string, unknown>;
    if (typeof done === "number" && typeof total === "number") {
      const text = `${done} / ${total}` + (percent === "" ? "" : ` (${percent})`);
      return typeof message === "string" && message !== "" ? `${text} ${message}` : text;
    }
  }
  return pretty(value);
}

/**
 * A duration: `0.42 ms`, `3.1 ms`, `120 ms`, `1.50 s`; `–` when unknown.
 *
 * @param value Milliseconds.
 * @returns The text.
 */
export function ms(value: unknown): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  if (value < 1) return value.toFixed(2) + " ms";
  if (value < 10) return value.toFixed(1) + " ms";
  if (value < 1000) return Math.round(value) + " ms";
  return (value / 1000).toFixed(2) + " s";
}

/**
 * A rate per second: one decimal below 10, whole numbers above.
 *
 * @param value Events per second.
 * @returns The text, `–` when unknown.
 */
export function rate(value: unknown): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  if (value === 0) return "0";
  if (value < 10) return value.toFixed(1);
  return Math.round(value).toLocaleString("en");
}

/**
 * A count with thousands separators.
 *
 * @param value The count.
 * @returns The text, `–` when unknown.
 */
export function count(value: unknown): string {
  return typeof value === "number" ? value.toLocaleString("en") : "–";
}

/**
 * How long ago: `just now`, `12 s ago`, `3 min ago`, `5 h ago`, `2 d ago`.
 *
 * @param delta Milliseconds since then.
 * @returns The text.
 */
export function ago(delta: number): string {
  if (delta < 1500) return "just now";
  const s = Math.round(delta / 1000);
  if (s < 60) return s + " s ago";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min ago";
  const hours = Math.floor(m / 60);
  return hours < 48 ? hours + " h ago" : Math.floor(hours / 24) + " d ago";
}

/**
 * A result for people: JSON-like, short lists of scalars on one line, bytes
 * as their length, bigints with their `n`.
 *
 * @param value Any value a call may return.
 * @param indent The current indentation.
 * @returns The text.
 */
export function pretty(value: unknown, indent = ""): string {
  if (value === undefined) return "undefined";
  if (value === null || typeof value === "boolean") return String(value);
  if (typeof value === "number") {
    return Number.isFinite(value) ? JSON.stringify(value) : String(value);
  }
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
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 0) return "{}";
    return "{\n" +
      keys.map((k) => inner + JSON.stringify(k) + ": " + pretty(record[k], inner)).join(",\n") +
      "\n" + indent + "}";
  }
  return String(value);
}
