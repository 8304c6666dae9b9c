// Copyright 2026 the mpreg authors. MIT license.
/**
 * Whether a request is a chain (docs/cluster.md, "Relayed chains"): steps in
 * a line, each taking only the value of the one before it, whole, as
 * top-level arguments, and nothing else taking it. Such a request can run as
 * a relay: each member passes the next step, with the value, straight to
 * the next member, and only the last one answers. A pure function of the
 * graph.
 *
 * @module
 */
import { planOf, type RequestGraph } from "./graph.ts";
import { scanValue } from "./references.ts";

/** Where a value goes in a step's top-level arguments. */
export type ValueAt = { arg: number } | { kwarg: string };

/** One step of a chain, in the order they run. */
export interface ChainLink {
  /** The step's index in request order. */
  index: number;
  /** Where the value of the step before it goes in its arguments (empty for the first). */
  at: ValueAt[];
}

/**
 * The steps of `graph` in chain order, when it is a chain of two steps or
 * more whose only result is the last step's.
 *
 * @example
 * ```ts
 * import { RequestGraph } from "./graph.ts";
 * import { chainPlan } from "./chain_plan.ts";
 * const graph = RequestGraph.build([
 *   { name: "b", fun: "double", args: ["a"], kwargs: {}, locs: [] },
 *   { name: "a", fun: "inc", args: [1], kwargs: {}, locs: [] },
 * ]);
 * console.log(chainPlan(graph, false)); // [{ index: 1, at: [] }, { index: 0, at: [{ arg: 0 }] }]
 * ```
 *
 * @param graph The request's graph.
 * @param all Whether the request returns every step (then it is no chain).
 * @returns The chain, first step first, or `null` when the request is not one.
 */
export function chainPlan(graph: RequestGraph, all: boolean): ChainLink[] | null {
  const { nodes, refs } = planOf(graph);
  if (all || nodes.length < 2) return null;
  const first = nodes.findIndex((node) => node.deps.length === 0);
  if (first < 0) return null;
  const chain: ChainLink[] = [{ index: first, at: [] }];
  let current = first;
  while (chain.length < nodes.length) {
    const dependents = nodes[current]!.dependents;
    if (dependents.length !== 1) return null;
    const next = dependents[0]!;
    if (nodes[next]!.deps.length !== 1) return null;
    const at = positionsOf(nodes[next]!.step, current, refs);
    if (at === null) return null;
    chain.push({ index: next, at });
    current = next;
  }
  return nodes[current]!.dependents.length === 0 ? chain : null;
}

/**
 * Where step `from`'s value goes in `step`'s top-level arguments, or `null`
 * when `step` takes it otherwise (a field of it, or nested in a value).
 */
function positionsOf(
  step: { readonly args: readonly unknown[]; readonly kwargs: Record<string, unknown> },
  from: number,
  refs: ReadonlyMap<string, { readonly index: number; readonly path: readonly string[] }>,
): ValueAt[] | null {
  const at: ValueAt[] = [];
  let otherwise = false;
  const nested = (s: string): void => {
    if (refs.has(s)) otherwise = true;
  };
  const top = (value: unknown, where: ValueAt): void => {
    if (typeof value === "string") {
      const ref = refs.get(value);
      if (ref !== undefined) {
        if (ref.index === from && ref.path.length === 0) at.push(where);
        else otherwise = true;
        return;
      }
    }
    scanValue(value, nested);
  };
  step.args.forEach((value, arg) => top(value, { arg }));
  for (const kwarg in step.kwargs) {
    if (Object.hasOwn(step.kwargs, kwarg)) top(step.kwargs[kwarg], { kwarg });
  }
  return otherwise || at.length === 0 ? null : at;
}
