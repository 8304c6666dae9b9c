// Copyright 2026 the mpreg authors. MIT license.
/**
 * The permissions a sandboxed function declares, in Deno's own vocabulary
 * (`net`, `read`, `write`, `env`, `run`, `ffi`, `sys`), and the helpers that
 * validate them, key sandbox pools by them, turn them into the flags of a
 * sandbox process, and check that this process holds them.
 *
 * @example Normalize a config entry and key its pool
 * ```ts ignore
 * import { normalizePermissions, profileKey } from "./permissions.ts";
 * const p = normalizePermissions({ read: ["./data"], net: false }, "/srv/app");
 * console.log(p); // { read: [ "/srv/app/data" ] }
 * console.log(profileKey(p)); // read=["/srv/app/data"]
 * ```
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * One kind of permission, named as Deno names it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type PermissionKind, PermissionDeniedError, Server } from "@mpreg/mpreg";
 * const kinds: PermissionKind[] = []; // anonymous callers may exercise none
 * await using server = await new Server({ port: 0, auth: { anonymous: { permissions: kinds } } })
 *   .register("fetchIt", () => "fetched", { permissions: { net: ["example.com"] } })
 *   .start();
 * await using client = new Client(server.url);
 * await assert.rejects(client.call("fetchIt"), PermissionDeniedError); // it declares "net"
 * ```
 */
export type PermissionKind = "net" | "read" | "write" | "env" | "run" | "ffi" | "sys";

/**
 * Every {@linkcode PermissionKind}, sorted.
 *
 * @example
 * ```ts ignore
 * import { SANDBOX_PERMISSION_KINDS } from "./permissions.ts";
 * console.log(SANDBOX_PERMISSION_KINDS.includes("net")); // true
 * ```
 */
export const SANDBOX_PERMISSION_KINDS: readonly PermissionKind[] = Object.freeze([
  "env",
  "ffi",
  "net",
  "read",
  "run",
  "sys",
  "write",
]);

/**
 * The value of one permission: `true` for everything of that kind, `false`
 * for nothing, or a list of hosts (`net`), paths (`read`, `write`, `ffi`),
 * variable names (`env`), commands (`run`) or `Deno` system-info names
 * (`sys`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FunctionPermissions, type PermissionValue, Server } from "@mpreg/mpreg";
 * const net: PermissionValue = ["127.0.0.1:8080"];
 * const env: PermissionValue = false;
 * const permissions: FunctionPermissions = { net, env };
 * await using server = await new Server({ port: 0 }).register("f", () => 1, { permissions }).start();
 * assert.deepEqual(server.cluster.self.permissions, { f: ["net"] });
 * ```
 */
export type PermissionValue = boolean | string[];

/**
 * What a function may touch. A missing key means `false`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FunctionPermissions, Server } from "@mpreg/mpreg";
 * const permissions: FunctionPermissions = { read: ["/srv/data"], net: ["api.example.com:443"] };
 * await using server = await new Server({ port: 0 })
 *   .register("load", () => 1, { permissions })
 *   .start();
 * assert.deepEqual(server.cluster.self.permissions, { load: ["net", "read"] });
 * ```
 */
export interface FunctionPermissions {
  /** Hosts, as `host[:port]` (`--allow-net`). */
  net?: PermissionValue;
  /** Readable paths (`--allow-read`). */
  read?: PermissionValue;
  /** Writable paths (`--allow-write`). */
  write?: PermissionValue;
  /** Environment variable names (`--allow-env`); a trailing `*` matches a prefix. */
  env?: PermissionValue;
  /** Commands that may be spawned (`--allow-run`). */
  run?: PermissionValue;
  /** Dynamic libraries that may be loaded (`--allow-ffi`). */
  ffi?: PermissionValue;
  /** System-info names such as `hostname` or `osRelease` (`--allow-sys`). */
  sys?: PermissionValue;
}

