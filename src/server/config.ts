// Copyright 2026 the mpreg authors. MIT license.
/**
 * The YAML node config: `deno run -A server.ts --config node.yaml`.
 *
 * The keys are those of the original MPREG, in snake_case. Every key is
 * optional and an empty file is a valid config:
 *
 * ```yaml
 * name: gpu-1                  # string
 * host: 0.0.0.0                # string
 * port: 6666                   # integer from 0 to 65535
 * cluster_id: prod             # string
 * resources: [gpu, model-a]    # list of strings
 * peers: [ws://10.0.0.2:6666]  # list of ws:// or wss:// URLs
 * advertised_urls: [ws://gpu-1.internal:6666]  # list of URLs
 * allowed_origins: [https://app.example.com]  # web pages that may connect, or "*"
 * gossip_interval: 1.5         # seconds, > 0
 * reconnect_interval: 30       # seconds, > 0: dead members and seeds tried again
 * reconnect_timeout: 86400     # seconds, > 0: how long dead members are kept
 * cluster_secret: s3cret       # string; peers must prove they know it
 * require_tls: false           # boolean; peer links only over wss:// (needs tls)
 * prefer_local: true           # boolean
 * relay_chains: true           # boolean; chains of steps go member to member
 * request_timeout: 30          # seconds, > 0
 * drain_timeout: 10            # seconds, > 0
 * debug: false                 # boolean
 * functions:                   # modules of functions to register
 *   - module: ./functions/math.ts    # relative to this file
 *     resources: [gpu]
 * log:
 *   level: info                # trace, debug, info, warning, error or fatal
 *   format: pretty             # pretty or json
 * ```
 *
 * Validation is strict: an unknown or duplicate key, a value of the wrong
 * type or range, and broken YAML all throw one {@linkcode ConfigError} whose
 * message names the file, the line and the key of the first fault in the
 * text, e.g.
 * `node.yaml:4: key "port": expected an integer from 0 to 65535, got "abc"`.
 * The keys, their types, ranges and messages are one `npm:valibot` schema
 * (`config_schema.ts`), which also fills in the defaults of `log:`
 * ({@linkcode LOG_DEFAULTS}) and of each `functions:` entry; the node's
 * options are left unset when absent, and `resolveServerOptions` gives
 * them the defaults of `SERVER_DEFAULTS`, as for options given in code.
 *
 * Parsing uses `npm:yaml`, which reads the environment variables
 * `LOG_TOKENS` and `LOG_STREAM` on every parse: run with `-A`,
 * `--allow-env=LOG_TOKENS,LOG_STREAM` or `--ignore-env`, or parsing throws
 * `NotCapable`.
 *
 * @module
 */
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LineCounter, parseDocument } from "yaml";
import { isWss } from "./_require_tls.ts";
import {
  FORMATS,
  LEVELS,
  LOG_DEFAULT_FORMAT,
  LOG_DEFAULT_LEVEL,
  type YamlConfig,
} from "./config_schema.ts";
import type { ServerOptions } from "./options.ts";
import { lineAt, validateYaml, type YamlDoc } from "./_yaml_validate.ts";

/**
 * The log levels, from the most to the least verbose.
 *
 * @example
 * ```ts
 * import { LOG_LEVELS } from "./config.ts";
 * console.log(LOG_LEVELS.includes("info")); // true
 * ```
 */
export const LOG_LEVELS: readonly LogLevel[] = LEVELS;

/**
 * The log formats: `pretty` for people, `json` for one JSON object a line.
 *
 * @example
 * ```ts
 * import { LOG_FORMATS } from "./config.ts";
 * console.log(LOG_FORMATS.join("|")); // pretty|json
 * ```
 */
export const LOG_FORMATS: readonly LogFormat[] = FORMATS;

/**
 * How a node logs when neither its file nor its flags say: `info`, `pretty`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LOG_DEFAULTS, parseConfig } from "./config.ts";
 * assert.deepEqual(LOG_DEFAULTS, { level: "info", format: "pretty" });
 * assert.deepEqual(parseConfig("", "node.yaml").log, LOG_DEFAULTS);
 * ```
 */
export const LOG_DEFAULTS: Readonly<LogConfig> = Object.freeze({
  level: LOG_DEFAULT_LEVEL,
  format: LOG_DEFAULT_FORMAT,
});

/**
 * A log level, from `trace` (most verbose) to `fatal`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type LogLevel, parseConfig } from "@mpreg/mpreg";
 * const level: LogLevel = "warning";
 * assert.equal(parseConfig(`log: { level: ${level} }`, "node.yaml").log.level, "warning");
 * ```
 */
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

