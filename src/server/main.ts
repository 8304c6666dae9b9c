// Copyright 2026 the mpreg authors. MIT license.
/**
 * The server program: `deno run -A server.ts --config node.yaml [FLAGS]`.
 *
 * @module
 */
import {
  ansiColorFormatter,
  configure,
  defaultTextFormatter,
  getConsoleSink,
  jsonLinesFormatter,
} from "@logtape/logtape";
import { AsyncLocalStorage } from "node:async_hooks";
import { mergeConfig, parseServerArgs, SERVER_USAGE, UsageError } from "./cli_args.ts";
import { SandboxPolicyError } from "../sandbox/policy_error.ts";
import { checkFunctionModules, ConfigError, loadConfig, type LogConfig } from "./config.ts";
import { Server } from "./server.ts";

function fail(message: string, code: number): number {
  // deno-lint-ignore no-console
  console.error(`error: ${message}`);
  return code;
}

async function configureLogging(log: LogConfig): Promise<void> {
  const formatter = log.format === "json"
    ? jsonLinesFormatter
    : Deno.stdout.isTerminal()
    ? ansiColorFormatter
    : defaultTextFormatter;
  await configure({
    reset: true,
    // Lets every log line of a request carry its id (see RequestRunner.run).
    contextLocalStorage: new AsyncLocalStorage(),
    sinks: { console: getConsoleSink({ formatter }) },
    loggers: [
      { category: ["mpreg"], lowestLevel: log.level, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}

/**
 * Runs the server program until SIGINT or SIGTERM.
 *
 * @param args The command-line arguments.
 * @returns The exit code: 0 after a clean stop, 2 for bad flags or config
 *   (a sandboxed module whose graph reaches beyond what it declares
 *   included), 1 when the node cannot start.
 *
 * @example
 * ```ts ignore
 * import { main } from "./main.ts";
 * Deno.exit(await main(["--config", "node.yaml"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let server: Server;
  try {
    const parsed = parseServerArgs(args);
    if (parsed.help) {
      // deno-lint-ignore no-console
      console.log(SERVER_USAGE);
      return 0;
    }
    const loaded = parsed.config ? await loadConfig(parsed.config) : null;
    if (parsed.config && loaded) await checkFunctionModules(parsed.config, loaded);
    const config = mergeConfig(loaded, parsed);
    await configureLogging(config.log);
    server = await Server.fromConfig(config);
  } catch (err) {
    if (err instanceof UsageError) return fail(`${err.message}\n\n${SERVER_USAGE}`, err.exitCode);
    if (err instanceof ConfigError) return fail(err.message, err.exitCode);
    // A function whose module graph reaches beyond what it declares: a config to fix.
    if (err instanceof SandboxPolicyError) return fail(err.message, 2);
    return fail(`cannot create the node: ${(err as Error).message}`, 1);
  }
  try {
    await server.start();
  } catch (err) {
    return fail(`cannot start the node: ${(err as Error).message}`, 1);
  }
  const { promise, resolve } = Promise.withResolvers<void>();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, resolve);
  await promise;
  for (const signal of signals) Deno.removeSignalListener(signal, resolve);
  await server.stop();
  return 0;
}
