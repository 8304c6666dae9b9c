// Copyright 2026 the mpreg authors. MIT license.
/**
 * Where a sandboxed function comes from: a module's export or source text.
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * A function exported by a module. The module is loaded only inside the
 * sandbox processes, never in the calling process, and only after its
 * module graph passed `checkModuleGraph()`.
 *
 * @example
 * ```ts ignore
 * import type { ModuleFunctionSpec } from "@mpreg/mpreg";
 * const spec: ModuleFunctionSpec = { module: "file:///srv/functions.ts", exportName: "add" };
 * console.log(spec.exportName);
 * ```
 */
export interface ModuleFunctionSpec {
  /** The module: a URL (`file:`, `https:`, …) or a path, resolved against the current directory. */
  module: string | URL;
  /**
   * The export to call.
   *
   * @default {the function's name}
   */
  exportName?: string;
}

/**
 * A self-contained function given as source text, usually `fn.toString()`.
 * It is compiled inside the sandbox processes: closures over the caller's
 * variables and the caller's imports are not available.
 *
 * @example
 * ```ts ignore
 * import type { SourceFunctionSpec } from "@mpreg/mpreg";
 * const add = (a: number, b: number): number => a + b;
 * const spec: SourceFunctionSpec = { source: add.toString() };
 * console.log(spec.source);
 * ```
 */
export interface SourceFunctionSpec {
  /** The function's source: a function expression, an arrow function or a method. */
  source: string;
}

/**
 * Where a sandboxed function comes from.
 *
 * @example
 * ```ts ignore
 * import type { FunctionSpec } from "@mpreg/mpreg";
 * const specs: FunctionSpec[] = [{ module: "./functions.ts", exportName: "add" }, { source: "() => 1" }];
 * console.log(specs.length);
 * ```
 */
export type FunctionSpec = ModuleFunctionSpec | SourceFunctionSpec;

/**
 * A function a {@linkcode WorkerPool} can call: a {@linkcode FunctionSpec}
 * plus the name used in messages and errors.
 *
 * @example
 * ```ts ignore
 * import type { FunctionRef } from "@mpreg/mpreg";
 * const ref: FunctionRef = { name: "add", source: "(a, b) => a + b" };
 * console.log(ref.name);
 * ```
 */
export type FunctionRef = { readonly name: string } & FunctionSpec;

/**
 * The URL of a sandboxed module given as a URL or a path (resolved against
 * the current directory).
 *
 * @param module The module.
 * @returns Its URL.
 * @throws {TypeError} when it is neither.
 *
 * @example
 * ```ts ignore
 * import { moduleUrl } from "@mpreg/mpreg";
 * console.log(moduleUrl("/srv/fns.ts")); // file:///srv/fns.ts
 * ```
 */
export function moduleUrl(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== "string" || module === "") {
    throw new TypeError("Invalid sandboxed module: expected a URL or a path");
  }
  if (/^[a-z][a-z0-9+.-]+:/i.test(module)) {
    try {
      return new URL(module).href;
    } catch {
      throw new TypeError(`Invalid sandboxed module "${module}": not a URL`);
    }
  }
  return pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
}
