// Copyright 2026 the mpreg authors. MIT license.
/**
 * The request's id on every log line written while one of its steps runs.
 *
 * @module
 */
import { getConfig, withContext } from "@logtape/logtape";

/**
 * Runs `fn` so that every LogTape record written meanwhile (by mpreg or by
 * the function it calls) carries `requestId` and `node`. Needs LogTape's
 * context storage (`contextLocalStorage`, which `server.ts` configures);
 * without it, or without an id, `fn` just runs.
 *
 * @param requestId The request's id on the node it entered, if known.
 * @param node This node's name.
 * @param fn What to run.
 * @returns What `fn` returns.
 */
export function inRequestContext<T>(
  requestId: string | number | undefined,
  node: string,
  fn: () => T,
): T {
  if (requestId === undefined || getConfig()?.contextLocalStorage === undefined) return fn();
  return withContext({ requestId, node }, fn);
}
