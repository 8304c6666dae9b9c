// Copyright 2026 the mpreg authors. MIT license.
/**
 * Which steps' values may stay on the node that makes them until the steps
 * that take them fetch them (direct handoff, docs/cluster.md): a pure
 * function of the graph. A step's value may be held when the request does
 * not return it (it is not a sink, and the request is not `all`) and every
 * step that takes it takes it whole (its name, not `name.field`), as one of
 * its top-level arguments or keyword arguments: the coordinator then never
 * needs the value itself, only where it is.
 *
 * @module
 */
import { planOf, type RequestGraph } from "./graph.ts";
import { scanValue } from "./references.ts";

/** Per step of a request, in request order: whether its value may be held where it is made. */
export type HandoffPlan = readonly boolean[];

/**
 * Which steps of `graph` may leave their value where it is made.
 *
 * @example
 * ```ts
 * import { RequestGraph } from "./graph.ts";
 * import { handoffPlan } from "./handoff_plan.ts";
 * const graph = RequestGraph.build([
 *   { name: "blob", fun: "load", args: [], kwargs: {}, locs: [] },
 *   { name: "n", fun: "size", args: ["blob"], kwargs: {}, locs: [] },
 * ]);
 * console.log(handoffPlan(graph, false)); // [true, false]
 * ```
 *
 * @param graph The request's graph.
 * @param all Whether the request returns every step (then none is held).
 * @returns Per step, in request order: whether its value may be held.
 */
export function handoffPlan(graph: RequestGraph, all: boolean): HandoffPlan {
  const { nodes, refs } = planOf(graph);
  return nodes.map((node, i): boolean => {
    if (all || node.dependents.length === 0) return false;
    let inside = false;
    const count = (s: string): void => {
      const ref = refs.get(s);
      if (ref !== undefined && ref.index === i) inside = true;
    };
    const top = (value: unknown): void => {
      if (typeof value === "string") {
        const ref = refs.get(value);
        if (ref !== undefined && ref.index === i) {
          if (ref.path.length > 0) inside = true;
          return;
        }
      }
      scanValue(value, count);
    };
    for (const d of node.dependents) {
      const user = nodes[d]!.step;
      for (const value of user.args) top(value);
      for (const key in user.kwargs) if (Object.hasOwn(user.kwargs, key)) top(user.kwargs[key]);
      if (inside) return false;
    }
    return true;
  });
}
