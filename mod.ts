// Copyright 2026 the mpreg authors. MIT license.
/**
 * mpreg: a distributed RPC system for Deno. Nodes form a cluster, and a
 * client connected to any node sends requests of named steps that may use
 * each other's results; the cluster resolves the dependency graph
 * server-side and answers in one round trip.
 *
 * This module is the whole public API: the {@linkcode Server}, the
 * {@linkcode Client}, the {@linkcode Cluster} view, their options, the
 * types a function and a config are written with, and the errors. The
 * browser-safe client alone is `@mpreg/mpreg/client`; `@mpreg/mpreg/server`
 * is the program that runs a node from a YAML config.
 *
 * @example Serve, call, and run a request of dependent steps
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, Server } from "@mpreg/mpreg";
 *
 * await using server = await new Server({ port: 0 })
 *   .register("add", (a: number, b: number) => a + b)
 *   .register("format", (v: number, label: string) => `${label}: ${v}`)
 *   .start();
 * await using client = new Client(server.url);
 *
 * assert.equal(await client.call("add", [2, 3]), 5);
 * assert.deepEqual(
 *   await client.request([
 *     { name: "sum", fun: "add", args: [10, 20] },
 *     { name: "final", fun: "format", args: ["sum", "Final Answer"] },
 *   ]),
 *   { final: "Final Answer: 30" },
 * );
 * ```
 *
 * @module
 */

// The node.
export { Server } from "./src/server/server.ts";
export type { SandboxSettings, ServerOptions } from "./src/server/options.ts";
export type {
  FunctionOptions,
  ModuleOptions,
  NodeStats,
  StopOptions,
} from "./src/server/server.ts";
export type { EventLoopStats, FunctionStats } from "./src/server/metrics.ts";
export type { ClusterStats } from "./src/cluster/cluster_node.ts";
export type { SandboxStats } from "./src/sandbox/sandbox.ts";
export type { WorkerPoolStats } from "./src/sandbox/pool.ts";
export {
  ConfigError,
  type ConfigErrorOptions,
  type FunctionModuleConfig,
  loadConfig,
  type LogConfig,
  type LogFormat,
  type LogLevel,
  type NodeConfig,
  parseConfig,
  type TlsFiles,
} from "./src/server/config.ts";

// Functions.
export type { CallContext, RpcFunction } from "./src/registry/registry.ts";
export type { StandardSchema } from "./src/registry/function_schemas.ts";
export type {
  FunctionDescription,
  JsonSchema,
  ParamDescription,
} from "./src/protocol/function_description.ts";
export type { RequestId } from "./src/protocol/messages.ts";
export type {
  FunctionPermissions,
  PermissionKind,
  PermissionValue,
} from "./src/sandbox/permissions.ts";

// The cluster view.
export {
  Cluster,
  type ClusterEventDetail,
  type ClusterEventType,
  type MemberInfo,
  type MemberState,
} from "./src/cluster/cluster.ts";

// Authentication.
export {
  type AuthOptions,
  type Grant,
  hashToken,
  type TokenEntry,
} from "./src/auth/authenticator.ts";

// The client.
export {
  type BackoffOptions,
  type CallOptions,
  Client,
  type ClientOptions,
  type RequestOptions,
  type StepInput,
  type StreamOptions,
} from "./src/client/client.ts";
// Typed calls and requests: every export of typed.ts.
export * from "./src/client/typed.ts";
export { literal } from "./src/protocol/step.ts";
export { DEFAULT_LIMITS, type Limits } from "./src/protocol/limits.ts";

// Errors.
export { ErrorCode } from "./src/protocol/codes.ts";
export {
  AppError,
  CancelledError,
  ClusterMismatchError,
  ConnectionError,
  FunctionError,
  FunctionNotFoundError,
  GraphError,
  InternalError,
  LimitExceededError,
  NotStartedError,
  OverloadedError,
  PermissionDeniedError,
  ProtocolError,
  RpcError,
  type RpcErrorOptions,
  TimeoutError,
  UnauthenticatedError,
  UnavailableError,
  type WireError,
} from "./src/protocol/errors.ts";
export { SandboxPolicyError } from "./src/sandbox/policy_error.ts";
