// Copyright 2026 the mpreg authors. MIT license.
/**
 * A deterministic gossip simulator: many {@linkcode Membership} state
 * machines in one process, in virtual time, without sockets.
 *
 * Each round every running node ticks once, in a seeded random order, at the
 * round's virtual time (`round · intervalMs`); every message a tick produces,
 * and every answer to it, transitively, is delivered within the round. Each
 * delivery is dropped with probability `lossRate`, and messages to a killed
 * node are dropped. A partition cuts the cluster into sides: a message across
 * is never sent (a real node cannot dial across), so it is neither delivered
 * nor counted. Every message is encoded with msgpack, as on the wire, to
 * count its bytes. The same seed gives the same run, message for message.
 *
 * The `measure*` functions are the figures the tests assert and
 * `bench/gossip_sim.ts` reports. Test code: it lives in `testing/`, which
 * is not published.
 *
 * @module
 */
import { Packr } from "msgpackr/pack";
import { mix } from "../src/cluster/_view_hash.ts";
import {
  type GossipMessage,
  Membership,
  type MembershipEvent,
  type MembershipOptions,
  type NodeRecord,
  type Outbound,
} from "../src/cluster/membership.ts";
import { mulberry32 } from "./random.ts";

/** The settings a simulated node's {@linkcode Membership} may take. */
export type SimulatedMembershipOptions = Partial<
  Omit<MembershipOptions, "random" | "onEvent" | "members">
>;

/**
 * Settings of a {@linkcode GossipSimulator}.
 *
 * @example
 * ```ts ignore
 * import type { GossipSimulatorOptions } from "./simulator.ts";
 * const options: GossipSimulatorOptions = { n: 100, seed: 1, lossRate: 0.05 };
 * ```
 */
export interface GossipSimulatorOptions {
  /** How many nodes, already joined and at rest. */
  n: number;
  /** The seed of every random choice. */
  seed: number;
  /** Probability that a message is lost (default 0). */
  lossRate?: number;
  /** Membership settings for every node (`intervalMs` comes from below). */
  options?: SimulatedMembershipOptions;
  /** The protocol period in virtual milliseconds (default 1000). */
  intervalMs?: number;
}

/**
 * Messages and bytes sent, in total and by message type.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator } from "./simulator.ts";
 * const sim = new GossipSimulator({ n: 10, seed: 1 });
 * sim.run(5);
 * console.log(sim.counters.bytes, sim.counters.byType.ping?.messages);
 * ```
 */
export interface TrafficCounters {
  /** Messages sent (lost ones included). */
  messages: number;
  /** Bytes sent, msgpack-encoded. */
  bytes: number;
  /** The same by message type (`ping`, `ack`, …). */
  byType: Record<string, { messages: number; bytes: number }>;
}

/**
 * What the nodes declared about members that were in fact running.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator } from "./simulator.ts";
 * const sim = new GossipSimulator({ n: 10, seed: 1, lossRate: 0.05 });
 * sim.run(50);
 * console.log(sim.verdicts.falseDead); // 0
 * ```
 */
export interface Verdicts {
  /** Distinct suspicions (member, incarnation) of running members. */
  suspicions: number;
  /** `suspect` events about running members, over all observers. */
  suspectEvents: number;
  /** `dead` events about running members, over all observers. */
  falseDead: number;
  /** `dead` events about killed members, over all observers. */
  trueDead: number;
  /**
   * `dead` events about running members on the other side of a partition,
   * over all observers (expected: they cannot be reached).
   */
  partitionDead: number;
}

interface SimNode {
  name: string;
  membership: Membership;
  up: boolean;
  messages: number;
  bytes: number;
}

const BASE_INCARNATION = 1_767_225_600_000;

/**
 * The record of simulated node number `i`, as a node would advertise it.
 *
 * @example
 * ```ts ignore
 * import { simulatedRecord } from "./simulator.ts";
 * console.log(simulatedRecord(7).name); // "node-0007"
 * ```
 *
 * @param i The node's number.
 * @returns Its record (frozen, so nodes share it).
 */
