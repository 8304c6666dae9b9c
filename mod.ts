// Copyright 2026 the mpreg authors. MIT license.
/**
 * mpreg: a distributed RPC system for Deno. Nodes form a cluster, and a
 * client connected to any node sends requests of named steps that may use
 * each other's results; the cluster resolves the dependency graph
 * server-side and answers in one round trip.
 *
 * @example Serve, call, and run a request of dependent steps
 * ```ts
 * import { Client, Server } from "@mpreg/mpreg";
 *
 * await using server = await new Server({ port: 0 })
 *   .register("add", (a: number, b: number) => a + b)
 *   .register("format", (v: number, label: string) => `${label}: ${v}`)
 *   .start();
 * await using client = new Client(server.url);
 *
 * console.log(await client.call("add", [2, 3])); // 5
 * console.log(await client.request([
 *   { name: "sum", fun: "add", args: [10, 20] },
 *   { name: "final", fun: "format", args: ["sum", "Final Answer"] },
 * ])); // { final: "Final Answer: 30" }
 * ```
 *
 * @module
 */
export * from "./src/protocol/mod.ts";
export * from "./src/engine/mod.ts";
export * from "./src/auth/mod.ts";
export * from "./src/registry/mod.ts";
export * from "./src/cluster/mod.ts";
export { echo, echos } from "./src/server/builtins.ts";
export type { SandboxSettings, ServerOptions } from "./src/server/options.ts";
export {
  type FunctionOptions,
  type ModuleOptions,
  type NodeStats,
  Server,
  type StopOptions,
} from "./src/server/server.ts";
export {
  type EventLoopStats,
  type FunctionStats,
  Metrics,
  type MetricsOptions,
  type Sample,
} from "./src/server/metrics.ts";
export type { ClusterStats } from "./src/cluster/cluster_node.ts";
export * from "./src/sandbox/mod.ts";
export * from "./src/client/mod.ts";
