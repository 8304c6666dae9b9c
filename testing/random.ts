// Copyright 2026 the mpreg authors. MIT license.
/**
 * A seeded PRNG for tests, benchmarks and the gossip simulator: the same
 * seed gives the same sequence, so a failure reproduces.
 *
 * @module
 */

/**
 * A small seeded PRNG (mulberry32): 32 bits of state, uniform in [0, 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mulberry32 } from "./random.ts";
 * const random = mulberry32(42);
 * assert.equal(random(), mulberry32(42)());
 * ```
 *
 * @param seed Any integer.
 * @returns The generator.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
