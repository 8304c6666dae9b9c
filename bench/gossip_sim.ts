// Copyright 2026 the mpreg authors. MIT license.
/**
 * The gossip simulator's figures for `deno task bench`: spread of a join and
 * of a catalog change, death detection, false positives at 5% loss, traffic
 * at rest for growing clusters, a 50/50 partition of 30 rounds and its heal,
 * a seed restarted without peers, and how long the simulation takes.
 *
 * Every figure but the wall time is simulated (virtual time, seeded) and so
 * the same on any machine; the wall time is this machine's.
 *
 * Run alone: `deno run -A bench/gossip_sim.ts [--quick]`.
 *
 * @module
 */
import {
  GossipSimulator,
  measurePartition,
  measureRestart,
  measureTrafficAtRest,
  runScenario,
} from "../testing/gossip_simulator.ts";

const SEED = 1;

/**
 * Runs the gossip measurements and returns them as flat figures.
 *
 * Full mode simulates 1,000 members (≥ 100 rounds, the last 100 at 5% loss;
 * then, on a new cluster, a 50/50 partition of 30 rounds and its heal, then a
 * seed restarted without peers) and traffic at rest for 10, 100 and 1,000
 * members; quick mode uses 200 members.
 *
 * @example
 * ```ts ignore
 * import { gossipSimReport } from "./gossip_sim.ts";
 * const figures = await gossipSimReport(true);
 * console.log(figures.joinRounds99);
 * ```
 *
 * @param quick Smaller clusters, for a fast run.
 * @returns Figure name → value (rounds, bytes per second, counts, milliseconds).
 */
export async function gossipSimReport(quick: boolean): Promise<Record<string, number>> {
  const n = quick ? 200 : 1_000;
  await Promise.resolve();
  const start = performance.now();
  const s = runScenario({ n, seed: SEED, lossRounds: 100, lossRate: 0.05 });
  const wallMs = performance.now() - start;
  const figures: Record<string, number> = {
    members: n,
    roundsSimulated: s.rounds,
    wallMs: Math.round(wallMs),
    joinRounds99: s.spread.joinRounds99,
    joinRounds100: s.spread.joinRounds100,
    catalogPushRounds99: s.spread.catalogRounds99,
    catalogGossipRounds99: s.spread.catalogGossipRounds99,
    catalogGossipRounds100: s.spread.catalogGossipRounds100,
    suspicionTimeoutRounds: Math.round(s.death.suspicionTimeoutRounds * 100) / 100,
    deadEverywhereRoundsMean: Math.round(s.death.meanRounds * 100) / 100,
    deadEverywhereRoundsMax: s.death.maxRounds,
    loss5Suspicions: s.loss.suspicions,
    loss5FalseDead: s.loss.falseDead,
    loss5BytesPerMemberPerSecond: Math.round(s.loss.bytesPerMemberPerSecond),
  };
  const split = new GossipSimulator({ n, seed: SEED });
  const p = measurePartition(split, 30);
  const r = measureRestart(split);
  figures.partitionRounds = p.partitionRounds;
  figures.partitionSplitAtHeal = p.splitAtHeal;
  figures.partitionHealRounds99 = p.healRounds99;
  figures.partitionHealRounds100 = p.healRounds100;
  figures.partitionFalseDead = p.falseDeadWithinSides + p.falseDeadAfterHeal;
  figures.partitionHealBytesPerMember = p.healBytesPerMember;
  figures.restartRefoundRounds99 = r.refoundRounds99;
  figures.restartRefoundRounds100 = r.refoundRounds100;
  figures.roundsSimulated = s.rounds + split.round;
  figures.wallMs = Math.round(performance.now() - start);
  for (const size of [10, 100]) {
    const t = measureTrafficAtRest(new GossipSimulator({ n: size, seed: SEED }), 20);
    figures[`restBytesPerMemberPerSecondN${size}`] = Math.round(t.bytesPerMemberPerSecond);
  }
  figures[`restBytesPerMemberPerSecondN${n}`] = Math.round(s.rest.bytesPerMemberPerSecond);
  return figures;
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const figures = await gossipSimReport(quick);
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  const lines = Object.entries(figures).map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  // deno-lint-ignore no-console
  console.log(`gossip simulator (${quick ? "quick" : "full"})\n${lines.join("\n")}`);
}