/**
 * A log format: `pretty` for people, `json` for one JSON object a line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type LogFormat, parseConfig } from "@mpreg/mpreg";
 * const format: LogFormat = "json";
 * assert.equal(parseConfig(`log: { format: ${format} }`, "node.yaml").log.format, "json");
 * ```
 */
export type LogFormat = "pretty" | "json";

/**
 * A module of functions to register on the node (an item of `functions:`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FunctionModuleConfig, parseConfig } from "@mpreg/mpreg";
 * const config = parseConfig("functions:\n  - module: ./math.ts\n    resources: [gpu]\n", "/srv/node.yaml");
 * const fn: FunctionModuleConfig = config.functions[0]!;
 * assert.deepEqual(fn, { module: "file:///srv/math.ts", resources: ["gpu"], trusted: false });
 * ```
 */
export interface FunctionModuleConfig {
  /** The module, as an absolute `file:` URL (the YAML gives a path relative to its own file). */
  module: string;
  /**
   * Resources the functions of this module need, on top of the node's.
   *
   * @default {[]}
   */
  resources: string[];
  /**
   * What the functions may touch, in Deno's vocabulary (`net`, `read`,
   * `write`, `env`, `run`, `ffi`, `sys`: `true`, `false` or a list); paths
   * are absolute here (the YAML gives them relative to its own file).
   *
   * @default {undefined (nothing)}
   */
  permissions?: Record<string, boolean | string[]>;
  /**
   * The memory cap of the sandbox processes running these functions, in MiB.
   *
   * @default {the node's `sandbox.memory_mb`, else 512}
   */
  memoryMb?: number;
  /**
   * Run the functions inline, with the node's own permissions, instead of
   * in a sandbox process.
   *
   * @default {false}
   */
  trusted: boolean;
  /**
   * The functions that are safe to run twice, which mpreg may re-send after
   * a failure that may have run them (a node lost mid-call): `true` for
   * every function of the module, or their names.
   *
   * @default {undefined (none)}
   */
  idempotent?: boolean | string[];
}

/**
 * The `tls:` section: certificate and key files (absolute paths here; the
 * YAML gives them relative to its own file). `loadConfig` reads them into
 * `options.tls`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type TlsFiles } from "@mpreg/mpreg";
 * const tls: TlsFiles = { cert: "/etc/mpreg/cert.pem", key: "/etc/mpreg/key.pem" };
 * assert.ok(tls.cert.endsWith(".pem") && tls.key.endsWith(".pem"));
 * ```
 */
export interface TlsFiles {
  /** The PEM certificate (chain) file. */
  cert: string;
  /** The PEM private key file. */
  key: string;
}

/**
 * How the node logs (the `log:` section).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type LogConfig, parseConfig } from "@mpreg/mpreg";
 * const log: LogConfig = parseConfig("log: { level: debug }", "node.yaml").log;
 * assert.deepEqual(log, { level: "debug", format: "pretty" });
 * ```
 */
export interface LogConfig {
  /**
   * The lowest level logged.
   *
   * @default {"info"}
   */
  level: LogLevel;
  /**
   * The output format.
   *
   * @default {"pretty"}
   */
  format: LogFormat;
}

/**
 * A validated node config.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type NodeConfig, parseConfig } from "@mpreg/mpreg";
 * const config: NodeConfig = parseConfig("port: 9001\ngossip_interval: 0.5\n", "/srv/node.yaml");
 * assert.deepEqual(config.options, { port: 9001, gossipIntervalMs: 500 });
 * assert.deepEqual(config.functions, []);
 * ```
 */
export interface NodeConfig {
  /** The path of the YAML file, as given, or `""` when there is none. */
  path: string;
  /** The options of the `Server`; only the keys present in the file are set. */
  options: ServerOptions;
  /**
   * The function modules to load, in file order.
   *
   * @default {[]}
   */
  functions: FunctionModuleConfig[];
  /**
   * How to log.
   *
   * @default {{ level: "info", format: "pretty" }}
   */
  log: LogConfig;
  /**
   * TLS certificate and key files, when the node serves `wss://`.
   *
   * @default {undefined}
   */
  tls?: TlsFiles;
}

/**
 * Options of {@linkcode ConfigError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError, type ConfigErrorOptions } from "@mpreg/mpreg";
 * const options: ConfigErrorOptions = { line: 7, key: "gosip_interval" };
 * const err = new ConfigError("node.yaml", 'unknown key "gosip_interval"', options);
 * assert.equal(err.message, 'node.yaml:7: unknown key "gosip_interval"');
 * ```
 */
