// Copyright 2026 the mpreg authors. MIT license.
/**
 * Which steps of a request may pass a stream to another step: a pure
 * function of the graph. A step may stream when exactly one other step
 * takes its value, whole (its name, not `name.field`), once, as one of its
 * top-level arguments or keyword arguments, and the request does not return
 * it (it is not a sink, and the request is not `all`). Its stream is then
 * read by that one step, where it runs; any other step whose function
 * returns a stream fails, with the reason given here.
 *
 * @module
 */
import { planOf, type RequestGraph } from "./graph.ts";
import { scanValue } from "./references.ts";

/** Per step of a request, in request order: `true` when it may stream, else why not. */
export type StreamPlan = readonly (true | string)[];

/**
 * Which steps of `graph` may stream into the step that takes them, and why
 * the others may not.
 *
 * @example
 * ```ts
 * import { RequestGraph } from "./graph.ts";
 * import { streamPlan } from "./stream_plan.ts";
 * const graph = RequestGraph.build([
 *   { name: "parsed", fun: "parse", args: ["text"], kwargs: {}, locs: [] },
 *   { name: "summary", fun: "summarize", args: ["parsed"], kwargs: {}, locs: [] },
 * ]);
 * const plan = streamPlan(graph, false);
 * console.log(plan[0]); // true
 * console.log(typeof plan[1]); // "string" (a sink)
 * ```
 *
 * @param graph The request's graph.
 * @param all Whether the request returns every step (then none may stream).
 * @returns Per step, in request order: `true`, or the reason it may not stream.
 */
export function streamPlan(graph: RequestGraph, all: boolean): StreamPlan {
  const { nodes, refs } = planOf(graph);
  return nodes.map((node, i): true | string => {
    if (all) return "the request returns every step (all: true)";
    const name = JSON.stringify(node.step.name);
    if (node.dependents.length === 0) {
      return `step ${name} is a result of the request: a client reads a stream only with ` +
        "client.stream() or client.streamRequest()";
    }
    if (node.dependents.length > 1) {
      const users = node.dependents.map((d) => JSON.stringify(nodes[d]!.step.name));
      const both = users.length === 2 ? "both" : "all";
      return `steps ${users.join(" and ")} ${both} take it: a stream is read by one step only`;
    }
    const user = nodes[node.dependents[0]!]!.step;
    const by = `step ${JSON.stringify(user.name)}`;
    let whole = 0;
    let other = 0;
    let field: string | null = null;
    const count = (s: string): void => {
      const ref = refs.get(s);
      if (ref === undefined || ref.index !== i) return;
      other++;
      if (ref.path.length > 0) field ??= s;
    };
    const top = (value: unknown): void => {
      if (typeof value === "string") {
        const ref = refs.get(value);
        if (ref !== undefined && ref.index === i && ref.path.length === 0) {
          whole++;
          return;
        }
      }
      scanValue(value, count);
    };
    for (const value of user.args) top(value);
    for (const key in user.kwargs) if (Object.hasOwn(user.kwargs, key)) top(user.kwargs[key]);
    if (field !== null) {
      return `${by} takes a field of it (${JSON.stringify(field)}): a stream is passed whole`;
    }
    if (other > 0) {
      return `${by} takes it inside another value: a stream is passed whole, as an argument ` +
        "of its own";
    }
    if (whole > 1) return `${by} takes it more than once: a stream is read once`;
    return true;
  });
}
