// Copyright 2026 the mpreg authors. MIT license.
/**
 * The mpreg node.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { abortable } from "../_util/abortable.ts";
import { type AuthResult, Authenticator, type Principal } from "../auth/authenticator.ts";
import { DeadlineQueue } from "../_util/deadline_queue.ts";
import { Cluster, type MemberInfo } from "../cluster/cluster.ts";
import { ClusterNode } from "../cluster/cluster_node.ts";
import { PEER_PROTOCOL } from "../cluster/peer_protocol.ts";
import type { RunMessage } from "../cluster/peer_protocol.ts";
import { PermissionDeniedError, type RpcError, TimeoutError } from "../protocol/errors.ts";
import { AUTH_PROTOCOL_PREFIX, negotiateCodec } from "../protocol/codec.ts";
import { DEFAULT_LIMITS, type Limits } from "../protocol/limits.ts";
import { FunctionRegistry, type RegisterOptions, type RpcFunction } from "../registry/registry.ts";
import { echo, echos } from "./builtins.ts";
import { ClientConnection, type ConnectionHost } from "./connection.ts";
import { handleHttp } from "./http_routes.ts";
import { loadConfig, type NodeConfig } from "./config.ts";
import { importFunctions } from "./function_modules.ts";
import type { ServerOptions } from "./options.ts";
import { RequestRunner } from "./request_runner.ts";

const log = getLogger(["mpreg", "server"]);

/** Options for {@linkcode Server.stop}. */
export interface StopOptions {
  /**
   * How long requests in flight may take to finish, in milliseconds.
   *
   * @default {the server's `drainTimeoutMs`}
   */
  drainTimeoutMs?: number;
}

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
 * import { Client, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 })
 *   .register("add", (a: number, b: number) => a + b)
 *   .start();
 * await using client = new Client(server.url);
 * console.log(await client.call("add", [2, 3])); // 5
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
   * ```ts ignore
   * import { Server } from "@mpreg/mpreg";
   * const server = await Server.fromConfig("./node.yaml", { port: 0 });
   * await server.start();
   * ```
   */
  static async fromConfig(
    config: string | NodeConfig,
    overrides: ServerOptions = {},
  ): Promise<Server> {
    const loaded = typeof config === "string" ? await loadConfig(config) : config;
    const server = new Server({ ...loaded.options, ...overrides });
    for (const entry of loaded.functions) {
      const functions = await importFunctions(entry.module);
      for (const [name, fn] of functions) {
        server.register(name, fn, { resources: entry.resources });
      }
    }
    return server;
  }

  /**
   * Creates a node; call {@linkcode Server.start} to listen.
   *
   * @param options The node's settings; see {@linkcode ServerOptions}.
   */
  constructor(options: ServerOptions = {}) {
    this.#options = options;
    this.name = options.name ?? randomName();
    this.#port = options.port ?? 6666;
    this.#resources = new Set(options.resources ?? []);
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...options.limits });
    this.#auth = new Authenticator(options.auth);
    this.#registry.register("echo", echo as RpcFunction);
    this.#registry.register("echos", echos as RpcFunction);
    this.#runner = new RequestRunner({
      node: this.name,
      resources: this.#resources,
      registry: this.#registry,
      debug: options.debug ?? false,
    });
    this.cluster = new Cluster({
      name: this.name,
      members: () => this.#node?.members() ?? [this.#selfInfo()],
    });
    this.#registry.onChange(() => this.#node?.updateSelf({ functions: this.#functionTable() }));
    const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    const maxRequestTimeoutMs = options.maxRequestTimeoutMs ?? 300_000;
    this.#connectionHost = {
      limits: this.limits,
      requestTimeoutMs,
      maxRequestTimeoutMs,
      deadlines: new DeadlineQueue(),
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
        const load = (this.#principalLoad.get(principal.name) ?? 1) - 1;
        if (load <= 0) this.#principalLoad.delete(principal.name);
        else this.#principalLoad.set(principal.name, load);
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
  register(name: string, fn: RpcFunction, options: RegisterOptions = {}): this {
    this.#registry.register(name, fn, options);
    log.debug("Registered {fun}", { fun: name, node: this.name });
    return this;
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
   * @throws {Error} when already started or the port is taken.
   */
  start(): Promise<this> {
    if (this.#http !== null) {
      return Promise.reject(new Error(`Server ${this.name} already started`));
    }
    const { promise, resolve } = Promise.withResolvers<this>();
    this.#http = Deno.serve({
      hostname: this.host,
      port: this.#port,
      ...(this.#options.tls ? { cert: this.#options.tls.cert, key: this.#options.tls.key } : {}),
      onListen: (addr) => {
        this.#port = addr.port;
        this.#urls = this.#options.advertisedUrls ?? [];
        this.#startCluster();
        log.info("Node {node} listening on {url}", { node: this.name, url: this.url });
        resolve(this);
      },
      onError: (err) => {
        log.error("HTTP handler failed: {error}", { error: String(err) });
        return new Response("internal error", { status: 500 });
      },
    }, (request, info) => this.#handle(request, info));
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
      });
    }
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
    if (token === null && bearer?.toLowerCase().startsWith("bearer ")) token = bearer.slice(7).trim();
    const codec = negotiateCodec(protocols, { limits: this.limits });
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
    return token === null ? accept(this.#auth.anonymous) : this.#auth.authenticate(token).then(accept);
  }

  #functionTable(): Record<string, string[]> {
    const functions: Record<string, string[]> = {};
    for (const entry of this.#registry.entries()) functions[entry.name] = [...entry.resources];
    return functions;
  }

  #selfInfo(): MemberInfo {
    return {
      name: this.name,
      urls: this.urls,
      state: "alive",
      self: true,
      resources: [...this.#resources],
      functions: this.#functionTable(),
      lastHeard: Date.now(),
      incarnation: this.#incarnation,
      catalogVersion: this.#registry.version,
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
      preferLocal: options.preferLocal ?? true,
      limits: this.limits,
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

  /** Checks a forwarded step against this node's own grants for its principal. */
  #authorizeForPeer(message: RunMessage): RpcError | null {
    const name = message.principal ?? "anonymous";
    const principal: Principal | undefined = this.#auth.principal(name);
    if (principal === undefined) {
      return new PermissionDeniedError(
        `Step "${message.step}": principal "${name}" is not known on node "${this.name}"`,
        { details: { step: message.step, fun: message.fun, principal: name, missing: "principal" } },
      );
    }
    try {
      principal.authorize(message.step, message.fun, this.#runner.declaredHere(message.fun));
      return null;
    } catch (err) {
      return err as RpcError;
    }
  }

  /**
   * Runs a step a peer forwarded, under its own deadline. It counts as in
   * flight (for the drain) from here until the cluster layer has sent its
   * answer and calls `answered()`.
   */
  #runForPeer(message: RunMessage, signal: AbortSignal): unknown {
    const host = this.#connectionHost;
    const budget = Math.min(message.timeout, host.maxRequestTimeoutMs);
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const deadline = {
      at: Date.now() + budget,
      expire: () =>
        controller.abort(new TimeoutError(`Step "${message.step}" timed out after ${budget} ms`)),
    };
    host.deadlines.add(deadline);
    host.requestStarted();
    const done = () => {
      host.deadlines.delete(deadline);
      signal.removeEventListener("abort", onAbort);
    };
    const step = {
      name: message.step,
      fun: message.fun,
      args: message.args,
      kwargs: message.kwargs ?? {},
      locs: message.locs ?? [],
    };
    let value: unknown;
    try {
      value = this.#runner.runLocal(step, {
        signal: controller.signal,
        deadline: deadline.at,
        step: step.name,
        requestId: message.request ?? message.id,
        node: this.name,
      });
    } catch (err) {
      done();
      throw err;
    }
    if (!(value instanceof Promise)) {
      done();
      return value;
    }
    return abortable(value, controller.signal).finally(done);
  }

  /**
   * Stops gracefully: refuses new connections and requests, lets requests in
   * flight finish for up to the drain timeout, then closes every connection
   * (requests still running are cancelled) and the listener.
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
    if (http === null) return;
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
    for (const connection of [...this.#connections]) connection.close();
    this.#node?.stop();
    this.#runner.router = null;
    this.#connectionHost.deadlines.clear();
    await http.shutdown();
    log.info("Node {node} stopped", { node: this.name });
  }

  /** Stops the node; the same as `stop()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
