// Copyright 2026 the mpreg authors. MIT license.
/**
 * What a node tells a caller about its own failures.
 *
 * An {@linkcode InternalError} (code 1002) is the node's fault, not the
 * caller's, and its text can hold what a caller must not learn: file paths,
 * module URLs, stack traces, the text of an underlying error. Before such an
 * error leaves the node (to a client, or to the peer that forwarded the step)
 * it is replaced by a generic one that names the node and an id; the detail
 * is logged at error level on that node under the same id. The caller keeps
 * the step and function names, which are its own.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ErrorCode } from "./codes.ts";
import { InternalError, type RpcError } from "./errors.ts";

const log = getLogger(["mpreg", "internal"]);

const ID = /^[0-9a-f]{16}$/;

/** The only details of an internal error a caller gets, besides the id and the node. */
const SAFE_DETAILS = ["step", "fun"] as const;

/** The generic message of an internal error on `node` with `id`. */
function publicMessage(node: string, id: string): string {
  return `Internal error on node "${node}" (id ${id}): see that node's log`;
}

function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The causes of an error, one per line, as text for the log. */
function causes(error: unknown): string | undefined {
  const lines: string[] = [];
  let cause = error instanceof Error ? error.cause : undefined;
  // Bounded: a cause chain may loop.
  for (let depth = 0; cause !== undefined && depth < 8; depth++) {
    lines.push(
      cause instanceof Error ? (cause.stack ?? `${cause.name}: ${cause.message}`) : String(cause),
    );
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return lines.length === 0 ? undefined : lines.join("\ncaused by: ");
}

/**
 * The error a caller may see for `error`: `error` itself unless it is an
 * internal error (code 1002). An internal error becomes
 * `Internal error on node "<node>" (id <16 hex digits>): see that node's log`
 * with details `{ id, node, step?, fun? }`, and its message, details, cause
 * and stack are logged at error level (category `["mpreg", "internal"]`) with
 * the same `id` and `node`. An internal error that is already generic (one
 * a peer answered for a forwarded step) keeps its id and node, and is not
 * logged again: the id points to the log of the node where it happened.
 *
 * @param error The error about to be sent.
 * @param node The name of this node.
 * @param context More properties for the log record (the request id, the step).
 * @returns The error to send.
 *
 * @example
 * ```ts
 * import { InternalError } from "../protocol/errors.ts";
 * import { publicError } from "./public_error.ts";
 * const sent = publicError(new InternalError("cannot open /etc/mpreg.yaml"), "n1");
 * console.log(sent.message.includes("/etc")); // false
 * ```
 */
export function publicError(
  error: RpcError,
  node: string,
  context: Record<string, unknown> = {},
): RpcError {
  if (error.code !== ErrorCode.Internal) return error;
  const details: Record<string, unknown> =
    typeof error.details === "object" && error.details !== null
      ? error.details as Record<string, unknown>
      : {};
  const safe: Record<string, unknown> = {};
  for (const key of SAFE_DETAILS) {
    if (typeof details[key] === "string") safe[key] = details[key];
  }
  const { id, node: where } = details;
  if (
    typeof id === "string" && ID.test(id) && typeof where === "string" &&
    error.message === publicMessage(where, id)
  ) {
    return new InternalError(error.message, { details: { id, node: where, ...safe } });
  }
  const fresh = newId();
  log.error("Internal error {id} on node {node}: {error}", {
    ...context,
    id: fresh,
    node,
    error: error.message,
    details: error.details,
    cause: causes(error),
    stack: error.stack,
  });
  return new InternalError(publicMessage(node, fresh), {
    details: { id: fresh, node, ...safe },
    cause: error,
  });
}