const KIND_SET: ReadonlySet<string> = new Set(SANDBOX_PERMISSION_KINDS);
/** The `sys` names Deno 2.9.6 knows (each verified with `Deno.permissions.query`). */
const SYS_NAMES: readonly string[] = [
  "cpus",
  "getegid",
  "getPriority",
  "gid",
  "homedir",
  "hostname",
  "loadavg",
  "networkInterfaces",
  "osRelease",
  "osUptime",
  "setPriority",
  "statfs",
  "systemMemoryInfo",
  "uid",
  "userInfo",
];
const PATH_KINDS: ReadonlySet<string> = new Set(["read", "write", "ffi"]);

function resolvePath(kind: string, entry: string, baseDir: string): string {
  let path = entry;
  if (path.startsWith("file:")) {
    try {
      path = fileURLToPath(path);
    } catch {
      throw new TypeError(`Invalid "${kind}" permission entry "${entry}": not a file URL`);
    }
  }
  return isAbsolute(path) ? resolve(path) : resolve(baseDir, path);
}

function checkEntry(kind: string, entry: unknown, baseDir: () => string): string {
  if (typeof entry !== "string" || entry.trim() === "") {
    throw new TypeError(
      `Invalid "${kind}" permission entry ${
        JSON.stringify(entry) ?? String(entry)
      }: expected a non-empty string`,
    );
  }
  if (entry.includes(",")) {
    throw new TypeError(
      `Invalid "${kind}" permission entry "${entry}": a comma cannot be given to Deno's permission flags`,
    );
  }
  if (PATH_KINDS.has(kind)) return resolvePath(kind, entry, baseDir());
  if (kind === "net") {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry) || entry.includes("/")) {
      throw new TypeError(
        `Invalid "net" permission entry "${entry}": expected a host like "example.com" or "127.0.0.1:8080", not a URL`,
      );
    }
    return entry;
  }
  if (kind === "env" && entry.includes("=")) {
    throw new TypeError(
      `Invalid "env" permission entry "${entry}": expected a variable name`,
    );
  }
  if (kind === "sys" && !SYS_NAMES.includes(entry)) {
    throw new TypeError(
      `Invalid "sys" permission entry "${entry}": expected one of ${SYS_NAMES.join(", ")}`,
    );
  }
  if (kind === "run" && (entry.startsWith("./") || entry.startsWith("../"))) {
    return resolve(baseDir(), entry);
  }
  return entry;
}

/**
 * Validates declared permissions and puts them in canonical form: `false`
 * and empty lists are dropped, lists are deduplicated and sorted, and
 * relative `read`, `write` and `ffi` paths (and `run` commands starting with
 * `./` or `../`) are resolved against `baseDir`. `file:` URLs are accepted
 * for paths.
 *
 * @param p The declared permissions: an object, or `undefined`/`null` for none.
 * @param baseDir The folder relative paths are resolved against: the YAML
 *   file's folder for config entries. Defaults to the current directory.
 * @returns The canonical permissions, holding only granted kinds.
 * @throws {TypeError} when `p` is not an object, has an unknown key, or a
 *   value that is not a boolean or a list of non-empty strings (the message
 *   names the key).
 *
 * @example Resolve paths from a config file
 * ```ts ignore
 * import { normalizePermissions } from "./permissions.ts";
 * const p = normalizePermissions({ read: ["./data", "/etc/hosts"], env: false }, "/srv/app");
 * console.log(p); // { read: [ "/etc/hosts", "/srv/app/data" ] }
 * ```
 */
export function normalizePermissions(p: unknown, baseDir?: string): FunctionPermissions {
  if (p === undefined || p === null) return {};
  if (typeof p !== "object" || Array.isArray(p)) {
    throw new TypeError(
      `Invalid permissions ${JSON.stringify(p) ?? String(p)}: expected an object with keys ${
        SANDBOX_PERMISSION_KINDS.join(", ")
      }`,
    );
  }
  let base: string | undefined;
  const baseDirOnce = (): string => (base ??= resolve(baseDir ?? "."));
  const out: FunctionPermissions = {};
  for (const [kind, value] of Object.entries(p)) {
    if (!KIND_SET.has(kind)) {
      throw new TypeError(
        `Unknown permission "${kind}": expected one of ${SANDBOX_PERMISSION_KINDS.join(", ")}`,
      );
    }
    const key = kind as PermissionKind;
    if (value === false || value === undefined) continue;
    if (value === true) {
      out[key] = true;
      continue;
    }
    if (value === "inherit") {
      throw new TypeError(
        `Invalid "${kind}" permission "inherit": declare true or a list, a sandboxed function never inherits`,
      );
    }
    if (!Array.isArray(value)) {
      throw new TypeError(
        `Invalid "${kind}" permission ${
          JSON.stringify(value) ?? String(value)
        }: expected true, false or a list of strings`,
      );
    }
    const entries = [...new Set(value.map((e) => checkEntry(kind, e, baseDirOnce)))].sort();
    if (entries.length > 0) out[key] = entries;
  }
  return out;
}

