// Copyright 2026 the mpreg authors. MIT license.
/**
 * The values this member holds for direct handoff (docs/cluster.md): each
 * kept for the coordinator that ran the step, until it drops it, its link
 * closes, or the request's deadline (plus {@linkcode HELD_GRACE_MS}) passes.
 * Private to the cluster layer.
 *
 * @module
 */
import { HELD_GRACE_MS } from "./held_value.ts";

interface Held<L> {
  value: unknown;
  link: L;
  timer: ReturnType<typeof setTimeout>;
}

/** Values held for coordinators, by reference. */
export class HeldStore<L> {
  readonly #held = new Map<number, Held<L>>();
  #next = 0;

  /** How many values are held. */
  get size(): number {
    return this.#held.size;
  }

  /**
   * Holds a value for the coordinator on `link`.
   *
   * @param value The value.
   * @param link The coordinator's link.
   * @param timeoutMs What is left of the request's deadline.
   * @returns Its reference.
   */
  hold(value: unknown, link: L, timeoutMs: number): number {
    const ref = ++this.#next;
    const timer = setTimeout(() => this.#held.delete(ref), timeoutMs + HELD_GRACE_MS);
    Deno.unrefTimer(timer);
    this.#held.set(ref, { value, link, timer });
    return ref;
  }

  /**
   * A held value.
   *
   * @param ref Its reference.
   * @returns `{ value }`, or `null` when none is held under `ref`.
   */
  get(ref: number): { value: unknown } | null {
    const held = this.#held.get(ref);
    return held === undefined ? null : { value: held.value };
  }

  /**
   * Lets a value go, when the coordinator that asked holds it.
   *
   * @param ref Its reference.
   * @param link The link the drop came on.
   */
  drop(ref: number, link: L): void {
    const held = this.#held.get(ref);
    if (held === undefined || held.link !== link) return;
    clearTimeout(held.timer);
    this.#held.delete(ref);
  }

  /**
   * Lets go every value held for the coordinator on a closed link.
   *
   * @param link The link.
   */
  linkClosed(link: L): void {
    for (const [ref, held] of this.#held) {
      if (held.link !== link) continue;
      clearTimeout(held.timer);
      this.#held.delete(ref);
    }
  }
}
