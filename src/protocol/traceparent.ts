// Copyright 2026 the mpreg authors. MIT license.
/**
 * W3C trace context (`traceparent`, version `00`): how a client's request
 * and a forwarded step name the span they continue. Browser-safe.
 *
 * @module
 */

/** `00-<trace id>-<parent span id>-<flags>`, lowercase hex only. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_SPAN_ID = "0".repeat(16);

/** What a `traceparent` says: the span a request continues. */
export interface TraceparentParts {
  /** The trace's id: 32 lowercase hex digits, not all zeros. */
  traceId: string;
  /** The parent span's id: 16 lowercase hex digits, not all zeros. */
  spanId: string;
  /** The trace flags (bit 0: sampled). */
  traceFlags: number;
}

/**
 * What a valid `traceparent` looks like, for error messages.
 *
 * @example
 * ```ts
 * import { TRACEPARENT_FORMAT } from "./traceparent.ts";
 * console.log(`expected ${TRACEPARENT_FORMAT}`);
 * ```
 */
export const TRACEPARENT_FORMAT =
  "00-<32 hex digits>-<16 hex digits>-<2 hex digits> in lowercase, ids not all zeros";

/**
 * Reads a W3C `traceparent` of version `00`. The ids must be lowercase hex
 * and not all zeros (the W3C's invalid ids).
 *
 * @param value Any value.
 * @returns Its parts, or `null` when it is not a valid `traceparent`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTraceparent } from "./traceparent.ts";
 * const parts = parseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
 * assert.deepEqual(parts, {
 *   traceId: "0af7651916cd43dd8448eb211c80319c",
 *   spanId: "b7ad6b7169203331",
 *   traceFlags: 1,
 * });
 * assert.equal(parseTraceparent("00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01"), null);
 * ```
 */
export function parseTraceparent(value: unknown): TraceparentParts | null {
  if (typeof value !== "string") return null;
  const match = TRACEPARENT.exec(value);
  if (match === null || match[1] === ZERO_TRACE_ID || match[2] === ZERO_SPAN_ID) return null;
  return { traceId: match[1]!, spanId: match[2]!, traceFlags: parseInt(match[3]!, 16) };
}

/**
 * Writes the W3C `traceparent` of a span.
 *
 * @param span The span's trace id, span id and flags.
 * @returns `00-<trace id>-<span id>-<flags>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTraceparent } from "./traceparent.ts";
 * assert.equal(
 *   formatTraceparent({
 *     traceId: "0af7651916cd43dd8448eb211c80319c",
 *     spanId: "b7ad6b7169203331",
 *     traceFlags: 1,
 *   }),
 *   "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
 * );
 * ```
 */
export function formatTraceparent(span: TraceparentParts): string {
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, "0");
  return `00-${span.traceId}-${span.spanId}-${flags}`;
}