export interface ConfigErrorOptions {
  /**
   * The 1-based line of the fault, or `null` when it has none.
   *
   * @default {null}
   */
  line?: number | null;
  /**
   * The key path of the fault, like `functions[1].module`, or `null`.
   *
   * @default {null}
   */
  key?: string | null;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * A config file that cannot be read, is not YAML, or does not validate.
 *
 * The message starts with `file:line:` (`file:` alone when there is no line)
 * and names the key, e.g. `node.yaml:7: unknown key "gosip_interval"`.
 *
 * @example Report a bad config
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError, parseConfig } from "@mpreg/mpreg";
 * try {
 *   parseConfig("name: n1\nport: abc\n", "node.yaml");
 *   assert.fail("expected a ConfigError");
 * } catch (err) {
 *   assert.ok(err instanceof ConfigError);
 *   assert.equal(err.message, 'node.yaml:2: key "port": expected an integer from 0 to 65535, got "abc"');
 *   assert.deepEqual([err.line, err.key, err.exitCode], [2, "port", 2]);
 * }
 * ```
 */
export class ConfigError extends Error {
  /** Always `"ConfigError"`. */
  override readonly name = "ConfigError";
  /** The exit code a program should use: 2, like a usage error. */
  readonly exitCode = 2;
  /** The config file, as given. */
  readonly file: string;
  /** The 1-based line of the fault, or `null` when it has none. */
  readonly line: number | null;
  /** The key path of the fault, like `functions[1].module`, or `null`. */
  readonly key: string | null;

  /**
   * Creates an error whose message is `file:line: reason`.
   *
   * @param file The config file, as given.
   * @param reason What is wrong, e.g. `unknown key "gosip_interval"`.
   * @param options The line, the key path and the cause.
   */
  constructor(file: string, reason: string, options: ConfigErrorOptions = {}) {
    const line = options.line ?? null;
    super(
      `${file}${line === null ? "" : `:${line}`}: ${reason}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.file = file;
    this.line = line;
    this.key = options.key ?? null;
  }
}

/**
 * Reads and validates a YAML node config.
 *
 * Needs read access to the file and, for `npm:yaml`, env access to
 * `LOG_TOKENS` and `LOG_STREAM` (see the module doc).
 *
 * @param path The YAML file. Function modules are resolved relative to its folder.
 * @returns The validated config.
 * @throws {ConfigError} The file cannot be read, is not YAML, or does not validate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadConfig } from "@mpreg/mpreg";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/node.yaml`, "name: n1\nfunctions:\n  - module: ./fns.ts\n");
 * const config = await loadConfig(`${dir}/node.yaml`);
 * assert.equal(config.options.name, "n1");
 * assert.equal(config.functions[0]?.module, new URL(`file://${dir}/fns.ts`).href);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadConfig(path: string): Promise<NodeConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound
      ? "file not found"
      : `cannot read the file: ${err instanceof Error ? err.message : String(err)}`;
    throw new ConfigError(path, reason, { cause: err });
  }
  const config = parseConfig(text, path);
  if (config.tls !== undefined) {
    const read = async (file: string, key: string) => {
      try {
        return await Deno.readTextFile(file);
      } catch (err) {
        throw new ConfigError(path, `key "tls.${key}": cannot read ${file}`, {
          key: `tls.${key}`,
          cause: err,
        });
      }
    };
    config.options.tls = {
      cert: await read(config.tls.cert, "cert"),
      key: await read(config.tls.key, "key"),
    };
  }
  return config;
}

/**
 * Parses and validates the text of a YAML node config. It reads no file; it
 * only uses `path` for messages and to resolve function modules (a relative
 * `path` is taken from the current directory).
 *
 * `npm:yaml` reads the env vars `LOG_TOKENS` and `LOG_STREAM` on every parse
 * (see the module doc).
 *
 * @param text The YAML text. An empty text is a valid, empty config.
 * @param path The file the text came from.
 * @returns The validated config.
 * @throws {ConfigError} The text is not YAML or does not validate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig } from "@mpreg/mpreg";
 * const config = parseConfig(
 *   "name: n1\nfunctions:\n  - module: ./fns/math.ts\nlog: { level: debug }\n",
 *   "/srv/node.yaml",
 * );
 * assert.equal(config.options.name, "n1");
 * assert.equal(config.functions[0]?.module, "file:///srv/fns/math.ts");
 * assert.deepEqual(config.log, { level: "debug", format: "pretty" });
 * ```
 */
