// Copyright 2026 the mpreg authors. MIT license.
/**
 * The module-graph rule of the sandbox: before a sandboxed function's
 * module is loaded, everything its graph reaches is checked against what the
 * function declares, because Deno loads a process's main module graph
 * without permission checks (see `_host.ts`).
 *
 * The rule, for every import reached from the module through code (static
 * imports and dynamic imports written as string literals; type-only imports
 * are not loaded and not checked):
 *
 * - **Code in the module's own folder tree** (JavaScript, TypeScript, JSX,
 *   Wasm under the folder of the function's module, after resolving
 *   symlinks) is allowed: it is the function's code.
 * - **Packages** (`npm:` and `node:` specifiers) are allowed: code, loaded
 *   from Deno's cache.
 * - **mpreg's own code** (this package's `src/` and its entry points, on
 *   disk or at the URL it was loaded from) is allowed, so that a function can
 *   import `AppError` and the other error classes.
 * - **Anything else on disk** (code outside the folder tree, and every file
 *   imported as data: `with { type: "text" | "bytes" | "json" }`) is allowed
 *   only when the function declares `read` access to its real path.
 * - **Remote modules** (`http:`, `https:`, which includes `jsr:` packages)
 *   are allowed only when the function declares `net` access to their host;
 *   a remote module the function may not reach is never fetched (the graph
 *   is read with `deno info --allow-import` limited to the declared hosts).
 * - **Code the function may write** is refused: a function that could rewrite
 *   its own code would be loaded unchecked by its next process.
 *
 * Imports computed at run time are not part of the graph: Deno checks them
 * (and all they import) against the process's own permissions.
 *
 * @module
 */
import { configFor, denoExecutable } from "./_deno.ts";
import {
  type AllowedPaths,
  allowedPaths,
  covers,
  dirname,
  fromFileUrl,
  netAllows,
  realPath,
} from "./_paths.ts";
import { type FunctionPermissions, importFlag } from "./permissions.ts";
import { SandboxPolicyError } from "./policy_error.ts";

/**
 * Why a module graph was refused, as `details` of the
 * {@linkcode SandboxPolicyError} {@linkcode checkModuleGraph} throws.
 *
 * @example
 * ```ts
 * import type { ModuleGraphViolation } from "./module_graph.ts";
 * const v: ModuleGraphViolation = {
 *   module: "file:///srv/fns/a.ts",
 *   import: "../node.yaml",
 *   from: "file:///srv/fns/a.ts:1",
 *   as: "text",
 *   missing: 'read access to "/srv/node.yaml"',
 *   functions: ["a"],
 * };
 * console.log(v.missing);
 * ```
 */
export interface ModuleGraphViolation {
  /** The function module whose graph was checked. */
  module: string;
  /** The import as written. */
  import: string;
  /** Where it is written: the importing module and line. */
  from: string;
  /** How it is imported: `code`, `text`, `bytes` or `json`. */
  as: string;
  /**
   * The permission it needs, as `read access to "/path"` or `net access to
   * "host:port"`, or `no write access to "/path"` for code the function may
   * write.
   */
  missing: string;
  /** The functions the module exports, when they could be listed without running it. */
  functions: string[];
}

/** Options of {@linkcode checkModuleGraph}. */
export interface CheckModuleGraphOptions {
  /**
   * The Deno executable that reads the graph (`deno info`).
   *
   * @default {the running Deno}
   */
  deno?: string;
  /**
   * The Deno config file to resolve the graph with, or `null` for none.
   *
   * @default {the one that applies to the module (see `configFor()`)}
   */
  config?: string | null;
}

interface InfoDependency {
  specifier: string;
  code?: { specifier?: string; error?: string; span?: { start: { line: number } } };
  isDynamic?: boolean;
  assertionType?: string;
}

interface InfoModule {
  specifier: string;
  kind?: string;
  local?: string;
  mediaType?: string;
  error?: string;
  dependencies?: InfoDependency[];
}

interface Info {
  roots: string[];
  modules: InfoModule[];
  redirects: Record<string, string>;
}

const CODE_MEDIA_TYPES = new Set([
  "JavaScript",
  "Mjs",
  "Cjs",
  "JSX",
  "TypeScript",
  "Mts",
  "Cts",
  "TSX",
  "Wasm",
]);

