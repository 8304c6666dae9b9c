// Copyright 2026 the mpreg authors. MIT license.
/**
 * The steps of a call or a request as they are sent: from what a caller
 * wrote to the wire's shape. Private to the client; browser-safe.
 *
 * @module
 */
import { LITERAL_KEY, type Step } from "../protocol/step.ts";
import type { StepInput } from "./options.ts";

/** The steps as sent: empty `kwargs` and `locs` are left out (the node defaults them). */
export type WireStep = Pick<Step, "name" | "fun" | "args"> & Partial<Pick<Step, "kwargs" | "locs">>;

/** A step in the wire's shape, leaving out empty `kwargs` and `locs`. */
export function toWireStep(
  name: string,
  fun: string,
  args: unknown[] | undefined,
  kwargs: Record<string, unknown> | undefined,
  locs: string[] | undefined,
): WireStep {
  const step: WireStep = { name, fun, args: args ?? [] };
  if (kwargs !== undefined && Object.keys(kwargs).length > 0) step.kwargs = kwargs;
  if (locs !== undefined && locs.length > 0) step.locs = locs;
  return step;
}

/** A step as a caller wrote it, checked, in the wire's shape. */
export function fromInput(input: StepInput, index: number): WireStep {
  if (input === null || typeof input !== "object") {
    throw new TypeError(`Step ${index} is not an object`);
  }
  if (typeof input.name !== "string") throw new TypeError(`Step ${index} has no name`);
  if (typeof input.fun !== "string") throw new TypeError(`Step "${input.name}" has no fun`);
  return toWireStep(input.name, input.fun, input.args, input.kwargs, input.locs);
}

/**
 * In a one-step call the only possible reference is to the step itself: wraps
 * strings that would read as one so they arrive verbatim.
 */
export function escapeSelf(value: unknown, name: string): unknown {
  // `name` itself, or `name.` and a path (checked without allocating).
  return escapeStrings(
    value,
    (s) =>
      s.length === name.length
        ? s === name
        : s.length > name.length && s.charCodeAt(name.length) === 46 && s.startsWith(name),
  );
}

/**
 * Wraps in `literal()` every string of a value that `reads` says a node would
 * take for a reference (at any depth in arrays and plain objects' values, the
 * places the node looks), and every plain object a node would take for a
 * literal wrapper; `leaf` may replace other objects (say, by a reference).
 * Copies only the arrays and objects on the way to a change.
 */
export function escapeStrings(
  value: unknown,
  reads: (s: string) => boolean,
  leaf?: (value: object) => unknown,
): unknown {
  if (typeof value === "string") return reads(value) ? { [LITERAL_KEY]: value } : value;
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v = escapeStrings(value[i], reads, leaf);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return leaf === undefined ? value : leaf(value);
  const record = value as Record<string, unknown>;
  let out: Record<string, unknown> | null = null;
  for (const key of Object.keys(record)) {
    const v = escapeStrings(record[key], reads, leaf);
    // The copy owns `key` already, so even "__proto__" is set as a key.
    if (v !== record[key]) (out ??= { ...record })[key] = v;
  }
  if (out === null && Object.keys(record).length === 1 && LITERAL_KEY in record) {
    return { [LITERAL_KEY]: record };
  }
  return out ?? value;
}