export function simulatedRecord(i: number): NodeRecord {
  const name = `node-${String(i).padStart(4, "0")}`;
  const start = BASE_INCARNATION + i;
  const functions = Object.freeze({
    echo: Object.freeze([]) as unknown as string[],
    echos: Object.freeze([]) as unknown as string[],
    [`task_${i % 50}`]: Object.freeze([`dataset-${i % 7}`]) as unknown as string[],
  });
  return Object.freeze({
    name,
    incarnation: start,
    catalogVersion: start,
    urls: Object.freeze([
      `ws://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9001`,
    ]) as unknown as string[],
    resources: Object.freeze(["cpu"]) as unknown as string[],
    functions,
  });
}

/**
 * Many memberships in virtual time, with seeded randomness and message loss.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator } from "./simulator.ts";
 * const sim = new GossipSimulator({ n: 100, seed: 7 });
 * sim.kill("node-0003");
 * sim.run(30);
 * console.log(sim.coverage((m) => m.member("node-0003")?.state !== "alive")); // 1
 * ```
 */
export class GossipSimulator {
  /** The probability that a message is lost; may be changed between rounds. */
  lossRate: number;
  #interval: number;
  #options: SimulatedMembershipOptions;
  #seed: number;
  #random: () => number;
  #nodes = new Map<string, SimNode>();
  #up: string[] = [];
  #round = 0;
  #added = 0;
  #packr = new Packr({ useRecords: false, moreTypes: false });
  #counters: TrafficCounters = { messages: 0, bytes: 0, byType: {} };
  #verdicts: Verdicts = {
    suspicions: 0,
    suspectEvents: 0,
    falseDead: 0,
    trueDead: 0,
    partitionDead: 0,
  };
  /** Each node's side while the cluster is partitioned, else empty. */
  #sides = new Map<string, number>();
  #restarts = 0;
  #suspicions = new Set<string>();
  #firstSuspect = new Map<string, number>();

  /**
   * Creates `n` nodes that already know each other, with nothing pending.
   *
   * @param options The cluster size, seed, loss rate and membership settings.
   */
  constructor(options: GossipSimulatorOptions) {
    const { n, seed, lossRate = 0, intervalMs = 1000 } = options;
    if (!Number.isInteger(n) || n < 1) throw new RangeError("GossipSimulator: n must be ≥ 1");
    this.lossRate = lossRate;
    this.#interval = intervalMs;
    this.#options = options.options ?? {};
    this.#seed = seed;
    this.#random = mulberry32(seed);
    const records: NodeRecord[] = [];
    for (let i = 0; i < n; i++) records.push(simulatedRecord(i));
    for (const record of records) this.#create(record, records);
    this.#added = n;
  }

  /** Rounds run so far. */
  get round(): number {
    return this.#round;
  }

  /** The virtual time of the last round, in milliseconds. */
  get now(): number {
    return this.#round * this.#interval;
  }

  /** The protocol period in virtual milliseconds. */
  get intervalMs(): number {
    return this.#interval;
  }

  /** Traffic since the start or the last {@linkcode GossipSimulator.resetCounters}. */
  get counters(): TrafficCounters {
    return this.#counters;
  }

  /** Suspicions and dead verdicts so far. */
  get verdicts(): Verdicts {
    return { ...this.#verdicts };
  }

  /**
   * The names of the running nodes.
   *
   * @returns Their names.
   */
  upNames(): string[] {
    return [...this.#up];
  }

  /**
   * A node's membership (killed nodes included).
   *
   * @param name The node.
   * @returns Its membership.
   */
  membership(name: string): Membership | undefined {
    return this.#nodes.get(name)?.membership;
  }

  /**
   * What one node sent since the counters were reset.
   *
   * @param name The node.
   * @returns Its messages and bytes.
   */
  sentBy(name: string): { messages: number; bytes: number } {
    const node = this.#nodes.get(name);
    return { messages: node?.messages ?? 0, bytes: node?.bytes ?? 0 };
  }

  /** Zeroes the traffic counters (totals and per node). */
  resetCounters(): void {
    this.#counters = { messages: 0, bytes: 0, byType: {} };
    for (const node of this.#nodes.values()) {
      node.messages = 0;
      node.bytes = 0;
    }
  }

  /**
   * The round in which a member was first suspected by anyone.
   *
   * @param name The member.
   * @returns The round, or `undefined`.
   */
  firstSuspected(name: string): number | undefined {
    return this.#firstSuspect.get(name);
  }

  /**
   * Runs rounds: every running node ticks once per round, in a random order,
   * and everything that follows is delivered within the round.
   *
   * @param rounds How many rounds.
   */
  run(rounds: number): void {
    for (let r = 0; r < rounds; r++) {
      this.#round++;
      const now = this.now;
      const order = this.#shuffled(this.#up);
      for (const name of order) {
        const node = this.#nodes.get(name)!;
        if (node.up) this.#deliver(name, node.membership.tick(now), now);
      }
    }
  }

  /**
   * Stops a node at once, like SIGKILL: it ticks and receives no more, and
   * nobody is told (no link-loss notice).
   *
   * @param name The node.
   */
  kill(name: string): void {
    const node = this.#nodes.get(name);
    if (node === undefined || !node.up) return;
    node.up = false;
    this.#up.splice(this.#up.indexOf(name), 1);
  }

  /**
   * Cuts the cluster into sides: the nodes of each list, and everyone not
   * listed together. No message crosses until {@linkcode GossipSimulator.heal}.
   *
   * @param groups The sides (every node not listed is on one more side).
   */
  partition(groups: readonly (readonly string[])[]): void {
    this.#sides.clear();
    groups.forEach((names, i) => {
      for (const name of names) this.#sides.set(name, i + 1);
    });
    for (const name of this.#nodes.keys()) if (!this.#sides.has(name)) this.#sides.set(name, 0);
  }

  /** Ends a partition: every message may cross again. */
  heal(): void {
    this.#sides.clear();
  }

  /**
   * Restarts a killed node as a new process: its new start time is a higher
   * incarnation, it knows nobody, and it has no seed to join through (a seed
   * without peers of its own). Only members that reach it bring it back.
   *
   * @param name The node.
   */
  restart(name: string): void {
    const node = this.#nodes.get(name);
    if (node === undefined || node.up) throw new Error(`no killed node ${name}`);
    const old = node.membership.self;
    const start = old.incarnation + 1 + this.now;
    const record: NodeRecord = Object.freeze({ ...old, incarnation: start, catalogVersion: start });
    node.membership = this.#membershipOf(record, [], ++this.#restarts + this.#nodes.size);
    node.up = true;
    this.#up.push(name);
  }

  /**
   * A new node joins through one random running seed: the link handshake
   * makes the seed observe it and it observe the seed with `bootstrap`.
   *
   * @param record The new node's record (default: the next simulated one).
   * @returns The new node's name.
   */
  add(record: NodeRecord = simulatedRecord(this.#added)): string {
    this.#added++;
    const seed = this.#up[Math.floor(this.#random() * this.#up.length)];
    const node = this.#create(record, []);
    if (seed === undefined) return node.name;
    const now = this.now;
    const seedMembership = this.#nodes.get(seed)!.membership;
    this.#deliver(seed, seedMembership.observe(record, now), now);
    this.#deliver(
      node.name,
      node.membership.observe(seedMembership.self, now, { bootstrap: true }),
      now,
    );
    return node.name;
  }

  /**
   * A node registers one more function.
   *
   * @param name The node.
   * @param options `push` (default true): deliver the eager push to every
   *   live member that {@linkcode Membership.updateSelf} returns, as a node
   *   does; false leaves the change to gossip alone.
   * @returns The node's new catalog version.
   */
  changeCatalog(name: string, options: { push?: boolean } = {}): number {
    const node = this.#nodes.get(name);
    if (node === undefined || !node.up) throw new Error(`no running node ${name}`);
    const self = node.membership.self;
    const fn = `fn_${self.catalogVersion - self.incarnation + 1}_${this.#round}`;
    const out = node.membership.updateSelf(
      { functions: { ...self.functions, [fn]: [] } },
      this.now,
    );
    if (options.push ?? true) this.#deliver(name, out, this.now);
    return node.membership.self.catalogVersion;
  }

  /**
   * The fraction of running nodes whose membership satisfies `predicate`.
   *
   * @param predicate Tested on each running node's membership.
   * @returns A fraction in [0, 1].
   */
  coverage(predicate: (membership: Membership, name: string) => boolean): number {
    if (this.#up.length === 0) return 0;
    let yes = 0;
    for (const name of this.#up) if (predicate(this.#nodes.get(name)!.membership, name)) yes++;
    return yes / this.#up.length;
  }

  /**
   * A random running node.
   *
   * @param exclude Names not to pick.
   * @returns A name.
   */
  randomUp(exclude: readonly string[] = []): string {
    for (;;) {
      const name = this.#up[Math.floor(this.#random() * this.#up.length)]!;
      if (!exclude.includes(name)) return name;
    }
  }

  /**
   * How many updates the running nodes still have queued (0 at rest).
   *
   * @returns The total.
   */
  pending(): number {
    let total = 0;
    for (const name of this.#up) total += this.#nodes.get(name)!.membership.pending;
    return total;
  }

  #create(record: NodeRecord, members: readonly NodeRecord[]): SimNode {
    const name = record.name;
    const membership = this.#membershipOf(record, members, this.#nodes.size);
    const node: SimNode = { name, membership, up: true, messages: 0, bytes: 0 };
    this.#nodes.set(name, node);
    this.#up.push(name);
    return node;
  }

  #membershipOf(record: NodeRecord, members: readonly NodeRecord[], salt: number): Membership {
    const name = record.name;
    return new Membership(record, {
      intervalMs: this.#interval,
      ...this.#options,
      random: mulberry32(mix(Math.imul(this.#seed, 0x9e3779b1) ^ mix(salt + 1))),
      onEvent: (event) => this.#onEvent(name, event),
      members,
    });
  }

  /** Whether a partition separates `a` from `b`. */
  #cut(a: string, b: string): boolean {
    return this.#sides.size > 0 && this.#sides.get(a) !== this.#sides.get(b);
  }

  #onEvent(observer: string, event: MembershipEvent): void {
    const member = event.member.name;
    const running = this.#nodes.get(member)?.up === true;
    if (event.type === "suspect") {
      if (!this.#firstSuspect.has(member)) this.#firstSuspect.set(member, this.#round);
      if (!running) return;
      this.#verdicts.suspectEvents++;
      const key = `${member}@${event.member.incarnation}`;
      if (!this.#suspicions.has(key)) {
        this.#suspicions.add(key);
        this.#verdicts.suspicions++;
      }
    } else if (event.type === "dead") {
      if (!running) this.#verdicts.trueDead++;
      else if (this.#cut(observer, member)) this.#verdicts.partitionDead++;
      else this.#verdicts.falseDead++;
    }
  }

  #shuffled(list: readonly string[]): string[] {
    const out = [...list];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      const t = out[i]!;
      out[i] = out[j]!;
      out[j] = t;
    }
    return out;
  }

  #count(sender: string, msg: GossipMessage): void {
    const bytes = this.#packr.pack(msg).byteLength;
    const c = this.#counters;
    c.messages++;
    c.bytes += bytes;
    const byType = c.byType[msg.t] ??= { messages: 0, bytes: 0 };
    byType.messages++;
    byType.bytes += bytes;
    const node = this.#nodes.get(sender);
    if (node !== undefined) {
      node.messages++;
      node.bytes += bytes;
    }
  }

  /** Delivers `out` from `from` and every answer, transitively, breadth first. */
  #deliver(from: string, out: Outbound[], now: number): void {
    const queue: Array<[string, Outbound]> = out.map((o) => [from, o]);
    for (let i = 0; i < queue.length; i++) {
      const [sender, { to, msg }] = queue[i]!;
      if (this.#cut(sender, to)) continue;
      this.#count(sender, msg);
      if (this.lossRate > 0 && this.#random() < this.lossRate) continue;
      const target = this.#nodes.get(to);
      if (target === undefined || !target.up) continue;
      for (const reply of target.membership.receive(msg, now)) queue.push([to, reply]);
    }
  }
}

// --- measurements ------------------------------------------------------------

/**
 * Gossip traffic with nothing happening.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator, measureTrafficAtRest } from "./simulator.ts";
 * const t = measureTrafficAtRest(new GossipSimulator({ n: 100, seed: 1 }), 20);
 * console.log(t.bytesPerMemberPerSecond < 2048); // true
 * ```
 */
export interface TrafficFigures {
  /** Cluster size. */
  n: number;
  /** Rounds measured. */
  rounds: number;
  /** Mean bytes sent per member per second. */
  bytesPerMemberPerSecond: number;
  /** The most any one member sent per second. */
  maxBytesPerMemberPerSecond: number;
  /** Mean messages sent per member per second. */
  messagesPerMemberPerSecond: number;
  /** Mean bytes per message. */
  bytesPerMessage: number;
}

/**
 * Measures the traffic of a cluster at rest over `rounds` rounds.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator, measureTrafficAtRest } from "./simulator.ts";
 * console.log(measureTrafficAtRest(new GossipSimulator({ n: 10, seed: 1 })).bytesPerMemberPerSecond);
 * ```
 *
 * @param sim The simulator, at rest.
 * @param rounds Rounds to measure (default 20).
 * @returns The figures.
 */
export function measureTrafficAtRest(sim: GossipSimulator, rounds = 20): TrafficFigures {
  sim.resetCounters();
  sim.run(rounds);
  const up = sim.upNames();
  const seconds = (rounds * sim.intervalMs) / 1000;
  let max = 0;
  for (const name of up) max = Math.max(max, sim.sentBy(name).bytes);
  const { bytes, messages } = sim.counters;
  return {
    n: up.length,
    rounds,
    bytesPerMemberPerSecond: bytes / up.length / seconds,
    maxBytesPerMemberPerSecond: max / seconds,
    messagesPerMemberPerSecond: messages / up.length / seconds,
    bytesPerMessage: messages === 0 ? 0 : bytes / messages,
  };
}

/**
 * How many rounds news takes to reach the cluster.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator, measureSpread } from "./simulator.ts";
 * console.log(measureSpread(new GossipSimulator({ n: 100, seed: 1 })).joinRounds99);
 * ```
 */
export interface SpreadFigures {
  /** Rounds until 99% of nodes know the new member (alive, record held). */
  joinRounds99: number;
  /** … until all of them do. */
  joinRounds100: number;
  /** Rounds until 99% hold a changed catalog, with the eager push. */
  catalogRounds99: number;
  /** … until all of them do. */
  catalogRounds100: number;
  /** Rounds until 99% hold a changed catalog through gossip alone (no push). */
  catalogGossipRounds99: number;
  /** … until all of them do. */
  catalogGossipRounds100: number;
  /** Bytes sent cluster-wide for the gossip-only catalog change, until everyone has it. */
  catalogGossipBytes: number;
}

/** Runs rounds until `covered()` reaches 1; returns the rounds to 99% and to 100% (∞ if never). */
function roundsToCover(
  sim: GossipSimulator,
  covered: () => number,
  maxRounds: number,
): [number, number] {
  let r99 = Infinity;
  for (let r = 0; r <= maxRounds; r++) {
    if (r > 0) sim.run(1);
    const c = covered();
    if (c >= 0.99 && r99 === Infinity) r99 = r;
    if (c >= 1) return [r99, r];
  }
  return [r99, Infinity];
}

/** Runs rounds until nothing is pending (at most `maxRounds`). */
function settle(sim: GossipSimulator, maxRounds = 40): void {
  for (let r = 0; r < maxRounds && sim.pending() > 0; r++) sim.run(1);
}

/**
 * Measures how fast a new member, then a catalog change (with the eager push,
 * then by gossip alone) reach the cluster.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator, measureSpread } from "./simulator.ts";
 * const s = measureSpread(new GossipSimulator({ n: 1000, seed: 1 }));
 * console.log(s.joinRounds99 <= 10, s.catalogGossipRounds99 <= 10);
 * ```
 *
 * @param sim The simulator.
 * @param maxRounds Give up after this many rounds per change (default 40).
 * @returns The figures.
 */
export function measureSpread(sim: GossipSimulator, maxRounds = 40): SpreadFigures {
  settle(sim);
  const joiner = sim.add();
  const [joinRounds99, joinRounds100] = roundsToCover(
    sim,
    () => sim.coverage((m) => m.member(joiner)?.state === "alive"),
    maxRounds,
  );
  settle(sim);
  const pushed = sim.randomUp([joiner]);
  const v1 = sim.changeCatalog(pushed, { push: true });
  const [catalogRounds99, catalogRounds100] = roundsToCover(
    sim,
    () => sim.coverage((m) => (m.member(pushed)?.catalogVersion ?? -1) >= v1),
    maxRounds,
  );
  settle(sim);
  const gossiped = sim.randomUp([joiner, pushed]);
  const bytesBefore = sim.counters.bytes;
  const v2 = sim.changeCatalog(gossiped, { push: false });
  const [catalogGossipRounds99, catalogGossipRounds100] = roundsToCover(
    sim,
    () => sim.coverage((m) => (m.member(gossiped)?.catalogVersion ?? -1) >= v2),
    maxRounds,
  );
  const catalogGossipBytes = sim.counters.bytes - bytesBefore;
  settle(sim);
  return {
    joinRounds99,
    joinRounds100,
    catalogRounds99,
    catalogRounds100,
    catalogGossipRounds99,
    catalogGossipRounds100,
    catalogGossipBytes,
  };
}

/**
 * How long killed members take to be declared dead everywhere.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator, measureDeathDetection } from "./simulator.ts";
 * const d = measureDeathDetection(new GossipSimulator({ n: 100, seed: 1 }), 3);
 * console.log(d.maxRounds <= d.suspicionTimeoutRounds + 5);
 * ```
 */
export interface DeathFigures {
  /** Members killed, one after another. */
  trials: number;
  /** The suspicion timeout in rounds, at the cluster's size. */
  suspicionTimeoutRounds: number;
  /** Rounds from a kill to the first suspicion, the worst trial. */
  maxFirstSuspectRounds: number;
  /** Rounds from a kill until every running node holds it dead, mean over trials. */
  meanRounds: number;
  /** … the worst trial. */
  maxRounds: number;
}

/**
 * Kills `trials` random members one after another (each after the previous
 * one is dead everywhere) and measures the rounds from each kill until every
 * running node holds it dead.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator, measureDeathDetection } from "./simulator.ts";
 * console.log(measureDeathDetection(new GossipSimulator({ n: 50, seed: 1 })).maxRounds);
 * ```
 *
 * @param sim The simulator.
 * @param trials How many members to kill (default 3).
 * @param maxRounds Give up on one after this many rounds (default 100).
 * @returns The figures.
 */
export function measureDeathDetection(
  sim: GossipSimulator,
  trials = 3,
  maxRounds = 100,
): DeathFigures {
  let timeoutRounds = 0;
  let maxFirst = 0;
  let total = 0;
  let max = 0;
  for (let t = 0; t < trials; t++) {
    settle(sim);
    const victim = sim.randomUp();
    const observer = sim.membership(sim.randomUp([victim]))!;
    timeoutRounds = Math.max(timeoutRounds, observer.suspicionTimeoutMs / sim.intervalMs);
    const killedAt = sim.round;
    sim.kill(victim);
    const [, rounds] = roundsToCover(sim, () =>
      sim.coverage((m) => {
        const state = m.member(victim)?.state;
        return state === undefined || state === "dead";
      }), maxRounds);
    const first = sim.firstSuspected(victim);
    maxFirst = Math.max(maxFirst, first === undefined ? Infinity : first - killedAt);
    total += rounds;
    max = Math.max(max, rounds);
  }
  settle(sim);
  return {
    trials,
    suspicionTimeoutRounds: timeoutRounds,
    maxFirstSuspectRounds: maxFirst,
    meanRounds: total / trials,
    maxRounds: max,
  };
}

/**
 * What message loss makes the failure detector do to running members.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator, measureFalsePositives } from "./simulator.ts";
 * const f = measureFalsePositives(new GossipSimulator({ n: 100, seed: 1 }));
 * console.log(f.falseDead); // 0
 * ```
 */
export interface FalsePositiveFigures {
  /** Rounds run. */
  rounds: number;
  /** The message loss rate. */
  lossRate: number;
  /** Distinct suspicions of running members (all refuted unless `falseDead` > 0). */
  suspicions: number;
  /** `dead` verdicts about running members, over all observers. */
  falseDead: number;
  /** Mean bytes sent per member per second meanwhile. */
  bytesPerMemberPerSecond: number;
}

/**
 * Runs `rounds` rounds at `lossRate` message loss and counts suspicions and
 * dead verdicts about members that are in fact running.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator, measureFalsePositives } from "./simulator.ts";
 * console.log(measureFalsePositives(new GossipSimulator({ n: 50, seed: 1 }), 100, 0.05));
 * ```
 *
 * @param sim The simulator.
 * @param rounds Rounds to run (default 100).
 * @param lossRate Message loss during them (default 0.05).
 * @returns The figures.
 */
export function measureFalsePositives(
  sim: GossipSimulator,
  rounds = 100,
  lossRate = 0.05,
): FalsePositiveFigures {
  const before = sim.verdicts;
  const previousLoss = sim.lossRate;
  sim.lossRate = lossRate;
  sim.resetCounters();
  sim.run(rounds);
  sim.lossRate = previousLoss;
  const after = sim.verdicts;
  const n = sim.upNames().length;
  return {
    rounds,
    lossRate,
    suspicions: after.suspicions - before.suspicions,
    falseDead: after.falseDead - before.falseDead,
    bytesPerMemberPerSecond: sim.counters.bytes / n / ((rounds * sim.intervalMs) / 1000),
  };
}

/**
 * How a partition heals.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator, measurePartition } from "./simulator.ts";
 * const p = measurePartition(new GossipSimulator({ n: 100, seed: 1 }), 30);
 * console.log(p.splitAtHeal, p.healRounds100);
 * ```
 */
export interface PartitionFigures {
  /** Running members. */
  n: number;
  /** Rounds the two halves could not reach each other. */
  partitionRounds: number;
  /** The fraction of nodes that held the whole other half dead when it healed. */
  splitAtHeal: number;
  /** Rounds from the heal until 99% of nodes hold every running member alive. */
  healRounds99: number;
  /** … until every node does. */
  healRounds100: number;
  /** `dead` verdicts about running members of the same half, during the partition. */
  falseDeadWithinSides: number;
  /** `dead` verdicts about running members from the heal until merged. */
  falseDeadAfterHeal: number;
  /** Bytes sent from the heal until merged, per member. */
  healBytesPerMember: number;
}

/** `membership` (of node `self`) holds every one of `names` alive. */
function holdsAlive(membership: Membership, self: string, names: readonly string[]): boolean {
  for (const name of names) if (name !== self && membership.stateOf(name) !== "alive") return false;
  return true;
}

/**
 * Splits the running nodes in two halves (every other name) for `rounds`
 * rounds, then lets messages cross again and measures the rounds until every
 * node holds every running member alive again.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator, measurePartition } from "./simulator.ts";
 * console.log(measurePartition(new GossipSimulator({ n: 50, seed: 1 })).healRounds100);
 * ```
 *
 * @param sim The simulator.
 * @param rounds Rounds of partition (default 30).
 * @param maxRounds Give up on the heal after this many rounds (default 200).
 * @returns The figures.
 */
export function measurePartition(
  sim: GossipSimulator,
  rounds = 30,
  maxRounds = 200,
): PartitionFigures {
  settle(sim);
  const up = sim.upNames().sort();
  const halves = [up.filter((_, i) => i % 2 === 0), up.filter((_, i) => i % 2 === 1)];
  const sideOf = new Map<string, number>();
  halves.forEach((names, i) => names.forEach((name) => sideOf.set(name, i)));
  const before = sim.verdicts;
  sim.partition([halves[0]!]);
  sim.run(rounds);
  const split = sim.coverage((m, name) =>
    halves[1 - sideOf.get(name)!]!.every((other) => m.stateOf(other) === "dead")
  );
  const during = sim.verdicts;
  sim.heal();
  const bytes = sim.counters.bytes;
  const [healRounds99, healRounds100] = roundsToCover(
    sim,
    () => sim.coverage((m, name) => holdsAlive(m, name, up)),
    maxRounds,
  );
  const after = sim.verdicts;
  return {
    n: up.length,
    partitionRounds: rounds,
    splitAtHeal: split,
    healRounds99,
    healRounds100,
    falseDeadWithinSides: during.falseDead - before.falseDead,
    falseDeadAfterHeal: after.falseDead - during.falseDead,
    healBytesPerMember: Math.round((sim.counters.bytes - bytes) / up.length),
  };
}

/**
 * How a member that restarted with nobody to join through is found again.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator, measureRestart } from "./simulator.ts";
 * console.log(measureRestart(new GossipSimulator({ n: 100, seed: 1 })).refoundRounds100);
 * ```
 */
export interface RestartFigures {
  /** Rounds from the kill until every running node held it dead. */
  deadRounds: number;
  /** Rounds it stayed down once dead everywhere. */
  downRounds: number;
  /**
   * Rounds from its restart until 99% of the nodes hold it alive (and it
   * holds them all alive).
   */
  refoundRounds99: number;
  /** … until every node does. */
  refoundRounds100: number;
}

/**
 * Kills a random member (a seed, say), waits until it is dead everywhere and
 * `downRounds` more, then restarts it without any seed of its own, and
 * measures the rounds until the cluster and it know each other alive again.
 *
 * @example
 * ```ts ignore
 * import { GossipSimulator, measureRestart } from "./simulator.ts";
 * console.log(measureRestart(new GossipSimulator({ n: 50, seed: 1 })));
 * ```
 *
 * @param sim The simulator.
 * @param downRounds Rounds it stays down after it is dead everywhere (default 10).
 * @param maxRounds Give up after this many rounds per phase (default 300).
 * @returns The figures.
 */
export function measureRestart(
  sim: GossipSimulator,
  downRounds = 10,
  maxRounds = 300,
): RestartFigures {
  settle(sim);
  const victim = sim.randomUp();
  sim.kill(victim);
  const [, deadRounds] = roundsToCover(
    sim,
    () => sim.coverage((m) => m.stateOf(victim) === "dead"),
    maxRounds,
  );
  sim.run(downRounds);
  sim.restart(victim);
  const up = sim.upNames();
  const [refoundRounds99, refoundRounds100] = roundsToCover(
    sim,
    () =>
      sim.coverage((m, name) =>
        name === victim ? holdsAlive(m, name, up) : m.stateOf(victim) === "alive"
      ),
    maxRounds,
  );
  return { deadRounds, downRounds, refoundRounds99, refoundRounds100 };
}

/**
 * Every measurement on one cluster, in order: traffic at rest, spread, death
 * detection, false positives under loss.
 *
 * @example
 * ```ts ignore
 * import { runScenario } from "./simulator.ts";
 * const s = runScenario({ n: 1000, seed: 1 });
 * console.log(s.rounds >= 100);
 * ```
 */
export interface ScenarioFigures {
  /** Cluster size at the start. */
  n: number;
  /** Rounds simulated in total. */
  rounds: number;
  /** Traffic at rest. */
  rest: TrafficFigures;
  /** Spread of a join and of catalog changes. */
  spread: SpreadFigures;
  /** Death detection. */
  death: DeathFigures;
  /** False positives under loss. */
  loss: FalsePositiveFigures;
}

/**
 * Runs every measurement on one simulated cluster of `n` members.
 *
 * @example
 * ```ts ignore
 * import { runScenario } from "./simulator.ts";
 * console.log(runScenario({ n: 100, seed: 1, lossRounds: 100 }).loss.falseDead); // 0
 * ```
 *
 * @param settings Cluster size, seed, rounds at rest, kills, rounds under loss.
 * @returns The figures.
 */
export function runScenario(settings: {
  n: number;
  seed: number;
  restRounds?: number;
  deathTrials?: number;
  lossRounds?: number;
  lossRate?: number;
  options?: SimulatedMembershipOptions;
}): ScenarioFigures {
  const sim = new GossipSimulator({
    n: settings.n,
    seed: settings.seed,
    options: settings.options,
  });
  const rest = measureTrafficAtRest(sim, settings.restRounds ?? 20);
  const spread = measureSpread(sim);
  const death = measureDeathDetection(sim, settings.deathTrials ?? 3);
  const loss = measureFalsePositives(sim, settings.lossRounds ?? 100, settings.lossRate ?? 0.05);
  return { n: settings.n, rounds: sim.round, rest, spread, death, loss };
}
