// Copyright 2026 the mpreg authors. MIT license.
/**
 * Example functions served by `deno task start` (see `node.yaml`). Every
 * exported function is registered under its export name.
 *
 * @module
 */
import type { CallContext } from "../mod.ts";

/** Adds two numbers. */
export function add(a: number, b: number): number {
  return a + b;
}

/** Multiplies two numbers. */
export function multiply(a: number, b: number): number {
  return a * b;
}

/** Formats a value with a label: `format(150, "Final Answer")` → `"Final Answer: 150"`. */
export function format(value: unknown, label: string): string {
  return `${label}: ${value}`;
}

// The next three keep the names of the original MPREG examples and tests.

/** Sums a list of numbers. */
// deno-lint-ignore camelcase
export function data_processing(data: number[]): number {
  return data.reduce((sum, x) => sum + x, 0);
}

/** A stand-in for model inference. */
// deno-lint-ignore camelcase
export function ml_inference(
  model: string,
  input: { value: unknown },
): { model: string; prediction: string; confidence: number } {
  return { model, prediction: `processed_${input.value}`, confidence: 0.95 };
}

/** Formats results as JSON, a summary line, or a string (keyword `format_type`). */
// deno-lint-ignore camelcase
export function format_results(
  raw: { prediction?: string },
  options: { format_type?: string } = {},
): string {
  const type = options.format_type ?? "json";
  if (type === "json") return JSON.stringify(raw);
  if (type === "summary") return `Result: ${raw.prediction ?? "N/A"}`;
  return String(raw);
}

/** Waits `ms` milliseconds, stopping early if the request is cancelled. */
export function sleep(this: CallContext, ms: number): Promise<number> {
  const signal = this.signal;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(ms), ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
