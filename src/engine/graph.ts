// Copyright 2026 the mpreg authors. MIT license.
/**
 * The dependency graph of a request, checked before anything runs.
 *
 * @module
 */
import { GraphError } from "../protocol/errors.ts";
import { NameIndex } from "./_name_index.ts";
import { scanValue } from "./references.ts";
import type { Step } from "../protocol/step.ts";

/** A reference found while building, with the step as an index into `steps`. */
export interface PlannedReference {
  /** The referenced step's index. */
  readonly index: number;
  /** The keys and indices to walk into its result. */
  readonly path: readonly string[];
}

/** One step of a {@linkcode Plan}. */
export interface PlannedStep {
  /** The step. */
  readonly step: Step;
  /** Indices of the steps it refers to, ascending. */
  readonly deps: readonly number[];
  /** Indices of the steps that refer to it, ascending. */
  readonly dependents: readonly number[];
  /** Whether its arguments hold a reference or a literal wrapper. */
  readonly resolve: boolean;
}

/** What {@linkcode execute} needs from a graph, by step index. */
export interface Plan {
  /** The steps, in request order. */
  readonly nodes: readonly PlannedStep[];
  /** Every string in the arguments that is a reference, parsed. */
  readonly refs: ReadonlyMap<string, PlannedReference>;
}

let planOfGraph: (graph: RequestGraph) => Plan;

/**
 * The checked dependency graph of a request.
 *
 * A step depends on every step its `args` or `kwargs` refer to (see
 * {@linkcode parseReference}). {@linkcode RequestGraph.build} rejects a
 * request that cannot run before any step starts; {@linkcode execute} runs it.
 *
 * @example
 * ```ts
 * import { RequestGraph } from "./graph.ts";
 * import { type Step } from "../protocol/step.ts";
 * const steps: Step[] = [
 *   { name: "a", fun: "one", args: [], kwargs: {}, locs: [] },
 *   { name: "b", fun: "inc", args: ["a"], kwargs: {}, locs: [] },
 *   { name: "c", fun: "inc", args: [], kwargs: { x: "a" }, locs: [] },
 * ];
 * const graph = RequestGraph.build(steps);
 * console.log(graph.dependentsOf("a")); // [ "b", "c" ]
 * console.log(graph.sinks); // [ "b", "c" ]
 * ```
 */
export class RequestGraph {
  /** The steps, in request order. */
  readonly steps: readonly Step[];
  /** The steps no other step refers to, in request order. */
  readonly sinks: readonly string[];
  #plan: Plan;
  #indexOf: ReadonlyMap<string, number>;

  static {
    planOfGraph = (graph) => graph.#plan;
  }

  private constructor(
    steps: readonly Step[],
    plan: Plan,
    indexOf: ReadonlyMap<string, number>,
  ) {
    this.steps = steps;
    this.#plan = plan;
    this.#indexOf = indexOf;
    const sinks: string[] = [];
    for (const node of plan.nodes) if (node.dependents.length === 0) sinks.push(node.step.name);
    this.sinks = sinks;
  }

