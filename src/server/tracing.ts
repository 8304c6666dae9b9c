// Copyright 2026 the mpreg authors. MIT license.
/**
 * Traces through Deno's built-in OpenTelemetry (`OTEL_DENO=true`): a span
 * per request and per step, and W3C trace context carried to the node that
 * runs a forwarded step, so one request is one trace across nodes. Without
 * `OTEL_DENO` the OpenTelemetry API is a no-op and mpreg skips it entirely.
 *
 * @module
 */
import { isPromise } from "../_util/maybe_promise.ts";
import {
  type Attributes,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

const tracer = trace.getTracer("mpreg", "0.1.0");

let enabled: boolean | null = null;

/** Whether a tracer provider records spans (Deno registers one with `OTEL_DENO=true`). */
export function tracingEnabled(): boolean {
  if (enabled === null) {
    // A span that is never ended is never exported.
    enabled = tracer.startSpan("mpreg.probe").isRecording();
  }
  return enabled;
}

/** Starts a span as a child of the active one. */
export function startSpan(name: string, attributes: Attributes, kind = SpanKind.INTERNAL): Span {
  return tracer.startSpan(name, { attributes, kind });
}

/**
 * Starts the span of a client request: the root of its own trace (not a
 * child of the WebSocket upgrade that every request of a connection shares).
 */
export function startRootSpan(name: string, attributes: Attributes): Span {
  return tracer.startSpan(name, { attributes, kind: SpanKind.SERVER, root: true });
}

/** Runs `fn` with `span` as the active span (so spans started inside are its children). */
export function withSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}

/** Ends a span when `result` settles, marking it failed on an error. */
export function endWith<T>(span: Span, result: T): T {
  if (isPromise(result)) {
    result.then(() => span.end(), (err) => failSpan(span, err));
  } else {
    span.end();
  }
  return result;
}

/** Marks a span failed and ends it. */
export function failSpan(span: Span, err: unknown): void {
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
  });
  span.end();
}

/** The W3C `traceparent` of a span: `00-<trace id>-<span id>-<flags>`. */
export function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, "0")}`;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Starts a span whose parent is the remote span of a `traceparent`. */
export function startRemoteChild(name: string, traceparent: string, attributes: Attributes): Span {
  const match = TRACEPARENT.exec(traceparent);
  if (match === null) return startSpan(name, attributes, SpanKind.SERVER);
  const parent = trace.setSpanContext(context.active(), {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: parseInt(match[3]!, 16),
    isRemote: true,
  });
  return tracer.startSpan(name, { attributes, kind: SpanKind.SERVER }, parent);
}
