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
 * message names the file, the line and the key, e.g.
 * `node.yaml:4: key "port": expected an integer from 0 to 65535, got "abc"`.
 *
 * Parsing uses `npm:yaml`, which reads the environment variables
 * `LOG_TOKENS` and `LOG_STREAM` on every parse: run with `-A`,
 * `--allow-env=LOG_TOKENS,LOG_STREAM` or `--ignore-env`, or parsing throws
 * `NotCapable`.
 *
 * @module
 */
import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  parseDocument,
  type YAMLMap as YamlMap,
} from "yaml";
import { isWss } from "./_require_tls.ts";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ServerOptions } from "./options.ts";
import { parseOrigin } from "./origin.ts";

/**
 * The log levels, from the most to the least verbose.
 *
 * @example
 * ```ts
 * import { LOG_LEVELS } from "./config.ts";
 * console.log(LOG_LEVELS.includes("info")); // true
 * ```
 */
export const LOG_LEVELS: readonly LogLevel[] = [
  "trace",
  "debug",
  "info",
  "warning",
  "error",
  "fatal",
];

/**
 * The log formats: `pretty` for people, `json` for one JSON object a line.
 *
 * @example
 * ```ts
 * import { LOG_FORMATS } from "./config.ts";
 * console.log(LOG_FORMATS.join("|")); // pretty|json
 * ```
 */
export const LOG_FORMATS: readonly LogFormat[] = ["pretty", "json"];

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
  const ctx: Ctx = { file: path, doc, lines };
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
  const root = doc.contents;
  const raw = root === null || isEmpty(root) ? {} : topLevel(ctx, root, "", lineOf(ctx, root, 1));
  if (raw.require_tls === true) checkRequireTls(ctx, root!, raw);
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
        resources: fn.resources ?? [],
        permissions: fn.permissions,
        memoryMb: fn.memory_mb,
        trusted: fn.trusted ?? false,
      })
    ),
    ...(raw.tls ? { tls: raw.tls } : {}),
    log: { level: raw.log?.level ?? "info", format: raw.log?.format ?? "pretty" },
  };
}

// ---------------------------------------------------------------------------
// Validators. A `Check<T>` reads one YAML node at a key path and returns its
// value, or throws a ConfigError naming the path and the node's line.