  /**
   * Checks a request and builds its graph.
   *
   * @param steps The steps, in request order.
   * @returns The graph.
   * @throws {GraphError} If the request has no steps (`details: {}`), a step
   * name is empty or `"__proto__"` (`details: { index, name }`), names repeat
   * (`details: { duplicates }`), or steps form a cycle, a step referring to
   * itself included (`details: { cycle }`, the step names in order, each
   * referring to the next and the last to the first).
   *
   * @example Reject a cycle
   * ```ts
   * import { GraphError } from "@mpreg/mpreg";
   * import { RequestGraph } from "./graph.ts";
   * try {
   *   RequestGraph.build([
   *     { name: "a", fun: "f", args: ["b"], kwargs: {}, locs: [] },
   *     { name: "b", fun: "f", args: ["a"], kwargs: {}, locs: [] },
   *   ]);
   * } catch (err) {
   *   if (err instanceof GraphError) console.log(err.details); // { cycle: [ "a", "b" ] }
   * }
   * ```
   */
  static build(steps: readonly Step[]): RequestGraph {
    const n = steps.length;
    if (n === 0) throw new GraphError("Request has no steps", { details: {} });
    steps = steps.slice();
    const indexOf = indexNames(steps);
    const index = new NameIndex(indexOf);
    const refs = new Map<string, PlannedReference>();
    const nodes: { step: Step; deps: number[]; dependents: number[]; resolve: boolean }[] = [];
    // While scanning step i: its dependencies, and mark[j] === i once j is among them.
    let i = 0;
    let own: number[] = [];
    let mark: Int32Array | undefined;
    let edges = 0;
    let longest = 0;
    for (const name of indexOf.keys()) if (name.length > longest) longest = name.length;
    const visit = (s: string): void => {
      // Longer than every name and without a dot, it refers to no step:
      // skip hashing it for the lookups below (arguments can be long).
      if (s.length > longest && s.indexOf(".") === -1) return;
      let ref = refs.get(s);
      if (ref === undefined) {
        const parsed = index.parse(s);
        if (parsed === null) return;
        ref = { index: indexOf.get(parsed.step)!, path: parsed.path };
        refs.set(s, ref);
      }
      const j = ref.index;
      if (j === i) throw refersToItself(steps[i]!.name, s);
      mark ??= new Int32Array(n).fill(-1);
      if (mark[j] !== i) {
        mark[j] = i;
        own.push(j);
      }
    };
    for (; i < n; i++) {
      const step = steps[i]!;
      own = [];
      const sawLiteral = scanStep(step, visit);
      if (own.length > 1) own.sort((x, y) => x - y);
      edges += own.length;
      nodes.push({ step, deps: own, dependents: [], resolve: sawLiteral || own.length > 0 });
    }
    if (edges > 0) {
      for (let k = 0; k < n; k++) for (const j of nodes[k]!.deps) nodes[j]!.dependents.push(k);
      rejectCycles(nodes);
    }
    return new RequestGraph(steps, { nodes, refs }, indexOf);
  }

  /**
   * Checks a request of one step exactly as `RequestGraph.build([step])`
   * does, without building a graph: the shape of every `client.call()`,
   * checked on every call. A lone step can only refer to itself, which is an
   * error.
   *
   * @param step The request's only step.
   * @returns Whether its arguments must be resolved before it runs (they hold
   *   a literal wrapper), as {@linkcode RequestGraph.needsResolution} would say.
   * @throws {GraphError} As {@linkcode RequestGraph.build} does for the same request.
   *
   * @example
   * ```ts
   * import { literal } from "@mpreg/mpreg";
   * import { RequestGraph } from "./graph.ts";
   * const step = { name: "a", fun: "f", args: [1, "x"], kwargs: {}, locs: [] };
   * console.log(RequestGraph.checkAlone(step)); // false
   * console.log(RequestGraph.checkAlone({ ...step, args: [literal("a")] })); // true
   * ```
   */
  static checkAlone(step: Step): boolean {
    const name = step.name;
    checkName(name, 0);
    const length = name.length;
    return scanStep(step, (s) => {
      // `s === name` or `s` starts with `name + "."`, without building that.
      if (
        s.startsWith(name) && (s.length === length || s.charCodeAt(length) === 46 /* . */)
      ) throw refersToItself(name, s);
    });
  }

  /**
   * The steps a step refers to.
   *
   * @param name A step name.
   * @returns Their names, in request order.
   * @throws {RangeError} If no step has that name.
   *
   * @example
   * ```ts
   * import { RequestGraph } from "./graph.ts";
   * const graph = RequestGraph.build([
   *   { name: "a", fun: "f", args: [], kwargs: {}, locs: [] },
   *   { name: "b", fun: "f", args: [{ from: "a.total" }], kwargs: {}, locs: [] },
   * ]);
   * console.log(graph.dependenciesOf("b")); // [ "a" ]
   * ```
   */
  dependenciesOf(name: string): readonly string[] {
    return this.#node(name).deps.map((i) => this.steps[i]!.name);
  }

  /**
   * The steps that refer to a step.
   *
   * @param name A step name.
   * @returns Their names, in request order.
   * @throws {RangeError} If no step has that name.
   *
   * @example
   * ```ts
   * import { RequestGraph } from "./graph.ts";
   * const graph = RequestGraph.build([
   *   { name: "a", fun: "f", args: [], kwargs: {}, locs: [] },
   *   { name: "b", fun: "f", args: ["a"], kwargs: {}, locs: [] },
   * ]);
   * console.log(graph.dependentsOf("a")); // [ "b" ]
   * ```
   */
  dependentsOf(name: string): readonly string[] {
    return this.#node(name).dependents.map((i) => this.steps[i]!.name);
  }

