// Copyright 2026 the mpreg authors. MIT license.
/**
 * A catalog refresh on demand: a step sent right after a registration
 * elsewhere asks the linked members for their records and waits a moment
 * for them, instead of failing with 1001. Private to the cluster layer.
 *
 * @module
 */
import type { Membership } from "./membership.ts";
import type { PeerLink } from "./peer_link.ts";

/** The catalog refreshes of a {@linkcode ClusterNode}. */
export class CatalogRefresh {
  readonly #node: { readonly name: string };
  readonly #membership: Membership;
  readonly #links: ReadonlyMap<string, PeerLink>;
  readonly #catalogWaiters = new Set<() => void>();
  readonly #awaitingRecords = new Set<string>();

  /**
   * @param node The node (for its name).
   * @param membership The node's membership.
   * @param links The node's ready links by member name.
   */
  constructor(
    node: { readonly name: string },
    membership: Membership,
    links: ReadonlyMap<string, PeerLink>,
  ) {
    this.#node = node;
    this.#membership = membership;
    this.#links = links;
  }

  /**
   * A member's records arrived: the last one awaited wakes the waiters.
   *
   * @param from The member.
   */
  received(from: string): void {
    if (this.#awaitingRecords.delete(from)) {
      if (this.#awaitingRecords.size === 0) this.wake();
    }
  }

  /** The node stops: every waiter wakes. */
  stop(): void {
    for (const wake of this.#catalogWaiters) wake();
  }

  /** Wakes every waiter: a catalog changed, a member joined or came back. */
  wake(): void {
    for (const wake of this.#catalogWaiters) wake();
    this.#catalogWaiters.clear();
  }

  /**
   * Asks every linked member for its current record and waits until they
   * all answered, one catalog changed, or `ms` passed: a step sent right
   * after a registration elsewhere finds it instead of failing with 1001.
   */
  async refresh(ms: number, signal: AbortSignal): Promise<void> {
    if (ms <= 0) return;
    for (const name of this.#membership.liveNames()) {
      if (this.#links.get(name)?.send({ t: "pull", from: this.#node.name, names: [name] })) {
        this.#awaitingRecords.add(name);
      }
    }
    if (this.#awaitingRecords.size === 0) return;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#catalogWaiters.add(resolve);
    const timer = setTimeout(resolve, ms);
    const onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
    await promise;
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    this.#catalogWaiters.delete(resolve);
    if (this.#catalogWaiters.size === 0) this.#awaitingRecords.clear();
  }
}