interface Ctx {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

type Check<T> = (ctx: Ctx, node: YamlNode | null, path: string, line: number | null) => T;
type Checked<C> = C extends Check<infer T> ? T : never;
type Shape = Record<string, Check<unknown>>;
type RecordOf<S extends Shape, R extends keyof S> =
  & { [K in Exclude<keyof S, R>]?: Checked<S[K]> }
  & { [K in R]: Checked<S[K]> };

function lineOf(ctx: Ctx, node: YamlNode | null, fallback: number | null): number | null {
  const start = node?.range?.[0];
  return start === undefined ? fallback : ctx.lines.linePos(start).line;
}

/** The items of parsed maps and lists are nodes (or null for a missing key or value). */
function asNode(value: unknown): YamlNode | null {
  return isNode(value) ? value : null;
}

/** Follows an alias (`*name`) to its anchored node. */
function deref(ctx: Ctx, node: YamlNode | null): YamlNode | null {
  if (node !== null && isAlias(node)) return node.resolve(ctx.doc) ?? null;
  return node;
}

/** A document of only comments parses to a null scalar. */
function isEmpty(node: YamlNode): boolean {
  return isScalar(node) && node.value === null;
}

function describe(node: YamlNode | null): string {
  if (node === null) return "nothing";
  if (isMap(node)) return "a map";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const value = node.value;
    if (value === null) return "nothing";
    if (typeof value !== "string") return String(value);
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  return "an alias";
}

function fail(
  ctx: Ctx,
  node: YamlNode | null,
  path: string,
  line: number | null,
  expected: string,
): never {
  const where = path === "" ? "the top level" : `key "${path}"`;
  throw new ConfigError(ctx.file, `${where}: ${expected}, got ${describe(node)}`, {
    line,
    key: path === "" ? null : path,
  });
}

/** A scalar's value, or `undefined` for maps and lists. */
function scalarValue(node: YamlNode | null): unknown {
  return node !== null && isScalar(node) ? node.value : undefined;
}

function scalar<T>(expected: string, accept: (value: unknown) => value is T): Check<T> {
  return (ctx, node, path, line) => {
    const target = deref(ctx, node);
    const value = scalarValue(target);
    if (!accept(value)) fail(ctx, target, path, line, expected);
    return value;
  };
}

const isString = (value: unknown): value is string => typeof value === "string" && value !== "";

const text: Check<string> = scalar("expected a non-empty string", isString);

const boolean: Check<boolean> = scalar(
  "expected true or false",
  (value): value is boolean => typeof value === "boolean",
);

function integer(min: number, max: number): Check<number> {
  return scalar(
    `expected an integer from ${min} to ${max}`,
    (value): value is number =>
      typeof value === "number" && Number.isInteger(value) && value >= min && value <= max,
  );
}

/** A positive number of seconds, returned in milliseconds. */
const secondsAsMs: Check<number> = (ctx, node, path, line) => {
  const seconds = scalar(
    "expected a positive number of seconds",
    (value): value is number => typeof value === "number" && Number.isFinite(value) && value > 0,
  )(ctx, node, path, line);
  // Rounded to the microsecond, so that 1.1 s is 1100 ms, not 1100.0000000000002.
  return Math.round(seconds * 1e6) / 1e3;
};

function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return scalar(
    `expected one of ${values.join(", ")}`,
    (value): value is T => values.some((v) => v === value),
  );
}

function url(protocols: readonly string[] | null, expected: string): Check<string> {
  return scalar(expected, (value): value is string => {
    if (typeof value !== "string" || !URL.canParse(value)) return false;
    return protocols === null || protocols.includes(new URL(value).protocol);
  });
}

/** A file path (or `file:` URL) relative to the config file, returned as an absolute `file:` URL. */
const modulePath: Check<string> = (ctx, node, path, line) => {
  const value = scalar("expected a file path relative to the config file", isString)(
    ctx,
    node,
    path,
    line,
  );
  if (value.startsWith("file:")) {
    if (!URL.canParse(value)) {
      fail(ctx, deref(ctx, node), path, line, "expected a file path relative to the config file");
    }
    return new URL(value).href;
  }
  // A scheme of two letters or more is a URL (one letter is a Windows drive).
  if (/^[a-z][a-z0-9+.-]+:/i.test(value)) {
    fail(ctx, deref(ctx, node), path, line, "expected a file path relative to the config file");
  }
  return pathToFileURL(resolve(dirname(resolve(ctx.file)), value)).href;
};

function list<T>(item: Check<T>, expected: string): Check<T[]> {
  return (ctx, node, path, line) => {
    const target = deref(ctx, node);
    if (target === null || !isSeq(target)) fail(ctx, target, path, line, expected);
    return target.items.map((value, i) => {
      const child = asNode(value);
      return item(ctx, child, `${path}[${i}]`, lineOf(ctx, child, line));
    });
  };
}

/**
 * A map with the keys of `shape`, each optional unless listed in `required`.
 * Unknown and duplicate keys are errors.
 */
