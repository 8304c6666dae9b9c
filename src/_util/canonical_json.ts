// Copyright 2026 the mpreg authors. MIT license.
/**
 * One text for one value, whatever the order its object keys were written
 * in: what both ends of a link hash or sign when they must agree on a value
 * that crossed the wire (a member record, a set of grants).
 *
 * @module
 */

/**
 * The canonical JSON text of `value`: object keys sorted (by UTF-16 code
 * units), array order kept, no whitespace. Object entries whose value is
 * `undefined` or `null` are left out, because the peer codec sends
 * `undefined` as nil: a field sent as `undefined` arrives as `null`, and
 * both ends must still write the same text. Other values are written as
 * `JSON.stringify` writes them.
 *
 * @param value Plain data: objects, arrays, strings, numbers, booleans, null.
 * @returns The text.
 *
 * @example
 * ```ts ignore
 * import { canonicalJson } from "./canonical_json.ts";
 * console.log(canonicalJson({ b: [2, 1], a: 1, c: null })); // {"a":1,"b":[2,1]}
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    return `[${value.map((item) => item == null ? "null" : canonicalJson(item)).join(",")}]`;
  }
  const entries: string[] = [];
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record).sort()) {
    const item = record[key];
    if (item == null || typeof item === "function") continue;
    entries.push(`${JSON.stringify(key)}:${canonicalJson(item)}`);
  }
  return `{${entries.join(",")}}`;
}
