// Copyright 2026 the mpreg authors. MIT license.
/**
 * The browser-safe mpreg client: the {@linkcode Client}, its options, the
 * request types and the errors a call can raise. It imports nothing of the
 * server. Run as a program it is also a small CLI:
 *
 * ```sh
 * deno run -A client.ts --url ws://127.0.0.1:9001 call echo '"hi"'
 * deno run -A client.ts --url ws://127.0.0.1:9001 request steps.yaml
 * ```
 *
 * @example Call a node from a browser or Deno
 * ```ts
 * import assert from "node:assert/strict";
 * import { Server } from "@mpreg/mpreg";
 * import { Client } from "@mpreg/mpreg/client";
 *
 * await using server = await new Server({ port: 0 }).start();
 * await using client = new Client(server.url);
 * assert.equal(await client.call("echo", ["hi"]), "hi");
 * ```
 *
 * @module
 */
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

if ((import.meta as ImportMeta & { main?: boolean }).main) {
  const { runCli } = await import("./src/client/cli.ts");
  await runCli();
}
