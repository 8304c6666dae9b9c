// Copyright 2026 the mpreg authors. MIT license.
/**
 * The options of the mpreg client: of the client itself, of a call and of a
 * request, and the steps a request is written in. Browser-safe (types only).
 *
 * @module
 */
import type { BackoffOptions } from "../transport/backoff.ts";

/**
 * Options for `new Client(url, options)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type ClientOptions, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * const options: ClientOptions = { timeoutMs: 5_000, encoding: "json" };
 * await using client = new Client(server.url, options);
 * assert.equal(await client.call("echo", ["hi"]), "hi");
 * ```
 */
export interface ClientOptions {
  /**
   * The deadline of each call or request, in milliseconds, unless the call
   * gives its own. The node gets the same budget and stops the work when it
   * passes.
   *
   * @default {30000}
   */
  timeoutMs?: number;
  /**
   * The wire encoding: `"msgpack"` (binary frames, carries bytes and dates),
   * `"json"` (text frames), or `"mpreg-json"`: exactly the original (Python)
   * MPREG protocol, to call an original server (no subprotocol, string ids,
   * no deadline sent, no cancel message: a timeout or an abort is local only
   * and the late answer is dropped; no `all`, no `literal()`, no `token`).
   * In the JSON encodings an integer beyond 2^53 travels exactly, as a
   * `BigInt`.
   *
   * @default {"msgpack"}
   */
  encoding?: "msgpack" | "json" | "mpreg-json";
  /**
   * A token that authenticates the client as a principal of the node's
   * `auth` config. It travels as the subprotocol entry `mpreg.auth.<token>`,
   * so it works from browsers too; it may hold letters, digits and `-._~`.
   *
   * @default {undefined (anonymous)}
   */
  token?: string;
  /**
   * How long to wait between rounds of connection attempts (each URL once,
   * one after the other without waiting), and before reconnecting after a
   * lost connection: capped exponential backoff with full jitter.
   *
   * @default {{ initialMs: 100, maxMs: 5000, factor: 2 }}
   */
  backoff?: Partial<BackoffOptions>;
  /**
   * How many times a request may be sent again after a failure that may
   * have run it (its connection lost mid-call, or a node's 1013). The node
   * that gets it again runs it only if every step's function is registered
   * `idempotent` on every member that offers it; otherwise it refuses it
   * unstarted and the caller gets the first failure. Not in `"mpreg-json"`
   * (the original protocol cannot say it is a retry). `0` never re-sends.
   *
   * @default {2}
   */
  retries?: number;
}

/**
 * A step as callers write it; `args`, `kwargs` and `locs` may be left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, Server, type StepInput } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * await using client = new Client(server.url);
 * const steps: StepInput[] = [
 *   { name: "a", fun: "echo", args: ["hi"] },
 *   { name: "b", fun: "echos", args: ["a", "a"] },
 * ];
 * assert.deepEqual(await client.request(steps), { b: ["hi", "hi"] });
 * ```
 */
export interface StepInput {
  /** The step's name, unique in the request; other steps refer to it by it. */
  name: string;
  /** The function to call. */
  fun: string;
  /**
   * Positional arguments. A `ReadableStream` or a `Blob` among them is
   * uploaded: the function reads it as a `ReadableStream`, under credit.
   *
   * @default {[]}
   */
  args?: unknown[];
  /**
   * Keyword arguments, passed to the function as one trailing object. A
   * `ReadableStream` or a `Blob` value is uploaded, as in `args`.
   *
   * @default {{}}
   */
  kwargs?: Record<string, unknown>;
  /**
   * Resources the node running the step must offer.
   *
   * @default {[]}
   */
  locs?: string[];
}

/**
 * Options for {@linkcode Client.request}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type RequestOptions, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 }).start();
 * await using client = new Client(server.url);
 * const options: RequestOptions = { timeoutMs: 1_000, all: true };
 * const out = await client.request([
 *   { name: "a", fun: "echo", args: [1] },
 *   { name: "b", fun: "echo", args: ["a"] },
 * ], options);
 * assert.deepEqual(out, { a: 1, b: 1 });
 * ```
 */
export interface RequestOptions {
  /**
   * The deadline in milliseconds.
   *
   * @default {the client's `timeoutMs`}
   */
  timeoutMs?: number;
  /**
   * Cancels the request, here and on the node.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Return every step's result instead of only the sinks' (steps no other
   * step refers to).
   *
   * @default {false}
   */
  all?: boolean;
  /**
   * The W3C `traceparent` of the span this request continues: as
   * {@linkcode CallOptions.traceparent}. The node's span of the request is
   * its child, and the spans of all its steps, here and on other nodes, are
   * in its trace.
   *
   * @default {the active OpenTelemetry span's, if any}
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, Server } from "@mpreg/mpreg";
   * await using server = await new Server({ port: 0 }).start();
   * await using client = new Client(server.url);
   * const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
   * const out = await client.request([{ name: "a", fun: "echo", args: ["hi"] }], { traceparent });
   * assert.deepEqual(out, { a: "hi" });
   * ```
   */
  traceparent?: string;
  /**
   * Takes the progress reports of the request's steps while it runs
   * (`this.progress(value)` in a function; see the README, Functions), with
   * the name of the step that made each one: in order, coalesced by the
   * node (at most one every 50 ms per step, the latest winning), the last
   * one of a step before the answer, none after it. A callback that throws
   * does not affect the request. Asking for reports costs nothing when no
   * function makes one. The original protocol (`encoding: "mpreg-json"`)
   * has none: it refuses the request at once with a `ProtocolError`.
   *
   * @default {undefined (no reports asked for)}
   */
  onProgress?: (value: unknown, step: string) => void;
}

