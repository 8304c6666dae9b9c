// Copyright 2026 the mpreg authors. MIT license.
/**
 * Options of a {@linkcode Server}: the TypeScript form
 * ({@linkcode ServerOptions}), the one table of their defaults
 * ({@linkcode SERVER_DEFAULTS}), and the resolver that turns options, from
 * code or from a YAML file, into the settings a node runs with
 * ({@linkcode resolveServerOptions}).
 *
 * @module
 */
import type { AuthOptions } from "../auth/authenticator.ts";
import { DEFAULT_LIMITS, type Limits } from "../protocol/limits.ts";

/**
 * Options for `new Server(options)`. Every field is optional.
 *
 * @example A node on a free port with two resources
 * ```ts
 * import assert from "node:assert/strict";
 * import { Server, type ServerOptions } from "@mpreg/mpreg";
 * const options: ServerOptions = { name: "gpu-1", port: 0, resources: ["gpu", "model-a"] };
 * await using server = await new Server(options).start();
 * assert.equal(server.name, "gpu-1");
 * assert.notEqual(server.port, 0); // a free port was picked
 * assert.deepEqual([...server.resources], ["gpu", "model-a"]);
 * ```
 */
export interface ServerOptions {
  /**
   * The node's name, unique in its cluster; it names the node in logs,
   * errors and the cluster view.
   *
   * @default {"mpreg-" + a random suffix}
   */
  name?: string;
  /**
   * The address to listen on.
   *
   * @default {"127.0.0.1"}
   */
  host?: string;
  /**
   * The port to listen on; `0` picks a free port (read it from `server.port`).
   *
   * @default {6666}
   */
  port?: number;
  /**
   * Nodes only join peers with the same cluster id.
   *
   * @default {"default-cluster"}
   */
  clusterId?: string;
  /**
   * A secret shared by the cluster's nodes. When set, a peer must prove it
   * knows the secret (an HMAC challenge over fresh nonces; the secret never
   * crosses the wire) before it is admitted.
   *
   * @default {undefined}
   */
  clusterSecret?: string;
  /**
   * Run a step on this node whenever it offers the function with the step's
   * resources, rather than balancing it across candidates.
   *
   * @default {true}
   */
  preferLocal?: boolean;
  /**
   * Run a chain of steps on other members as a relay, member to member
   * (docs/cluster.md, "Relayed chains"): fewer hops and no value through
   * this node. Off, each step's value comes back here and goes out again.
   * Relaying costs less work in all, and saves a network hop per step; on
   * one small machine whose processes sleep between calls, waking more of
   * them per request can cost more than the hops it saves
   * (docs/performance.md).
   *
   * @default {true}
   */
  relayChains?: boolean;
  /**
   * How long a peer's handshake may take, in milliseconds.
   *
   * @default {5000}
   */
  handshakeTimeoutMs?: number;
  /**
   * Resources (datasets, models, devices) this node offers to every function
   * registered on it.
   *
   * @default {[]}
   */
  resources?: Iterable<string>;
  /**
   * URLs of nodes to join through (seeds). The node dials them at start,
   * retrying with backoff until one answers, and afterwards every
   * `reconnectIntervalMs` dials each seed that is not a live member. A
   * `ws://` seed whose host is a name stands for every address the name
   * resolves to, resolved again on every attempt (a Kubernetes headless
   * service); a `wss://` seed is dialed by its name.
   *
   * @default {[]}
   */
  peers?: string[];
  /**
   * The URLs other nodes and clients should use to reach this node.
   *
   * @default {[server.url]}
   */
  advertisedUrls?: string[];
  /**
   * Origins of web pages that may open a WebSocket to this node besides its
   * own, like `https://app.example.com` (scheme, host, optional port), or
   * `"*"` for every page (logged as a warning at start). The node's own
   * origins are always allowed: the `http(s)://` form of its URL and of each
   * advertised URL, `localhost`, `127.0.0.1` and `[::1]` at its port when it
   * listens on a loopback or wildcard address, and an IP address that is the
   * `Host` the browser connected to. An upgrade with any other `Origin` is
   * refused with 403; programs, which send no `Origin`, are not affected.
   *
   * @default {[]}
   */
  allowedOrigins?: string[];
  /**
   * How often the node gossips with its peers, in milliseconds.
   *
   * @default {1000}
   */
  gossipIntervalMs?: number;
  /**
   * How often the node tries to reach the members it holds dead, and the
   * seeds that are not live members, in milliseconds (±25 % jitter). A
   * successful contact merges the two views: a partition heals, a restarted
   * seed is found again.
   *
   * @default {30000}
   */
  reconnectIntervalMs?: number;
  /**
   * How long a dead member is kept, with its URLs, and tried again, in
   * milliseconds; members that left are kept as long (never tried), so a
   * late rumour cannot bring them back.
   *
   * @default {86400000 (24 hours)}
   */
  reconnectTimeoutMs?: number;
  /**
   * Per-connection limits; missing fields take the defaults of
   * `DEFAULT_LIMITS`.
   *
   * @default {DEFAULT_LIMITS}
   */
  limits?: Partial<Limits>;
  /**
   * The deadline of a request whose client sent none, in milliseconds.
   *
   * @default {30000}
   */
  requestTimeoutMs?: number;
  /**
   * The longest deadline a client may ask for, in milliseconds.
   *
   * @default {300000}
   */
  maxRequestTimeoutMs?: number;
  /**
   * How long `stop()` lets requests in flight finish, in milliseconds.
   *
   * @default {10000}
   */
  drainTimeoutMs?: number;
  /**
   * Serve `wss://` (and `https://`) with this certificate and key (PEM
   * text). Peers dialing a `wss://` URL must trust the certificate (for a
   * self-signed one: `DENO_CERT=ca.pem` or `deno run --cert ca.pem`).
   *
   * @default {undefined (plain ws://)}
   */
  tls?: { cert: string; key: string };
  /**
   * Link to peers only over TLS: the node must serve `tls` itself (so every
   * link it accepts is `wss://`), `peers` and `advertisedUrls` must be
   * `wss://` URLs (else `start()` rejects), and `ws://` URLs learned from
   * gossip are never dialed (logged once per URL). Without it, a cluster
   * secret protects admission only: on `ws://`, later frames can be read and
   * changed by whoever is on the path.
   *
   * @default {false}
   */
  requireTls?: boolean;
  /**
   * Tokens, principals and grants. Without it every caller is anonymous and
   * may call only functions that declare no permissions.
   *
   * @default {{}}
   */
  auth?: AuthOptions;
  /**
   * Settings of the sandbox processes that run functions registered with
   * `permissions` or `sandbox: true` (and config modules not marked
   * `trusted`).
   *
   * @default {{ memoryMb: 512 }}
   */
  sandbox?: SandboxSettings;
  /**
   * When true, error details include stack traces.
   *
   * @default {false}
   */
  debug?: boolean;
}

