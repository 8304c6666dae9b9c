// Copyright 2026 the mpreg authors. MIT license.
/**
 * The mpreg node.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Authenticator, type AuthResult, type Principal } from "../auth/authenticator.ts";
import { DeadlineQueue } from "../_util/deadline_queue.ts";
import { Cluster, type MemberInfo } from "../cluster/cluster.ts";
import { ClusterNode, type ClusterStats } from "../cluster/cluster_node.ts";
import { PEER_PROTOCOL } from "../cluster/peer_protocol.ts";
import type { RunMessage } from "../cluster/peer_protocol.ts";
import { PermissionDeniedError, type RpcError, TimeoutError } from "../protocol/errors.ts";
import { AUTH_PROTOCOL_PREFIX, negotiateCodec } from "../protocol/codec.ts";
import { DEFAULT_LIMITS, type Limits } from "../protocol/limits.ts";
import { FunctionRegistry, type Invoker, type RpcFunction } from "../registry/registry.ts";
import {
  type FunctionPermissions,
  missingHostPermissionsSync,
  normalizePermissions,
  permissionKinds,
} from "../sandbox/permissions.ts";
import type { WorkerPoolStats } from "../sandbox/pool.ts";
import { Sandbox, type SandboxStats } from "../sandbox/sandbox.ts";
import { echo, echos } from "./builtins.ts";
import { ClientConnection, type ConnectionHost } from "./connection.ts";
import { handleHttp } from "./http_routes.ts";
import { type EventLoopStats, type FunctionStats, Metrics, type Sample } from "./metrics.ts";
import { EventLoopLag } from "./_event_loop_lag.ts";
import { endWith, failSpan, startRemoteChild, tracingEnabled, withSpan } from "./tracing.ts";
import { loadConfig, type NodeConfig } from "./config.ts";
import { importFunctions } from "./function_modules.ts";
import type { ServerOptions } from "./options.ts";
import { RequestRunner } from "./request_runner.ts";
import { OriginGuard } from "./origin.ts";
import { requireTlsViolation } from "./_require_tls.ts";

const log = getLogger(["mpreg", "server"]);

/**
 * How a function is registered: its resources, and where it runs.
 *
 * @example A function that may fetch from one host, in a sandbox process
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type FunctionOptions, Server } from "@mpreg/mpreg";
 * const options: FunctionOptions = { resources: ["dataset-1"], permissions: { net: ["127.0.0.1"] } };
 * await using server = await new Server({ port: 0, auth: { anonymous: { permissions: ["net"] } } })
 *   .register("double", (x: number) => x * 2, options)
 *   .start();
 * await using client = new Client(server.url);
 * assert.equal(await client.call("double", [21], { locs: ["dataset-1"] }), 42);
 * assert.equal(server.stats().sandbox?.pools, 1); // it ran in a sandbox process
 * ```
 */
export interface FunctionOptions {
  /**
   * Resources this function needs, added to the node's own resources when
   * matching a step's `locs`.
   *
   * @default {[]}
   */
  resources?: Iterable<string>;
  /**
   * What the function may touch, in Deno's vocabulary (`net`, `read`,
   * `write`, `env`, `run`, `ffi`, `sys`: `true`, `false` or a list of
   * hosts, paths, names). With it, the function runs in a sandbox process
   * holding exactly these permissions, and callers need every declared kind
   * in their grant.
   *
   * @default {undefined (runs inline, declares nothing)}
   */
  permissions?: FunctionPermissions;
  /**
   * Run in a sandbox process even without permissions (it then may touch
   * nothing). A sandboxed function registered in code runs from its source:
   * it must be self-contained (no closures, no imports).
   *
   * @default {false}
   */
  sandbox?: boolean;
  /**
   * The memory cap of its sandbox process, in MiB.
   *
   * @default {the node's `sandbox.memoryMb`, else 512}
   */
  memoryMb?: number;
}