  /**
   * Whether a step's arguments must be resolved before it runs: they hold a
   * reference or a literal wrapper. Other steps get their `args` and `kwargs`
   * untouched, without a scan.
   *
   * @param name A step name.
   * @returns `true` if the step's arguments hold a reference or a literal wrapper.
   * @throws {RangeError} If no step has that name.
   *
   * @example
   * ```ts
   * import { RequestGraph } from "./graph.ts";
   * const graph = RequestGraph.build([
   *   { name: "a", fun: "echo", args: ["hi"], kwargs: {}, locs: [] },
   * ]);
   * console.log(graph.needsResolution("a")); // false
   * ```
   */
  needsResolution(name: string): boolean {
    return this.#node(name).resolve;
  }

  #node(name: string): PlannedStep {
    const i = this.#indexOf.get(name);
    if (i === undefined) throw new RangeError(`No step is named ${JSON.stringify(name)}`);
    return this.#plan.nodes[i]!;
  }
}

/**
 * The execution plan of a graph, for {@linkcode execute}. Not part of the
 * public API.
 *
 * @param graph A graph.
 * @returns Its plan.
 */
export function planOf(graph: RequestGraph): Plan {
  return planOfGraph(graph);
}

function indexNames(steps: readonly Step[]): Map<string, number> {
  const indexOf = new Map<string, number>();
  const duplicates = new Set<string>();
  for (let i = 0; i < steps.length; i++) {
    const name = steps[i]!.name;
    checkName(name, i);
    if (indexOf.has(name)) duplicates.add(name);
    else indexOf.set(name, i);
  }
  if (duplicates.size > 0) {
    const list = [...duplicates];
    throw new GraphError(
      `Duplicate step name${list.length > 1 ? "s" : ""}: ${
        list.map((d) => JSON.stringify(d)).join(", ")
      }`,
      { details: { duplicates: list } },
    );
  }
  return indexOf;
}

/** Visits every string in a step's arguments; whether a literal wrapper was met. */
function scanStep(step: Step, visit: (s: string) => void): boolean {
  let sawLiteral = scanValue(step.args, visit);
  const kwargs = step.kwargs;
  for (const key in kwargs) {
    if (Object.hasOwn(kwargs, key) && scanValue(kwargs[key], visit)) sawLiteral = true;
  }
  return sawLiteral;
}

function checkName(name: unknown, i: number): void {
  if (typeof name === "string" && name !== "" && name !== "__proto__") return;
  const problem = typeof name !== "string"
    ? "a name that is not a string"
    : name === ""
    ? "an empty name"
    : 'the reserved name "__proto__"';
  throw new GraphError(`Step at index ${i} has ${problem}`, {
    details: { index: i, name: typeof name === "string" ? name : null },
  });
}

function refersToItself(name: string, s: string): GraphError {
  return new GraphError(
    `Step ${JSON.stringify(name)} refers to itself (argument ${JSON.stringify(s)})`,
    { details: { cycle: [name] } },
  );
}

/** Throws a GraphError naming one cycle if the steps cannot be ordered. */
function rejectCycles(nodes: readonly PlannedStep[]): void {
  const n = nodes.length;
  // Kahn's algorithm: peel off the steps whose dependencies are all done.
  const waiting = nodes.map((node) => node.deps.length);
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (waiting[i] === 0) queue.push(i);
  for (let head = 0; head < queue.length; head++) {
    for (const d of nodes[queue[head]!]!.dependents) if (--waiting[d]! === 0) queue.push(d);
  }
  if (queue.length === n) return;
  // Every step left waits on another step left, so following those edges
  // from any of them must come back around.
  const position = new Map<number, number>();
  const path: number[] = [];
  let at = waiting.findIndex((w) => w > 0);
  while (!position.has(at)) {
    position.set(at, path.length);
    path.push(at);
    at = nodes[at]!.deps.find((j) => waiting[j]! > 0)!;
  }
  const ring = path.slice(position.get(at));
  // Start the cycle at its earliest step, so the report does not depend on the walk.
  let first = 0;
  for (let k = 1; k < ring.length; k++) if (ring[k]! < ring[first]!) first = k;
  const cycle = [...ring.slice(first), ...ring.slice(0, first)].map((k) => nodes[k]!.step.name);
  const shown = [...cycle, cycle[0]!].map((name) => JSON.stringify(name)).join(" -> ");
  throw new GraphError(`Steps form a cycle: ${shown} (each refers to the next)`, {
    details: { cycle },
  });
}
