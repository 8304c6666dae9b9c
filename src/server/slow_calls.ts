// Copyright 2026 the mpreg authors. MIT license.
/**
 * The warning for a synchronous call that held the event loop: while it
 * runs, the node answers no client and no peer.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["mpreg", "server"]);

/** How often a function's slow calls are logged at most, in milliseconds. */
const EVERY_MS = 60_000;

/**
 * Logs slow synchronous calls, at most once a minute per function, with
 * the count of the others.
 *
 * @example
 * ```ts ignore
 * const slowCalls = new SlowCallLog("n1");
 * new Metrics({ slowCallMs: 500, onSlowCall: (fun, ms) => slowCalls.report(fun, ms) });
 * ```
 */
export class SlowCallLog {
  readonly #node: string;
  /** Per function, when a slow call was last logged, and how many since. */
  readonly #last = new Map<string, { at: number; since: number }>();

  /**
   * Creates the log of a node.
   *
   * @param node The node's name, in each warning.
   */
  constructor(node: string) {
    this.#node = node;
  }

  /**
   * Reports a synchronous call that held the event loop.
   *
   * @param fun The function.
   * @param ms How long the call held the loop, in milliseconds.
   */
  report(fun: string, ms: number): void {
    const now = Date.now();
    const last = this.#last.get(fun);
    if (last !== undefined && now - last.at < EVERY_MS) {
      last.since++;
      return;
    }
    this.#last.set(fun, { at: now, since: 0 });
    log.warn(
      "Function {fun} held the event loop for {ms} ms in one synchronous call (and {others} " +
        "more since the last such warning): this node answered no client and no peer meanwhile, " +
        "and peers suspect a node silent for a few gossip intervals; run CPU-bound functions " +
        "in a sandbox (registered with permissions or sandbox: true, they run in their own process)",
      { fun, ms: Math.round(ms), others: last?.since ?? 0, node: this.#node },
    );
  }
}
