// Copyright 2026 the mpreg authors. MIT license.
/**
 * Sandboxed functions: child Deno processes holding exactly the permissions
 * a function declares (`net`, `read`, `write`, `env`, `run`, `ffi`, `sys`),
 * with a memory cap, pooled warm per permission profile. A module's graph is
 * checked against what its functions declare before it loads.
 *
 * A function that reaches beyond its grant fails with a
 * `PermissionDeniedError` naming the step and what was denied; the pool
 * stays healthy and the next call works.
 *
 * @example
 * ```ts ignore
 * import { missingHostPermissions, normalizePermissions, Sandbox } from "@mpreg/mpreg";
 * const permissions = normalizePermissions({ net: ["127.0.0.1:8080"] });
 * const missing = await missingHostPermissions(permissions);
 * if (missing.length > 0) throw new Error(`Missing: ${missing.join(", ")}`);
 * const sandbox = new Sandbox();
 * const get = sandbox.load("get", { module: "./functions.ts", exportName: "fetchUrl" }, permissions);
 * await sandbox.ready();
 * const context = {
 *   signal: AbortSignal.timeout(5_000),
 *   deadline: Date.now() + 5_000,
 *   step: "s1",
 *   requestId: 1,
 *   node: "n1",
 * };
 * console.log(await get(context, ["http://127.0.0.1:8080/"], undefined));
 * await sandbox.close();
 * ```
 *
 * @module
 */
export type { RequestId } from "../protocol/messages.ts";
export type { CallContext } from "../registry/registry.ts";
export * from "./permissions.ts";
export * from "./pool.ts";
export * from "./sandbox.ts";
export * from "./module_graph.ts";
export * from "./policy_error.ts";