/**
 * The kinds a profile grants (`true` or a non-empty list), sorted.
 *
 * @param p Permissions, normalized or not.
 * @returns The granted kinds.
 *
 * @example
 * ```ts ignore
 * import { permissionKinds } from "./permissions.ts";
 * console.log(permissionKinds({ read: ["/data"], net: true, env: false })); // [ "net", "read" ]
 * ```
 */
export function permissionKinds(p: FunctionPermissions): PermissionKind[] {
  return SANDBOX_PERMISSION_KINDS.filter((kind) => {
    const value = p[kind];
    return value === true || (Array.isArray(value) && value.length > 0);
  });
}

/**
 * A canonical key for a profile: equal profiles (after normalization) get
 * equal keys and share one pool of sandbox processes. `none` for a profile granting
 * nothing; otherwise the granted kinds, sorted and separated by spaces, with
 * `=` and the sorted list as JSON for list grants (`net read=["/data"]`).
 *
 * @param p Permissions, normalized or not.
 * @returns The key.
 *
 * @example
 * ```ts ignore
 * import { profileKey } from "./permissions.ts";
 * console.log(profileKey({})); // none
 * console.log(profileKey({ read: ["/b", "/a"], net: true })); // net read=["/a","/b"]
 * ```
 */
export function profileKey(p: FunctionPermissions): string {
  const parts: string[] = [];
  for (const kind of permissionKinds(p)) {
    const value = p[kind];
    if (value === true) parts.push(kind);
    else if (Array.isArray(value)) {
      parts.push(`${kind}=${JSON.stringify([...new Set(value)].sort())}`);
    }
  }
  return parts.length === 0 ? "none" : parts.join(" ");
}

/**
 * The `deno run` flags that give a sandbox process exactly a profile: one
 * `--allow-<kind>` flag per granted kind (a list as `=a,b`; `read` and
 * `write` folders given through a symlink also name their real path), and
 * `--allow-import` limited to the hosts the profile may reach (see
 * {@linkcode importAllowList}). Kinds not granted get no flag, and the
 * process runs with `--no-prompt`, so they are denied.
 *
 * @param p Normalized permissions.
 * @param runtime URLs of modules the process must import besides the
 *   function's own (the sandbox's runtime when it is remote).
 * @returns The flags.
 *
 * @example
 * ```ts ignore
 * import { toDenoFlags } from "./permissions.ts";
 * console.log(toDenoFlags({ net: ["127.0.0.1:8080"] }));
 * // [ "--no-prompt", "--allow-import=127.0.0.1:8080", "--allow-net=127.0.0.1:8080" ]
 * ```
 */
export function toDenoFlags(p: FunctionPermissions, runtime: readonly URL[] = []): string[] {
  const flags = ["--no-prompt", importFlag(p, runtime)];
  for (const kind of permissionKinds(p)) {
    const value = p[kind];
    if (value === true) {
      flags.push(`--allow-${kind}`);
    } else if (Array.isArray(value)) {
      const entries = new Set(value);
      if (kind === "read" || kind === "write") {
        for (const entry of value) {
          const real = realPathOrNull(entry);
          if (real !== null) entries.add(real);
        }
      }
      flags.push(`--allow-${kind}=${[...entries].join(",")}`);
    }
  }
  return flags;
}

