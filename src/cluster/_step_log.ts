// Copyright 2026 the mpreg authors. MIT license.
/**
 * The log line of a step run here for another member that ended without a
 * value: a warning when it failed, debug when it was cancelled or refused
 * unstarted. Private to the cluster layer.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { CancelledError, type RpcError } from "../protocol/errors.ts";

const log = getLogger(["mpreg", "cluster", "runs"]);

/**
 * Logs a step's end without a value, once, under the request's id on the
 * node it entered.
 *
 * @param error The step's error.
 * @param started False when it was refused unstarted.
 * @param properties The line's properties: the request, the step, its
 *   function, its error's code and message, and where it came from.
 */
export function logStepEnded(
  error: RpcError,
  started: boolean,
  properties: Record<string, unknown>,
): void {
  if (started && !(error instanceof CancelledError)) {
    log.warn("Step {step} ({fun}) of request {requestId} failed: {error}", properties);
  } else {
    log.debug("Step {step} ({fun}) of request {requestId} ended: {error}", properties);
  }
}
