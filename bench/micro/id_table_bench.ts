// Copyright 2026 the mpreg authors. MIT license.
// The call tables (`IdTable`) against a `Map`: the pattern of a table of
// calls in flight, ids counting up, each set, then read and deleted when its
// answer comes, with `inFlight` of them outstanding.
//
//   deno bench bench/micro/id_table_bench.ts      (or: deno task bench:micro)
import { IdTable } from "../../src/_util/id_table.ts";

const CALLS = 10_000;
const value = { pending: true };

function churn(
  table: {
    set(id: number, v: object): unknown;
    get(id: number): object | undefined;
    delete(id: number): unknown;
  },
  inFlight: number,
): number {
  let found = 0;
  for (let id = 1; id <= CALLS; id++) {
    table.set(id, value);
    const done = id - inFlight;
    if (done >= 1 && table.get(done) !== undefined) {
      table.delete(done);
      found++;
    }
  }
  return found;
}

for (const inFlight of [1, 64, 1024]) {
  const group = `call table, ${inFlight} in flight`;
  Deno.bench({
    name: "Map<number, V>",
    group,
    baseline: true,
    fn() {
      churn(new Map<number, object>(), inFlight);
    },
  });
  Deno.bench({
    name: "IdTable<V>",
    group,
    fn() {
      churn(new IdTable<object>(), inFlight);
    },
  });
}
