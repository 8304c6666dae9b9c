// Copyright 2026 the mpreg authors. MIT license.
// The Deno executable that runs sandbox processes and reads module graphs,
// and the config file that applies to a module.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The running Deno CLI, which the sandbox runs again as child processes
 * (`deno run`) and to read module graphs (`deno info`).
 *
 * @returns Its path.
 * @throws {TypeError} in a binary built with `deno compile`: such a binary
 *   is not the Deno CLI, its permissions are fixed at compile time, and the
 *   sandbox's runtime module is not on disk for another Deno to load.
 */
export function denoExecutable(): string {
  if ((Deno.build as { standalone?: boolean }).standalone === true) {
    throw new TypeError(
      "Sandboxed functions cannot run in a binary built with deno compile: the sandbox starts " +
        "child processes of the Deno CLI with the functions' permissions. Run the node with " +
        "`deno run`, or mark the functions trusted",
    );
  }
  return Deno.execPath();
}

/**
 * The Deno config file that applies to a module, found as `deno run` finds
 * it for a main module: `deno.json` or `deno.jsonc` in the module's folder
 * or the nearest folder above it. A sandbox process is given it with
 * `--config` (its main module is a `data:` URL, for which Deno looks for
 * none), so the module's bare specifiers resolve as they would under
 * `deno run`.
 *
 * @param module The module's URL.
 * @returns The config's path, or `null` for none (and for remote modules).
 */
export function configFor(module: string): string | null {
  if (!module.startsWith("file:")) return null;
  let dir = dirname(fileURLToPath(module));
  while (true) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      const path = join(dir, name);
      try {
        if (Deno.statSync(path).isFile) return path;
      } catch {
        // Not here.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}
