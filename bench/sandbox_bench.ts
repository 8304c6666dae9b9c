// Copyright 2026 the mpreg authors. MIT license.
/**
 * A sandboxed call as a ratio to an inline call, in one process:
 * `deno run -A bench/sandbox_bench.ts [--quick]`.
 *
 * Both sides call the same `add` function with 100 calls in flight and a
 * fresh {@linkcode CallContext} per call, as the request runner builds it.
 * The inline side calls it with `fn.apply(context, args)`; the sandboxed side
 * goes through a {@linkcode Sandbox} invoker to a warm worker pool with no
 * permissions. Rounds alternate the order of the two sides and the best
 * round of each is kept.
 *
 * @module
 */
import type { CallContext } from "../src/registry/registry.ts";
import { Sandbox } from "../src/sandbox/sandbox.ts";
import { inFlight } from "./_measure.ts";

/** The function both sides call: self-contained, so it can be sent as source. */
function add(this: CallContext, a: number, b: number): number {
  return a + b;
}

const IN_FLIGHT = 100;
const FULL = { warmupMs: 400, measureMs: 2_000, rounds: 2 };
const QUICK = { warmupMs: 200, measureMs: 300, rounds: 2 };

/** The figures of one run. */
export interface SandboxBenchResult {
  /** Inline calls per second. */
  inline: number;
  /** Sandboxed calls per second. */
  sandboxed: number;
  /** `sandboxed / inline`. */
  ratio: number;
  /** Calls kept in flight on each side. */
  inFlight: number;
}

/**
 * Measures calls per second of `add` inline and through the sandbox.
 *
 * @param quick Shorter phases, for CI.
 * @returns Both rates and their ratio.
 */
export async function sandboxBench(quick: boolean): Promise<SandboxBenchResult> {
  const phases = quick ? QUICK : FULL;
  const controller = new AbortController();
  const deadline = Date.now() + 3_600_000;
  let requestId = 0;
  const context = (): CallContext => ({
    signal: controller.signal,
    deadline,
    step: "add",
    requestId: ++requestId,
    node: "bench",
    progress: () => {},
  });
  const args = [1, 2];
  const fn = add as (this: CallContext, ...args: unknown[]) => unknown;
  const inline = (): Promise<unknown> => Promise.resolve(fn.apply(context(), args));

  const sandbox = new Sandbox();
  try {
    const invoke = sandbox.load("add", { source: add.toString() }, {});
    await sandbox.ready();
    const sandboxed = (): Promise<unknown> => invoke(context(), args, undefined);
    let bestInline = 0;
    let bestSandboxed = 0;
    for (let round = 0; round < phases.rounds; round++) {
      const order = round % 2 === 0 ? [inline, sandboxed] : [sandboxed, inline];
      for (const op of order) {
        const { opsPerSec } = await inFlight(IN_FLIGHT, op, phases);
        if (op === inline) bestInline = Math.max(bestInline, opsPerSec);
        else bestSandboxed = Math.max(bestSandboxed, opsPerSec);
      }
    }
    return {
      inline: bestInline,
      sandboxed: bestSandboxed,
      ratio: bestSandboxed / bestInline,
      inFlight: IN_FLIGHT,
    };
  } finally {
    await sandbox.close();
  }
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const result = await sandboxBench(quick);
  const rate = (n: number): string => `${Math.round(n).toLocaleString("en-US")} calls/s`;
  // deno-lint-ignore no-console
  console.log(
    `inline    ${rate(result.inline)}\nsandboxed ${rate(result.sandboxed)}\n` +
      `ratio     ${result.ratio.toFixed(3)} (sandboxed / inline, ${result.inFlight} in flight)`,
  );
}