/**
 * The `--allow-import` flag of a profile: the hosts it may import remote
 * modules from are those it may reach (`net`), plus the hosts of `roots`
 * that are remote; every host for `net: true`. Deno allows a default list
 * of hosts (deno.land, jsr.io, esm.sh, …) unless `--allow-import` names
 * others, and `--deny-import` does not remove them (verified on Deno
 * 2.9.6), so an empty list is given as a host that cannot exist
 * (`invalid.invalid`, RFC 2606).
 *
 * @param p Normalized permissions.
 * @param roots Modules that must load whatever `net` says.
 * @returns The flag.
 *
 * @example
 * ```ts ignore
 * import { importFlag } from "./permissions.ts";
 * console.log(importFlag({})); // --allow-import=invalid.invalid
 * ```
 */
export function importFlag(p: FunctionPermissions, roots: readonly URL[] = []): string {
  if (p.net === true) return "--allow-import";
  const hosts = new Set(Array.isArray(p.net) ? p.net : []);
  for (const url of roots) {
    if (url.protocol === "http:" || url.protocol === "https:") hosts.add(url.host);
  }
  return `--allow-import=${hosts.size === 0 ? "invalid.invalid" : [...hosts].join(",")}`;
}

function realPathOrNull(path: string): string | null {
  try {
    const real = Deno.realPathSync(path);
    return real === path ? null : real;
  } catch {
    return null;
  }
}

function describe(kind: PermissionKind, entry: string | null): string {
  return entry === null ? `full ${kind} access` : `${kind} access to "${entry}"`;
}

function descriptor(kind: PermissionKind, entry: string | null): Deno.PermissionDescriptor {
  if (entry === null) return { name: kind };
  switch (kind) {
    case "net":
      return { name: "net", host: entry };
    case "env":
      return { name: "env", variable: entry };
    case "run":
      return { name: "run", command: entry };
    case "sys":
      return { name: "sys", kind: entry as "hostname" };
    default:
      return { name: kind, path: entry };
  }
}

function entriesOf(p: FunctionPermissions): [PermissionKind, string | null][] {
  const out: [PermissionKind, string | null][] = [];
  for (const kind of permissionKinds(p)) {
    const value = p[kind];
    if (value === true) out.push([kind, null]);
    else if (Array.isArray(value)) { for (const entry of value) out.push([kind, entry]); }
  }
  return out;
}

/**
 * What this process lacks of the permissions a function declares. A node
 * gives its sandboxed functions nothing it does not hold itself (although a
 * child process could be started with more), so it refuses to start when
 * this is not empty.
 *
 * @param p Normalized permissions.
 * @returns One human-readable line per missing grant, such as
 *   `net access to "example.com"` or `full env access`; empty when the
 *   process holds everything.
 *
 * @example Refuse to start
 * ```ts ignore
 * import { missingHostPermissions } from "./permissions.ts";
 * const missing = await missingHostPermissions({ net: ["example.com"] });
 * if (missing.length > 0) throw new Error(`Start deno with ${missing.join(", ")}`);
 * ```
 */
export async function missingHostPermissions(p: FunctionPermissions): Promise<string[]> {
  const missing: string[] = [];
  for (const [kind, entry] of entriesOf(p)) {
    let state: Deno.PermissionState;
    try {
      state = (await Deno.permissions.query(descriptor(kind, entry))).state;
    } catch (err) {
      missing.push(
        `${describe(kind, entry)} (invalid: ${err instanceof Error ? err.message : err})`,
      );
      continue;
    }
    if (state !== "granted") missing.push(describe(kind, entry));
  }
  return missing;
}

/**
 * Synchronous {@linkcode missingHostPermissions}, for error messages built
 * where awaiting is not possible.
 *
 * @param p Normalized permissions.
 * @returns One human-readable line per missing grant.
 *
 * @example
 * ```ts ignore
 * import { missingHostPermissionsSync } from "./permissions.ts";
 * console.log(missingHostPermissionsSync({ env: ["HOME"] })); // [] under -A
 * ```
 */
export function missingHostPermissionsSync(p: FunctionPermissions): string[] {
  const missing: string[] = [];
  for (const [kind, entry] of entriesOf(p)) {
    try {
      if (Deno.permissions.querySync(descriptor(kind, entry)).state !== "granted") {
        missing.push(describe(kind, entry));
      }
    } catch (err) {
      missing.push(
        `${describe(kind, entry)} (invalid: ${err instanceof Error ? err.message : err})`,
      );
    }
  }
  return missing;
}
