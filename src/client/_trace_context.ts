// Copyright 2026 the mpreg authors. MIT license.
/**
 * The trace context a client sends with a request: the caller's explicit
 * `traceparent`, or that of its active OpenTelemetry span. Private to the
 * client; browser-safe.
 *
 * @module
 */
import { isSpanContextValid, trace } from "@opentelemetry/api";
import {
  formatTraceparent,
  parseTraceparent,
  TRACEPARENT_FORMAT,
} from "../protocol/traceparent.ts";

/**
 * The `traceparent` of the caller's active span, or `undefined` when there
 * is none (always, unless a tracer provider and a context manager are
 * registered with `@opentelemetry/api`: Deno's with `OTEL_DENO=true`, or a
 * browser app's own; then ~20 ns).
 */
export function activeTraceparent(): string | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const context = span.spanContext();
  // A span the sampler dropped is still valid: its flags say "not sampled",
  // which the node's spans follow.
  return isSpanContextValid(context) ? formatTraceparent(context) : undefined;
}

/** Why `value` is not a valid W3C `traceparent` (a caller's explicit one), or `null` when it is. */
export function invalidTraceparent(value: unknown): TypeError | null {
  if (parseTraceparent(value) !== null) return null;
  const shown = typeof value === "string" ? `"${value}"` : String(value);
  return new TypeError(`Invalid traceparent ${shown}: expected ${TRACEPARENT_FORMAT}`);
}
