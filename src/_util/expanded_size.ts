// Copyright 2026 the mpreg authors. MIT license.
/**
 * How many values a result holds once encoded.
 *
 * Steps can refer to earlier steps many times, so results share structure:
 * `s1 = echos(s0, s0)`, `s2 = echos(s1, s1)` … is tiny in memory, but
 * encoding writes every shared part out again, doubling at every step. This
 * counts what an encoder would write (arrays and object entries, each shared
 * part as often as it appears) without writing it, so a node can refuse an
 * answer or a forwarded step that would explode, instead of blocking its
 * event loop. The walk stops as soon as the count passes the limit, so it
 * costs at most `max` steps however much is shared, and nothing is
 * allocated (it runs on every answer).
 *
 * @module
 */

/** Deeper than this counts as over any limit (encoders recurse). */
const MAX_NESTING = 512;

/**
 * The number of values `value` expands to when encoded (1 per scalar,
 * array, object, and element or entry), stopping early past `max`.
 *
 * @param value The value.
 * @param max The limit of interest.
 * @returns The count, or `Infinity` once it is known to exceed `max` (or
 *   to nest deeper than 512 levels).
 */
export function expandedSize(value: unknown, max: number): number {
  const total = count(value, max, 0);
  return total > max ? Infinity : total;
}

/** Counts `v`'s values, returning something over `budget` once it passes it. */
function count(v: unknown, budget: number, depth: number): number {
  if (v === null || typeof v !== "object" || ArrayBuffer.isView(v) || v instanceof Date) {
    return 1;
  }
  if (depth > MAX_NESTING) return Infinity;
  let total = 1;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      total += count(v[i], budget - total, depth + 1);
      if (total > budget) return Infinity;
    }
  } else {
    for (const key in v) {
      if (!Object.hasOwn(v, key)) continue;
      total += 1 + count((v as Record<string, unknown>)[key], budget - total - 1, depth + 1);
      if (total > budget) return Infinity;
    }
  }
  return total;
}
