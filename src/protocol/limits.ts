// Copyright 2026 the mpreg authors. MIT license.
/**
 * Per-connection limits and their defaults.
 *
 * @module
 */

/**
 * Limits a node applies to every client connection. Anything over a limit is
 * answered with a {@linkcode LimitExceededError} (code 1011) when the request
 * id can be read, or the connection is closed with a reason.
 *
 * @example Raise the frame and string limits
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, DEFAULT_LIMITS, type Limits, Server } from "@mpreg/mpreg";
 * const MiB = 1024 * 1024;
 * const limits: Limits = { ...DEFAULT_LIMITS, maxFrameBytes: 16 * MiB, maxStringBytes: 16 * MiB };
 * await using server = await new Server({ port: 0, limits }).start();
 * assert.equal(server.limits.maxFrameBytes, 16 * MiB);
 * await using client = new Client(server.url);
 * const big = "x".repeat(5 * MiB); // over the default 4 MiB
 * assert.equal(await client.call("echo", [big]), big);
 * ```
 */
export interface Limits {
  /**
   * Largest frame accepted, in bytes (text frames count UTF-16 code units).
   *
   * @default {4194304}
   */
  maxFrameBytes: number;
  /**
   * Deepest nesting of arrays and objects in one message, the envelope
   * included (a step's arguments start at depth 4).
   *
   * @default {64}
   */
  maxDepth: number;
  /**
   * Most array elements plus object entries in one message.
   *
   * @default {100000}
   */
  maxElements: number;
  /**
   * Longest string or binary value in one message, in bytes.
   *
   * @default {4194304}
   */
  maxStringBytes: number;
  /**
   * Most steps in one request.
   *
   * @default {1000}
   */
  maxSteps: number;
  /**
   * Most requests in flight on one connection; more get code 1011.
   *
   * @default {1024}
   */
  maxInFlightPerConnection: number;
}

/**
 * The default {@linkcode Limits}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_LIMITS, Server } from "@mpreg/mpreg";
 * assert.equal(DEFAULT_LIMITS.maxDepth, 64);
 * assert.deepEqual(new Server({ port: 0 }).limits, DEFAULT_LIMITS);
 * ```
 */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: 4 * 1024 * 1024,
  maxDepth: 64,
  maxElements: 100_000,
  maxStringBytes: 4 * 1024 * 1024,
  maxSteps: 1000,
  maxInFlightPerConnection: 1024,
});
