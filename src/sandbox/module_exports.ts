// Copyright 2026 the mpreg authors. MIT license.
/**
 * Lists a module's exported functions without running it in this process:
 * a throwaway worker with the module's own permissions imports it.
 *
 * @module
 */
import { type FunctionPermissions, toWorkerPermissions } from "./permissions.ts";

/**
 * The names of the functions a module exports (without `default`), found by
 * importing it in a worker that holds exactly `permissions`, so the module's
 * top-level code never runs with this process's permissions.
 *
 * @param module The module's URL.
 * @param permissions What the module's functions may touch.
 * @param timeoutMs How long the worker may take.
 * @returns The export names, sorted.
 * @throws {Error} when the module cannot be loaded (its message says why).
 *
 * @example
 * ```ts ignore
 * import { moduleExports } from "@mpreg/mpreg";
 * console.log(await moduleExports(new URL("./fns.ts", import.meta.url).href, {}));
 * ```
 */
export function moduleExports(
  module: string,
  permissions: FunctionPermissions,
  timeoutMs = 30_000,
): Promise<string[]> {
  // The worker's main module statically imports the user module: Deno loads
  // it with this process's read access, then runs it with the worker's.
  const main = [
    `import * as m from ${JSON.stringify(module)};`,
    "self.postMessage({ names: Object.keys(m).filter((k) =>",
    '  k !== "default" && typeof m[k] === "function").sort() });',
  ].join("\n");
  const url = `data:application/javascript;base64,${btoa(main)}`;
  const worker = new Worker(url, {
    type: "module",
    deno: { permissions: toWorkerPermissions(permissions) },
  } as WorkerOptions);
  const { promise, resolve, reject } = Promise.withResolvers<string[]>();
  const timer = setTimeout(
    () => reject(new Error(`Loading ${module} took more than ${timeoutMs} ms`)),
    timeoutMs,
  );
  worker.onmessage = (event: MessageEvent<{ names: string[] }>) => resolve(event.data.names);
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    reject(new Error(`Cannot load ${module}: ${event.message}`));
  };
  return promise.finally(() => {
    clearTimeout(timer);
    worker.terminate();
  });
}
