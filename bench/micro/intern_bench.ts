// Copyright 2026 the mpreg authors. MIT license.
// Interning the names every request repeats (`intern()`, used by the
// request parser): a decoded name is a new string each time, and looking it
// up in Maps (the registry, the metrics, the request's name index) and using
// it as a property name (the results) hashes it and finds it in V8's string
// table once per request; the cache does that once per name.
//
//   deno bench bench/micro/intern_bench.ts      (or: deno task bench:micro)
import { intern } from "../../src/protocol/_intern.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const FUNCTIONS = ["echo", "echos", "add", "multiply", "format", "infer_model_a"];
const registry = new Map(FUNCTIONS.map((name, i) => [name, i]));
const metrics = new Map(FUNCTIONS.map((name) => [name, 1]));
// The names as they arrive in frames: bytes, decoded to a new string each time.
const frames = FUNCTIONS.map((name) => encoder.encode(name));
const step = encoder.encode("final");

function handle(name: (s: string) => string): number {
  let sum = 0;
  for (const bytes of frames) {
    const fun = name(decoder.decode(bytes));
    const stepName = name(decoder.decode(step));
    sum += (registry.get(fun) ?? 0) + (metrics.get(fun) ?? 0);
    const names = new Map([[stepName, sum]]);
    sum += names.get(stepName) ?? 0;
    const results: Record<string, number> = {};
    results[stepName] = sum;
    sum += results[stepName]!;
  }
  return sum;
}

Deno.bench({
  name: "decoded names as they come",
  group: "look up decoded names",
  baseline: true,
  fn() {
    handle((s) => s);
  },
});
Deno.bench({
  name: "intern(decoded names)",
  group: "look up decoded names",
  fn() {
    handle(intern);
  },
});
