// Copyright 2026 the mpreg authors. MIT license.
/**
 * An order-independent hash of a membership view, kept up to date in O(1) per
 * change.
 *
 * Each member contributes two 32-bit FNV-1a hashes (with different offset
 * bases, the second one avalanched) of `name \0 incarnation \0 catalogVersion`.
 * The view is the sum of the contributions modulo 2³² for each of the two
 * hashes, so the order members were added in does not matter and a member is
 * removed by subtracting what it added. Two nodes whose views hash alike agree
 * on every member's incarnation and catalog version (with a collision chance
 * around 2⁻⁶⁴); when they differ, an anti-entropy `sync` settles it.
 *
 * @module
 */

const FNV_PRIME = 0x01000193;
const FNV_OFFSET = 0x811c9dc5;
const FNV_OFFSET_2 = 0x050c5d1f;

/** One member's contribution to a view hash: two 32-bit unsigned integers. */
export type EntryHash = readonly [number, number];

function fnv1a(text: string, basis: number): number {
  let h = basis;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** The 32-bit finalizer of MurmurHash3: spreads every input bit over the output. */
export function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The contribution of one member to a view hash.
 *
 * @example
 * ```ts ignore
 * import { entryHash } from "./_view_hash.ts";
 * const [a, b] = entryHash("n1", 1, 0);
 * console.log(a >= 0 && b >= 0); // true
 * ```
 *
 * @param name The member's name.
 * @param incarnation Its incarnation.
 * @param catalogVersion Its catalog version.
 * @returns Two 32-bit unsigned hashes.
 */
export function entryHash(name: string, incarnation: number, catalogVersion: number): EntryHash {
  const text = `${name}\u0000${incarnation}\u0000${catalogVersion}`;
  return [fnv1a(text, FNV_OFFSET), mix(fnv1a(text, FNV_OFFSET_2))];
}

/**
 * A running, order-independent hash of a set of members.
 *
 * @example
 * ```ts ignore
 * import { entryHash, ViewHash } from "./_view_hash.ts";
 * const a = new ViewHash();
 * a.add(entryHash("n1", 1, 0));
 * a.add(entryHash("n2", 1, 0));
 * const b = new ViewHash();
 * b.add(entryHash("n2", 1, 0));
 * b.add(entryHash("n1", 1, 0));
 * console.log(a.value === b.value); // true
 * ```
 */
export class ViewHash {
  #a = 0;
  #b = 0;
  #value: string | null = null;

  /**
   * Adds a member's contribution.
   *
   * @param entry What {@linkcode entryHash} returned for it.
   */
  add(entry: EntryHash): void {
    this.#a = (this.#a + entry[0]) >>> 0;
    this.#b = (this.#b + entry[1]) >>> 0;
    this.#value = null;
  }

  /**
   * Removes a member's contribution (the same one that was added).
   *
   * @param entry What was added for it.
   */
  remove(entry: EntryHash): void {
    this.#a = (this.#a - entry[0]) >>> 0;
    this.#b = (this.#b - entry[1]) >>> 0;
    this.#value = null;
  }

  /** The hash as a short string (two base-36 numbers). */
  get value(): string {
    return this.#value ??= `${this.#a.toString(36)}.${this.#b.toString(36)}`;
  }
}

/**
 * The view hash of a whole set of members at once.
 *
 * @example
 * ```ts ignore
 * import { viewHash } from "./_view_hash.ts";
 * const a = viewHash([{ name: "n1", incarnation: 1, catalogVersion: 0 }]);
 * console.log(typeof a); // "string"
 * ```
 *
 * @param members The members that count in the view.
 * @returns The hash.
 */
export function viewHash(
  members: Iterable<{ name: string; incarnation: number; catalogVersion: number }>,
): string {
  const hash = new ViewHash();
  for (const m of members) hash.add(entryHash(m.name, m.incarnation, m.catalogVersion));
  return hash.value;
}
