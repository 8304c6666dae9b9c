// Copyright 2026 the mpreg authors. MIT license.
/**
 * The browser-safe mpreg client. Run as a program it is also a small CLI:
 *
 * ```sh
 * deno run -A client.ts --url ws://127.0.0.1:9001 call echo '"hi"'
 * deno run -A client.ts --url ws://127.0.0.1:9001 request steps.yaml
 * ```
 *
 * @example Call a node from a browser or Deno
 * ```ts ignore
 * import { Client } from "@mpreg/mpreg/client";
 * const client = new Client("ws://127.0.0.1:9001");
 * console.log(await client.call("echo", ["hi"]));
 * client.close();
 * ```
 *
 * @module
 */
export * from "./src/client/mod.ts";
export * from "./src/protocol/mod.ts";

if ((import.meta as ImportMeta & { main?: boolean }).main) {
  const { runCli } = await import("./src/client/cli.ts");
  await runCli();
}
