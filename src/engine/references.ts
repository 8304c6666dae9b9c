// Copyright 2026 the mpreg authors. MIT license.
/**
 * References: strings in a step's arguments that stand for another step's
 * result.
 *
 * A string that equals a step name refers to that step's whole result. A
 * string `name.key.0.key` refers to a value inside it: object keys and array
 * indices, separated by dots. When several step names fit (say `a` and `a.b`
 * for `a.b.c`), the longest wins. Only whole strings count: `"x step1"` is
 * just text. Strings are found at any depth inside arrays and in the values
 * (not the keys) of plain objects.
 *
 * To pass a string that happens to equal a step name, wrap it with
 * {@linkcode literal}: `{ $literal: value }` is replaced by `value` as is,
 * without looking inside.
 *
 * @module
 */
import { GraphError } from "../protocol/errors.ts";
import { LITERAL_KEY } from "../protocol/step.ts";
import { NameIndex } from "./_name_index.ts";

// The wrapper itself is part of the protocol (clients build it too).

/** A parsed reference: a step name and the keys to walk into its result. */
export interface Reference {
  /** The referenced step's name. */
  step: string;
  /** Object keys or array indices to walk, in order; empty for the whole result. */
  path: string[];
}

/**
 * Tells whether a value is a literal wrapper: a plain object whose one and
 * only own key is `"$literal"`.
 *
 * @param value Any value.
 * @returns `true` for `{ $literal: x }`, `false` otherwise.
 *
 * @example
 * ```ts
 * import { literal } from "@mpreg/mpreg";
 * import { isLiteral } from "./references.ts";
 * console.log(isLiteral(literal("a"))); // true
 * console.log(isLiteral({ $literal: "a", other: 1 })); // false
 * ```
 */
export function isLiteral(value: unknown): value is { $literal: unknown } {
  return isPlainObject(value) && Object.hasOwn(value, LITERAL_KEY) &&
    Object.keys(value).length === 1;
}

/**
 * Parses a string as a reference to one of the given step names.
 *
 * If `s` is a step name, it refers to that step's whole result. Otherwise
 * the prefixes of `s` that end just before a `.` are tried, longest first;
 * the first one that is a step name is the step, and the rest of `s`, split
 * on `.`, is the path.
 *
 * @param s The string to parse.
 * @param names The step names of the request.
 * @returns The reference, or `null` if `s` refers to no step.
 *
 * @example
 * ```ts
 * import { parseReference } from "./references.ts";
 * const names = new Set(["a", "a.b"]);
 * console.log(parseReference("a", names)); // { step: "a", path: [] }
 * console.log(parseReference("a.b.c", names)); // { step: "a.b", path: [ "c" ] }
 * console.log(parseReference("x a", names)); // null
 * ```
 */
export function parseReference(s: string, names: ReadonlySet<string>): Reference | null {
  return new NameIndex(names).parse(s);
}

/**
 * Finds the steps a value refers to.
 *
 * Strings are looked for at any depth inside arrays and in the values of
 * plain objects; object keys and literal wrappers are skipped, and every
 * other value (numbers, booleans, `null`, `Uint8Array`, `Date`, ...) is a leaf.
 *
 * @param value The value to scan, such as a step's arguments.
 * @param names The step names of the request.
 * @returns The names of the referenced steps.
 *
 * @example
 * ```ts
 * import { literal } from "@mpreg/mpreg";
 * import { findReferences } from "./references.ts";
 * const names = new Set(["a", "b", "c"]);
 * const value = ["a", { key: ["b.total"] }, literal("c"), "d"];
 * console.log(findReferences(value, names)); // Set(2) { "a", "b" }
 * ```
 */
export function findReferences(value: unknown, names: ReadonlySet<string>): Set<string> {
  const index = new NameIndex(names);
  const found = new Set<string>();
  scanValue(value, (s) => {
    const ref = index.parse(s);
    if (ref !== null) found.add(ref.step);
  });
  return found;
}

/**
 * Replaces the references in a value with the results they refer to, and
 * literal wrappers with their contents.
 *
 * Nothing is copied unless something changes: a value without references or
 * literal wrappers is returned as is, and only the arrays and objects on the
 * way to a change are copied. Results are inserted as they are; they are not
 * resolved again.
 *
 * @param value The value to resolve, such as one argument.
 * @param results The results so far, by step name.
 * @param names The step names of the request.
 * @param stepName The step the value belongs to, for error messages.
 * @returns The resolved value.
 * @throws {GraphError} If a path walks into a missing key, an index out of
 * range or a value that has no keys, or a referenced step has no result.
 *
 * @example
 * ```ts
 * import { literal } from "@mpreg/mpreg";
 * import { resolveValue } from "./references.ts";
 * const names = new Set(["a", "b"]);
 * const results = new Map<string, unknown>([["a", { items: [{ name: "x" }] }]]);
 * const value = { first: "a.items.0.name", text: literal("a") };
 * console.log(resolveValue(value, results, names, "b")); // { first: "x", text: "a" }
 * ```
 */