/**
 * Settings of a node's sandbox processes (`ServerOptions.sandbox`, YAML
 * `sandbox:`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Server, type SandboxSettings } from "@mpreg/mpreg";
 * const sandbox: SandboxSettings = { memoryMb: 256 };
 * await using server = await new Server({ port: 0, sandbox })
 *   .register("one", () => 1, { sandbox: true })
 *   .start();
 * assert.equal(server.stats().sandbox?.profiles[0]?.memoryMb, 256);
 * ```
 */
export interface SandboxSettings {
  /**
   * The default memory cap of a sandbox process, in MiB (YAML
   * `sandbox.memory_mb`): its V8 heap limit and the most resident memory
   * it may hold. A function or config entry may set its own (`memoryMb`,
   * `memory_mb`).
   *
   * @default {512}
   */
  memoryMb?: number;
}

/**
 * The defaults of the {@linkcode ServerOptions} that have a fixed one: the
 * one place they are written (the `@default` of each option names the same
 * value). `name` (random) and `limits` (`DEFAULT_LIMITS`) are not here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SERVER_DEFAULTS } from "./options.ts";
 * assert.equal(SERVER_DEFAULTS.port, 6666);
 * assert.equal(SERVER_DEFAULTS.gossipIntervalMs, 1000);
 * ```
 */
export const SERVER_DEFAULTS: ServerDefaults = Object.freeze({
  host: "127.0.0.1",
  port: 6666,
  clusterId: "default-cluster",
  preferLocal: true,
  relayChains: true,
  handshakeTimeoutMs: 5_000,
  gossipIntervalMs: 1_000,
  reconnectIntervalMs: 30_000,
  reconnectTimeoutMs: 86_400_000,
  requestTimeoutMs: 30_000,
  maxRequestTimeoutMs: 300_000,
  drainTimeoutMs: 10_000,
  requireTls: false,
  debug: false,
});

/**
 * The type of {@linkcode SERVER_DEFAULTS}: each option with a fixed default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SERVER_DEFAULTS, type ServerDefaults } from "./options.ts";
 * const fast: ServerDefaults = { ...SERVER_DEFAULTS, gossipIntervalMs: 50 };
 * assert.equal(fast.gossipIntervalMs, 50);
 * ```
 */
