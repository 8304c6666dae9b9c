// Copyright 2026 the mpreg authors. MIT license.
// Paths and hosts the sandbox compares against declared permissions: real
// paths (symlinks resolved), folder coverage, `net` entries, and the scan for
// symlinks that lead out of an allowed folder.
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { PermissionValue } from "./permissions.ts";

export { dirname };

/** A `file:` URL as a path. */
export function fromFileUrl(url: string): string {
  return fileURLToPath(url);
}

/** The real path of `path` (symlinks resolved), or `null` when it does not exist. */
export function realPath(path: string): string | null {
  try {
    return Deno.realPathSync(path);
  } catch {
    return null;
  }
}

/** Paths a permission covers: every path, or these folders and files (as given and real). */
export interface AllowedPaths {
  /** Every path (`true`). */
  all: boolean;
  /** The entries, each as given and, when it differs, as its real path. */
  paths: string[];
}

/**
 * The paths a `read` or `write` value covers, with each entry's real path
 * added when it differs (a folder given through a symlink covers its target).
 */
export function allowedPaths(value: PermissionValue | undefined): AllowedPaths {
  if (value === true) return { all: true, paths: [] };
  if (!Array.isArray(value)) return { all: false, paths: [] };
  const paths = new Set<string>();
  for (const entry of value) {
    const path = resolve(entry);
    paths.add(path);
    const real = realPath(path);
    if (real !== null) paths.add(real);
  }
  return { all: false, paths: [...paths] };
}

/** Whether `path` is one of the allowed paths or inside one of the allowed folders. */
export function covers(allowed: AllowedPaths, path: string): boolean {
  if (allowed.all) return true;
  for (const entry of allowed.paths) {
    if (path === entry) return true;
    const folder = entry.endsWith(sep) ? entry : entry + sep;
    if (path.startsWith(folder)) return true;
  }
  return false;
}

/**
 * Whether a `net` value lets a function reach `host:port`: `true`, or an
 * entry naming the host (any port) or the host and that port.
 */
export function netAllows(net: PermissionValue | undefined, host: string, port: number): boolean {
  if (net === true) return true;
  if (!Array.isArray(net)) return false;
  const bare = host.startsWith("[") ? host.slice(1, -1) : host;
  for (const entry of net) {
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
    if (match === null) continue;
    const entryHost = match[1]!.startsWith("[") ? match[1]!.slice(1, -1) : match[1]!;
    if (entryHost.toLowerCase() !== bare.toLowerCase()) continue;
    if (match[2] === undefined || Number(match[2]) === port) return true;
  }
  return false;
}

function linkTarget(link: string): string | null {
  try {
    return resolve(dirname(link), Deno.readLinkSync(link));
  } catch {
    return null;
  }
}

/** A symlink under an allowed folder whose target lies outside what the function may touch. */
export interface EscapingLink {
  /** `read` or `write`. */
  kind: "read" | "write";
  /** The link. */
  link: string;
  /** Its real target. */
  target: string;
}

/** What {@linkcode scanSymlinks} found. */
export interface SymlinkScan {
  /** Links that lead outside the allowed set. */
  escaping: EscapingLink[];
  /** Folders not scanned completely because the bound was reached. */
  truncated: string[];
}

/**
 * Walks the folders of a `read` or `write` value (at most `bound` entries in
 * all) for symlinks whose real target is not covered by the same value: Deno
 * checks the path a function names, not the link's target, so such a link
 * would expose its target.
 *
 * @param kind Which permission the value is.
 * @param value The value.
 * @param bound The most directory entries to read.
 * @returns The escaping links, and the folders left unfinished.
 */
export function scanSymlinks(
  kind: "read" | "write",
  value: PermissionValue | undefined,
  bound: number,
): SymlinkScan {
  const out: SymlinkScan = { escaping: [], truncated: [] };
  if (!Array.isArray(value)) return out;
  const allowed = allowedPaths(value);
  let budget = bound;
  for (const entry of value) {
    const start = resolve(entry);
    const stack = [start];
    let complete = true;
    while (stack.length > 0) {
      const dir = stack.pop()!;
      let entries: Iterable<Deno.DirEntry>;
      try {
        if (!Deno.statSync(dir).isDirectory) continue;
        entries = Deno.readDirSync(dir);
      } catch {
        continue;
      }
      for (const item of entries) {
        if (budget-- <= 0) {
          complete = false;
          break;
        }
        const path = join(dir, item.name);
        if (item.isSymlink) {
          // A dangling link is judged by what it names: its target may appear later.
          const target = realPath(path) ?? linkTarget(path);
          if (target !== null && !covers(allowed, target)) {
            out.escaping.push({ kind, link: path, target });
          }
        } else if (item.isDirectory) {
          stack.push(path);
        }
      }
      if (!complete) break;
    }
    if (!complete) out.truncated.push(start);
    if (budget <= 0) break;
  }
  return out;
}