export function resolveValue(
  value: unknown,
  results: ReadonlyMap<string, unknown>,
  names: ReadonlySet<string>,
  stepName: string,
): unknown {
  const index = new NameIndex(names);
  return resolveWith(value, (s) => {
    const ref = index.parse(s);
    if (ref === null) return s;
    if (!results.has(ref.step)) {
      throw new GraphError(
        `Step ${JSON.stringify(stepName)}: reference ${JSON.stringify(s)} names step ${
          JSON.stringify(ref.step)
        }, which has no result`,
        { details: { step: stepName, reference: s } },
      );
    }
    return walkPath(results.get(ref.step), ref.path, s, stepName);
  });
}

// ---------------------------------------------------------------------------
// Building blocks shared with graph.ts and execute.ts (not re-exported by mod.ts).

/**
 * Tells whether a value is a plain object: its prototype is `Object.prototype`
 * or `null`. Arrays, class instances, `Date`, `Uint8Array` and so on are not.
 *
 * @param value Any value.
 * @returns Whether `value` is a plain object.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Calls `visit` with every string that could be a reference in `value`, in the
 * places {@linkcode findReferences} looks.
 *
 * @param value The value to scan.
 * @param visit Called once per string found.
 * @returns Whether a literal wrapper was met.
 */
export function scanValue(value: unknown, visit: (s: string) => void): boolean {
  if (typeof value === "string") {
    visit(value);
    return false;
  }
  if (typeof value !== "object" || value === null) return false;
  let sawLiteral = false;
  if (Array.isArray(value)) {
    for (const item of value) if (scanValue(item, visit)) sawLiteral = true;
    return sawLiteral;
  }
  if (!isPlainObject(value)) return false;
  if (isLiteral(value)) return true;
  for (const key of Object.keys(value)) if (scanValue(value[key], visit)) sawLiteral = true;
  return sawLiteral;
}

/**
 * Resolves a value, mapping every string through `substitute` and unwrapping
 * literal wrappers; copy-on-write, like {@linkcode resolveValue}.
 *
 * @param value The value to resolve.
 * @param substitute Returns the value a string stands for (the string itself if none).
 * @returns The resolved value, `value` itself if nothing changed.
 */
export function resolveWith(value: unknown, substitute: (s: string) => unknown): unknown {
  if (typeof value === "string") return substitute(value);
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return resolveItems(value, substitute);
  if (!isPlainObject(value)) return value;
  if (isLiteral(value)) return value[LITERAL_KEY];
  return resolveEntries(value, substitute);
}

/**
 * Resolves each element of an array (such as a step's `args`).
 *
 * @param items The array.
 * @param substitute As for {@linkcode resolveWith}.
 * @returns A resolved copy, or `items` itself if nothing changed.
 */
export function resolveItems(
  items: unknown[],
  substitute: (s: string) => unknown,
): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const next = resolveWith(item, substitute);
    if (!Object.is(next, item)) {
      out ??= items.slice();
      out[i] = next;
    }
  }
  return out ?? items;
}

/**
 * Resolves each value of a plain object (such as a step's `kwargs`, which is
 * never itself taken for a literal wrapper).
 *
 * @param entries The object.
 * @param substitute As for {@linkcode resolveWith}.
 * @returns A resolved copy, or `entries` itself if nothing changed.
 */
export function resolveEntries(
  entries: Record<string, unknown>,
  substitute: (s: string) => unknown,
): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(entries)) {
    const item = entries[key];
    const next = resolveWith(item, substitute);
    if (!Object.is(next, item)) {
      // The copy already owns `key`, so this plain assignment cannot hit the
      // inherited `__proto__` setter.
      out ??= copyObject(entries);
      out[key] = next;
    }
  }
  return out ?? entries;
}

function copyObject(entries: Record<string, unknown>): Record<string, unknown> {
  // Spread and Object.assign define own properties, so even a "__proto__" key
  // is copied as a key; a null prototype is kept.
  return Object.getPrototypeOf(entries) === null
    ? Object.assign(Object.create(null), entries)
    : { ...entries };
}

const INDEX = /^(?:0|[1-9][0-9]*)$/;

/**
 * Walks a reference's path into a result.
 *
 * @param base The referenced step's result.
 * @param path The keys and indices to walk.
 * @param reference The reference string, for the error message.
 * @param stepName The step being resolved, for the error message.
 * @returns The value at the end of the path.
 * @throws {GraphError} If a key is missing, an index is out of range or a
 * value on the way is neither an array nor a plain object.
 */
export function walkPath(
  base: unknown,
  path: readonly string[],
  reference: string,
  stepName: string,
): unknown {
  let value = base;
  for (const key of path) {
    if (Array.isArray(value)) {
      if (INDEX.test(key) && Number(key) < value.length) {
        value = value[Number(key)];
        continue;
      }
    } else if (isPlainObject(value) && Object.hasOwn(value, key)) {
      value = value[key];
      continue;
    }
    throw new GraphError(
      `Step ${JSON.stringify(stepName)}: reference ${JSON.stringify(reference)} has no key ${
        JSON.stringify(key)
      }`,
      { details: { step: stepName, reference, key } },
    );
  }
  return value;
}
