// Copyright 2026 the mpreg authors. MIT license.
/**
 * Finds which step a string refers to, in time linear in the string.
 *
 * Trying every prefix that ends before a `.` with `Set.has` costs the sum of
 * the prefix lengths, which is quadratic for a long string full of dots. So
 * the prefixes are hashed incrementally (a polynomial hash modulo a prime with
 * a random base, chosen once per process, so crafted collisions are not
 * practical) and only a prefix whose hash matches a step name's is compared
 * for real. A hash only narrows the candidates: the answer is always checked
 * with `names.has`.
 *
 * @module
 */
import type { Reference } from "./references.ts";

const MODULUS = 2_147_483_647; // 2 ** 31 - 1, a prime
// hash < 2 ** 31 and BASE < 2 ** 21, so hash * BASE + code < 2 ** 53 stays exact.
const BASE = 65_536 + Math.floor(Math.random() * (2_097_152 - 65_536));
const DOT = 46;

/** The step names: a set of names, or a map keyed by them. */
export interface Names {
  /** Whether `name` is a step name. */
  has(name: string): boolean;
  /** Every step name. */
  keys(): Iterable<string>;
}

/** Parses strings as references to one fixed set of step names. */
export class NameIndex {
  readonly names: Names;
  #hashes: Set<number> | undefined;
  #maxLength = 0;

  /** @param names The step names; not copied, and must not change while in use. */
  constructor(names: Names) {
    this.names = names;
  }

  /**
   * Parses `s` by the longest-prefix rule (see `parseReference`).
   *
   * @param s The string.
   * @returns The reference, or `null` when `s` refers to no step.
   */
  parse(s: string): Reference | null {
    if (this.names.has(s)) return { step: s, path: [] };
    if (s.indexOf(".") === -1) return null;
    const hashes = this.#hashes ?? this.#build();
    // Dot positions whose prefix hashes like a name, shortest first.
    const candidates: number[] = [];
    const end = Math.min(s.length - 1, this.#maxLength);
    let hash = 0;
    for (let i = 0; i <= end; i++) {
      const code = s.charCodeAt(i);
      if (code === DOT && hashes.has(hash)) candidates.push(i);
      hash = (hash * BASE + code) % MODULUS;
    }
    for (let k = candidates.length - 1; k >= 0; k--) {
      const at = candidates[k]!;
      const step = s.slice(0, at);
      if (this.names.has(step)) return { step, path: s.slice(at + 1).split(".") };
    }
    return null;
  }

  #build(): Set<number> {
    const hashes = new Set<number>();
    for (const name of this.names.keys()) {
      let hash = 0;
      for (let i = 0; i < name.length; i++) hash = (hash * BASE + name.charCodeAt(i)) % MODULUS;
      hashes.add(hash);
      if (name.length > this.#maxLength) this.#maxLength = name.length;
    }
    this.#hashes = hashes;
    return hashes;
  }
}
