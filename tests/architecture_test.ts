// Copyright 2026 the mpreg authors. MIT license.
// The layering of src/ (docs/architecture.md): each folder of src/ is a
// layer and may import only the layers below it, and no file imports
// another folder's `_private.ts` files.
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * What each layer may import besides itself (docs/architecture.md keeps the
 * same table). A new folder in src/ needs a row here: the test fails until
 * it has one.
 */
const LAYERS: Readonly<Record<string, readonly string[]>> = {
  _util: [],
  protocol: ["_util"],
  engine: ["_util", "protocol"],
  registry: ["_util", "protocol"],
  transport: ["_util", "protocol"],
  sandbox: ["_util", "protocol", "registry"],
  auth: ["_util", "protocol", "sandbox"],
  cluster: ["_util", "protocol", "registry", "transport"],
  client: ["_util", "protocol", "transport"],
  server: ["_util", "protocol", "engine", "registry", "transport", "sandbox", "auth", "cluster"],
  // The cluster page: browser code bundled ahead (deno task bundle), on top
  // of everything; it imports the client and the node's types.
  page: ["_util", "protocol", "transport", "client", "cluster", "server"],
};

/** Entry points outside src/ that belong to a layer: the browser client is the client layer. */
const ENTRY_LAYERS: Readonly<Record<string, string>> = { "client.ts": "client" };

/** References that are not imports of code into the layer: none today. */
const EXCEPTIONS: ReadonlySet<string> = new Set();

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), ".."));

/** A module's relative imports: static, dynamic, re-exports and worker URLs. */
export function importsOf(source: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(?\s*|new URL\(\s*)["'](\.{1,2}\/[^"']+)["']/g;
  for (const line of source.split("\n")) {
    const text = line.trimStart();
    // JSDoc and comments (their examples import the package by its name anyway).
    if (text.startsWith("*") || text.startsWith("//") || text.startsWith("/*")) continue;
    for (const match of text.matchAll(pattern)) found.push(match[1]!);
  }
  return found;
}

/** The layer of a path relative to the repository, or `null` outside src/ and the entries. */
function layerOf(path: string): string | null {
  if (path in ENTRY_LAYERS) return ENTRY_LAYERS[path]!;
  const parts = path.split("/");
  if (parts[0] !== "src") return null;
  return parts.length > 2 ? parts[1]! : "";
}

/**
 * Every breach of the rules in `files` (paths relative to the repository,
 * with their sources): imports of a layer the table does not allow, files in
 * a folder the table does not know, and imports of another folder's
 * `_private.ts` file.
 */
export function violations(files: ReadonlyMap<string, string>): string[] {
  const found: string[] = [];
  for (const [path, source] of files) {
    const layer = layerOf(path);
    if (layer === null) continue;
    const allowed = LAYERS[layer];
    if (allowed === undefined) {
      found.push(`${path}: the folder "src/${layer}" has no row in the layer table`);
      continue;
    }
    for (const specifier of importsOf(source)) {
      const target = normalize(join(dirname(path), specifier));
      if (EXCEPTIONS.has(`${path} -> ${target}`)) continue;
      const targetLayer = layerOf(target);
      if (targetLayer !== null && targetLayer !== layer && !allowed.includes(targetLayer)) {
        found.push(`${path}: the ${layer} layer imports "${target}" of the ${targetLayer} layer`);
      }
      const file = target.slice(target.lastIndexOf("/") + 1);
      const folder = dirname(target);
      if (file.startsWith("_") && !path.startsWith(folder + "/")) {
        found.push(`${path}: imports "${target}", private to ${folder}/`);
      }
    }
  }
  return found;
}

async function sources(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(join(ROOT, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (/\.(ts|js)$/.test(entry.name)) {
        files.set(path, await Deno.readTextFile(join(ROOT, path)));
      }
    }
  };
  await walk("src");
  for (const entry of Object.keys(ENTRY_LAYERS)) {
    files.set(entry, await Deno.readTextFile(join(ROOT, entry)));
  }
  return files;
}

Deno.test("architecture: no layer of src/ imports upward or sideways, nor another folder's private files", async () => {
  const files = await sources();
  assert.ok(files.size > 50, `only ${files.size} files found under ${relative(".", ROOT)}/src`);
  assert.deepEqual(violations(files), []);
});

Deno.test("architecture: the check catches each kind of breach", () => {
  const files = new Map([
    ["src/cluster/peer_link.ts", 'import { openWebSocket } from "../client/client.ts";'],
    ["src/client/client.ts", 'import type { Server } from "../server/server.ts";'],
    [
      "src/server/runner.ts",
      'import {\n  refused,\n} from "../cluster/_refused.ts";\n// import "../client/x.ts";',
    ],
    ["src/cluster/cluster.ts", 'const url = new URL("../client/_worker.ts", import.meta.url);'],
    ["src/newcomer/thing.ts", 'import "../protocol/codec.ts";'],
    ["src/protocol/codec.ts", 'import { scan } from "./_scan.ts";'],
    ["client.ts", 'const { runCli } = await import("./src/server/cli.ts");'],
  ]);
  assert.deepEqual(violations(files), [
    'src/cluster/peer_link.ts: the cluster layer imports "src/client/client.ts" of the client layer',
    'src/client/client.ts: the client layer imports "src/server/server.ts" of the server layer',
    'src/server/runner.ts: imports "src/cluster/_refused.ts", private to src/cluster/',
    'src/cluster/cluster.ts: the cluster layer imports "src/client/_worker.ts" of the client layer',
    'src/cluster/cluster.ts: imports "src/client/_worker.ts", private to src/client/',
    'src/newcomer/thing.ts: the folder "src/newcomer" has no row in the layer table',
    'client.ts: the client layer imports "src/server/cli.ts" of the server layer',
  ]);
});
