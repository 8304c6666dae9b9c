// Copyright 2026 the mpreg authors. MIT license.
/**
 * The schema of the YAML node config, in `npm:valibot`: each key, its type,
 * its range and its message, in one place. {@linkcode configSchema} is the
 * validator, {@linkcode YamlConfig} the type of what it returns (snake_case,
 * seconds already in milliseconds, paths already absolute); `config.ts`
 * maps it onto `ServerOptions`.
 *
 * Every message reads "expected ..." so that a fault can be reported as
 * `file:line: key "path": expected ..., got <the value found>`.
 *
 * @module
 */
import * as v from "valibot";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseOrigin } from "./origin.ts";

/** The log levels, most verbose first. */
export const LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;
/** The log formats. */
export const FORMATS = ["pretty", "json"] as const;
/** The log level when none is given. */
export const LOG_DEFAULT_LEVEL = "info";
/** The log format when none is given. */
export const LOG_DEFAULT_FORMAT = "pretty";
/** Deno's permission kinds. */
const PERMISSION_KINDS = ["net", "read", "write", "env", "run", "ffi", "sys"] as const;

const TEXT = "expected a non-empty string";
const SECONDS = "expected a positive number of seconds";
const RELATIVE = "expected a file path relative to the config file";

const text = v.pipe(v.string(TEXT), v.minLength(1, TEXT));

const boolean = v.boolean("expected true or false");

function integer(min: number, max: number) {
  const expected = `expected an integer from ${min} to ${max}`;
  return v.pipe(
    v.number(expected),
    v.integer(expected),
    v.minValue(min, expected),
    v.maxValue(max, expected),
  );
}

/** A positive number of seconds, returned in milliseconds. */
const secondsAsMs = v.pipe(
  v.number(SECONDS),
  v.finite(SECONDS),
  v.gtValue(0, SECONDS),
  // Rounded to the microsecond, so that 1.1 s is 1100 ms, not 1100.0000000000002.
  v.transform((seconds) => Math.round(seconds * 1e6) / 1e3),
);

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return v.picklist(values, `expected one of ${values.join(", ")}`);
}

function url(protocols: readonly string[] | null, expected: string) {
  return v.pipe(
    v.string(expected),
    v.check((value) => {
      if (!URL.canParse(value)) return false;
      return protocols === null || protocols.includes(new URL(value).protocol);
    }, expected),
  );
}

const strings = v.array(text, "expected a list of strings");

/** `*`, or a web origin: scheme, host and optional port. */
const origin = v.pipe(
  v.string('expected "*" or an origin like https://app.example.com (no path)'),
  v.check(
    (value) => value === "*" || parseOrigin(value) !== null,
    'expected "*" or an origin like https://app.example.com (no path)',
  ),
);

const sha256Hex = v.pipe(
  v.string("expected the SHA-256 of the token as 64 hex digits"),
  v.regex(/^[0-9a-fA-F]{64}$/, "expected the SHA-256 of the token as 64 hex digits"),
);

const memoryMb = integer(32, 1_048_576);

const grant = v.object({
  allow: v.optional(strings),
  deny: v.optional(strings),
  permissions: v.optional(
    v.array(oneOf(PERMISSION_KINDS), "expected a list of permission kinds"),
  ),
}, "expected a map");

/**
 * The schema of a config file at `file`: relative paths in it (function
 * modules, permission paths, TLS files) resolve against the file's folder.
 *
 * @param file The config file, as given (a relative one is taken from the current directory).
 * @returns The valibot schema of the whole file.
 *
 * @example
 * ```ts ignore
 * import * as v from "valibot";
 * const result = v.safeParse(configSchema("/srv/node.yaml"), { port: 9001 });
 * ```
 */
export function configSchema(file: string): ConfigSchema {
  return buildSchema(file);
}

/** The type of {@linkcode configSchema}'s schema. */
export type ConfigSchema = ReturnType<typeof buildSchema>;