/**
 * How a module's functions are registered: see {@linkcode Server.registerModule}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type ModuleOptions, Server } from "@mpreg/mpreg";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/fns.ts`, "export const triple = (x: number) => x * 3;\n");
 * const options: ModuleOptions = { resources: ["cpu"], trusted: true };
 * await using server = await new Server({ port: 0 }).start();
 * assert.deepEqual(await server.registerModule(`file://${dir}/fns.ts`, options), ["triple"]);
 * await using client = new Client(server.url);
 * assert.equal(await client.call("triple", [5]), 15);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface ModuleOptions {
  /**
   * Resources the module's functions need.
   *
   * @default {[]}
   */
  resources?: Iterable<string>;
  /**
   * What the functions may touch; they run in sandbox processes holding
   * exactly this.
   *
   * @default {{} (nothing)}
   */
  permissions?: FunctionPermissions;
  /**
   * The memory cap of their sandbox processes, in MiB.
   *
   * @default {the node's `sandbox.memoryMb`, else 512}
   */
  memoryMb?: number;
  /**
   * Run the functions inline with this process's permissions instead.
   *
   * @default {false}
   */
  trusted?: boolean;
}

/**
 * A node's figures, as `server.stats()` and `GET /stats` return them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type NodeStats, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ name: "n1", port: 0 }).start();
 * await using client = new Client(server.url);
 * await client.call("echo", [1]);
 * const stats: NodeStats = server.stats();
 * assert.equal(stats.node, "n1");
 * assert.equal(stats.functions.echo?.calls, 1);
 * assert.equal(stats.connections, 1);
 * ```
 */
export interface NodeStats {
  /** The node's name. */
  node: string;
  /** When the figures were read, in milliseconds since the epoch. */
  time: number;
  /** Per function: the calls run on this node. */
  functions: Record<string, FunctionStats>;
  /** Client requests in flight. */
  requestsInFlight: number;
  /** Open client connections. */
  connections: number;
  /** Cluster traffic and links, once started. */
  cluster: ClusterStats | null;
  /**
   * The event loop's lag, sampled every 100 ms: a node whose loop is busy
   * (a long synchronous call) answers nobody meanwhile.
   */
  eventLoop: EventLoopStats;
  /** Sandbox pools, once a sandboxed function exists. */
  sandbox: SandboxStats | null;
}

/**
 * Options for {@linkcode Server.stop}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Server, type StopOptions } from "@mpreg/mpreg";
 * const server = await new Server({ port: 0 }).start();
 * const options: StopOptions = { drainTimeoutMs: 1_000 };
 * await server.stop(options);
 * assert.equal(server.listening, false);
 * ```
 */
export interface StopOptions {
  /**
   * How long requests in flight may take to finish, in milliseconds.
   *
   * @default {the server's `drainTimeoutMs`}
   */
  drainTimeoutMs?: number;
}

/**
 * How long a stop waits for clients to answer its close frames at least,
 * when the drain timeout is longer, even after the requests used it all.
 */
const CLOSE_GRACE_MS = 1_000;

function randomName(): string {
  return `mpreg-${crypto.randomUUID().slice(0, 8)}`;
}

