// Copyright 2026 the mpreg authors. MIT license.
// One string per distinct short name, for the names every request repeats.
//
// A decoder hands out a new string for every step name and function name it
// reads. Looked up in a Map, or used as a property name, a new string is
// first hashed and looked up in V8's string table, in V8's runtime: ~3 % of
// a node's time per call, one call at a time (measured with `--prof`). This
// cache hands out the string it saw first, already internalized, so that
// work happens once per name instead of once per request. A name is found by
// comparing contents, which needs no hash.

const SLOTS = 256;
const MAX_LENGTH = 64;
const slots = new Array<string>(SLOTS).fill("");

/**
 * The cached string equal to `s`, or `s` itself (internalized) after it
 * takes its slot.
 */
export function intern(s: string): string {
  const length = s.length;
  if (length === 0 || length > MAX_LENGTH) return s;
  const slot = (length * 31 + s.charCodeAt(0) * 7 + s.charCodeAt(length - 1)) & (SLOTS - 1);
  const cached = slots[slot]!;
  if (cached === s) return cached;
  // A string used as a property name comes back from Object.keys internalized.
  const internalized = Object.keys({ [s]: 0 })[0] ?? s;
  slots[slot] = internalized;
  return internalized;
}
