// Copyright 2026 the mpreg authors. MIT license.
/**
 * How the pool starts its processes: the host module, the environment, the
 * socket grants and the generated main module. Private to the pool.
 *
 * @module
 */
import { allowedPaths, covers } from "./_paths.ts";
import type { HostArgs } from "./_protocol.ts";
import type { FunctionPermissions } from "./permissions.ts";

/** The module each process runs: it serves the calls (see `_host.ts`). */
export const HOST_URL: URL = new URL("./_host.ts", import.meta.url);
/** Environment variables every sandbox process gets (when set): what Deno itself reads. */
export const DENO_ENV = [
  "DENO_DIR",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "DENO_AUTH_TOKENS",
  // Deno trusts NODE_EXTRA_CA_CERTS too (a machine behind a TLS-inspecting proxy needs it).
  "NODE_EXTRA_CA_CERTS",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NPM_CONFIG_REGISTRY",
  "HOME",
  "XDG_CACHE_HOME",
  "TMPDIR",
  "PATH",
  "SYSTEMROOT",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
];

/** The main module of a process: the host, serving the checked modules by index. */
export function mainModule(modules: readonly string[]): string {
  const loaders = modules.map((url) => `  () => import(${JSON.stringify(url)}),`).join("\n");
  const source = `import { serve } from ${
    JSON.stringify(HOST_URL.href)
  };\nserve([\n${loaders}\n]);\n`;
  return `data:application/javascript,${encodeURIComponent(source)}`;
}

/** The environment of a sandbox process: what Deno needs, and the variables the profile declares. */
export function processEnv(permissions: FunctionPermissions): Record<string, string> {
  const env: Record<string, string> = {};
  let all: Record<string, string> = {};
  try {
    all = Deno.env.toObject();
  } catch {
    // No env access here: the process gets only what is set below.
  }
  for (const name of DENO_ENV) if (all[name] !== undefined) env[name] = all[name]!;
  const declared = permissions.env;
  for (const [name, value] of Object.entries(all)) {
    if (
      declared === true ||
      (Array.isArray(declared) &&
        declared.some((e) => e.endsWith("*") ? name.startsWith(e.slice(0, -1)) : e === name))
    ) env[name] = value;
  }
  env.NO_COLOR = "1";
  env.DENO_NO_UPDATE_CHECK = "1";
  return env;
}

/**
 * What a process of `permissions` must be granted besides them to connect to
 * a socket in `dir`: `read`, `write` and `net` (`unix:` paths), except those
 * the profile already grants there. Each is revoked once it is connected.
 */
export function connectGrants(permissions: FunctionPermissions, dir: string): HostArgs["revoke"] {
  const socket = `${dir}/0.sock`;
  const grants: HostArgs["revoke"] = [];
  if (!covers(allowedPaths(permissions.read), socket)) grants.push("read");
  if (!covers(allowedPaths(permissions.write), socket)) grants.push("write");
  if (permissions.net !== true) grants.push("net");
  return grants;
}
