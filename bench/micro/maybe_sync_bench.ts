// Copyright 2026 the mpreg authors. MIT license.
// Maybe-synchronous results: a request whose steps are all synchronous is
// answered in the same turn (`executeNow`, and `MaybePromise` values through
// the node) instead of awaiting every step (`execute`).
//
//   deno bench bench/micro/maybe_sync_bench.ts      (or: deno task bench:micro)
import { execute, executeNow, type RunStep } from "../../src/engine/execute.ts";
import { RequestGraph } from "../../src/engine/graph.ts";
import { isPromise, type MaybePromise } from "../../src/_util/maybe_promise.ts";

const one = RequestGraph.build([
  { name: "a", fun: "echo", args: [1], kwargs: {}, locs: [] },
]);
const chain = RequestGraph.build([
  { name: "a", fun: "echo", args: [1], kwargs: {}, locs: [] },
  { name: "b", fun: "echo", args: ["a"], kwargs: {}, locs: [] },
  { name: "c", fun: "echo", args: ["b"], kwargs: {}, locs: [] },
]);
const run: RunStep = (_step, args) => args[0];

for (const [label, graph] of [["one step", one], ["three dependent steps", chain]] as const) {
  const group = `a request of ${label}, all synchronous`;
  Deno.bench({
    name: "await execute()",
    group,
    baseline: true,
    async fn() {
      await execute(graph, run);
    },
  });
  Deno.bench({
    name: "executeNow(), the results in the same turn",
    group,
    fn() {
      const out: MaybePromise<Record<string, unknown>> = executeNow(graph, run);
      if (isPromise(out)) throw new Error("Expected the results in the same turn");
    },
  });
}

// The same choice for one value, without the engine.
const syncValue = (): MaybePromise<number> => 1;
Deno.bench({
  name: "await value",
  group: "one synchronous value",
  baseline: true,
  async fn() {
    await syncValue();
  },
});
Deno.bench({
  name: "isPromise(value) ? (await value) : value",
  group: "one synchronous value",
  fn() {
    const v = syncValue();
    if (isPromise(v)) throw new Error("Expected a value");
  },
});
