// Copyright 2026 the mpreg authors. MIT license.
/**
 * The command-line flags of `deno run -A server.ts --config node.yaml`, and
 * how they combine with the config file: flags win.
 *
 * @module
 */
import {
  LOG_DEFAULTS,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogConfig,
  type LogFormat,
  type LogLevel,
  type NodeConfig,
} from "./config.ts";
import { SERVER_DEFAULTS, type ServerOptions } from "./options.ts";
import { parseArgs } from "node:util";
import { FlagError, type FlagSpec, type ParseArgs, readFlags } from "../_util/cli_flags.ts";

/**
 * The `--help` text: every flag with its meaning and default.
 *
 * @example
 * ```ts
 * import { SERVER_USAGE } from "./cli_args.ts";
 * console.log(SERVER_USAGE.includes("--config PATH")); // true
 * ```
 */
export const SERVER_USAGE: string = `Usage: deno run -A server.ts [--config PATH] [FLAGS]

Runs an mpreg node. Flags override the values of the config file.
Each flag takes its value as "--flag value" or "--flag=value".

Flags:
  --config PATH        YAML node config (default: none)
  --name NAME          unique node name (default: "mpreg-" + a random suffix)
  --host HOST          address to listen on (default: ${SERVER_DEFAULTS.host})
  --port N             port to listen on, 0 picks a free one (default: ${SERVER_DEFAULTS.port})
  --cluster-id ID      joins only peers with this id (default: ${SERVER_DEFAULTS.clusterId})
  --resources A,B      comma-separated resources offered (default: none)
  --peer URL           wss:// or ws:// URL to join; repeatable (default: none)
  --log-level LEVEL    ${LOG_LEVELS.join(", ")} (default: ${LOG_DEFAULTS.level})
  --log-format FORMAT  ${LOG_FORMATS.join(" or ")} (default: ${LOG_DEFAULTS.format})
  -h, --help           print this help and exit
`;

/**
 * The parsed command line.
 *
 * @example
 * ```ts
 * import type { ServerArgs } from "./cli_args.ts";
 * const args: ServerArgs = { help: false, config: "node.yaml", overrides: { port: 9001 }, log: {} };
 * console.log(args.overrides.port);
 * ```
 */
export interface ServerArgs {
  /**
   * `--help` or `-h` was given: print {@linkcode SERVER_USAGE} and exit.
   *
   * @default {false}
   */
  help: boolean;
  /**
   * The `--config` file.
   *
   * @default {null}
   */
  config: string | null;
  /**
   * The server options given by flags; only those given are set.
   *
   * @default {{}}
   */
  overrides: ServerOptions;
  /**
   * The log settings given by flags; only those given are set.
   *
   * @default {{}}
   */
  log: Partial<LogConfig>;
}

/**
 * A bad command line: an unknown flag, a missing or bad value. The message
 * is one line.
 *
 * @example
 * ```ts
 * import { parseServerArgs, UsageError } from "./cli_args.ts";
 * try {
 *   parseServerArgs(["--prot", "9001"]);
 * } catch (err) {
 *   if (err instanceof UsageError) console.log(err.message, err.exitCode); // unknown flag "--prot" (see --help) 2
 * }
 * ```
 */
export class UsageError extends Error {
  /** Always `"UsageError"`. */
  override readonly name = "UsageError";
  /** The exit code a program should use: 2. */
  readonly exitCode = 2;

  /**
   * Creates a usage error.
   *
   * @param message What is wrong, in one line.
   */
  constructor(message: string) {
    super(message);
  }
}

/** Reads the value of one flag into `args`. */
type Apply = (args: ServerArgs, value: string, flag: string) => void;

