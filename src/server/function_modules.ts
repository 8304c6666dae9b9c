// Copyright 2026 the mpreg authors. MIT license.
/**
 * Loads the functions a config file names: every exported function of a
 * module, under its export name.
 *
 * @module
 */
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