/** `deno info` runs one at a time: it may write the lock file. */
let infoQueue: Promise<unknown> = Promise.resolve();

function configFlags(config: string | null): string[] {
  return config === null ? ["--no-config"] : ["--config", config];
}

async function denoInfo(deno: string, module: string, flags: string[]): Promise<Info> {
  const run = async (): Promise<Info> => {
    const output = await new Deno.Command(deno, {
      args: ["info", "--json", ...flags, module],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    if (!output.success) {
      const why = new TextDecoder().decode(output.stderr).trim().replace(/^error: /, "");
      throw new Error(`Cannot read the module graph of ${module}: ${why}`);
    }
    return JSON.parse(text) as Info;
  };
  const result = infoQueue.then(run, run);
  infoQueue = result.catch(() => {});
  return await result;
}

/** The exported names of a module, read by `deno doc` without running it; empty on failure. */
async function exportedNames(deno: string, module: string, flags: string[]): Promise<string[]> {
  try {
    const output = await new Deno.Command(deno, {
      args: ["doc", "--json", ...flags, module],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!output.success) return [];
    const doc = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      nodes: Record<string, { symbols?: { name: string; declarations: { kind: string }[] }[] }>;
    };
    const names = new Set<string>();
    for (const node of Object.values(doc.nodes)) {
      for (const symbol of node.symbols ?? []) {
        if (
          symbol.name !== "default" &&
          symbol.declarations.some((d) => d.kind === "function" || d.kind === "variable")
        ) names.add(symbol.name);
      }
    }
    return [...names].sort();
  } catch {
    return [];
  }
}

function hostPort(url: URL): { host: string; port: number } {
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  return { host: url.hostname, port };
}

/** The folder tree that counts as a module's own code: its folder, real path. */
function codeRoot(module: URL): string | URL {
  if (module.protocol === "file:") {
    const dir = dirname(fromFileUrl(module.href));
    return realPath(dir) ?? dir;
  }
  return new URL("./", module);
}

/**
 * Checks a sandboxed function module's graph against the module-graph rule
 * (see the module documentation), without running any of it.
 *
 * @param module The module's URL.
 * @param permissions What its functions declare (normalized).
 * @param options The Deno executable.
 * @returns When the whole graph is within the rule.
 * @throws {SandboxPolicyError} (1009) for the first import beyond it,
 *   naming the module, its functions, the import, where it is written and
 *   the permission it needs; `details` is a {@linkcode ModuleGraphViolation}.
 * @throws {Error} when the graph cannot be read (a missing module, a syntax
 *   error: Deno's own message).
 *
 * @example
 * ```ts ignore
 * import { checkModuleGraph } from "./module_graph.ts";
 * await checkModuleGraph("file:///srv/fns/report.ts", { read: ["/srv/data"] });
 * ```
 */
export async function checkModuleGraph(
  module: string,
  permissions: FunctionPermissions,
  options: CheckModuleGraphOptions = {},
): Promise<void> {
  const deno = options.deno ?? denoExecutable();
  const root = new URL(module);
  const flags = [
    importFlag(permissions, [root]),
    ...configFlags(options.config === undefined ? configFor(root.href) : options.config),
  ];
  const info = await denoInfo(deno, root.href, flags);
  const violation = findViolation(info, root, permissions);
  if (violation === null) return;
  const functions = await exportedNames(deno, root.href, flags);
  const details: ModuleGraphViolation = { module: root.href, functions, ...violation };
  const named = functions.length > 0 ? ` (functions ${functions.join(", ")})` : "";
  const writes = violation.missing.startsWith("no write access");
  const what = violation.import === root.href
    ? "is code its functions may write"
    : `imports "${violation.import}" as ${violation.as} at ${violation.from}`;
  throw new SandboxPolicyError(
    `The sandboxed module ${root.href}${named} ${what}, which needs ${violation.missing}: ` +
      (writes ? "a function may not write its own code" : "its functions do not declare it"),
    { details },
  );
}

function findViolation(
  info: Info,
  root: URL,
  permissions: FunctionPermissions,
): Omit<ModuleGraphViolation, "module" | "functions"> | null {
  const byUrl = new Map(info.modules.map((m) => [m.specifier, m]));
  const resolve = (specifier: string): string => {
    let url = specifier;
    for (let i = 0; i < 10 && info.redirects[url] !== undefined; i++) url = info.redirects[url]!;
    return url;
  };
  const codeTree = codeRoot(root);
  const read: AllowedPaths = allowedPaths(permissions.read);
  const write: AllowedPaths = allowedPaths(permissions.write);
  const start = resolve(info.roots[0] ?? root.href);
  const seen = new Set<string>();
  const queue: string[] = [start];
  /** Code the function may write: it could rewrite what its next process loads unchecked. */
  const writable = (local: string | undefined, written: string, from: string) => {
    const real = local === undefined ? undefined : realPath(local) ?? local;
    if (real === undefined || !covers(write, real)) return null;
    return {
      import: written,
      from,
      as: "code",
      missing: `no write access to "${real}"`,
    };
  };
  const own = writable(byUrl.get(start)?.local, start, start);
  if (own !== null) return own;
  while (queue.length > 0) {
    const url = queue.shift()!;
    if (seen.has(url)) continue;
    seen.add(url);
    for (const dep of byUrl.get(url)?.dependencies ?? []) {
      const target = dep.code?.specifier;
      if (target === undefined) continue; // type-only: never loaded
      const line = dep.code?.span?.start.line;
      const from = line === undefined ? url : `${url}:${line + 1}`;
      const as = dep.assertionType ?? "code";
      const resolved = resolve(target);
      const mod = byUrl.get(resolved);
      const verdict = checkImport(resolved, as, mod, codeTree, read, permissions);
      if (verdict !== null) return { import: dep.specifier, from, as, missing: verdict };
      if (as !== "code") continue;
      const code = writable(mod?.local, dep.specifier, from);
      if (code !== null) return code;
      queue.push(resolved);
    }
  }
  return null;
}

/** This package's root (where `mod.ts` is), on disk or remote. */
const MPREG_ROOT = new URL("../../", import.meta.url);
const MPREG_ENTRIES = ["mod.ts", "client.ts", "server.ts"];

/** Whether `url` is one of mpreg's own modules (its `src/` or an entry point). */
function isMpregCode(url: URL): boolean {
  if (url.protocol !== MPREG_ROOT.protocol || url.origin !== MPREG_ROOT.origin) return false;
  if (url.protocol === "file:") {
    const root = realPath(fromFileUrl(MPREG_ROOT.href));
    const real = realPath(fromFileUrl(url.href));
    if (root == null || real == null) return false;
    const sep = real[root.length];
    if (!real.startsWith(root) || (sep !== "/" && sep !== "\\")) return false;
    const inside = real.slice(root.length + 1);
    return MPREG_ENTRIES.includes(inside) || /^src[\\/]/.test(inside);
  }
  const inside = url.pathname.startsWith(MPREG_ROOT.pathname)
    ? url.pathname.slice(MPREG_ROOT.pathname.length)
    : undefined;
  return inside !== undefined && (MPREG_ENTRIES.includes(inside) || inside.startsWith("src/"));
}

/** What an import needs beyond the declared permissions, or `null` when it is allowed. */
function checkImport(
  target: string,
  as: string,
  mod: InfoModule | undefined,
  codeTree: string | URL,
  read: AllowedPaths,
  permissions: FunctionPermissions,
): string | null {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return null; // Deno reports an unresolvable import when it loads.
  }
  if (as === "code" && isMpregCode(url)) return null;
  switch (url.protocol) {
    case "npm:":
    case "node:":
    case "data:":
      return null;
    case "http:":
    case "https:": {
      const { host, port } = hostPort(url);
      if (netAllows(permissions.net, host, port)) return null;
      if (
        as === "code" && typeof codeTree !== "string" && url.origin === codeTree.origin &&
        url.pathname.startsWith(codeTree.pathname)
      ) return null;
      return `net access to "${host}:${port}"`;
    }
    case "file:": {
      const local = mod?.local ?? fromFileUrl(url.href);
      const real = realPath(local) ?? local;
      const isCode = as === "code" && (mod?.mediaType === undefined ||
        CODE_MEDIA_TYPES.has(mod.mediaType));
      if (isCode && typeof codeTree === "string" && covers(allowedPaths([codeTree]), real)) {
        return null;
      }
      if (covers(read, real)) return null;
      return `read access to "${real}"`;
    }
    default:
      return `a ${url.protocol} import, which a sandboxed module may not make`;
  }
}
