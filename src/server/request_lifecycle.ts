// Copyright 2026 the mpreg authors. MIT license.
/**
 * The life of a request on a node, written once for a client's request and
 * for a step a peer forwarded: its time budget, its deadline (one timer for
 * all, a {@linkcode DeadlineQueue}), its cancel signal, and the count of
 * requests in flight that a drain waits on.
 *
 * @module
 */
import { DeadlineQueue } from "../_util/deadline_queue.ts";
import type { RpcError } from "../protocol/errors.ts";

/**
 * The settings of a {@linkcode RequestLifecycle}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type LifecycleSettings, RequestLifecycle } from "./request_lifecycle.ts";
 * const settings: LifecycleSettings = { requestTimeoutMs: 30_000, maxRequestTimeoutMs: 300_000 };
 * assert.equal(new RequestLifecycle(settings).budget(undefined), 30_000);
 * ```
 */
export interface LifecycleSettings {
  /** The budget of a request that asks for none, in milliseconds. */
  readonly requestTimeoutMs: number;
  /** The longest budget a request may ask for, in milliseconds. */
  readonly maxRequestTimeoutMs: number;
}

/** How a request begins: see {@linkcode RequestLifecycle.begin}. */
export interface BeginOptions {
  /** The budget the request asks for, in milliseconds (none, or not positive: the default). */
  readonly timeout?: number | null | undefined;
  /** The error the request is aborted with when its deadline passes. */
  readonly timedOut: (budgetMs: number) => RpcError;
  /** A signal whose abort aborts the request too (a peer's cancel). */
  readonly parent?: AbortSignal;
}

/** A request that has begun: its signal, deadline, and how it settles. */
export interface LiveRequest {
  /** Aborts when the deadline passes, the parent aborts, or `settle(error)` is called. */
  readonly signal: AbortSignal;
  /** When the deadline passes, in milliseconds since the epoch. */
  readonly deadline: number;
  /** The budget granted, in milliseconds. */
  readonly budgetMs: number;
  /**
   * Disarms the deadline and forgets the parent signal; with an error, the
   * request's signal aborts with it (a cancel). Idempotent. It does not end
   * the request's count in flight: call {@linkcode RequestLifecycle.ended}
   * once its answer is sent.
   */
  settle(abortWith?: RpcError): void;
}

/**
 * Budgets, deadlines and the count of requests in flight, for every request
 * of one node, client or peer.
 *
 * A request begins with {@linkcode RequestLifecycle.begin} (counted in
 * flight, deadline armed), settles with `LiveRequest.settle()` when its
 * value is known, and ends with {@linkcode RequestLifecycle.ended} once its
 * answer is sent; a drain waits for {@linkcode RequestLifecycle.whenIdle}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TimeoutError } from "../protocol/errors.ts";
 * import { RequestLifecycle } from "./request_lifecycle.ts";
 * const lifecycle = new RequestLifecycle({ requestTimeoutMs: 1000, maxRequestTimeoutMs: 5000 });
 * const live = lifecycle.begin({ timeout: 10_000, timedOut: (ms) => new TimeoutError(`${ms} ms`) });
 * assert.equal(live.budgetMs, 5000);
 * assert.equal(lifecycle.inFlight, 1);
 * live.settle(); // its value is known: the deadline is disarmed
 * lifecycle.ended(); // its answer is sent
 * assert.equal(lifecycle.inFlight, 0);
 * lifecycle.close();
 * ```
 */
export class RequestLifecycle {
  /** The budget of a request that asks for none, in milliseconds. */
  readonly requestTimeoutMs: number;
  /** The longest budget a request may ask for, in milliseconds. */
  readonly maxRequestTimeoutMs: number;
  /** The node's deadline timer. */
  readonly deadlines: DeadlineQueue = new DeadlineQueue();
  #inFlight = 0;
  #idle: (() => void) | null = null;

  /**
   * Creates the lifecycle of a node's requests.
   *
   * @param settings The default and the longest budget.
   */
  constructor(settings: LifecycleSettings) {
    this.requestTimeoutMs = settings.requestTimeoutMs;
    this.maxRequestTimeoutMs = settings.maxRequestTimeoutMs;
  }

  /** Requests in flight: begun and not yet ended. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * The budget of a request: what it asks for when that is a positive
   * number, else the default, and never more than the maximum.
   *
   * @param asked The budget asked for, in milliseconds.
   * @returns The budget granted, in milliseconds.
   */
  budget(asked: number | null | undefined): number {
    const wanted = typeof asked === "number" && asked > 0 ? asked : this.requestTimeoutMs;
    return Math.min(wanted, this.maxRequestTimeoutMs);
  }

  /**
   * Begins a request: counts it in flight and arms its deadline.
   *
   * @param options The budget asked for, the timeout error, a parent signal.
   * @returns The live request.
   */
  begin(options: BeginOptions): LiveRequest {
    const budgetMs = this.budget(options.timeout);
    const controller = new AbortController();
    const parent = options.parent;
    const onAbort = parent === undefined ? null : () => controller.abort(parent.reason);
    if (parent !== undefined && onAbort !== null) {
      parent.addEventListener("abort", onAbort, { once: true });
    }
    const deadlines = this.deadlines;
    let settled = false;
    const at = Date.now() + budgetMs;
    const handle = deadlines.add({
      at,
      expire: () => {
        if (!settled) controller.abort(options.timedOut(budgetMs));
      },
    });
    this.started();
    return {
      signal: controller.signal,
      deadline: at,
      budgetMs,
      settle: (abortWith?: RpcError) => {
        if (settled) return;
        settled = true;
        deadlines.delete(handle);
        if (parent !== undefined && onAbort !== null) {
          parent.removeEventListener("abort", onAbort);
        }
        if (abortWith !== undefined) controller.abort(abortWith);
      },
    };
  }

  /**
   * Counts a request in flight whose deadline its caller keeps itself;
   * {@linkcode RequestLifecycle.begin} calls it.
   */
  started(): void {
    this.#inFlight++;
  }

  /** Ends a request's count in flight, once its answer is sent (or it was cancelled). */
  ended(): void {
    if (--this.#inFlight === 0 && this.#idle) this.#idle();
  }

  /**
   * Waits until no request is in flight, for at most `ms`.
   *
   * @param ms The longest wait, in milliseconds.
   * @returns When idle, or when `ms` has passed.
   */
  async whenIdle(ms: number): Promise<void> {
    if (this.#inFlight === 0) return;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#idle = resolve;
    const timer = setTimeout(resolve, Math.max(0, ms));
    await promise;
    clearTimeout(timer);
    this.#idle = null;
  }

  /** Stops the deadline timer (the node stopped). */
  close(): void {
    this.deadlines.clear();
  }
}
