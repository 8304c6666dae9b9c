// Copyright 2026 the mpreg authors. MIT license.
/**
 * Routing: which members can run a step, and which one should.
 *
 * @module
 */

/** What the router reads of a member. */
export interface RouteMember {
  /** The member's name. */
  readonly name: string;
  /** Only `"alive"` members get new steps. */
  readonly state: string;
  /** Whether it is the local node. */
  readonly self: boolean;
  /** Its node-level resources. */
  readonly resources: readonly string[];
  /** Its functions, each with its own extra resources. */
  readonly functions: Readonly<Record<string, readonly string[]>>;
}

/**
 * The members in `state` (by default the live ones) that offer `fun` with
 * every resource in `locs`: a member qualifies when its own resources plus
 * the function's include them all. Empty `locs` means any such member
 * offering the function, never one without it.
 *
 * @param members The members known.
 * @param fun The function.
 * @param locs The step's required resources.
 * @param state The state candidates must be in.
 * @returns The candidates, in the order given.
 *
 * @example
 * ```ts
 * import { candidatesFor } from "./router.ts";
 * const members = [
 *   { name: "a", state: "alive", self: true, resources: ["cpu"], functions: { f: [] } },
 *   { name: "b", state: "alive", self: false, resources: ["gpu"], functions: { f: ["model"] } },
 * ];
 * console.log(candidatesFor(members, "f", ["gpu", "model"]).map((m) => m.name)); // [ "b" ]
 * ```
 */
export function candidatesFor<M extends RouteMember>(
  members: readonly M[],
  fun: string,
  locs: readonly string[],
  state: string = "alive",
): M[] {
  const out: M[] = [];
  for (const member of members) {
    if (member.state !== state) continue;
    const own = member.functions[fun];
    if (own === undefined) continue;
    let ok = true;
    for (const loc of locs) {
      if (!member.resources.includes(loc) && !own.includes(loc)) {
        ok = false;
        break;
      }
    }
    if (ok) out.push(member);
  }
  return out;
}

/**
 * How {@linkcode pickCandidate} chooses.
 *
 * @example
 * ```ts
 * import type { PickOptions } from "./router.ts";
 * const options: PickOptions = { preferLocal: true, load: () => 0, random: Math.random };
 * console.log(options.preferLocal);
 * ```
 */
export interface PickOptions {
  /** Run on the local node whenever it is a candidate. */
  preferLocal: boolean;
  /** Calls in flight from this node to a member (its load as seen from here). */
  load(name: string): number;
  /** A random number in [0, 1). */
  random(): number;
}

/**
 * Picks the member to run a step: the local node when it is a candidate and
 * `preferLocal` is set, otherwise the less loaded of two random candidates
 * ("power of two choices").
 *
 * @param candidates Non-empty list from {@linkcode candidatesFor}.
 * @param options Preference, load and randomness.
 * @returns The chosen member.
 *
 * @example
 * ```ts
 * import { pickCandidate } from "./router.ts";
 * const m = (name: string, self = false) =>
 *   ({ name, state: "alive", self, resources: [], functions: { f: [] } });
 * const chosen = pickCandidate([m("a"), m("b", true)], {
 *   preferLocal: true,
 *   load: () => 0,
 *   random: Math.random,
 * });
 * console.log(chosen.name); // b
 * ```
 */
export function pickCandidate<M extends RouteMember>(
  candidates: readonly M[],
  options: PickOptions,
): M {
  if (candidates.length === 0) throw new RangeError("pickCandidate() needs a candidate");
  if (options.preferLocal) {
    for (const c of candidates) if (c.self) return c;
  }
  if (candidates.length === 1) return candidates[0]!;
  const i = Math.floor(options.random() * candidates.length);
  let j = Math.floor(options.random() * (candidates.length - 1));
  if (j >= i) j++;
  const a = candidates[i]!;
  const b = candidates[j]!;
  return options.load(b.name) < options.load(a.name) ? b : a;
}
