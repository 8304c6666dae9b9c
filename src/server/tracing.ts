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
  formatTraceparent,
  parseTraceparent,
  type TraceparentParts,
} from "../protocol/traceparent.ts";
import {
  type Attributes,
  type Context,
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
 * Starts the span of a client request: the child of the caller's span when
 * the request carries its `traceparent`, otherwise the root of its own trace
 * (never the child of the WebSocket upgrade that every request of a
 * connection shares).
 */
export function startRequestSpan(
  name: string,
  attributes: Attributes,
  traceparent: string | undefined,
): Span {
  const remote = traceparent === undefined ? null : parseTraceparent(traceparent);
  if (remote === null) {
    return tracer.startSpan(name, { attributes, kind: SpanKind.SERVER, root: true });
  }
  return tracer.startSpan(name, { attributes, kind: SpanKind.SERVER }, remoteParent(remote));
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
  return formatTraceparent(span.spanContext());
}

/**
 * Starts a span whose parent is the remote span of a `traceparent` (a
 * child of the active span when it is not a valid one).
 */
export function startRemoteChild(name: string, traceparent: string, attributes: Attributes): Span {
  const remote = parseTraceparent(traceparent);
  if (remote === null) return startSpan(name, attributes, SpanKind.SERVER);
  return tracer.startSpan(name, { attributes, kind: SpanKind.SERVER }, remoteParent(remote));
}

/** The active context with the remote span of a `traceparent` as its span. */
function remoteParent(remote: TraceparentParts): Context {
  return trace.setSpanContext(context.active(), { ...remote, isRemote: true });
}
