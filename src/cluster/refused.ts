// Copyright 2026 the mpreg authors. MIT license.
// Errors of steps a node refused without running them although it offers
// the function: its sandbox was at its cap of calls in flight. A step
// forwarded from another member and refused so is answered `started: false`,
// and its coordinator sends it to another candidate. The mark lives here,
// not in the error, so a function cannot claim it by throwing.

const refused = new WeakSet<object>();

/** Marks `error` as the refusal of a step that did not start; returns it. */
export function refusedUnstarted<E extends object>(error: E): E {
  refused.add(error);
  return error;
}

/** Whether `error` was marked by {@linkcode refusedUnstarted}. */
export function isRefusedUnstarted(error: unknown): boolean {
  return typeof error === "object" && error !== null && refused.has(error);
}