/**
 * Options for {@linkcode Client.call}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CallOptions, Client, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0, resources: ["gpu"] })
 *   .register("scale", (x: number, opts: { by: number }) => x * opts.by)
 *   .start();
 * await using client = new Client(server.url);
 * const options: CallOptions = { locs: ["gpu"], kwargs: { by: 10 } };
 * assert.equal(await client.call("scale", [4], options), 40);
 * ```
 */
export interface CallOptions {
  /**
   * Resources the node running the call must offer.
   *
   * @default {[]}
   */
  locs?: string[];
  /**
   * Keyword arguments, passed to the function as one trailing object. A
   * `ReadableStream` or a `Blob` value is uploaded: the function reads it as
   * a `ReadableStream`, under credit (see {@linkcode Client.call}).
   *
   * @default {{}}
   */
  kwargs?: Record<string, unknown>;
  /**
   * The deadline in milliseconds.
   *
   * @default {the client's `timeoutMs`}
   */
  timeoutMs?: number;
  /**
   * Cancels the call, here and on the node.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * The W3C `traceparent` of the span this call continues
   * (`00-<32 hex>-<16 hex>-<2 hex>`, lowercase): the node's span of the
   * request becomes its child, and the spans of forwarded steps follow, so
   * one trace runs from the caller through the cluster. For callers that
   * keep their trace context themselves (a browser app without an
   * OpenTelemetry context manager). Without it the client sends the context
   * of the caller's active OpenTelemetry span, if any (`@opentelemetry/api`;
   * Deno registers it with `OTEL_DENO=true`). A malformed value rejects the
   * call with a `TypeError`; the original protocol (`encoding:
   * "mpreg-json"`) cannot carry it and refuses the call.
   *
   * @default {the active OpenTelemetry span's, if any}
   *
   * @example Continue a trace from an incoming HTTP request
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, Server } from "@mpreg/mpreg";
   * await using server = await new Server({ port: 0 }).start();
   * await using client = new Client(server.url);
   * const incoming = new Request("http://app.example/", {
   *   headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
   * });
   * const traceparent = incoming.headers.get("traceparent") ?? undefined;
   * assert.deepEqual(await client.call("echo", ["hi"], { traceparent }), "hi");
   * ```
   */
  traceparent?: string;
  /**
   * Takes the function's progress reports while it runs (`this.progress(value)`
   * in the function), with the step's name (the function's, for a call): in
   * order, coalesced by the node (at most one every 50 ms, the latest
   * winning), the last one before the answer, none after it. A callback
   * that throws does not affect the call. The original protocol
   * (`encoding: "mpreg-json"`) has none: it refuses the call at once with a
   * `ProtocolError`.
   *
   * @default {undefined (no reports asked for)}
   *
   * @example Show a function's progress
   * ```ts
   * import assert from "node:assert/strict";
   * import { type CallContext, Client, Server } from "@mpreg/mpreg";
   * await using server = await new Server({ port: 0 })
   *   .register("half", function (this: CallContext) {
   *     this.progress(0.5);
   *     return "done";
   *   })
   *   .start();
   * await using client = new Client(server.url);
   * const seen: unknown[] = [];
   * const out = await client.call("half", [], { onProgress: (p, step) => seen.push([step, p]) });
   * assert.equal(out, "done");
   * assert.deepEqual(seen, [["half", 0.5]]);
   * ```
   */
  onProgress?: (value: unknown, step: string) => void;
}

/**
 * Options for {@linkcode Client.stream}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, Server, type StreamOptions } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 })
 *   .register("count", async function* (n: number) {
 *     for (let i = 0; i < n; i++) yield i;
 *   })
 *   .start();
 * await using client = new Client(server.url);
 * const options: StreamOptions = { credit: 4, idleTimeoutMs: 5_000 };
 * const got = await Array.fromAsync(client.stream("count", [3], options));
 * assert.deepEqual(got, [0, 1, 2]);
 * ```
 */
export interface StreamOptions extends CallOptions {
  /**
   * The total deadline of the stream in milliseconds, from the call to its
   * last chunk (the node caps it at its `maxRequestTimeoutMs`).
   *
   * @default {300000}
   */
  timeoutMs?: number;
  /**
   * How many chunks the node may send ahead of the reader: the stream's
   * credit (its `highWaterMark`). The producer is not asked for a chunk past
   * it; the reader grants more as it reads.
   *
   * @default {16}
   */
  credit?: number;
  /**
   * How many bytes the node may send ahead of the reader (see
   * `protocol/chunk_size.ts` for how a chunk is counted): it sends a chunk
   * only while it holds both this credit and `credit`, so at most this
   * budget plus one chunk is produced ahead of the reader, and the reader
   * grants more as it reads half of it. A chunk larger than the whole
   * budget still flows, one at a time. Sent by msgpack clients only: JSON
   * carries no bytes, so it could not count a chunk as the node does.
   *
   * A stream moves at most this much per round trip to the node.
   *
   * @default {131072}
   */
  creditBytes?: number;
  /**
   * Fails the stream with a `TimeoutError` when the reader waits this long
   * for a chunk (time the reader does not read does not count).
   *
   * @default {30000}
   */
  idleTimeoutMs?: number;
}