function formatUrl(scheme: "ws" | "wss", host: string, port: number): string {
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * An mpreg node: serves clients and peers over WebSocket on one port, runs
 * registered functions, and resolves requests of dependent steps.
 *
 * Every node offers the built-ins `echo` (exactly one argument, returned)
 * and `echos` (any arguments, returned as an array).
 *
 * @example Serve a function and call it
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 })
 *   .register("add", (a: number, b: number) => a + b)
 *   .start();
 * await using client = new Client(server.url);
 * assert.equal(await client.call("add", [2, 3]), 5);
 * ```
 */
export class Server {
  /** The node's name. */
  readonly name: string;
  /** The cluster view: members, functions, look-ups. */
  readonly cluster: Cluster;
  /** The connection limits in force. */
  readonly limits: Limits;

  readonly #options: ServerOptions;
  readonly #registry = new FunctionRegistry();
  readonly #resources: Set<string>;
  readonly #runner: RequestRunner;
  readonly #connections = new Set<ClientConnection>();
  readonly #auth: Authenticator;
  readonly #metrics: Metrics;
  readonly #loopLag: EventLoopLag;
  /** Per function, when a slow synchronous call was last logged, and how many since. */
  readonly #slowCalls = new Map<string, { at: number; since: number }>();
  #sandbox: Sandbox | null = null;
  readonly #principalLoad = new Map<string, number>();
  #http: Deno.HttpServer<Deno.NetAddr> | null = null;
  #port: number;
  #urls: string[] = [];
  #draining = false;
  #inFlight = 0;
  #idle: (() => void) | null = null;
  #stopping: Promise<void> | null = null;
  #node: ClusterNode | null = null;
  readonly #incarnation = Date.now();
  readonly #connectionHost: ConnectionHost;
  readonly #origins: OriginGuard;

  /**
   * Creates a node from a YAML config file (or an already loaded config):
   * its settings, plus every exported function of each module listed under
   * `functions:`, registered under its export name with the entry's
   * resources. The node is not started.
   *
   * @param config The path of the YAML file, or a loaded {@linkcode NodeConfig}.
   * @param overrides Options that win over the file's.
   * @returns The node, not yet started.
   * @throws {ConfigError} when the file is missing or invalid.
   * @throws {Error} when a function module cannot be imported.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, Server } from "@mpreg/mpreg";
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/fns.ts`, "export const inc = (x: number) => x + 1;\n");
   * await Deno.writeTextFile(
   *   `${dir}/node.yaml`,
   *   "name: n1\nfunctions:\n  - module: ./fns.ts\n    trusted: true\n",
   * );
   * await using server = await (await Server.fromConfig(`${dir}/node.yaml`, { port: 0 })).start();
   * assert.equal(server.name, "n1");
   * await using client = new Client(server.url);
   * assert.equal(await client.call("inc", [1]), 2);
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  static async fromConfig(
    config: string | NodeConfig,
    overrides: ServerOptions = {},
  ): Promise<Server> {
    const loaded = typeof config === "string" ? await loadConfig(config) : config;
    const server = new Server({ ...loaded.options, ...overrides });
    for (const entry of loaded.functions) {
      await server.registerModule(entry.module, {
        resources: entry.resources,
        ...(entry.permissions ? { permissions: entry.permissions } : {}),
        ...(entry.memoryMb === undefined ? {} : { memoryMb: entry.memoryMb }),
        trusted: entry.trusted,
      });
    }
    return server;
  }

  /**
   * Creates a node; call {@linkcode Server.start} to listen.
   *
   * @param options The node's settings; see {@linkcode ServerOptions}.
   * @throws {TypeError} when an `allowedOrigins` entry is neither `"*"` nor an origin.
   */
  constructor(options: ServerOptions = {}) {
    this.#options = options;
    this.name = options.name ?? randomName();
    this.#port = options.port ?? 6666;
    this.#resources = new Set(options.resources ?? []);
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...options.limits });
    this.#auth = new Authenticator(options.auth);
    this.#origins = new OriginGuard(options.allowedOrigins);
    // A synchronous call of half a gossip interval delays this node's acks
    // that much: warn, naming the function.
    this.#metrics = new Metrics({
      slowCallMs: (options.gossipIntervalMs ?? 1000) / 2,
      onSlowCall: (fun, ms) => this.#slowCall(fun, ms),
    });
    this.#loopLag = new EventLoopLag(100, (ms) => this.#metrics.observeLoopLag(ms));
    this.#registry.register("echo", echo as RpcFunction);
    this.#registry.register("echos", echos as RpcFunction);
    this.#runner = new RequestRunner({
      node: this.name,
      resources: this.#resources,
      registry: this.#registry,
      debug: options.debug ?? false,
      metrics: this.#metrics,
    });
    this.cluster = new Cluster({
      name: this.name,
      members: () => this.#node?.members() ?? [this.#selfInfo()],
    });
    this.#registry.onChange(() =>
      this.#node?.updateSelf({
        functions: this.#functionTable(),
        permissions: this.#permissionTable(),
      })
    );
    const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    const maxRequestTimeoutMs = options.maxRequestTimeoutMs ?? 300_000;
    this.#connectionHost = {
      node: this.name,
      limits: this.limits,
      requestTimeoutMs,
      maxRequestTimeoutMs,
      deadlines: new DeadlineQueue(),
      countRequest: () => this.#metrics.requestStarted(),
      isDraining: () => this.#draining,
      runRequest: (request, signal, deadline, principal) =>
        this.#runner.run({
          u: request.u,
          steps: request.cmds,
          all: request.all ?? false,
          signal,
          deadline,
          principal,
        }),
      acquire: (principal) => {
        const load = this.#principalLoad.get(principal.name) ?? 0;
        if (load >= this.#auth.maxInFlightPerPrincipal) return false;
        this.#principalLoad.set(principal.name, load + 1);
        return true;
      },
      release: (principal) => {
        // Kept at 0 rather than deleted: principals are few (configured, or
        // anonymous), and deleting and re-adding on every request would
        // rehash the map over and over.
        const load = this.#principalLoad.get(principal.name) ?? 1;
        this.#principalLoad.set(principal.name, Math.max(0, load - 1));
      },
      requestStarted: () => {
        this.#inFlight++;
      },
      requestEnded: () => {
        if (--this.#inFlight === 0 && this.#idle) this.#idle();
      },
      connectionClosed: (connection) => {
        this.#connections.delete(connection);
      },
    };
  }

  /** The host the node listens on. */
  get host(): string {
    return this.#options.host ?? "127.0.0.1";
  }

  /** The port: the bound one once started (useful with `port: 0`). */
  get port(): number {
    return this.#port;
  }

  /** `ws://host:port` (or `wss://` with TLS) of the listening socket. */
  get url(): string {
    return formatUrl(this.#options.tls ? "wss" : "ws", this.host, this.#port);
  }

  /** The URLs this node advertises to peers and clients. */
  get urls(): string[] {
    return this.#urls.length > 0 ? [...this.#urls] : [this.url];
  }

  /** The node's own resources. */
  get resources(): ReadonlySet<string> {
    return this.#resources;
  }

  /** True between `start()` and `stop()`. */
  get listening(): boolean {
    return this.#http !== null && !this.#draining;
  }

  /** Requests in flight on this node. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Registers a function; registering a name again replaces it.
   *
   * @param name The name callers use.
   * @param fn The function, sync or async. It receives the step's `args`,
   *   plus one trailing object when the step has `kwargs`, and a
   *   {@linkcode CallContext} as `this`.
   * @param options The function's own resources.
   * @returns This server, for chaining.
   */
  register(name: string, fn: RpcFunction, options: FunctionOptions = {}): this {
    const sandboxed = options.permissions !== undefined || options.sandbox === true;
    if (!sandboxed) {
      this.#registry.register(name, fn, { resources: options.resources ?? [] });
    } else {
      const permissions = normalizePermissions(options.permissions ?? {});
      const load = options.memoryMb === undefined ? {} : { memoryMb: options.memoryMb };
      this.#registerSandboxed(
        name,
        fn,
        permissions,
        options.resources ?? [],
        () => this.#sandboxed().load(name, { source: fn.toString() }, permissions, load),
      );
    }
    log.debug("Registered {fun}", { fun: name, node: this.name, sandboxed });
    return this;
  }

  /**
   * Registers every exported function of a module under its export name.
   * Unless `trusted`, the functions run in sandbox processes holding exactly
   * `permissions` (none by default), and the module is loaded only there,
   * once its module graph is found within `permissions` (see
   * `checkModuleGraph()`): its code never runs with this process's
   * permissions.
   *
   * @param module The module's URL (`file:` or any URL Deno imports).
   * @param options Resources, permissions, and `trusted`.
   * @returns The names registered.
   * @throws {PermissionDeniedError} when this process lacks a permission the
   *   functions declare, or the module's graph reaches beyond `permissions`
   *   (the message names the module, its functions, the import and the
   *   permission it needs).
   * @throws {Error} when the module cannot be loaded or exports no function.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, Server } from "@mpreg/mpreg";
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/fns.ts`, "export const upper = (s: string) => s.toUpperCase();\n");
   * await using server = await new Server({ port: 0 }).start();
   * // Sandboxed (not trusted): the module loads only in a sandbox process.
   * assert.deepEqual(await server.registerModule(`file://${dir}/fns.ts`), ["upper"]);
   * await using client = new Client(server.url);
   * assert.equal(await client.call("upper", ["hi"]), "HI");
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async registerModule(module: string, options: ModuleOptions = {}): Promise<string[]> {
    const resources = [...(options.resources ?? [])];
    if (options.trusted) {
      const functions = await importFunctions(module);
      for (const [name, fn] of functions) this.register(name, fn, { resources });
      return [...functions.keys()];
    }
    const permissions = normalizePermissions(options.permissions ?? {});
    const load = options.memoryMb === undefined ? {} : { memoryMb: options.memoryMb };
    this.#checkHostPermissions(module, permissions);
    const names = await this.#sandboxed().exports(module, permissions, load);
    if (names.length === 0) throw new Error(`Module ${module} exports no function`);
    for (const name of names) {
      const placeholder = (() => {
        throw new TypeError(`"${name}" runs in a sandbox`);
      }) as RpcFunction;
      this.#registerSandboxed(
        name,
        placeholder,
        permissions,
        resources,
        () => this.#sandboxed().load(name, { module, exportName: name }, permissions, load),
      );
    }
    return names;
  }

  #checkHostPermissions(what: string, permissions: FunctionPermissions): void {
    const missing = missingHostPermissionsSync(permissions);
    if (missing.length > 0) {
      throw new PermissionDeniedError(
        `${what} declares ${missing.join(", ")}, which this process lacks; ` +
          "start the node with those permissions (or -A)",
        { details: { fun: what, missing } },
      );
    }
  }

  #registerSandboxed(
    name: string,
    fn: RpcFunction,
    permissions: FunctionPermissions,
    resources: Iterable<string>,
    load: () => Invoker,
  ): void {
    this.#checkHostPermissions(`"${name}"`, permissions);
    this.#registry.register(name, fn, {
      resources,
      permissionKinds: permissionKinds(permissions),
      invoke: load(),
    });
  }

  #sandboxed(): Sandbox {
    const memoryMb = this.#options.sandbox?.memoryMb;
    return this.#sandbox ??= new Sandbox({
      debug: this.#options.debug ?? false,
      ...(memoryMb === undefined ? {} : { memoryMb }),
    });
  }

  /**
   * Removes a function.
   *
   * @param name The function's name.
   * @returns Whether it was registered.
   */
  unregister(name: string): boolean {
    return this.#registry.unregister(name);
  }

  /**
   * Starts listening.
   *
   * @returns This server, once it accepts connections.
   * @throws {Error} (the promise rejects) when already started, once stopped (a `Server` is
   *   single-use: create a new one), or when the port is taken.
   */
  start(): Promise<this> {
    if (this.#stopping !== null) {
      return Promise.reject(
        new Error(`Server ${this.name} was stopped; a Server is not restarted, create a new one`),
      );
    }
    if (this.#http !== null) {
      return Promise.reject(new Error(`Server ${this.name} already started`));
    }
    const plain = requireTlsViolation(this.#options);
    if (plain !== null) return Promise.reject(new TypeError(plain));
    const { promise, resolve } = Promise.withResolvers<this>();
    try {
      this.#http = Deno.serve({
        hostname: this.host,
        port: this.#port,
        ...(this.#options.tls ? { cert: this.#options.tls.cert, key: this.#options.tls.key } : {}),
        onListen: (addr) => {
          this.#port = addr.port;
          this.#urls = this.#options.advertisedUrls ?? [];
          this.#origins.bind({
            host: this.host,
            port: this.#port,
            secure: this.#options.tls !== undefined,
            urls: [this.url, ...this.urls],
          });
          this.#startCluster();
          this.#loopLag.start();
          log.info("Node {node} listening on {url}", { node: this.name, url: this.url });
          resolve(this);
        },
        onError: (err) => {
          log.error("HTTP handler failed: {error}", { error: String(err) });
          return new Response("internal error", { status: 500 });
        },
      }, (request, info) => this.#handle(request, info));
    } catch (err) {
      // The port is taken, or the address is invalid: reject, do not throw.
      this.#http = null;
      return Promise.reject(err);
    }
    return promise;
  }

  #handle(
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response | Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return handleHttp(request, {
        name: this.name,
        ready: this.listening,
        cluster: this.cluster,
        metrics: () => this.#metrics.render(this.#samples()),
        stats: () => this.stats(),
      });
    }
    // Pages on other origins may not use the node (peers and programs send no Origin).
    const refused = this.#origins.check(request);
    if (refused !== null) return refused;
    if (this.#draining) {
      return new Response("node is shutting down", { status: 503 });
    }
    const offered = (request.headers.get("sec-websocket-protocol") ?? "")
      .split(",").map((p) => p.trim()).filter((p) => p !== "");
    const remote = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
    if (offered.includes(PEER_PROTOCOL) && this.#node !== null) {
      const { socket, response } = Deno.upgradeWebSocket(request, { protocol: PEER_PROTOCOL });
      this.#node.accept(socket, remote);
      return response;
    }
    // A token travels as a subprotocol entry `mpreg.auth.<token>` (browsers
    // cannot set headers) or as `Authorization: Bearer <token>`; it is never echoed.
    let token: string | null = null;
    const protocols = offered.filter((p) => {
      if (!p.startsWith(AUTH_PROTOCOL_PREFIX)) return true;
      token = p.slice(AUTH_PROTOCOL_PREFIX.length);
      return false;
    });
    const bearer = request.headers.get("authorization");
    if (token === null && bearer?.toLowerCase().startsWith("bearer ")) {
      token = bearer.slice(7).trim();
    }
    // A token with no encoding offered: a browser would refuse the legacy
    // answer (no subprotocol echoed), so say what to offer instead.
    const codec = protocols.length === 0 && offered.length > 0
      ? null
      : negotiateCodec(protocols, { limits: this.limits });
    if (codec === null) {
      return new Response(
        "unsupported WebSocket subprotocol: offer mpreg.msgpack.v1 or mpreg.json.v1",
        { status: 400 },
      );
    }
    const accept = (auth: AuthResult): Response => {
      const { socket, response } = Deno.upgradeWebSocket(
        request,
        codec.protocol === null ? {} : { protocol: codec.protocol },
      );
      const connection = new ClientConnection(socket, codec, this.#connectionHost, remote, auth);
      this.#connections.add(connection);
      return response;
    };
    return token === null
      ? accept(this.#auth.anonymous)
      : this.#auth.authenticate(token).then(accept);
  }

  /**
   * The node's figures, as `GET /stats` returns them: per function, the
   * calls run here (by outcome), calls in flight and latency percentiles;
   * requests and connections; the cluster's traffic; the sandbox's pools.
   *
   * @returns Plain data.
   */
  stats(): NodeStats {
    return {
      node: this.name,
      time: Date.now(),
      functions: this.#metrics.stats(),
      requestsInFlight: this.#inFlight,
      connections: this.#connections.size,
      cluster: this.#node?.stats() ?? null,
      eventLoop: this.#metrics.loopLag(),
      sandbox: this.#sandbox?.stats() ?? null,
    };
  }

  /**
   * Logs a synchronous call that held the event loop (at most once a minute
   * per function, with the count of the others).
   */
  #slowCall(fun: string, ms: number): void {
    const now = Date.now();
    const last = this.#slowCalls.get(fun);
    if (last !== undefined && now - last.at < 60_000) {
      last.since++;
      return;
    }
    this.#slowCalls.set(fun, { at: now, since: 0 });
    log.warn(
      "Function {fun} held the event loop for {ms} ms in one synchronous call (and {others} " +
        "more since the last such warning): this node answered no client and no peer meanwhile, " +
        "and peers suspect a node silent for a few gossip intervals; run CPU-bound functions " +
        "in a sandbox (registered with permissions or sandbox: true, they run in their own process)",
      { fun, ms: Math.round(ms), others: last?.since ?? 0, node: this.name },
    );
  }

  #samples(): Sample[] {
    const byState: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const member of this.cluster.members()) byState[member.state]!++;
    const cluster = this.#node?.stats();
    const sandbox = this.#sandbox?.stats();
    // A sample per profile and memory cap (pools of one profile under two
    // Deno configs are summed).
    const perPool = (pick: (p: WorkerPoolStats) => number) => {
      const samples = new Map<string, { labels: Record<string, string>; value: number }>();
      for (const p of sandbox?.profiles ?? []) {
        const key = `${p.profile}\0${p.memoryMb}`;
        const sample = samples.get(key) ??
          { labels: { profile: p.profile, memory_mb: String(p.memoryMb) }, value: 0 };
        sample.value += pick(p);
        samples.set(key, sample);
      }
      return [...samples.values()];
    };
    return [
      {
        name: "mpreg_connections",
        type: "gauge",
        help: "Open connections, by kind.",
        values: [
          { labels: { kind: "client" }, value: this.#connections.size },
          { labels: { kind: "peer" }, value: cluster?.links ?? 0 },
        ],
      },
      {
        name: "mpreg_members",
        type: "gauge",
        help: "Cluster members as this node sees them, by state (itself included).",
        values: Object.entries(byState).map(([state, value]) => ({ labels: { state }, value })),
      },
      {
        name: "mpreg_gossip_messages_total",
        type: "counter",
        help: "Membership messages, by direction.",
        values: [
          { labels: { direction: "out" }, value: cluster?.gossipMessagesOut ?? 0 },
          { labels: { direction: "in" }, value: cluster?.gossipMessagesIn ?? 0 },
        ],
      },
      {
        name: "mpreg_gossip_bytes_total",
        type: "counter",
        help: "Bytes of membership messages, by direction.",
        values: [
          { labels: { direction: "out" }, value: cluster?.gossipBytesOut ?? 0 },
          { labels: { direction: "in" }, value: cluster?.gossipBytesIn ?? 0 },
        ],
      },
      {
        name: "mpreg_cluster_awareness",
        type: "gauge",
        help:
          "Local health (Lifeguard), 0 when healthy: the probe period and timeouts are multiplied by 1 + this.",
        values: [{ value: cluster?.awareness ?? 0 }],
      },
      {
        name: "mpreg_forwarded_steps_total",
        type: "counter",
        help: "Steps sent to other members, and run here for other members.",
        values: [
          { labels: { direction: "out" }, value: cluster?.forwarded ?? 0 },
          { labels: { direction: "in" }, value: cluster?.runsForPeers ?? 0 },
        ],
      },
      {
        name: "mpreg_sandbox_workers",
        type: "gauge",
        help: "Sandbox processes alive, by permission profile.",
        values: perPool((p) => p.workers),
      },
      {
        name: "mpreg_sandbox_resident_bytes",
        type: "gauge",
        help: "Resident memory of the sandbox processes, by permission profile.",
        values: perPool((p) => p.residentBytes),
      },
      {
        name: "mpreg_sandbox_crashes_total",
        type: "counter",
        help:
          "Sandbox processes that crashed, broke the protocol or went over their memory cap, by permission profile.",
        values: perPool((p) => p.crashes),
      },
      {
        name: "mpreg_sandbox_calls_in_flight",
        type: "gauge",
        help: "Sandboxed calls in flight, by permission profile.",
        values: perPool((p) => p.inFlight),
      },
      {
        name: "mpreg_sandbox_denials_total",
        type: "counter",
        help: "Permission denials in sandboxed functions, by permission profile.",
        values: perPool((p) => p.denials),
      },
    ];
  }

  #functionTable(): Record<string, string[]> {
    const functions: Record<string, string[]> = {};
    for (const entry of this.#registry.entries()) functions[entry.name] = [...entry.resources];
    return functions;
  }

  #permissionTable(): Record<string, string[]> {
    const table: Record<string, string[]> = {};
    for (const entry of this.#registry.entries()) {
      if (entry.permissionKinds.length > 0) table[entry.name] = [...entry.permissionKinds];
    }
    return table;
  }

  #selfInfo(): MemberInfo {
    return {
      name: this.name,
      urls: this.urls,
      state: "alive",
      self: true,
      resources: [...this.#resources],
      functions: this.#functionTable(),
      permissions: this.#permissionTable(),
      lastHeard: Date.now(),
      incarnation: this.#incarnation,
      catalogVersion: this.#registry.version,
      grants: this.#auth.grantsDigest,
    };
  }

  #startCluster(): void {
    const options = this.#options;
    const { self: _self, state: _state, lastHeard: _heard, ...record } = this.#selfInfo();
    const node = new ClusterNode({
      record,
      clusterId: options.clusterId ?? "default-cluster",
      secret: options.clusterSecret ?? null,
      seeds: options.peers ?? [],
      intervalMs: options.gossipIntervalMs ?? 1000,
      reconnectIntervalMs: options.reconnectIntervalMs ?? 30_000,
      reconnectTimeoutMs: options.reconnectTimeoutMs ?? 86_400_000,
      preferLocal: options.preferLocal ?? true,
      limits: this.limits,
      requireTls: options.requireTls ?? false,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5_000,
      local: {
        accepting: () => !this.#draining,
        offers: (fun, locs) => this.#runner.offers(fun, locs),
        authorize: (message) => this.#authorizeForPeer(message),
        run: (message, signal) => this.#runForPeer(message, signal),
        answered: () => this.#connectionHost.requestEnded(),
      },
    });
    node.onEvent((event) => this.cluster.emit(event));
    this.#node = node;
    this.#runner.router = node;
    node.start();
  }

  /**
   * Checks a step a peer forwarded, or asks about, against this node's own
   * grants for its principal; a denial names this node.
   */
  #authorizeForPeer(message: Pick<RunMessage, "step" | "fun" | "principal">): RpcError | null {
    const name = message.principal ?? "anonymous";
    const principal: Principal | undefined = this.#auth.principal(name);
    const details = { step: message.step, fun: message.fun, principal: name, node: this.name };
    if (principal === undefined) {
      return new PermissionDeniedError(
        `Step "${message.step}": principal "${name}" is not known on node "${this.name}"`,
        { details: { ...details, missing: "principal" } },
      );
    }
    try {
      principal.authorize(message.step, message.fun, this.#runner.declaredHere(message.fun));
      return null;
    } catch (err) {
      const denied = err as RpcError;
      return new PermissionDeniedError(`${denied.message} on node "${this.name}"`, {
        details: { ...(denied.details as Record<string, unknown>), ...details },
      });
    }
  }

  /**
   * Runs a step a peer forwarded, under its own deadline. It counts as in
   * flight (for the drain) from here until the cluster layer has sent its
   * answer and calls `answered()`.
   */
  #runForPeer(message: RunMessage, signal: AbortSignal): unknown {
    const host = this.#connectionHost;
    const asked = message.timeout;
    const budget = typeof asked === "number" && asked > 0
      ? Math.min(asked, host.maxRequestTimeoutMs)
      : host.requestTimeoutMs;
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const deadline = {
      at: Date.now() + budget,
      expire: () =>
        controller.abort(new TimeoutError(`Step "${message.step}" timed out after ${budget} ms`)),
    };
    const handle = host.deadlines.add(deadline);
    host.requestStarted();
    const done = () => {
      host.deadlines.delete(handle);
      signal.removeEventListener("abort", onAbort);
    };
    const step = {
      name: message.step,
      fun: message.fun,
      args: message.args,
      kwargs: message.kwargs ?? {},
      locs: message.locs ?? [],
    };
    const run = () =>
      this.#runner.runLocal(step, {
        signal: controller.signal,
        deadline: deadline.at,
        step: step.name,
        requestId: message.request ?? message.id,
        node: this.name,
      });
    const span = message.trace !== undefined && tracingEnabled()
      ? startRemoteChild(`mpreg.run ${step.name}`, message.trace, {
        "mpreg.step": step.name,
        "mpreg.function": step.fun,
        "mpreg.node": this.name,
      })
      : null;
    let value: unknown;
    try {
      value = span === null ? run() : endWith(span, withSpan(span, run));
    } catch (err) {
      if (span !== null) failSpan(span, err);
      done();
      throw err;
    }
    if (!(value instanceof Promise)) {
      done();
      return value;
    }
    // Inline async functions, and sandboxed ones, already end when the signal aborts.
    return value.finally(done);
  }

  /**
   * Stops gracefully: refuses new connections and requests (a request is
   * answered 1014 with `details.started: false`, so clients send it
   * elsewhere), lets requests in flight finish for up to the drain timeout,
   * answers those still running with a `ConnectionError` (they are
   * cancelled), then closes every client connection and waits for each
   * client to answer the close (for what is left of the drain timeout, and
   * at least the smaller of one second and the drain timeout), so every
   * answer sent reaches its client before the listener closes.
   *
   * @param options The drain timeout.
   * @returns When the node has stopped. Calling it again returns the same promise.
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.drainTimeoutMs ?? this.#options.drainTimeoutMs ?? 10_000);
    return this.#stopping;
  }

  async #stop(drainTimeoutMs: number): Promise<void> {
    const http = this.#http;
    if (http === null) {
      await this.#sandbox?.close();
      return;
    }
    this.#draining = true;
    const deadline = Date.now() + drainTimeoutMs;
    await this.#node?.leave(Math.min(drainTimeoutMs, 2_000));
    log.info("Node {node} draining {count} requests", { node: this.name, count: this.#inFlight });
    if (this.#inFlight > 0) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#idle = resolve;
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      await promise;
      clearTimeout(timer);
      this.#idle = null;
    }
    // Every request read has an answer by now (those the drain timeout cuts
    // short a ConnectionError): the close frame after them tells each client
    // that a call it still waits for never reached this node. Its reply ends
    // the connection; exiting before it would reset the connection and lose
    // answers not yet read on the other side.
    const cutShort = `Node "${this.name}" stopped before the request finished ` +
      `(drain timeout ${drainTimeoutMs} ms): it may have run`;
    const closed = Promise.all([...this.#connections].map((c) => c.drain(cutShort)));
    const grace = Math.max(deadline - Date.now(), Math.min(drainTimeoutMs, CLOSE_GRACE_MS));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([closed, new Promise((resolve) => timer = setTimeout(resolve, grace))]);
    clearTimeout(timer);
    this.#loopLag.stop();
    this.#node?.stop();
    this.#runner.router = null;
    await this.#sandbox?.close();
    this.#connectionHost.deadlines.clear();
    await http.shutdown();
    log.info("Node {node} stopped", { node: this.name });
  }

  /** Stops the node; the same as `stop()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