export interface ServerDefaults {
  /**
   * The address to listen on.
   *
   * @default {"127.0.0.1"}
   */
  readonly host: string;
  /**
   * The port to listen on.
   *
   * @default {6666}
   */
  readonly port: number;
  /**
   * The cluster id.
   *
   * @default {"default-cluster"}
   */
  readonly clusterId: string;
  /**
   * Run a step here when this node offers it.
   *
   * @default {true}
   */
  readonly preferLocal: boolean;
  /**
   * Relay chains of steps member to member.
   *
   * @default {true}
   */
  readonly relayChains: boolean;
  /**
   * How long a peer's handshake may take, in milliseconds.
   *
   * @default {5000}
   */
  readonly handshakeTimeoutMs: number;
  /**
   * How often the node gossips, in milliseconds.
   *
   * @default {1000}
   */
  readonly gossipIntervalMs: number;
  /**
   * How often dead members and seeds are tried again, in milliseconds.
   *
   * @default {30000}
   */
  readonly reconnectIntervalMs: number;
  /**
   * How long a dead member is kept, in milliseconds.
   *
   * @default {86400000}
   */
  readonly reconnectTimeoutMs: number;
  /**
   * The deadline of a request that asks for none, in milliseconds.
   *
   * @default {30000}
   */
  readonly requestTimeoutMs: number;
  /**
   * The longest deadline a request may ask for, in milliseconds.
   *
   * @default {300000}
   */
  readonly maxRequestTimeoutMs: number;
  /**
   * How long `stop()` lets requests finish, in milliseconds.
   *
   * @default {10000}
   */
  readonly drainTimeoutMs: number;
  /**
   * Link to peers only over TLS.
   *
   * @default {false}
   */
  readonly requireTls: boolean;
  /**
   * Stack traces in error details.
   *
   * @default {false}
   */
  readonly debug: boolean;
}

/**
 * The settings a node runs with: every option of {@linkcode ServerOptions}
 * with its default filled in (see {@linkcode resolveServerOptions}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ResolvedServerOptions, resolveServerOptions } from "./options.ts";
 * const settings: ResolvedServerOptions = resolveServerOptions({ port: 0 });
 * assert.equal(settings.port, 0);
 * assert.equal(settings.clusterId, "default-cluster");
 * ```
 */
export interface ResolvedServerOptions extends ServerDefaults {
  /** The node's name. */
  readonly name: string;
  /** The cluster secret, or `null` for none. */
  readonly clusterSecret: string | null;
  /** The node's own resources. */
  readonly resources: readonly string[];
  /** The seeds to join through. */
  readonly peers: readonly string[];
  /** The URLs advertised; empty: the node's own URL. */
  readonly advertisedUrls: readonly string[];
  /** The origins allowed besides the node's own. */
  readonly allowedOrigins: readonly string[];
  /** The connection limits, every field set. */
  readonly limits: Readonly<Limits>;
  /** The certificate and key, or `null` for plain `ws://`. */
  readonly tls: { readonly cert: string; readonly key: string } | null;
  /** Tokens, principals and grants. */
  readonly auth: AuthOptions;
  /** The default memory cap of a sandbox process in MiB, or `null`: the sandbox's own (512). */
  readonly sandboxMemoryMb: number | null;
}

/**
 * Resolves a node's options: each option not given takes its default from
 * {@linkcode SERVER_DEFAULTS} (the name a random `mpreg-` one, the limits
 * those of `DEFAULT_LIMITS`). Options from a YAML file
 * (`parseConfig().options`) and from code resolve the same way.
 *
 * @param options The options given.
 * @returns The settings, frozen.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveServerOptions } from "./options.ts";
 * import { parseConfig } from "./config.ts";
 * const fromCode = resolveServerOptions({ name: "n1", gossipIntervalMs: 50 });
 * const fromYaml = resolveServerOptions(
 *   parseConfig("name: n1\ngossip_interval: 0.05\n", "node.yaml").options,
 * );
 * assert.deepEqual(fromYaml, fromCode);
 * assert.equal(fromCode.port, 6666);
 * ```
 */
export function resolveServerOptions(options: ServerOptions = {}): ResolvedServerOptions {
  const given = Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as ServerOptions;
  return Object.freeze({
    ...SERVER_DEFAULTS,
    ...pick(given, Object.keys(SERVER_DEFAULTS) as (keyof ServerDefaults)[]),
    name: given.name ?? randomName(),
    clusterSecret: given.clusterSecret ?? null,
    resources: [...given.resources ?? []],
    peers: [...given.peers ?? []],
    advertisedUrls: [...given.advertisedUrls ?? []],
    allowedOrigins: [...given.allowedOrigins ?? []],
    limits: Object.freeze({ ...DEFAULT_LIMITS, ...given.limits }),
    tls: given.tls ?? null,
    auth: given.auth ?? {},
    sandboxMemoryMb: given.sandbox?.memoryMb ?? null,
  });
}

function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Partial<T> {
  return Object.fromEntries(
    keys.filter((k) => k in value).map((k) => [k, value[k]]),
  ) as unknown as Partial<T>;
}

function randomName(): string {
  return `mpreg-${crypto.randomUUID().slice(0, 8)}`;
}
