// Copyright 2026 the mpreg authors. MIT license.
/**
 * The coordinator's side of relayed chains (docs/cluster.md, "Relayed
 * chains"): the chains in flight, answered by their last member, failed by
 * any member, and failed at once when the link to one of their members
 * closes. Private to the cluster layer.
 *
 * @module
 */
import { ConnectionError, RpcError, type WireError } from "../protocol/errors.ts";
import type { RelayOutcome } from "./cluster_node_types.ts";
import type { HopDoneMessage, HopFailedMessage } from "./peer_protocol.ts";

/** A member's error with the failing step in its details, when they are an object without one. */
function named(error: WireError, step: string): WireError {
  const details = error.details;
  if (details === null || details === undefined) return { ...error, details: { step } };
  if (typeof details !== "object" || Array.isArray(details) || "step" in details) return error;
  return { ...error, details: { ...details, step } };
}

interface Pending {
  readonly nodes: ReadonlySet<string>;
  readonly resolve: (outcome: RelayOutcome) => void;
  readonly reject: (err: unknown) => void;
  readonly stop: () => void;
}

/** The relayed chains this node coordinates. */
export class Relays {
  readonly #pending = new Map<string, Pending>();
  readonly #halt: (node: string, request: string) => void;

  /** @param halt Tells a member to stop its step of a chain. */
  constructor(halt: (node: string, request: string) => void) {
    this.#halt = halt;
  }

  /** How many chains are in flight. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Whether a chain of this request is in flight.
   *
   * @param request The request's id on this node.
   * @returns True when it is.
   */
  has(request: string): boolean {
    return this.#pending.has(request);
  }

  /**
   * Waits for the end of a chain.
   *
   * @param request The request's id on this node.
   * @param nodes The members of its steps.
   * @param signal Aborting it halts the chain on every member; the promise
   *   rejects with its reason.
   * @returns The last step's value, or where the coordinator takes over.
   */
  start(request: string, nodes: readonly string[], signal: AbortSignal): Promise<RelayOutcome> {
    const { promise, resolve, reject } = Promise.withResolvers<RelayOutcome>();
    const members = new Set(nodes);
    const onAbort = () => {
      if (this.#end(request) === undefined) return;
      this.#haltAll(members, request);
      reject(signal.reason);
    };
    this.#pending.set(request, {
      nodes: members,
      resolve,
      reject,
      stop: () => signal.removeEventListener("abort", onAbort),
    });
    signal.addEventListener("abort", onAbort, { once: true });
    return promise;
  }

  /**
   * Forgets a chain that could not be sent.
   *
   * @param request The request's id on this node.
   */
  forget(request: string): void {
    this.#end(request);
  }

  /**
   * The last value of a chain, or a failure in it.
   *
   * @param message The answer.
   */
  answer(message: HopDoneMessage | HopFailedMessage): void {
    const request = message.request;
    const pending = this.#end(request);
    if (pending === undefined) return;
    if (message.t === "hop-done") return pending.resolve({ done: true, value: message.value });
    if (!message.started) {
      return pending.resolve({ done: false, step: message.step, input: message.input });
    }
    // The steps after the failing one never started; a step before it may still stream into it.
    this.#haltAll(pending.nodes, request);
    pending.reject(RpcError.fromWire(named(message.error as WireError, message.step)));
  }

  /**
   * The link to a member closed: every chain with a step there fails (the
   * member may have held its value, or been running its step).
   *
   * @param peer The member.
   */
  linkClosed(peer: string): void {
    for (const [request, pending] of [...this.#pending]) {
      if (!pending.nodes.has(peer)) continue;
      this.#end(request);
      this.#haltAll(pending.nodes, request);
      pending.reject(
        new ConnectionError(
          `Lost the link to node "${peer}" while a chain of steps ran through it`,
          { details: { node: peer, request } },
        ),
      );
    }
  }

  #end(request: string): Pending | undefined {
    const pending = this.#pending.get(request);
    if (pending === undefined) return undefined;
    this.#pending.delete(request);
    pending.stop();
    return pending;
  }

  #haltAll(nodes: ReadonlySet<string>, request: string): void {
    for (const node of nodes) this.#halt(node, request);
  }
}