export function parseConfig(text: string, path: string): NodeConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    // Duplicates are reported by the validator, with their key path.
    uniqueKeys: false,
  });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    const reason = yamlError.code === "MULTIPLE_DOCS"
      ? "expected one document, found more"
      : yamlError.message.split("\n")[0] ?? yamlError.code;
    throw new ConfigError(path, `invalid YAML: ${reason}`, {
      line: lines.linePos(yamlError.pos[0]).line,
      cause: yamlError,
    });
  }
  const yaml: YamlDoc = { file: path, doc, lines };
  const fault = (reason: string, line: number | null, key: string | null) =>
    new ConfigError(path, reason, { line, key });
  const raw: YamlConfig = validateYaml(yaml, fault);
  if (raw.require_tls === true) checkRequireTls(yaml, raw);
  return {
    path,
    options: definedOnly({
      name: raw.name,
      host: raw.host,
      port: raw.port,
      clusterId: raw.cluster_id,
      resources: raw.resources,
      peers: raw.peers,
      advertisedUrls: raw.advertised_urls,
      allowedOrigins: raw.allowed_origins,
      gossipIntervalMs: raw.gossip_interval,
      reconnectIntervalMs: raw.reconnect_interval,
      reconnectTimeoutMs: raw.reconnect_timeout,
      clusterSecret: raw.cluster_secret,
      requireTls: raw.require_tls,
      preferLocal: raw.prefer_local,
      relayChains: raw.relay_chains,
      requestTimeoutMs: raw.request_timeout,
      drainTimeoutMs: raw.drain_timeout,
      debug: raw.debug,
      sandbox: raw.sandbox && definedOnly({ memoryMb: raw.sandbox.memory_mb }),
      auth: raw.auth && definedOnly({
        tokens: raw.auth.tokens?.map((t) => ({
          sha256: t.sha256.toLowerCase(),
          principal: t.principal,
        })),
        principals: raw.auth.principals,
        anonymous: raw.auth.anonymous,
        maxInFlightPerPrincipal: raw.auth.max_in_flight_per_principal,
      }),
    }),
    functions: (raw.functions ?? []).map((fn) =>
      definedOnly({
        module: fn.module,
        resources: fn.resources,
        permissions: fn.permissions && definedOnly(fn.permissions),
        memoryMb: fn.memory_mb,
        trusted: fn.trusted,
        idempotent: fn.idempotent,
      })
    ),
    ...(raw.tls ? { tls: raw.tls } : {}),
    log: raw.log,
  };
}

/** Drops the keys whose value is `undefined`. */
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * `require_tls: true` needs `tls:` (the node serves wss:// itself) and only
 * wss:// URLs in `peers` and `advertised_urls`.
 */
function checkRequireTls(yaml: YamlDoc, raw: YamlConfig): void {
  const at = (path: Array<string | number>) => lineAt(yaml, path) ?? lineAt(yaml, ["require_tls"]);
  if (raw.tls === undefined) {
    throw new ConfigError(
      yaml.file,
      'key "require_tls": needs "tls": the node must serve wss:// itself',
      { line: at(["require_tls"]), key: "require_tls" },
    );
  }
  for (const key of ["peers", "advertised_urls"] as const) {
    const urls = raw[key] ?? [];
    const i = urls.findIndex((url) => !isWss(url));
    if (i < 0) continue;
    throw new ConfigError(
      yaml.file,
      `key "${key}[${i}]": expected a wss:// URL with require_tls, got ${JSON.stringify(urls[i])}`,
      { line: at([key, i]), key: `${key}[${i}]` },
    );
  }
}

/**
 * Checks that every `functions[].module` of a config file that is a local
 * file exists: a missing one is a {@linkcode ConfigError} (exit code 2)
 * naming the module as the file wrote it, not a failed import of a URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFunctionModules, ConfigError, parseConfig } from "./config.ts";
 * const config = parseConfig("functions:\n  - module: ./nope.ts\n", "/tmp/node.yaml");
 * await assert.rejects(checkFunctionModules("/tmp/node.yaml", config), (err: unknown) => {
 *   assert.ok(err instanceof ConfigError);
 *   assert.match(err.message, /functions\[0\]\.module: "\.\/nope\.ts" does not exist/);
 *   return true;
 * });
 * ```
 *
 * @param file The config file, as given.
 * @param config The config read from it.
 * @throws {ConfigError} for the first module that does not exist.
 */
export async function checkFunctionModules(file: string, config: NodeConfig): Promise<void> {
  for (const [index, { module }] of config.functions.entries()) {
    if (!module.startsWith("file:")) continue;
    const path = fileURLToPath(module);
    try {
      await Deno.stat(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) continue; // the import reports it
      const written = relative(dirname(resolve(file)), path);
      const shown = written.startsWith("..") || isAbsolute(written) ? written : `./${written}`;
      const key = `functions[${index}].module`;
      throw new ConfigError(file, `${key}: "${shown}" does not exist (${path})`, {
        key,
        cause: err,
      });
    }
  }
}