/** The server's flags: how each is read (the rules are those of `cli_flags.ts`). */
const FLAGS: Record<string, { spec: FlagSpec; apply: Apply }> = {
  "config": { spec: { type: "string" }, apply: (args, value) => args.config = value },
  "name": { spec: { type: "string" }, apply: (args, value) => args.overrides.name = value },
  "host": { spec: { type: "string" }, apply: (args, value) => args.overrides.host = value },
  "port": {
    spec: { type: "string" },
    apply: (args, value, flag) => args.overrides.port = port(value, flag),
  },
  "cluster-id": {
    spec: { type: "string" },
    apply: (args, value) => args.overrides.clusterId = value,
  },
  "resources": {
    // `--resources=` gives no resources.
    spec: { type: "string", mayBeEmpty: true },
    apply: (args, value) => {
      const previous = args.overrides.resources ?? [];
      args.overrides.resources = [...previous, ...value.split(",").map((r) => r.trim())]
        .filter((r) => r !== "");
    },
  },
  "peer": {
    spec: { type: "string" },
    apply: (args, value, flag) => {
      args.overrides.peers = [...args.overrides.peers ?? [], peerUrl(value, flag)];
    },
  },
  "log-level": {
    spec: { type: "string" },
    apply: (args, value, flag) => args.log.level = oneOf(LOG_LEVELS, value, flag),
  },
  "log-format": {
    spec: { type: "string" },
    apply: (args, value, flag) => args.log.format = oneOf(LOG_FORMATS, value, flag),
  },
};

const SPECS: Record<string, FlagSpec> = Object.fromEntries(
  Object.entries(FLAGS).map(([name, flag]) => [name, flag.spec]),
);

/**
 * Parses the command line of the server. `--help` stops the parsing: what
 * follows it is ignored.
 *
 * @param args The arguments, without the script name (`Deno.args`).
 * @returns The flags given; the ones not given are left out of `overrides` and `log`.
 * @throws {UsageError} An unknown flag or argument, a missing value, or a bad value.
 *
 * @example
 * ```ts
 * import { parseServerArgs } from "./cli_args.ts";
 * const args = parseServerArgs([
 *   "--config", "node.yaml", "--port=9001", "--peer", "ws://a:6666", "--peer", "ws://b:6666",
 * ]);
 * console.log(args.config, args.overrides); // node.yaml { port: 9001, peers: ["ws://a:6666", "ws://b:6666"] }
 * ```
 */
export function parseServerArgs(args: string[]): ServerArgs {
  const out: ServerArgs = { help: false, config: null, overrides: {}, log: {} };
  let read;
  try {
    read = readFlags(args, SPECS, parseArgs as ParseArgs, false, ({ name, value }) => {
      if (value !== true) FLAGS[name]!.apply(out, value, `--${name}`);
    });
  } catch (err) {
    if (err instanceof FlagError) throw new UsageError(err.message);
    throw err;
  }
  out.help = read.help;
  return out;
}

/**
 * Combines a config file with the command line: each flag given replaces
 * the file's value (`--peer` and `--resources` replace the whole list).
 * Neither input is modified.
 *
 * @param config The loaded config, or `null` when there is no `--config`.
 * @param args The parsed command line.
 * @returns The config to run. Without a file: `path` is `""`, no functions, log `info`/`pretty`.
 *
 * @example
 * ```ts
 * import { mergeConfig, parseServerArgs } from "./cli_args.ts";
 * import { parseConfig } from "@mpreg/mpreg";
 * const file = parseConfig("port: 6666\nname: n1\n", "/srv/node.yaml");
 * const merged = mergeConfig(file, parseServerArgs(["--port", "9001", "--log-level", "debug"]));
 * console.log(merged.options, merged.log); // { name: "n1", port: 9001 } { level: "debug", format: "pretty" }
 * ```
 */
export function mergeConfig(config: NodeConfig | null, args: ServerArgs): NodeConfig {
  const base: NodeConfig = config ?? {
    path: "",
    options: {},
    functions: [],
    log: { ...LOG_DEFAULTS },
  };
  return {
    path: base.path,
    options: { ...base.options, ...definedOnly(args.overrides) },
    functions: base.functions.map((fn) => ({ ...fn })),
    log: { ...base.log, ...definedOnly(args.log) },
  };
}

function port(value: string, flag: string): number {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(n <= 65535)) {
    throw new UsageError(`${flag}: expected an integer from 0 to 65535, got "${value}"`);
  }
  return n;
}

function peerUrl(value: string, flag: string): string {
  const ok = URL.canParse(value) && ["ws:", "wss:"].includes(new URL(value).protocol);
  if (!ok) throw new UsageError(`${flag}: expected a ws:// or wss:// URL, got "${value}"`);
  return value;
}

function oneOf<T extends LogLevel | LogFormat>(
  values: readonly T[],
  value: string,
  flag: string,
): T {
  const found = values.find((v) => v === value);
  if (found === undefined) {
    throw new UsageError(`${flag}: expected one of ${values.join(", ")}, got "${value}"`);
  }
  return found;
}

/** Drops the keys whose value is `undefined`. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
