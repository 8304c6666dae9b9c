// Copyright 2026 the mpreg authors. MIT license.
/**
 * The mpreg server: the {@linkcode Server} class, its config loader, and the
 * program run by `deno run -A server.ts --config node.yaml`.
 *
 * @example Run a node from a config file
 * ```sh
 * deno run -A server.ts --config examples/node.yaml --port 9001
 * ```
 *
 * @module
 */
export * from "./src/server/mod.ts";
import { main } from "./src/server/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
