// Copyright 2026 the mpreg authors. MIT license.
/**
 * The error of a sandboxed function refused by the sandbox's rules before
 * it loads.
 *
 * @module
 */
import { PermissionDeniedError, type RpcErrorOptions } from "../protocol/errors.ts";

/**
 * A sandboxed function refused before it loads (code 1009, like every
 * {@linkcode PermissionDeniedError}): its module graph reaches beyond what
 * it declares (see `checkModuleGraph()`), or a folder it may read or write
 * holds a symlink leading outside what it may touch. The node's program
 * exits with code 2 on it, as for any config to fix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PermissionDeniedError, SandboxPolicyError } from "@mpreg/mpreg";
 * const err = new SandboxPolicyError("the module imports ../node.yaml as text");
 * assert.ok(err instanceof PermissionDeniedError);
 * assert.equal(err.code, 1009);
 * assert.equal(err.name, "SandboxPolicyError");
 * ```
 */
export class SandboxPolicyError extends PermissionDeniedError {
  /**
   * Creates the error.
   *
   * @param message What was refused and what it needs.
   * @param options Details and cause.
   */
  constructor(message: string, options: RpcErrorOptions = {}) {
    super(message, options);
    this.name = "SandboxPolicyError";
  }
}
