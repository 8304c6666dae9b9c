// Copyright 2026 the mpreg authors. MIT license.
/**
 * The mpreg node: a thin class composing its parts, each in its own module
 * (`registration.ts`, `upgrade.ts`, `request_lifecycle.ts`, `peer_runs.ts`,
 * `metric_samples.ts`, `drain.ts`) and its settings (`options.ts`).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Authenticator } from "../auth/authenticator.ts";
import { Cluster, type MemberInfo } from "../cluster/cluster.ts";
import { ClusterNode } from "../cluster/cluster_node.ts";
import type { Limits } from "../protocol/limits.ts";
import type { RpcFunction } from "../registry/registry.ts";
import { ClientConnection, type ConnectionHost } from "./connection.ts";
import { drain } from "./drain.ts";
import { handleHttp } from "./http_routes.ts";
import { Metrics } from "./metrics.ts";
import { nodeSamples, type NodeStats } from "./metric_samples.ts";
import { SlowCallLog } from "./slow_calls.ts";
import { EventLoopLag } from "./_event_loop_lag.ts";
import { checkFunctionModules, loadConfig, type NodeConfig } from "./config.ts";
import { type ResolvedServerOptions, resolveServerOptions, type ServerOptions } from "./options.ts";
import { peerRunner } from "./peer_runs.ts";
import { type FunctionOptions, type ModuleOptions, Registrations } from "./registration.ts";
import { RequestLifecycle } from "./request_lifecycle.ts";
import { RequestRunner } from "./request_runner.ts";
import { OriginGuard } from "./origin.ts";
import { PrincipalAdmission, upgrade, type UpgradeHost } from "./upgrade.ts";
import { requireTlsViolation } from "./_require_tls.ts";

export type { FunctionOptions, ModuleOptions } from "./registration.ts";
export type { NodeStats } from "./metric_samples.ts";

const log = getLogger(["mpreg", "server"]);

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

/** How long a stop waits for its peers to answer the close of their links, in milliseconds. */
const PEER_CLOSE_MS = 1_000;

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

  readonly #settings: ResolvedServerOptions;
  readonly #functions: Registrations;
  readonly #resources: Set<string>;
  readonly #runner: RequestRunner;
  readonly #lifecycle: RequestLifecycle;
  readonly #connections = new Set<ClientConnection>();
  readonly #auth: Authenticator;
  readonly #metrics: Metrics;
  readonly #loopLag: EventLoopLag;
  #http: Deno.HttpServer<Deno.NetAddr> | null = null;
  #port: number;
  #urls: string[] = [];
  #draining = false;
  #stopping: Promise<void> | null = null;
  #node: ClusterNode | null = null;
  readonly #incarnation = Date.now();
  readonly #connectionHost: ConnectionHost;
  readonly #upgradeHost: UpgradeHost;
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
    if (typeof config === "string") await checkFunctionModules(config, loaded);
    for (const entry of loaded.functions) {
      await server.registerModule(entry.module, {
        resources: entry.resources,
        ...(entry.permissions ? { permissions: entry.permissions } : {}),
        ...(entry.memoryMb === undefined ? {} : { memoryMb: entry.memoryMb }),
        trusted: entry.trusted,
        ...(entry.idempotent === undefined ? {} : { idempotent: entry.idempotent }),
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
    const settings = resolveServerOptions(options);
    this.#settings = settings;
    this.name = settings.name;
    this.#port = settings.port;
    this.#resources = new Set(settings.resources);
    this.limits = settings.limits;
    this.#auth = new Authenticator(settings.auth);
    this.#origins = new OriginGuard(settings.allowedOrigins);
    // A synchronous call of half a gossip interval delays this node's acks
    // that much: warn, naming the function.
    const slowCalls = new SlowCallLog(this.name);
    this.#metrics = new Metrics({
      slowCallMs: settings.gossipIntervalMs / 2,
      onSlowCall: (fun, ms) => slowCalls.report(fun, ms),
    });
    this.#loopLag = new EventLoopLag(100, (ms) => this.#metrics.observeLoopLag(ms));
    this.#functions = new Registrations({
      node: this.name,
      debug: settings.debug,
      memoryMb: settings.sandboxMemoryMb ?? undefined,
    });
    const registry = this.#functions.registry;
    this.#runner = new RequestRunner({
      node: this.name,
      resources: this.#resources,
      registry,
      debug: settings.debug,
      metrics: this.#metrics,
    });
    this.cluster = new Cluster({
      name: this.name,
      members: () => this.#node?.members() ?? [this.#selfInfo()],
    });
    registry.onChange(() =>
      this.#node?.updateSelf({
        functions: this.#functions.functionTable(),
        permissions: this.#functions.permissionTable(),
        idempotent: this.#functions.idempotentList(),
        described: this.#functions.describedTable(),
      })
    );
    const lifecycle = new RequestLifecycle(settings);
    this.#lifecycle = lifecycle;
    const admission = new PrincipalAdmission(this.#auth.maxInFlightPerPrincipal);
    // Request ids unique on this node (`<name>#<n>`), for its logs.
    let requests = 0;
    this.#connectionHost = {
      node: this.name,
      limits: this.limits,
      lifecycle,
      countRequest: () => this.#metrics.requestStarted(),
      isDraining: () => this.#draining,
      newRequestId: () => `${this.name}#${++requests}`,
      runRequest: (request, id, signal, deadline, principal, progress) =>
        this.#runner.run({
          id,
          u: request.u,
          steps: request.cmds,
          all: request.all ?? false,
          retry: request.retry === true,
          stream: request.stream,
          streamBytes: request.streamBytes,
          signal,
          deadline,
          principal,
          traceparent: request.tp,
          progress,
        }),
      acquire: (principal) => admission.acquire(principal),
      release: (principal) => admission.release(principal),
      connectionClosed: (connection) => {
        this.#connections.delete(connection);
      },
    };
    this.#upgradeHost = {
      limits: this.limits,
      auth: this.#auth,
      origins: this.#origins,
      isDraining: () => this.#draining,
      peers: () => this.#node,
      serveClient: (socket, codec, remote, auth) => {
        const connection = new ClientConnection(socket, codec, this.#connectionHost, remote, auth);
        this.#connections.add(connection);
      },
    };
  }

  /** The host the node listens on. */
  get host(): string {
    return this.#settings.host;
  }

  /** The port: the bound one once started (useful with `port: 0`). */
  get port(): number {
    return this.#port;
  }

  /** `ws://host:port` (or `wss://` with TLS) of the listening socket. */
  get url(): string {
    return formatUrl(this.#settings.tls ? "wss" : "ws", this.host, this.#port);
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
    return this.#lifecycle.inFlight;
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
    this.#functions.register(name, fn, options);
    return this;
  }

  /**
   * Registers every function of an object (say, `export const api = { … }`)
   * under its key; other members are skipped. Clients type their calls with
   * `client.typed<typeof api>()`. Each function receives the
   * {@linkcode CallContext} as `this`, not the object.
   *
   * @param functions The object of functions.
   * @param options The functions' own resources.
   * @returns This server, for chaining.
   * @throws {TypeError} when the object holds no function.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, Server } from "@mpreg/mpreg";
   * const api = {
   *   add(a: number, b: number) {
   *     return a + b;
   *   },
   *   upper: (s: string) => s.toUpperCase(),
   * };
   * await using server = await new Server({ port: 0 }).registerAll(api).start();
   * await using client = new Client(server.url);
   * const remote = client.typed<typeof api>();
   * assert.equal(await remote.add(2, 3), 5);
   * assert.equal(await remote.upper("hi"), "HI");
   * ```
   */
  registerAll(functions: object, options: FunctionOptions = {}): this {
    const entries = Object.entries(functions).filter(([, fn]) => typeof fn === "function");
    if (entries.length === 0) throw new TypeError("registerAll: the object holds no function");
    for (const [name, fn] of entries) this.register(name, fn as RpcFunction, options);
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
  registerModule(module: string, options: ModuleOptions = {}): Promise<string[]> {
    return this.#functions.registerModule(module, options);
  }

  /**
   * Removes a function.
   *
   * @param name The function's name.
   * @returns Whether it was registered.
   */
  unregister(name: string): boolean {
    return this.#functions.unregister(name);
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
    const settings = this.#settings;
    const plain = requireTlsViolation({
      requireTls: settings.requireTls,
      ...(settings.tls === null ? {} : { tls: settings.tls }),
      peers: [...settings.peers],
      advertisedUrls: [...settings.advertisedUrls],
    });
    if (plain !== null) return Promise.reject(new TypeError(plain));
    const { promise, resolve } = Promise.withResolvers<this>();
    try {
      this.#http = Deno.serve({
        hostname: this.host,
        port: this.#port,
        ...(settings.tls ? { cert: settings.tls.cert, key: settings.tls.key } : {}),
        onListen: (addr) => {
          this.#port = addr.port;
          this.#urls = [...settings.advertisedUrls];
          this.#origins.bind({
            host: this.host,
            port: this.#port,
            secure: settings.tls !== null,
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
      // The port is taken, or the address is invalid: reject, do not throw,
      // naming the address (Deno's own message does not).
      this.#http = null;
      if (err instanceof Error) {
        err.message = `Cannot listen on ${this.host}:${this.#port}: ${err.message}`;
      }
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
        metrics: () =>
          this.#metrics.render(nodeSamples({
            clientConnections: this.#connections.size,
            members: this.cluster.members(),
            cluster: this.#node?.stats(),
            sandbox: this.#functions.sandbox?.stats(),
          })),
        stats: () => this.stats(),
      });
    }
    const remote = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
    return upgrade(request, remote, this.#upgradeHost);
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
      requestsInFlight: this.#lifecycle.inFlight,
      connections: this.#connections.size,
      cluster: this.#node?.stats() ?? null,
      eventLoop: this.#metrics.loopLag(),
      sandbox: this.#functions.sandbox?.stats() ?? null,
    };
  }

  #selfInfo(): MemberInfo {
    return {
      name: this.name,
      urls: this.urls,
      state: "alive",
      self: true,
      resources: [...this.#resources],
      functions: this.#functions.functionTable(),
      permissions: this.#functions.permissionTable(),
      idempotent: this.#functions.idempotentList(),
      described: this.#functions.describedTable(),
      lastHeard: Date.now(),
      incarnation: this.#incarnation,
      catalogVersion: this.#functions.registry.version,
      grants: this.#auth.grantsDigest,
    };
  }

  #startCluster(): void {
    const settings = this.#settings;
    const { self: _self, state: _state, lastHeard: _heard, ...record } = this.#selfInfo();
    const node = new ClusterNode({
      record,
      clusterId: settings.clusterId,
      secret: settings.clusterSecret,
      seeds: [...settings.peers],
      intervalMs: settings.gossipIntervalMs,
      reconnectIntervalMs: settings.reconnectIntervalMs,
      reconnectTimeoutMs: settings.reconnectTimeoutMs,
      preferLocal: settings.preferLocal,
      relayChains: settings.relayChains,
      limits: this.limits,
      requireTls: settings.requireTls,
      handshakeTimeoutMs: settings.handshakeTimeoutMs,
      local: peerRunner({
        node: this.name,
        auth: this.#auth,
        runner: this.#runner,
        lifecycle: this.#lifecycle,
        isDraining: () => this.#draining,
      }),
    });
    node.onEvent((event) => this.cluster.emit(event));
    this.#node = node;
    this.#runner.router = node;
    node.start();
  }

  /**
   * Stops gracefully: refuses new connections and requests (a request is
   * answered 1014 with `details.started: false`, so clients send it
   * elsewhere), lets requests in flight finish for up to the drain timeout,
   * answers those still running with a `ConnectionError` (they are
   * cancelled), then closes every client connection and waits for each
   * client to answer the close (for what is left of the drain timeout, and
   * at least the smaller of one second and the drain timeout), so every
   * answer sent reaches its client before the listener closes; closes its
   * peer links, waiting up to a second for each peer to answer the close.
   *
   * @param options The drain timeout.
   * @returns When the node has stopped and holds nothing open (no timer,
   *   socket or sandbox process keeps the program alive). Calling it again
   *   returns the same promise.
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.drainTimeoutMs ?? this.#settings.drainTimeoutMs);
    return this.#stopping;
  }

  async #stop(drainTimeoutMs: number): Promise<void> {
    const http = this.#http;
    if (http === null) {
      await this.#functions.close();
      return;
    }
    this.#draining = true;
    await drain({
      node: this.name,
      lifecycle: this.#lifecycle,
      leave: async (ms) => await this.#node?.leave(ms),
      connections: () => this.#connections,
      release: async () => {
        this.#loopLag.stop();
        // The peers answer the close frames at once; a peer that does not
        // holds the stop up to a second at most.
        await this.#node?.stop(PEER_CLOSE_MS);
        this.#runner.router = null;
        await this.#functions.close();
        this.#lifecycle.close();
        await http.shutdown();
      },
    }, drainTimeoutMs);
  }

  /** Stops the node; the same as `stop()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
