// Copyright 2026 the mpreg authors. MIT license.
/**
 * Loads the functions a config file names: every exported function of a
 * module, under its export name.
 *
 * @module
 */
import type { FunctionSchemas } from "../registry/function_schemas.ts";
import type { RpcFunction } from "../registry/registry.ts";

/**
 * Imports a module and returns its exported functions by export name
 * (`default` is skipped: it has no useful name).
 *
 * @param url The module's URL (`file:` or any URL Deno can import).
 * @returns Export name → function.
 * @throws {Error} when the module cannot be imported or exports no function.
 */
export async function importFunctions(url: string): Promise<Map<string, RpcFunction>> {
  const module = await import(url) as Record<string, unknown>;
  const functions = new Map<string, RpcFunction>();
  for (const [name, value] of Object.entries(module)) {
    if (name !== "default" && typeof value === "function") {
      functions.set(name, value as RpcFunction);
    }
  }
  if (functions.size === 0) throw new Error(`Module ${url} exports no function`);
  return functions;
}

/**
 * The schemas a trusted module describes its functions with: its `schemas`
 * export, a map from function name to `{ args, kwargs, result, doc }`.
 *
 * @example A module with its schemas
 * ```ts ignore
 * // fns.ts
 * import * as z from "zod";
 * export const add = (a: number, b: number) => a + b;
 * export const schemas = {
 *   add: { args: [z.number(), z.number()], result: z.number(), doc: "Adds two numbers." },
 * };
 * ```
 *
 * @param url The module's URL (already imported by {@linkcode importFunctions}).
 * @param names The functions it exports.
 * @returns Function name → its schemas; empty when it exports no `schemas`.
 * @throws {TypeError} when `schemas` is not a map or names a function the module does not export.
 */
export async function importSchemas(
  url: string,
  names: readonly string[],
): Promise<Record<string, FunctionSchemas>> {
  const module = await import(url) as Record<string, unknown>;
  const schemas = module.schemas;
  if (schemas === undefined) return {};
  if (typeof schemas !== "object" || schemas === null || Array.isArray(schemas)) {
    throw new TypeError(`${url}: the "schemas" export must be a map of function name to schemas`);
  }
  const unknown = Object.keys(schemas).filter((name) => !names.includes(name));
  if (unknown.length > 0) {
    throw new TypeError(
      `${url}: "schemas" describes ${unknown.map((n) => `"${n}"`).join(", ")}, which it does ` +
        `not export as a function (it exports ${names.map((n) => `"${n}"`).join(", ")})`,
    );
  }
  return schemas as Record<string, FunctionSchemas>;
}