function record<S extends Shape, R extends keyof S & string = never>(
  shape: S,
  required: readonly R[] = [],
): Check<RecordOf<S, R>> {
  return (ctx, node, path, line) => {
    const target = deref(ctx, node);
    if (target === null || !isMap(target)) fail(ctx, target, path, line, "expected a map");
    const out: Record<string, unknown> = {};
    for (const pair of target.items) {
      const keyNode = asNode(pair.key);
      const valueNode = asNode(pair.value);
      const keyLine = lineOf(ctx, keyNode, line);
      const keyValue = scalarValue(deref(ctx, keyNode));
      const key = typeof keyValue === "string" ? keyValue : describe(keyNode);
      const keyPath = path === "" ? key : `${path}.${key}`;
      const check = typeof keyValue === "string" && Object.hasOwn(shape, key)
        ? shape[key]
        : undefined;
      if (check === undefined) {
        throw new ConfigError(ctx.file, `unknown key "${keyPath}"`, {
          line: keyLine,
          key: keyPath,
        });
      }
      if (Object.hasOwn(out, key)) {
        throw new ConfigError(ctx.file, `duplicate key "${keyPath}"`, {
          line: keyLine,
          key: keyPath,
        });
      }
      out[key] = check(ctx, valueNode, keyPath, lineOf(ctx, valueNode, keyLine));
    }
    for (const key of required) {
      if (!Object.hasOwn(out, key)) {
        const keyPath = path === "" ? key : `${path}.${key}`;
        throw new ConfigError(ctx.file, `missing required key "${keyPath}"`, {
          line,
          key: keyPath,
        });
      }
    }
    return out as RecordOf<S, R>;
  };
}

/** Drops the keys whose value is `undefined`. */
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const strings: Check<string[]> = list(text, "expected a list of strings");

/** `*`, or a web origin: scheme, host and optional port. */
const origin: Check<string> = scalar(
  'expected "*" or an origin like https://app.example.com (no path)',
  (v): v is string => typeof v === "string" && (v === "*" || parseOrigin(v) !== null),
);

/** A file path relative to the config file, returned absolute. */
const filePath: Check<string> = (ctx, node, path, line) => {
  const value = scalar("expected a file path relative to the config file", isString)(
    ctx,
    node,
    path,
    line,
  );
  return resolve(dirname(resolve(ctx.file)), value);
};

/** `true`, `false` or a list of strings; `paths` resolves the list against the config file. */
function permissionValue(paths: boolean): Check<boolean | string[]> {
  const expected = paths
    ? "expected true, false or a list of paths"
    : "expected true, false or a list of strings";
  return (ctx, node, path, line) => {
    const target = deref(ctx, node);
    if (target !== null && isSeq(target)) {
      return list(paths ? filePath : text, expected)(ctx, target, path, line);
    }
    return scalar(expected, (v): v is boolean => typeof v === "boolean")(ctx, target, path, line);
  };
}

/** Deno's permission vocabulary; paths of read, write and ffi are relative to the config file. */
const permissions = record({
  net: permissionValue(false),
  read: permissionValue(true),
  write: permissionValue(true),
  env: permissionValue(false),
  run: permissionValue(false),
  ffi: permissionValue(true),
  sys: permissionValue(false),
});

/** An item of `functions:`. To add a key, add one line here. */
const functionModule = record({
  module: modulePath,
  resources: strings,
  permissions,
  memory_mb: integer(32, 1_048_576),
  trusted: boolean,
}, ["module"]);

const PERMISSION_KIND_NAMES = ["net", "read", "write", "env", "run", "ffi", "sys"] as const;

const grant = record({
  allow: strings,
  deny: strings,
  permissions: list(oneOf(PERMISSION_KIND_NAMES), "expected a list of permission kinds"),
});

/** A map whose keys are names of the user's choosing, each checked by `item`. */
function mapOf<T>(item: Check<T>, expected: string): Check<Record<string, T>> {
  return (ctx, node, path, line) => {
    const target = deref(ctx, node);
    if (target === null || !isMap(target)) fail(ctx, target, path, line, expected);
    const out: Record<string, T> = {};
    for (const pair of target.items) {
      const keyNode = asNode(pair.key);
      const valueNode = asNode(pair.value);
      const keyLine = lineOf(ctx, keyNode, line);
      const key = scalarValue(deref(ctx, keyNode));
      if (typeof key !== "string" || key === "" || key === "__proto__") {
        fail(ctx, keyNode, path, keyLine, "expected names as keys");
      }
      const keyPath = `${path}.${key}`;
      if (Object.hasOwn(out, key)) {
        throw new ConfigError(ctx.file, `duplicate key "${keyPath}"`, {
          line: keyLine,
          key: keyPath,
        });
      }
      out[key] = item(ctx, valueNode, keyPath, lineOf(ctx, valueNode, keyLine));
    }
    return out;
  };
}