function buildSchema(file: string) {
  const folder = dirname(resolve(file));

  /** A file path relative to the config file, returned absolute. */
  const filePath = v.pipe(
    v.string(RELATIVE),
    v.minLength(1, RELATIVE),
    v.transform((value) => resolve(folder, value)),
  );

  /** A file path (or `file:` URL) relative to the config file, returned as a `file:` URL. */
  const modulePath = v.pipe(
    v.string(RELATIVE),
    v.minLength(1, RELATIVE),
    // A scheme of two letters or more is a URL (one letter is a Windows drive).
    v.check(
      (value) =>
        value.startsWith("file:") ? URL.canParse(value) : !/^[a-z][a-z0-9+.-]+:/i.test(value),
      RELATIVE,
    ),
    v.transform((value) =>
      value.startsWith("file:") ? new URL(value).href : pathToFileURL(resolve(folder, value)).href
    ),
  );

  /** `true`, `false` or a list of strings; `paths` resolves the list against the config file. */
  const permissionValue = (paths: boolean) => {
    const expected = paths
      ? "expected true, false or a list of paths"
      : "expected true, false or a list of strings";
    return v.optional(v.union([
      v.boolean(expected),
      v.array(paths ? filePath : text, expected),
    ], expected));
  };

  const permissions = v.object({
    net: permissionValue(false),
    read: permissionValue(true),
    write: permissionValue(true),
    env: permissionValue(false),
    run: permissionValue(false),
    ffi: permissionValue(true),
    sys: permissionValue(false),
  }, "expected a map");

  /** An item of `functions:`. */
  const functionModule = v.object({
    module: modulePath,
    resources: v.optional(strings, () => []),
    permissions: v.optional(permissions),
    memory_mb: v.optional(memoryMb),
    trusted: v.optional(boolean, false),
    idempotent: v.optional(
      v.union([boolean, strings], "expected true, false or a list of function names"),
    ),
  }, "expected a map");

  const auth = v.object({
    tokens: v.optional(v.array(
      v.object({ sha256: sha256Hex, principal: text }, "expected a map"),
      "expected a list of {sha256, principal} maps",
    )),
    principals: v.optional(
      v.record(v.string(), grant, "expected a map of principal names to grants"),
    ),
    anonymous: v.optional(v.union([v.literal(false), grant], "expected false or a map")),
    max_in_flight_per_principal: v.optional(integer(1, 1_000_000)),
  }, "expected a map");

  return v.object({
    name: v.optional(text),
    host: v.optional(text),
    port: v.optional(integer(0, 65535)),
    cluster_id: v.optional(text),
    resources: v.optional(strings),
    peers: v.optional(
      v.array(url(["ws:", "wss:"], "expected a ws:// or wss:// URL"), "expected a list of URLs"),
    ),
    advertised_urls: v.optional(
      v.array(url(null, "expected a URL"), "expected a list of URLs"),
    ),
    allowed_origins: v.optional(v.array(origin, "expected a list of origins")),
    gossip_interval: v.optional(secondsAsMs),
    reconnect_interval: v.optional(secondsAsMs),
    reconnect_timeout: v.optional(secondsAsMs),
    cluster_secret: v.optional(text),
    require_tls: v.optional(boolean),
    prefer_local: v.optional(boolean),
    relay_chains: v.optional(boolean),
    request_timeout: v.optional(secondsAsMs),
    drain_timeout: v.optional(secondsAsMs),
    debug: v.optional(boolean),
    functions: v.optional(
      v.array(functionModule, "expected a list of {module, resources} maps"),
    ),
    auth: v.optional(auth),
    sandbox: v.optional(v.object({ memory_mb: v.optional(memoryMb) }, "expected a map")),
    tls: v.optional(v.object({ cert: filePath, key: filePath }, "expected a map")),
    log: v.optional(
      v.object({
        level: v.optional(oneOf(LEVELS), LOG_DEFAULT_LEVEL),
        format: v.optional(oneOf(FORMATS), LOG_DEFAULT_FORMAT),
      }, "expected a map"),
      () => ({ level: LOG_DEFAULT_LEVEL, format: LOG_DEFAULT_FORMAT }),
    ),
  }, "expected a map");
}

/**
 * A config file as the schema returns it: snake_case keys, durations in
 * milliseconds, paths absolute, and the defaults of `log` and of each
 * `functions` entry filled in (the node's own options stay unset when
 * absent: `resolveServerOptions` fills them from `SERVER_DEFAULTS`).
 */
export type YamlConfig = v.InferOutput<ConfigSchema>;
