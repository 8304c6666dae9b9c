// Copyright 2026 the mpreg authors. MIT license.
/**
 * Direct handoff (docs/cluster.md, "Direct handoff"): a large value a
 * forwarded step made stays on the member that made it, and the member of
 * each step that takes it fetches it from there over their own link. The
 * coordinator holds only a {@linkcode HeldValue}: where the value is.
 *
 * @module
 */
import type { HeldPosition } from "./peer_protocol.ts";

/**
 * The size (a lower bound of its msgpack encoding, see
 * {@linkcode atLeastBytes}) over which a forwarded step's value that only
 * other steps take stays on the member that made it. Smaller values go to
 * the coordinator and out again as before: for them, the extra messages of
 * a handoff cost more than the bytes they save.
 */
export const HANDOFF_MIN_BYTES = 64 * 1024;

/**
 * How long past the request's deadline a member keeps a value it holds
 * when no `drop` came (the coordinator normally drops it when its request
 * ends).
 */
export const HELD_GRACE_MS = 1_000;

/**
 * A step's value held on the member that made it: what the coordinator has
 * in its place, passed to the steps that take it.
 *
 * @example
 * ```ts
 * import { HeldValue } from "./held_value.ts";
 * const held = new HeldValue("n1", 7, 10_485_760, () => {});
 * console.log(held.from, held.ref); // "n1" 7
 * ```
 */
export class HeldValue {
  /** The member that holds it. */
  readonly from: string;
  /** Its reference on that member. */
  readonly ref: number;
  /** Its size, as the member estimated it. */
  readonly size: number;
  readonly #drop: () => void;
  #dropped = false;

  /**
   * @param from The member that holds it.
   * @param ref Its reference there.
   * @param size Its estimated size.
   * @param drop Tells the member to let it go.
   */
  constructor(from: string, ref: number, size: number, drop: () => void) {
    this.from = from;
    this.ref = ref;
    this.size = size;
    this.#drop = drop;
  }

  /** Tells the member that holds it to let it go (once). */
  drop(): void {
    if (this.#dropped) return;
    this.#dropped = true;
    this.#drop();
  }
}

/**
 * Whether a value's msgpack encoding is at least `bound` bytes, by a quick
 * lower bound: bytes for binary, UTF-16 units for strings (never more than
 * their UTF-8 bytes), one byte for anything else, plus one per element or
 * key. It stops as soon as the bound is passed.
 *
 * @example
 * ```ts
 * import { atLeastBytes } from "./held_value.ts";
 * console.log(atLeastBytes(new Uint8Array(100_000), 65_536)); // 100001
 * console.log(atLeastBytes({ n: 1 }, 65_536)); // -1
 * ```
 *
 * @param value The value.
 * @param bound The size to reach.
 * @returns The lower bound once it reaches `bound`, else -1.
 */
export function atLeastBytes(value: unknown, bound: number): number {
  // The common small answers (numbers, short strings) without a walk.
  if (typeof value !== "object" || value === null) {
    return typeof value === "string" && value.length + 1 >= bound ? value.length + 1 : -1;
  }
  let total = 0;
  const walk = (v: unknown, depth: number): void => {
    if (total >= bound) return;
    if (typeof v === "string") total += v.length + 1;
    else if (v instanceof Uint8Array) total += v.byteLength + 1;
    else if (ArrayBuffer.isView(v)) total += v.byteLength + 1;
    else if (typeof v !== "object" || v === null || depth > 64) total += 1;
    else if (Array.isArray(v)) {
      total += 1;
      for (const item of v) {
        walk(item, depth + 1);
        if (total >= bound) return;
      }
    } else {
      total += 1;
      for (const key in v) {
        if (!Object.hasOwn(v, key)) continue;
        total += key.length + 1;
        walk((v as Record<string, unknown>)[key], depth + 1);
        if (total >= bound) return;
      }
    }
  };
  walk(value, 0);
  return total >= bound ? total : -1;
}

/** A step's arguments with its held values taken out (`null` in their place). */
export interface SplitHeld {
  /** The positional arguments. */
  args: unknown[];
  /** The keyword arguments. */
  kwargs: Record<string, unknown>;
  /** Where each held value goes. */
  held: HeldPosition[];
}

/**
 * Takes the held values out of a step's top-level arguments.
 *
 * @example
 * ```ts
 * import { HeldValue, splitHeld } from "./held_value.ts";
 * const split = splitHeld([new HeldValue("n1", 3, 1e6, () => {}), 2], {});
 * console.log(split?.args, split?.held); // [null, 2] [{ arg: 0, from: "n1", ref: 3 }]
 * ```
 *
 * @param args The positional arguments.
 * @param kwargs The keyword arguments.
 * @returns The split, or `null` when there is no held value.
 */
export function splitHeld(
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
): SplitHeld | null {
  let split: SplitHeld | null = null;
  for (let arg = 0; arg < args.length; arg++) {
    const value = args[arg];
    if (!(value instanceof HeldValue)) continue;
    split ??= { args: [...args], kwargs: { ...kwargs }, held: [] };
    split.args[arg] = null;
    split.held.push({ arg, from: value.from, ref: value.ref });
  }
  for (const kwarg in kwargs) {
    const value = kwargs[kwarg];
    if (!Object.hasOwn(kwargs, kwarg) || !(value instanceof HeldValue)) continue;
    split ??= { args: [...args], kwargs: { ...kwargs }, held: [] };
    split.kwargs[kwarg] = null;
    split.held.push({ kwarg, from: value.from, ref: value.ref });
  }
  return split;
}

/**
 * Whether a step's top-level arguments hold a {@linkcode HeldValue}.
 *
 * @example
 * ```ts
 * import { hasHeld } from "./held_value.ts";
 * console.log(hasHeld([1, "x"], {})); // false
 * ```
 *
 * @param args The positional arguments.
 * @param kwargs The keyword arguments.
 * @returns True when one does.
 */
export function hasHeld(args: readonly unknown[], kwargs: Record<string, unknown>): boolean {
  for (const value of args) if (value instanceof HeldValue) return true;
  for (const key in kwargs) {
    if (Object.hasOwn(kwargs, key) && kwargs[key] instanceof HeldValue) return true;
  }
  return false;
}