const sha256Hex: Check<string> = scalar(
  "expected the SHA-256 of the token as 64 hex digits",
  (v): v is string => typeof v === "string" && /^[0-9a-fA-F]{64}$/.test(v),
);

/** `false` (no anonymous callers) or a grant. */
const anonymousGrant: Check<false | Checked<typeof grant>> = (ctx, node, path, line) => {
  const target = deref(ctx, node);
  if (target !== null && isScalar(target) && target.value === false) return false;
  if (target === null || !isMap(target)) fail(ctx, target, path, line, "expected false or a map");
  return grant(ctx, target, path, line);
};

const auth = record({
  tokens: list(
    record({ sha256: sha256Hex, principal: text }, ["sha256", "principal"]),
    "expected a list of {sha256, principal} maps",
  ),
  principals: mapOf(grant, "expected a map of principal names to grants"),
  anonymous: anonymousGrant,
  max_in_flight_per_principal: integer(1, 1_000_000),
});

const tls = record({ cert: filePath, key: filePath }, ["cert", "key"]);

const sandbox = record({ memory_mb: integer(32, 1_048_576) });

const log = record({
  level: oneOf(LOG_LEVELS),
  format: oneOf(LOG_FORMATS),
});

const topLevel = record({
  "name": text,
  "host": text,
  "port": integer(0, 65535),
  "cluster_id": text,
  "resources": strings,
  "peers": list(url(["ws:", "wss:"], "expected a ws:// or wss:// URL"), "expected a list of URLs"),
  "advertised_urls": list(url(null, "expected a URL"), "expected a list of URLs"),
  "allowed_origins": list(origin, "expected a list of origins"),
  "gossip_interval": secondsAsMs,
  "reconnect_interval": secondsAsMs,
  "reconnect_timeout": secondsAsMs,
  "cluster_secret": text,
  "require_tls": boolean,
  "prefer_local": boolean,
  "request_timeout": secondsAsMs,
  "drain_timeout": secondsAsMs,
  "debug": boolean,
  "functions": list(functionModule, "expected a list of {module, resources} maps"),
  "auth": auth,
  "sandbox": sandbox,
  "tls": tls,
  "log": log,
});

/**
 * `require_tls: true` needs `tls:` (the node serves wss:// itself) and only
 * wss:// URLs in `peers` and `advertised_urls`.
 */
function checkRequireTls(
  ctx: Ctx,
  root: YamlNode,
  raw: { tls?: unknown; peers?: string[]; advertised_urls?: string[] },
): void {
  const nodeOf = (path: Array<string | number>) => asNode((root as YamlMap).getIn(path, true));
  const lineAt = (path: Array<string | number>) =>
    lineOf(ctx, nodeOf(path), lineOf(ctx, nodeOf(["require_tls"]), null));
  if (raw.tls === undefined) {
    throw new ConfigError(
      ctx.file,
      'key "require_tls": needs "tls": the node must serve wss:// itself',
      { line: lineAt(["require_tls"]), key: "require_tls" },
    );
  }
  for (const key of ["peers", "advertised_urls"] as const) {
    const i = (raw[key] ?? []).findIndex((url) => !isWss(url));
    if (i < 0) continue;
    throw new ConfigError(
      ctx.file,
      `key "${key}[${i}]": expected a wss:// URL with require_tls, got ${
        JSON.stringify(raw[key]![i])
      }`,
      { line: lineAt([key, i]), key: `${key}[${i}]` },
    );
  }
}
