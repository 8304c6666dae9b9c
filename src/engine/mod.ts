// Copyright 2026 the mpreg authors. MIT license.
/**
 * The request engine: checks a request's dependency graph and runs it as a
 * dataflow with an injected step runner. Pure: no I/O, no timers.
 *
 * @example
 * ```ts
 * import { execute, RequestGraph, type RunStep } from "@mpreg/mpreg";
 * const graph = RequestGraph.build([
 *   { name: "sum", fun: "add", args: [10, 20], kwargs: {}, locs: [] },
 *   { name: "out", fun: "format", args: ["sum", "Total"], kwargs: {}, locs: [] },
 * ]);
 * const run: RunStep = (step, args) =>
 *   step.fun === "add" ? (args[0] as number) + (args[1] as number) : `${args[1]}: ${args[0]}`;
 * console.log(await execute(graph, run)); // { out: "Total: 30" }
 * ```
 *
 * @module
 */
export type { Step } from "../protocol/step.ts";
export {
  findReferences,
  isLiteral,
  parseReference,
  type Reference,
  resolveValue,
} from "./references.ts";
export { RequestGraph } from "./graph.ts";
export { execute, executeNow, type ExecuteOptions, type RunStep } from "./execute.ts";
