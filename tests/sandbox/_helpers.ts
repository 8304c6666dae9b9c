// Copyright 2026 the mpreg authors. MIT license.
// Shared bits of the sandbox tests.
import { fileURLToPath } from "node:url";
import type { CallContext } from "../../src/registry/registry.ts";

/** The fixtures folder, as a path. */
export const FIXTURES: string = fileURLToPath(new URL("../fixtures/sandbox/", import.meta.url));
/** The fixture functions module, as a URL. */
export const FUNCTIONS: string = new URL("../fixtures/sandbox/functions.ts", import.meta.url).href;
/** The data folder functions may be allowed to read. */
export const DATA: string = `${FIXTURES}data`;
/** A file in it. */
export const HELLO: string = `${DATA}/hello.txt`;

/** A call context, with a fresh signal unless one is given. */
export function context(
  step = "s1",
  signal: AbortSignal = new AbortController().signal,
): CallContext {
  return {
    signal,
    deadline: Date.now() + 30_000,
    step,
    requestId: 7,
    node: "n1",
    progress: () => {},
  };
}

/** Awaits `promise`, expecting a rejection, and returns the reason. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection, the promise resolved");
}

/** Polls `check` every 10 ms until it returns true or `ms` pass. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms = 5_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
