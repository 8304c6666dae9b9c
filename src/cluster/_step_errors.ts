// Copyright 2026 the mpreg authors. MIT license.
/**
 * The errors of steps the cluster could not place or start. Private to the
 * cluster layer.
 *
 * @module
 */
import { ErrorCode } from "../protocol/codes.ts";
import {
  FunctionNotFoundError,
  NotStartedError,
  PermissionDeniedError,
  type RpcError,
} from "../protocol/errors.ts";
import type { Step } from "../protocol/step.ts";
import { Unstarted } from "./peer_link_host.ts";

/** No member offers the step's function with its resources. */
export function noRoute(
  step: Pick<Step, "name" | "fun" | "locs">,
  node: string,
): FunctionNotFoundError {
  const locs = step.locs.length === 0 ? "" : ` with resources ${JSON.stringify(step.locs)}`;
  return new FunctionNotFoundError(
    `No node offers function "${step.fun}"${locs} (step "${step.name}")`,
    { details: { step: step.name, fun: step.fun, locs: step.locs, node } },
  );
}

/** A step that would go to a member whose grants differ from this node's and that did not agree. */
export function notAgreed(
  step: Pick<Step, "name" | "fun">,
  node: string,
  principal: string,
): RpcError {
  return new PermissionDeniedError(
    `Step "${step.name}": node "${node}" has not agreed that principal "${principal}" may run ` +
      `"${step.fun}" there (its grants differ from this node's)`,
    { details: { step: step.name, fun: step.fun, principal, node, missing: "agreement" } },
  );
}

/** A step that provably did not start: `message` says why. */
export function notStarted(message: string): Unstarted {
  return new Unstarted(new NotStartedError(message));
}

/**
 * What the caller gets for a step that no member started: a member's own
 * verdict (1001, 1009, 1012) as it is, but a lost link or a member shutting
 * down as a {@linkcode NotStartedError} naming the step: a 1013 would say it
 * may have run, and a 1014 would say the node the client called is leaving.
 */
export function neverStarted(step: Pick<Step, "name" | "fun">, error: RpcError): RpcError {
  const code = error.code;
  if (
    code !== ErrorCode.NotStarted && code !== ErrorCode.Connection &&
    code !== ErrorCode.Unavailable
  ) {
    return error;
  }
  const details = error.details !== null && typeof error.details === "object" ? error.details : {};
  return new NotStartedError(`Step "${step.name}" (${step.fun}) did not start: ${error.message}`, {
    details: { ...details, step: step.name, fun: step.fun },
    cause: error,
  });
}
