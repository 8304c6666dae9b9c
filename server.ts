// Copyright 2026 the mpreg authors. MIT license.
/**
 * The program that runs an mpreg node from a YAML config. It exports
 * nothing: the `Server` class, `Server.fromConfig` and the config
 * loader (`loadConfig`, `parseConfig`) are exported by `@mpreg/mpreg`.
 *
 * @example Run a node from a config file
 * ```sh
 * deno run -A server.ts --config examples/node.yaml --port 9001
 * ```
 *
 * @module
 */
import { main } from "./src/server/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
