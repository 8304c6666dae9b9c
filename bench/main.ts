// Copyright 2026 the mpreg authors. MIT license.
/**
 * The mpreg benchmark:
 * `deno task bench [--quick] [--no-nats] [--only TEXT|…] [--json PATH]`
 * (`deno task bench -- --quick` works too), or
 * `deno run -A bench/main.ts …` with the same flags; `--help` prints them.
 * `--quick` runs every figure with fewer rounds and smaller clusters (a
 * minute or two instead of several); an unknown flag exits 2 with the usage.
 *
 * This process is the load generator. It spawns `bench/_server.ts`, which
 * runs a raw WebSocket echo server, a bare msgpack node and an mpreg node,
 * and measures each
 * figure against a yardstick measured in the same run between the same
 * processes: every speed is reported as a ratio next to its absolute figure,
 * never as a bare time. The figures (issue 6):
 *
 * 1. raw WebSocket echo, 1 at a time, 16 and 100 in flight: the yardsticks
 *    of 2;
 * 2. mpreg `echo` over one connection, 1 at a time, 16 and 100 in flight,
 *    and over 8 connections (100 in flight in total); one at a time also
 *    the bare msgpack node (msgpackr and nothing else) against the raw echo,
 *    and mpreg against the bare node, which split what is left between the
 *    codec and mpreg's own work;
 * 3. a call forwarded to a second node (client → A → B);
 * 4. a request of 5 dependent steps, 5 separate calls in sequence, and a
 *    fan-out of 32 steps joined by one, each as p50 latency against one
 *    call's;
 * 5. a sandboxed call against the same function inline; the cold start of a
 *    sandbox process, and its memory when idle, against a bare `deno run`;
 * 6. NATS request/reply through a local `nats-server` (`_nats.ts`), skipped
 *    with a note when `nats-server` is not on PATH or with `--no-nats`;
 * 7. a 1 MiB `Uint8Array` argument, in bytes per second, against the raw
 *    echo of the same bytes; streams of 16 chunks of 64 KiB read with
 *    `client.stream()` from the node and through a second one, against the
 *    raw echo of the same chunks, as many in flight as the stream has (2 under
 *    the default byte credit of 128 KiB; its bytes counted both ways);
 * 8. the resident memory of a node (`_idle_node.ts`, its own process)
 *    holding 1,000 idle client connections (100 with `--quick`), against the
 *    same node before them; and the peak resident memory of such a node
 *    serving 100 endless streams of 64 KiB chunks (20 with `--quick`) to
 *    readers that read at 1 % of the producers' speed, against the same
 *    node idle (issue 18);
 * 9. issue 19's chain across nodes: `a = inc(1)` on B, `b = double(a)` on C,
 *    `c = label(b)` on D, entering node A, against one call forwarded from A
 *    to B, and against the same chain driven by a NATS client over three
 *    responders; and a 10 MiB intermediate result made on B and used on C,
 *    against a client sending the same bytes to C directly, with the bytes
 *    through A (in and out, from its `GET /stats`) against the 10 MiB; and,
 *    without targets, the same chain entering a node whose `relayChains` is
 *    off, the chain's hops against a forwarded call's through raw WebSocket
 *    relays in the same processes (what the machine allows, not mpreg), and
 *    mpreg's chain against that raw relay of its hops.
 *
 * Each figure runs several short rounds, each a yardstick phase and an mpreg
 * phase back to back (yardstick first in even rounds, mpreg first in odd
 * ones), and reports the round whose ratio is the median: the two phases of
 * a round see about the same machine, and drift on a noisy machine moves
 * whole rounds, not the median of their ratios. Every row carries
 * issue 6's target, and the run ends with one line of targets met and
 * missed.
 *
 * `--only "TEXT[|TEXT…]"` measures only the figures whose name contains one
 * of the texts (case insensitive; "idle" selects the idle memory figures, "slow
 * readers" the streams' memory figure, and
 * "gossip" the simulator), for working on one figure.
 *
 * The exit code never depends on the timings: 0 unless something broke.
 *
 * To add a figure, add an entry to one of the `*Figures()` lists: a name, a
 * yardstick runner, an mpreg runner, what the ratio compares and a target.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Client, DEFAULT_LIMITS, type StepInput } from "../mod.ts";
import { MSGPACK_PROTOCOL } from "../src/protocol/codec.ts";
import { STREAM_CREDIT_BYTES } from "../src/client/_streams.ts";
import { ensureFileLimit } from "./_fd_limit.ts";
import type { BusyNodeMemory, IdleNodeMemory, IdleNodeReady } from "./_idle_node.ts";
import { inFlight, inFlightEach, type Measurement, oneAtATime, type Phases } from "./_measure.ts";
import { findNatsServer, type NatsRig, startNats } from "./_nats.ts";
import { LineChild } from "./_process.ts";
import { RawEchoClient } from "./_raw_echo.ts";
import { bareDenoStarts, idleSandboxMemory, sandboxStarts } from "./_sandbox_start.ts";
import {
  formatSummary,
  formatTable,
  machine,
  meets,
  type Metric,
  type Report,
  type Row,
  type Settings,
  type Skipped,
  summarize,
  type Target,
  writeJson,
} from "./_report.ts";
import { BLOB_BYTES } from "./_chain_node.ts";
import type { ServerUrls } from "./_server.ts";
import { RawRelayClient } from "./_raw_relay.ts";
import { gossipSimReport } from "./gossip_sim.ts";

const SERVER_SCRIPT = new URL("./_server.ts", import.meta.url);
const IDLE_NODE_SCRIPT = new URL("./_idle_node.ts", import.meta.url);

const PAYLOAD_BYTES = 100;
/** 100 ASCII bytes; it does not start with "echo", so the client sends it unescaped. */
const PAYLOAD = "payload:" +
  "abcdefghijklmnopqrstuvwxyz0123456789".repeat(3).slice(0, PAYLOAD_BYTES - 8);
const IN_FLIGHT = 100;
const MID_FLIGHT = 16;
const CONNECTIONS = 8;
const CHAIN_STEPS = 5;
const FAN_OUT = 32;
const BINARY_BYTES = 1024 * 1024;

/**
 * Many short rounds rather than a few long ones: the machine's speed drifts
 * over seconds (the same calls read 10-20 % apart 20 s later in one run), and
 * a round's two phases, back to back, see about the same machine. An odd
 * count, so one round is the median.
 */
const FULL = {
  warmupMs: 100,
  runWarmupMs: 1_500,
  measureMs: 500,
  rounds: 9,
  idleConnections: 1_000,
  slowStreams: 100,
  slowSampleMs: 4_000,
};
const QUICK = {
  warmupMs: 50,
  runWarmupMs: 100,
  measureMs: 150,
  rounds: 3,
  idleConnections: 100,
  slowStreams: 20,
  slowSampleMs: 1_500,
};
/** Connections opened at once while filling the idle node. */
const CONNECT_BATCH = 100;

// Issue 6's targets.
const ONE_AT_A_TIME: Target = { of: "ratio", op: ">=", bound: 0.85 };
const HUNDRED_IN_FLIGHT: Target = { of: "ratio", op: ">=", bound: 0.8 };
// Issue 19 raised it from 0.35 (issue 6).
const FORWARDED: Target = { of: "ratio", op: ">=", bound: 0.6 };
const CHAIN_LATENCY: Target = { of: "ratio", op: "<=", bound: 1.5 };
// Issue 17: a small schema costs at most 15 % more than none, one call at a time.
const SCHEMA_COST: Target = { of: "ratio", op: "<=", bound: 1.15 };
const NATS_THROUGHPUT: Target = { of: "ratio", op: ">=", bound: 3 };
const NATS_LATENCY: Target = { of: "ratio", op: "<=", bound: 1 };
const BINARY: Target = { of: "ratio", op: ">=", bound: 0.7 };
// Issue 18: streamed bytes per second against the raw echo's, one node and forwarded.
const STREAM_ONE_NODE: Target = { of: "ratio", op: ">=", bound: 0.7 };
const STREAM_FORWARDED: Target = { of: "ratio", op: ">=", bound: 0.4 };
/** A stream's chunks: 16 of 64 KiB (1 MiB per stream, the client's default credit). */
const STREAM_CHUNKS = 16;
const STREAM_CHUNK_BYTES = 64 * 1024;
/**
 * The chunks a stream has in flight at most under the client's default byte
 * credit (the node sends while it holds some: 128 KiB is 2 chunks of 64
 * KiB): the raw echo keeps as many in flight, so both move the same data.
 */
const STREAM_WINDOW = Math.min(STREAM_CHUNKS, Math.ceil(STREAM_CREDIT_BYTES / STREAM_CHUNK_BYTES));
const IDLE_RSS: Target = { of: "value", op: "<=", bound: 150e6 };
// Issue 18: a node serving streams to slow readers holds at most twice an idle node's memory.
const SLOW_READERS_RSS: Target = { of: "ratio", op: "<=", bound: 2 };
/** The slow-readers figure: producers' chunks per second, readers' (1 %), connections. */
const SLOW_PRODUCER_PER_SECOND = 100;
const SLOW_READER_PER_SECOND = 1;
const SLOW_CONNECTIONS = 10;
/** How often the node's memory is read while it serves them. */
const SLOW_SAMPLE_EVERY_MS = 250;
// The sandbox floors: 0.5 of inline for sandboxes in Workers (the sandbox
// issue), 0.4 since they are child processes (issue 13).
const SANDBOX: Target = { of: "ratio", op: ">=", bound: 0.4 };
// Issue 19's targets.
const NODE_CHAIN: Target = { of: "ratio", op: "<=", bound: 1.6 };
const NODE_CHAIN_NATS: Target = { of: "ratio", op: "<=", bound: 0.4 };
const BLOB_TIME: Target = { of: "ratio", op: "<=", bound: 1.3 };
const BLOB_BYTES_THROUGH: Target = { of: "ratio", op: "<=", bound: 0.01 };

/** What the command line asks for. */
export interface Options {
  quick: boolean;
  nats: boolean;
  json: string | null;
  /** Measure only figures whose name contains one of these (lower case). */
  only: string[] | null;
}

const USAGE = "usage: deno task bench [--quick] [--no-nats] [--only TEXT|…] [--json PATH]\n" +
  "   or: deno run -A bench/main.ts [--quick] [--no-nats] [--only TEXT|…] [--json PATH]";

/** A command line the benchmark does not understand: exit 2 with the usage. */
class BenchUsageError extends Error {
  override name = "BenchUsageError";
}

function texts(list: string): string[] {
  return list.toLowerCase().split("|").map((t) => t.trim()).filter((t) => t !== "");
}

/**
 * Reads the benchmark's command line. A leading `--` (as in
 * `deno task bench -- --quick`) is skipped; `--help` returns `null`.
 *
 * @example
 * ```ts ignore
 * parseBenchArgs(["--", "--quick"]); // { quick: true, … }
 * ```
 *
 * @param args The arguments after the script name.
 * @returns The options, or `null` for `--help`.
 * @throws {BenchUsageError} For an unknown flag or a missing value.
 */
export function parseBenchArgs(args: readonly string[]): Options | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: args[0] === "--" ? args.slice(1) : [...args],
      options: {
        quick: { type: "boolean" },
        "no-nats": { type: "boolean" },
        only: { type: "string" },
        json: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new BenchUsageError(`${err instanceof Error ? err.message : err}\n${USAGE}`);
  }
  if (values.help) return null;
  return {
    quick: values.quick ?? false,
    nats: !values["no-nats"],
    json: values.json ?? null,
    only: values.only === undefined ? null : texts(values.only),
  };
}

function log(message: string): void {
  // deno-lint-ignore no-console
  console.error(message);
}

/** One side of a figure: measures one phase. */
type Runner = (phases: Phases) => Promise<Measurement>;

/** A measured figure: mpreg against its yardstick. */
interface Figure {
  name: string;
  ceilingName: string;
  ceiling: Runner;
  mpreg: Runner;
  /** What the ratio compares; `bytes/s` needs `bytesPerOp`. */
  metric: Exclude<Metric, "rss" | "bytes">;
  bytesPerOp?: number;
  /** The yardstick's bytes per operation, when not `bytesPerOp`. */
  ceilingBytesPerOp?: number;
  target: Target | null;
  note?: string;
}

/** The connections the figures use, all to `_server.ts`. */
interface Connections {
  raw: RawEchoClient;
  /** To the bare msgpack node (the codec and nothing else). */
  bare: RawEchoClient;
  client: Client;
  raws: RawEchoClient[];
  clients: Client[];
  /** To the chain's node C (`double`, `size`), for the direct transfer. */
  direct: Client;
  /** To the entry node that runs chains step by step through itself (`relayChains: false`). */
  unrelayed: Client;
  /** To the raw relay in A's process, where the raw routes enter (`_raw_relay.ts`). */
  relay: RawRelayClient;
  /** The raw relays of A, B, C and D. */
  relays: { a: string; b: string; c: string; d: string };
  /** A's `GET /stats` URL. */
  statsUrl: string;
}

const echoStep = (name: string, arg: unknown): StepInput => ({ name, fun: "echo", args: [arg] });

/** s1 = echo(payload), s2 = echo(s1), …: each step waits for the one before. */
const CHAIN: StepInput[] = Array.from(
  { length: CHAIN_STEPS },
  (_, i) => echoStep(`s${i + 1}`, i === 0 ? PAYLOAD : `s${i}`),
);
const CHAIN_SINK = `s${CHAIN_STEPS}`;

/** f0 … f31 = echo(payload) in parallel, joined by echos(f0, …, f31). */
const FAN: StepInput[] = [
  ...Array.from({ length: FAN_OUT }, (_, i) => echoStep(`f${i}`, PAYLOAD)),
  { name: "join", fun: "echos", args: Array.from({ length: FAN_OUT }, (_, i) => `f${i}`) },
];

/** Issue 19's chain: each step on its own node, none on the entry node. */
const NODE_CHAIN_STEPS: StepInput[] = [
  { name: "a", fun: "inc", args: [1] },
  { name: "b", fun: "double", args: ["a"] },
  { name: "c", fun: "label", args: ["b"] },
];
const NODE_CHAIN_ANSWER = "n=4";
/** A 10 MiB result made on B (`blob`) used on C (`size`). */
const BLOB_STEPS: StepInput[] = [
  { name: "blob", fun: "blob", args: [] },
  { name: "n", fun: "size", args: ["blob"] },
];

function binaryPayload(): Uint8Array {
  const bytes = new Uint8Array(BINARY_BYTES);
  let x = 0x9e3779b9;
  for (let i = 0; i < bytes.length; i++) {
    // xorshift32: bytes that no transport could compress.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

function echoFigures(c: Connections): Figure[] {
  const rawEcho = () => c.raw.echo(PAYLOAD);
  const mpregEcho = () => c.client.call("echo", [PAYLOAD]);
  const bareEcho = () => c.bare.rpc("echo", [PAYLOAD]);
  const rawEach = (w: number) => {
    const raw = c.raws[w % c.raws.length]!;
    return () => raw.echo(PAYLOAD);
  };
  const mpregEach = (w: number) => {
    const client = c.clients[w % c.clients.length]!;
    return () => client.call("echo", [PAYLOAD]);
  };
  return [
    {
      name: "echo, 1 at a time",
      ceilingName: "raw WebSocket echo, 1 at a time",
      ceiling: (phases) => oneAtATime(rawEcho, phases),
      mpreg: (phases) => oneAtATime(mpregEcho, phases),
      metric: "calls/s",
      target: ONE_AT_A_TIME,
    },
    {
      name: "bare msgpack node, 1 at a time",
      ceilingName: "raw WebSocket echo, 1 at a time",
      ceiling: (phases) => oneAtATime(rawEcho, phases),
      mpreg: (phases) => oneAtATime(bareEcho, phases),
      metric: "calls/s",
      target: null,
      note: "not mpreg: a node that only unpacks the request with msgpackr, calls echo and " +
        "packs the answer, and a client that only packs and unpacks: the floor under any " +
        "msgpackr-based RPC",
    },
    {
      name: "echo, 1 at a time, against the bare node",
      ceilingName: "bare msgpack node, 1 at a time",
      ceiling: (phases) => oneAtATime(bareEcho, phases),
      mpreg: (phases) => oneAtATime(mpregEcho, phases),
      metric: "calls/s",
      target: null,
      note: "what mpreg's own work (client and node, past the codec) costs one call at a time",
    },
    {
      name: `echo, ${MID_FLIGHT} in flight`,
      ceilingName: `raw WebSocket echo, ${MID_FLIGHT} in flight`,
      ceiling: (phases) => inFlight(MID_FLIGHT, rawEcho, phases),
      mpreg: (phases) => inFlight(MID_FLIGHT, mpregEcho, phases),
      metric: "calls/s",
      target: null,
    },
    {
      name: `echo, ${IN_FLIGHT} in flight`,
      ceilingName: `raw WebSocket echo, ${IN_FLIGHT} in flight`,
      ceiling: (phases) => inFlight(IN_FLIGHT, rawEcho, phases),
      mpreg: (phases) => inFlight(IN_FLIGHT, mpregEcho, phases),
      metric: "calls/s",
      target: HUNDRED_IN_FLIGHT,
    },
    {
      name: `echo, ${CONNECTIONS} connections, ${IN_FLIGHT} in flight`,
      ceilingName:
        `raw WebSocket echo over ${CONNECTIONS} sockets, ${IN_FLIGHT} in flight in total`,
      ceiling: (phases) => inFlightEach(IN_FLIGHT, rawEach, phases),
      mpreg: (phases) => inFlightEach(IN_FLIGHT, mpregEach, phases),
      metric: "calls/s",
      target: HUNDRED_IN_FLIGHT,
      note: `${CONNECTIONS} Clients, worker i on connection i mod ${CONNECTIONS}`,
    },
  ];
}

function forwardedFigures(c: Connections): Figure[] {
  const rawEcho = () => c.raw.echo(PAYLOAD);
  const forwarded = () => c.client.call("fecho", [PAYLOAD]);
  return [
    {
      name: "forwarded A→B, 1 at a time",
      ceilingName: "raw WebSocket echo, 1 at a time",
      ceiling: (phases) => oneAtATime(rawEcho, phases),
      mpreg: (phases) => oneAtATime(forwarded, phases),
      metric: "calls/s",
      target: null,
    },
    {
      name: `forwarded A→B, ${IN_FLIGHT} in flight`,
      ceilingName: `raw WebSocket echo, ${IN_FLIGHT} in flight`,
      ceiling: (phases) => inFlight(IN_FLIGHT, rawEcho, phases),
      mpreg: (phases) => inFlight(IN_FLIGHT, forwarded, phases),
      metric: "calls/s",
      target: FORWARDED,
    },
  ];
}

function stepFigures(c: Connections): Figure[] {
  const single = () => c.client.call("echo", [PAYLOAD]);
  const singleName = "one echo call, 1 at a time";
  const chain = () => c.client.request(CHAIN);
  const separate = async () => {
    let value: unknown = PAYLOAD;
    for (let i = 0; i < CHAIN_STEPS; i++) value = await c.client.call("echo", [value]);
    return value;
  };
  const fan = () => c.client.request(FAN);
  return [
    {
      name: `${CHAIN_STEPS}-step request, 1 at a time`,
      ceilingName: singleName,
      ceiling: (phases) => oneAtATime(single, phases),
      mpreg: (phases) => oneAtATime(chain, phases),
      metric: "p50",
      target: CHAIN_LATENCY,
      note: `${CHAIN_STEPS} dependent echo steps (s2 = echo(s1), …) in one request`,
    },
    {
      name: `${CHAIN_STEPS} separate calls, 1 at a time`,
      ceilingName: singleName,
      ceiling: (phases) => oneAtATime(single, phases),
      mpreg: (phases) => oneAtATime(separate, phases),
      metric: "p50",
      target: null,
      note: `the same ${CHAIN_STEPS} echoes as ${CHAIN_STEPS} calls in sequence, for contrast`,
    },
    {
      name: `fan-out ${FAN_OUT} + join, 1 at a time`,
      ceilingName: singleName,
      ceiling: (phases) => oneAtATime(single, phases),
      mpreg: (phases) => oneAtATime(fan, phases),
      metric: "p50",
      target: null,
      note: `${FAN_OUT} parallel echo steps joined by one echos step, in one request`,
    },
  ];
}

/**
 * The same add with argument and result schemas (`add(a: number, b:
 * number): number`) against the one without: what checking costs.
 */
function schemaFigures(c: Connections): Figure[] {
  const plain = () => c.client.call("inline_add", [2, 3]);
  const plainName = "the same call without a schema, 1 at a time";
  return (["zod", "valibot"] as const).map((library) => {
    const checked = () => c.client.call(`${library}_add`, [2, 3]);
    return {
      name: `call with a small ${library} schema, 1 at a time`,
      ceilingName: plainName,
      ceiling: (phases: Phases) => oneAtATime(plain, phases),
      mpreg: (phases: Phases) => oneAtATime(checked, phases),
      metric: "p50",
      target: SCHEMA_COST,
      note: `inline add(a, b) with ${library} schemas of both numbers and of the result`,
    };
  });
}

function nodeChainFigures(c: Connections, blob: Uint8Array): Figure[] {
  const forwarded = () => c.client.call("inc", [1]);
  const chain = () => c.client.request(NODE_CHAIN_STEPS);
  const { a, b, c: cc, d } = c.relays;
  const rawForwarded = () => c.relay.send([b, a, "client"], 1);
  const rawChain = () => c.relay.send([b, cc, d, a, "client"], 1);
  return [
    {
      name: "raw relay: the chain's hops vs a forwarded call's, 1 at a time",
      ceilingName: "a raw relay through A → B → A, 1 at a time",
      ceiling: (phases) => oneAtATime(rawForwarded, phases),
      mpreg: (phases) => oneAtATime(rawChain, phases),
      metric: "p50",
      target: null,
      note: "not mpreg: raw WebSocket relays in the same processes (A → B → C → D → A), " +
        "what the machine allows the chain against the forwarded call",
    },
    {
      name: "3-node chain through the entry node (relay_chains: false), 1 at a time",
      ceilingName: "one call forwarded A→B (inc), 1 at a time",
      ceiling: (phases) => oneAtATime(forwarded, phases),
      mpreg: (phases) => oneAtATime(() => c.unrelayed.request(NODE_CHAIN_STEPS), phases),
      metric: "p50",
      target: null,
      note: "the same chain, each value back to the entry node and out again (8 hops)",
    },
    {
      name: "3-node chain vs a raw relay of its hops, 1 at a time",
      ceilingName: "a raw relay through A → B → C → D → A, 1 at a time",
      ceiling: (phases) => oneAtATime(rawChain, phases),
      mpreg: (phases) => oneAtATime(chain, phases),
      metric: "p50",
      target: null,
      note: "mpreg's chain against the same hops with nothing but msgpackr on each",
    },
    {
      name: "3-node chain, 1 at a time",
      ceilingName: "one call forwarded A→B (inc), 1 at a time",
      ceiling: (phases) => oneAtATime(forwarded, phases),
      mpreg: (phases) => oneAtATime(chain, phases),
      metric: "p50",
      target: NODE_CHAIN,
      note: "a = inc(1) on B, b = double(a) on C, c = label(b) on D, entering A (issue 19)",
    },
    {
      name: "10 MiB intermediate B→C, 1 at a time",
      ceilingName: "a client sending the same bytes to C directly (size), 1 at a time",
      ceiling: (phases) => oneAtATime(() => c.direct.call("size", [blob]), phases),
      mpreg: (phases) => oneAtATime(() => c.client.request(BLOB_STEPS), phases),
      metric: "p50",
      target: BLOB_TIME,
      note: "blob = a 10 MiB Uint8Array made on B, n = size(blob) on C, entering A",
    },
  ];
}

/** The bytes through A (its peer links, in and out) for one 10 MiB request. */
async function blobBytes(c: Connections): Promise<Row> {
  const peerBytes = async () => {
    const stats = await (await fetch(c.statsUrl)).json();
    return { out: stats.cluster.peerBytesOut as number, in: stats.cluster.peerBytesIn as number };
  };
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const before = await peerBytes();
    await c.client.request(BLOB_STEPS);
    const after = await peerBytes();
    runs.push(after.out - before.out + after.in - before.in);
  }
  const value = runs[medianIndex(runs)]!;
  return {
    name: "10 MiB intermediate: bytes through A",
    ceilingName: "the intermediate result's size",
    metric: "bytes",
    unit: "bytes",
    value,
    ceiling: BLOB_BYTES,
    ratio: value / BLOB_BYTES,
    target: BLOB_BYTES_THROUGH,
    met: meets(BLOB_BYTES_THROUGH, value, value / BLOB_BYTES),
    median: null,
    ceilingMedian: null,
    runs: [value],
    ceilingRuns: [BLOB_BYTES],
    ratios: [value / BLOB_BYTES],
    note: "bytes A's peer links carried (in + out, gossip included) during one request, " +
      `the median of 3 requests (${runs.join(", ")})`,
  };
}

function sandboxFigures(c: Connections): Figure[] {
  const inlineAdd = () => c.client.call("inline_add", [2, 3]);
  const sandboxAdd = () => c.client.call("sandbox_add", [2, 3]);
  return [
    {
      name: `sandboxed call, ${IN_FLIGHT} in flight`,
      ceilingName: `the same function inline, ${IN_FLIGHT} in flight`,
      ceiling: (phases) => inFlight(IN_FLIGHT, inlineAdd, phases),
      mpreg: (phases) => inFlight(IN_FLIGHT, sandboxAdd, phases),
      metric: "calls/s",
      target: SANDBOX,
      note: "floor from issue 13 (sandboxes are child Deno processes), not issue 6",
    },
    {
      name: "sandbox cold start",
      ceilingName: "a bare deno run of an empty module, spawn to first output",
      ceiling: bareDenoStarts,
      mpreg: sandboxStarts,
      metric: "p50",
      target: null,
      note: "a pool with no permissions, from its creation to its process's first message " +
        "(spawned, runtime loaded); closed outside the timed part",
    },
  ];
}

/** The resident memory of an idle sandbox process against an idle bare `deno run`. */
async function idleSandbox(): Promise<Row> {
  const { sandbox, bare } = await idleSandboxMemory();
  return {
    name: "idle sandbox process",
    ceilingName: "an idle bare deno run of an empty module",
    metric: "rss",
    unit: "bytes",
    value: sandbox,
    ceiling: bare,
    ratio: sandbox / bare,
    target: null,
    met: null,
    median: null,
    ceilingMedian: null,
    runs: [sandbox],
    ceilingRuns: [bare],
    ratios: [sandbox / bare],
    note: "RSS of one ready sandbox process with no permissions, 300 ms after it started",
  };
}

const NATS_NAMES = [
  "echo vs NATS, 1 at a time",
  `echo vs NATS, ${IN_FLIGHT} in flight`,
  "3-node chain vs NATS, 1 at a time",
];

function natsFigures(c: Connections, nats: NatsRig): Figure[] {
  const natsEcho = () => nats.request(PAYLOAD);
  const mpregEcho = () => c.client.call("echo", [PAYLOAD]);
  return [
    {
      name: NATS_NAMES[0]!,
      ceilingName: "NATS request/reply via nats-server, 1 at a time",
      ceiling: (phases) => oneAtATime(natsEcho, phases),
      mpreg: (phases) => oneAtATime(mpregEcho, phases),
      metric: "p50",
      target: NATS_LATENCY,
      note: "mpreg p50 / NATS p50: below 1 is lower latency than NATS",
    },
    {
      name: NATS_NAMES[1]!,
      ceilingName: `NATS request/reply via nats-server, ${IN_FLIGHT} in flight`,
      ceiling: (phases) => inFlight(IN_FLIGHT, natsEcho, phases),
      mpreg: (phases) => inFlight(IN_FLIGHT, mpregEcho, phases),
      metric: "calls/s",
      target: NATS_THROUGHPUT,
    },
    {
      name: NATS_NAMES[2]!,
      ceilingName: "the same chain by a NATS client over three responders, 1 at a time",
      ceiling: (phases) => oneAtATime(() => nats.chain(1), phases),
      mpreg: (phases) => oneAtATime(() => c.client.request(NODE_CHAIN_STEPS), phases),
      metric: "p50",
      target: NODE_CHAIN_NATS,
      note: "mpreg's chain entering A against inc, double, label as three NATS requests",
    },
  ];
}

function binaryFigures(c: Connections, bytes: Uint8Array): Figure[] {
  return [{
    name: "1 MiB binary echo, 1 at a time",
    ceilingName: "raw WebSocket echo of the same bytes, 1 at a time",
    ceiling: (phases) => oneAtATime(() => c.raw.echo(bytes), phases),
    mpreg: (phases) => oneAtATime(() => c.client.call("echo", [bytes]), phases),
    metric: "bytes/s",
    bytesPerOp: bytes.length,
    target: BINARY,
    note: `a ${bytes.length}-byte Uint8Array as msgpack bin, within the node's default ` +
      `${DEFAULT_LIMITS.maxFrameBytes / 1024 / 1024} MiB frame limit; payload bytes one way`,
  }];
}

/** Reads a stream to its end. */
async function drain(stream: ReadableStream<unknown>): Promise<void> {
  const reader = stream.getReader();
  while (!(await reader.read()).done) { /* the chunks are only counted */ }
}

/**
 * Streams of 16 chunks of 64 KiB from one node and through a second one,
 * in bytes through the client's socket per second, against the raw echo of
 * the same 16 chunks kept in flight together, which moves each chunk both
 * ways: its bytes are counted both ways too.
 */
function streamFigures(c: Connections): Figure[] {
  const chunk = new Uint8Array(STREAM_CHUNK_BYTES).fill(7);
  // The echo of 16 chunks, at most as many in flight as the stream has.
  const raw = async () => {
    let left = STREAM_CHUNKS;
    const lane = async () => {
      while (left > 0) {
        left--;
        await c.raw.echo(chunk);
      }
    };
    await Promise.all(Array.from({ length: STREAM_WINDOW }, lane));
  };
  const ceilingName = `raw WebSocket echo of ${STREAM_CHUNKS} × 64 KiB, ${STREAM_WINDOW} in flight`;
  const bytesPerOp = STREAM_CHUNKS * STREAM_CHUNK_BYTES;
  const stream = (fun: string) => () =>
    drain(c.client.stream(fun, [STREAM_CHUNKS, STREAM_CHUNK_BYTES]));
  return [
    {
      name: "stream of 64 KiB chunks, one node",
      ceilingName,
      ceiling: (phases) => oneAtATime(raw, phases),
      mpreg: (phases) => oneAtATime(stream("chunks"), phases),
      metric: "bytes/s",
      bytesPerOp,
      ceilingBytesPerOp: 2 * bytesPerOp,
      target: STREAM_ONE_NODE,
      note: `${STREAM_CHUNKS} chunks per stream, credit ${STREAM_CHUNKS} chunks and ` +
        `${STREAM_CREDIT_BYTES / 1024} KiB (${STREAM_WINDOW} chunks in flight); payload bytes ` +
        "through the client's socket (the echo's counted both ways)",
    },
    {
      name: "stream of 64 KiB chunks, forwarded A→B",
      ceilingName,
      ceiling: (phases) => oneAtATime(raw, phases),
      mpreg: (phases) => oneAtATime(stream("fchunks"), phases),
      metric: "bytes/s",
      bytesPerOp,
      ceilingBytesPerOp: 2 * bytesPerOp,
      target: STREAM_FORWARDED,
      note: "the producer on B, A relaying chunks and credit",
    },
  ];
}

/** The index of the median of `values` (the lower middle one for an even count). */
function medianIndex(values: number[]): number {
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  return order[(order.length - 1) >> 1]!;
}

function figureOf(m: Measurement, figure: Figure, ceiling = false): number {
  switch (figure.metric) {
    case "p50":
      return m.p50Us;
    case "bytes/s":
      return m.opsPerSec *
        (ceiling ? figure.ceilingBytesPerOp ?? figure.bytesPerOp! : figure.bytesPerOp!);
    default:
      return m.opsPerSec;
  }
}

const UNITS: Record<Metric, string> = {
  "calls/s": "calls/s",
  "p50": "µs",
  "bytes/s": "bytes/s",
  "rss": "bytes",
  "bytes": "bytes",
};

async function measure(figure: Figure, settings: Settings): Promise<Row> {
  const phases = { warmupMs: settings.warmupMs, measureMs: settings.measureMs };
  const ceilingPhases: Measurement[] = [];
  const mpregRuns: Measurement[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    // ABBA: the yardstick first in even rounds, mpreg first in odd ones.
    if (round % 2 === 0) {
      ceilingPhases.push(await figure.ceiling(phases));
      mpregRuns.push(await figure.mpreg(phases));
    } else {
      mpregRuns.push(await figure.mpreg(phases));
      ceilingPhases.push(await figure.ceiling(phases));
    }
  }
  // Each round pairs the two sides measured back to back; the row is the
  // round whose ratio is the median.
  const runs = mpregRuns.map((m) => figureOf(m, figure));
  const ceilingRuns = ceilingPhases.map((m) => figureOf(m, figure, true));
  const ratios = runs.map((value, i) => value / ceilingRuns[i]!);
  const median = medianIndex(ratios);
  const value = runs[median]!;
  const ceilingValue = ceilingRuns[median]!;
  const ratio = ratios[median]!;
  const row: Row = {
    name: figure.name,
    ceilingName: figure.ceilingName,
    metric: figure.metric,
    unit: UNITS[figure.metric],
    value,
    ceiling: ceilingValue,
    ratio,
    target: figure.target,
    met: meets(figure.target, value, ratio),
    median: mpregRuns[median]!,
    ceilingMedian: ceilingPhases[median]!,
    runs,
    ceilingRuns,
    ratios,
  };
  if (figure.note !== undefined) row.note = figure.note;
  return row;
}

async function measureAll(
  figures: Figure[],
  settings: Settings,
  rows: Row[],
  wanted: (name: string) => boolean,
): Promise<void> {
  for (const figure of figures.filter((f) => wanted(f.name))) {
    log(`measuring ${figure.name} ...`);
    rows.push(await measure(figure, settings));
  }
}

async function check(name: string, fn: () => Promise<unknown>, ok: (got: unknown) => boolean) {
  const got = await fn();
  if (!ok(got)) {
    const shown = got instanceof Uint8Array ? `${got.length} bytes` : JSON.stringify(got);
    throw new Error(`${name} answered ${shown?.slice(0, 200)}, not what was sent`);
  }
}

const isPayload = (got: unknown) => got === PAYLOAD;

function sameBytes(a: Uint8Array) {
  return (got: unknown): boolean => {
    if (!(got instanceof Uint8Array) || got.length !== a.length) return false;
    for (let i = 0; i < a.length; i++) if (got[i] !== a[i]) return false;
    return true;
  };
}

/**
 * Runs each side's hot paths, one at a time and with many in flight, before
 * the first figure. A phase's own warm-up is enough once the code is compiled,
 * but without this the first figure would measure mpreg, which has far more
 * code to compile than the echo, while V8 may still be compiling it (in a run
 * without it the first row read 10–20 % below the same calls measured later;
 * with it the rows still drift with the machine, either way).
 */
async function warmUp(c: Connections, ms: number): Promise<void> {
  const phases = { warmupMs: 0, measureMs: ms };
  const paths = [
    () => c.raw.echo(PAYLOAD),
    () => c.bare.rpc("echo", [PAYLOAD]),
    () => c.client.call("echo", [PAYLOAD]),
    // The sandbox's process compiles its side only when it first gets calls.
    () => c.client.call("inline_add", [2, 3]),
    () => c.client.call("sandbox_add", [2, 3]),
  ];
  for (const path of paths) {
    await oneAtATime(path, phases);
    await inFlight(IN_FLIGHT, path, phases);
  }
}

/** Checks that every operation the figures repeat answers what it should. */
async function checkAll(c: Connections, bytes: Uint8Array): Promise<void> {
  await check("raw echo", () => c.raw.echo(PAYLOAD), isPayload);
  await check("mpreg echo", () => c.client.call("echo", [PAYLOAD]), isPayload);
  const { a, b, c: cc, d } = c.relays;
  await check("raw relay", () => c.relay.send([b, cc, d, a, "client"], 7), (got) => got === 7);
  await check("bare node echo", () => c.bare.rpc("echo", [PAYLOAD]), (got) => {
    return isPayload((got as Record<string, unknown> | null)?.echo);
  });
  for (const [i, raw] of c.raws.entries()) {
    await check(`raw echo on socket ${i}`, () => raw.echo(PAYLOAD), isPayload);
  }
  for (const [i, client] of c.clients.entries()) {
    await check(`mpreg echo on connection ${i}`, () => client.call("echo", [PAYLOAD]), isPayload);
  }
  await check("forwarded echo", () => c.client.call("fecho", [PAYLOAD]), isPayload);
  await check(
    `${CHAIN_STEPS}-step request`,
    () => c.client.request(CHAIN),
    (got) => JSON.stringify(got) === JSON.stringify({ [CHAIN_SINK]: PAYLOAD }),
  );
  await check(
    `fan-out of ${FAN_OUT}`,
    () => c.client.request(FAN),
    (got) => JSON.stringify(got) === JSON.stringify({ join: Array(FAN_OUT).fill(PAYLOAD) }),
  );
  await check("sandboxed add", () => c.client.call("sandbox_add", [2, 3]), (got) => got === 5);
  await check("inline add", () => c.client.call("inline_add", [2, 3]), (got) => got === 5);
  for (const library of ["zod", "valibot"]) {
    const fun = `${library}_add`;
    await check(fun, () => c.client.call(fun, [2, 3]), (got) => got === 5);
    await check(`${fun} refusing a string`, () =>
      c.client.call(fun, ["2", 3]).then(
        () => "accepted",
        (err: { code?: number }) => err.code,
      ), (got) => got === 1004);
  }
  if (bytes.length + 1024 > DEFAULT_LIMITS.maxFrameBytes) {
    throw new Error(`a ${bytes.length}-byte argument does not fit the default frame limit`);
  }
  await check("raw echo of 1 MiB", () => c.raw.echo(bytes), sameBytes(bytes));
  await check("mpreg echo of 1 MiB", () => c.client.call("echo", [bytes]), sameBytes(bytes));
  await check("3-node chain", () => c.client.request(NODE_CHAIN_STEPS), (got) => {
    return (got as Record<string, unknown>).c === NODE_CHAIN_ANSWER;
  });
  await check(
    "3-node chain through the entry node",
    () => c.unrelayed.request(NODE_CHAIN_STEPS),
    (got) => {
      return (got as Record<string, unknown>).c === NODE_CHAIN_ANSWER;
    },
  );
  await check("10 MiB intermediate", () => c.client.request(BLOB_STEPS), (got) => {
    return (got as Record<string, unknown>).n === BLOB_BYTES;
  });
}

/**
 * Figure 8: a node in its own process, its RSS with no client, then with
 * `n` idle clients connected (each made one call, so each really is).
 */
async function idleMemory(n: number, pids: number[]): Promise<Row> {
  const node = LineChild.deno(IDLE_NODE_SCRIPT, [], ["--v8-flags=--expose-gc"]);
  pids.push(node.pid);
  const clients: Client[] = [];
  let row: Row;
  try {
    const ready = await node.json<IdleNodeReady>(60_000);
    const rss = async () => {
      await node.send("rss");
      return await node.json<IdleNodeMemory>(30_000);
    };
    // Warm the node's request path with one client, so "before" counts the
    // code every node has once it served a call, and the difference is the
    // connections' own cost.
    {
      const warm = new Client(ready.url, { encoding: "msgpack" });
      try {
        for (let i = 0; i < 200; i++) {
          await check("idle node echo", () => warm.call("echo", [PAYLOAD]), isPayload);
        }
      } finally {
        warm.close();
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const before = await rss();
    const started = performance.now();
    for (let i = 0; i < n; i += CONNECT_BATCH) {
      const batch: Promise<void>[] = [];
      for (let j = i; j < Math.min(n, i + CONNECT_BATCH); j++) {
        const client = new Client(ready.url, { encoding: "msgpack" });
        clients.push(client);
        batch.push(check(`idle client ${j}`, () => client.call("echo", [j]), (got) => got === j));
      }
      await Promise.all(batch);
    }
    const connectMs = performance.now() - started;
    if (!clients.every((client) => client.connected)) {
      throw new Error("an idle client lost its connection");
    }
    const after = await rss();
    const perConnection = (after.rss - before.rss) / n;
    row = {
      name: `${n.toLocaleString("en-US")} idle connections`,
      ceilingName: "the same node before them (after serving one client)",
      metric: "rss",
      unit: "bytes",
      value: after.rss,
      ceiling: before.rss,
      ratio: after.rss / before.rss,
      target: IDLE_RSS,
      met: meets(IDLE_RSS, after.rss, after.rss / before.rss),
      median: null,
      ceilingMedian: null,
      runs: [after.rss],
      ceilingRuns: [before.rss],
      ratios: [after.rss / before.rss],
      note: `node RSS after GC in its own process; ${(perConnection / 1024).toFixed(1)} KiB ` +
        `per connection; heap ${(before.heapUsed / 1e6).toFixed(1)} → ` +
        `${(after.heapUsed / 1e6).toFixed(1)} MB; ${n} clients connected and called in ` +
        `${connectMs.toFixed(0)} ms`,
    };
  } finally {
    for (const client of clients) client.close();
    const status = await node.stop();
    if (!status.success) log(`bench/_idle_node.ts exited with ${JSON.stringify(status)}`);
  }
  return row;
}

/**
 * Issue 18: a node in its own process serving `n` endless streams of 64 KiB
 * chunks (made at most 100 a second each) to readers that read one chunk a
 * second, over 10 connections with the client's default credit (16 chunks
 * and 128 KiB): its peak
 * resident memory over `sampleMs` (read at once, without forcing a
 * collection) against the same node idle (after a collection).
 */
async function slowReadersMemory(n: number, sampleMs: number, pids: number[]): Promise<Row> {
  const node = LineChild.deno(IDLE_NODE_SCRIPT, ["streams"], ["--v8-flags=--expose-gc"]);
  pids.push(node.pid);
  const clients: Client[] = [];
  let stop = false;
  const readers: Promise<void>[] = [];
  let row: Row;
  try {
    const ready = await node.json<IdleNodeReady>(60_000);
    // Warm the node's request and stream paths, so "idle" counts the code
    // every such node has once it served a stream.
    {
      const warm = new Client(ready.url, { encoding: "msgpack" });
      try {
        for (let i = 0; i < 100; i++) await warm.call("echo", [PAYLOAD]);
        const reader = warm.stream("produce", [STREAM_CHUNK_BYTES, 1_000], { credit: 4 })
          .getReader();
        for (let i = 0; i < 50; i++) await reader.read();
        await reader.cancel();
      } finally {
        warm.close();
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await node.send("rss");
    const idle = await node.json<IdleNodeMemory>(30_000);
    for (let i = 0; i < SLOW_CONNECTIONS; i++) {
      clients.push(new Client(ready.url, { encoding: "msgpack" }));
    }
    let read = 0;
    const pause = 1_000 / SLOW_READER_PER_SECOND;
    for (let i = 0; i < n; i++) {
      const stream = clients[i % SLOW_CONNECTIONS]!.stream("produce", [
        STREAM_CHUNK_BYTES,
        SLOW_PRODUCER_PER_SECOND,
      ]);
      readers.push((async () => {
        const reader = stream.getReader();
        while (!stop) {
          if ((await reader.read()).done) throw new Error("an endless stream ended");
          read++;
          await new Promise((resolve) => setTimeout(resolve, pause));
        }
        await reader.cancel();
      })());
    }
    const samples: BusyNodeMemory[] = [];
    for (let t = 0; t < sampleMs; t += SLOW_SAMPLE_EVERY_MS) {
      await new Promise((resolve) => setTimeout(resolve, SLOW_SAMPLE_EVERY_MS));
      await node.send("now");
      samples.push(await node.json<BusyNodeMemory>(30_000));
    }
    const peak = samples.reduce((a, b) => (b.rss > a.rss ? b : a));
    const mean = samples.reduce((sum, m) => sum + m.rss, 0) / samples.length;
    if (samples.some((m) => m.open !== n)) throw new Error("a stream ended while sampled");
    const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
    row = {
      name: `node serving ${n} streams to slow readers`,
      ceilingName: "the same node idle (after serving one stream)",
      metric: "rss",
      unit: "bytes",
      value: peak.rss,
      ceiling: idle.rss,
      ratio: peak.rss / idle.rss,
      target: SLOW_READERS_RSS,
      met: meets(SLOW_READERS_RSS, peak.rss, peak.rss / idle.rss),
      median: null,
      ceilingMedian: null,
      runs: [peak.rss],
      ceilingRuns: [idle.rss],
      ratios: [peak.rss / idle.rss],
      note: `peak RSS of ${samples.length} samples over ${sampleMs} ms (mean ${mb(mean)} MB), ` +
        `not collected first; ${n} streams of ${STREAM_CHUNK_BYTES / 1024} KiB chunks, ` +
        `producers ≤ ${SLOW_PRODUCER_PER_SECOND}/s, readers ${SLOW_READER_PER_SECOND}/s, ` +
        `${SLOW_CONNECTIONS} connections, the client's default credit (16 chunks, ` +
        `${STREAM_CREDIT_BYTES / 1024} KiB); at the peak heap ${mb(peak.heapUsed)} MB, ` +
        `external ${mb(peak.external)} MB, chunks held past credit ${peak.buffered}; idle heap ` +
        `${mb(idle.heapUsed)} MB, external ${mb(idle.external)} MB; ${read} chunks read`,
    };
  } finally {
    stop = true;
    await Promise.allSettled(readers);
    for (const client of clients) client.close();
    const status = await node.stop();
    if (!status.success) log(`bench/_idle_node.ts exited with ${JSON.stringify(status)}`);
  }
  return row;
}

async function run(options: Options): Promise<void> {
  const { rounds, idleConnections, slowStreams, slowSampleMs, ...phases } = options.quick
    ? QUICK
    : FULL;
  // Checked first, so a low limit fails the run before any measuring. This
  // process holds the idle clients' sockets, the idle node's process the
  // server's: each needs about one descriptor per connection.
  ensureFileLimit(idleConnections + 512, `the idle-connections figure (${idleConnections})`);
  const bytes = binaryPayload();
  const settings: Settings = {
    payloadBytes: new TextEncoder().encode(PAYLOAD).length,
    binaryBytes: bytes.length,
    idleConnections,
    ...phases,
    rounds,
  };
  const server = LineChild.deno(SERVER_SCRIPT);
  const childPids = [server.pid];
  const open: { close(): unknown }[] = [];
  let nats: NatsRig | null = null;
  let status: Deno.CommandStatus;
  try {
    const urls = await server.json<ServerUrls>(60_000);
    const connectRaw = async (url = urls.raw) => {
      const raw = await RawEchoClient.connect(url, MSGPACK_PROTOCOL);
      open.push(raw);
      return raw;
    };
    const connectClient = async () => {
      const client = new Client(urls.mpreg, { encoding: "msgpack" });
      open.push(client);
      await client.connect({ timeoutMs: 5_000 });
      return client;
    };
    const c: Connections = {
      raw: await connectRaw(),
      bare: await connectRaw(urls.bare),
      client: await connectClient(),
      raws: [],
      clients: [],
      direct: new Client(urls.double, { encoding: "msgpack" }),
      unrelayed: new Client(urls.unrelayed, { encoding: "msgpack" }),
      relay: await RawRelayClient.connect(urls.relay),
      relays: {
        a: urls.relay,
        b: urls.chainRelays[0]!,
        c: urls.chainRelays[1]!,
        d: urls.chainRelays[2]!,
      },
      statsUrl: `${urls.mpreg.replace(/^ws/, "http")}/stats`,
    };
    open.push(c.direct, c.relay, c.unrelayed);
    await c.unrelayed.connect({ timeoutMs: 5_000 });
    await c.direct.connect({ timeoutMs: 5_000 });
    for (let i = 0; i < CONNECTIONS; i++) {
      c.raws.push(await connectRaw());
      c.clients.push(await connectClient());
    }
    await checkAll(c, bytes);
    await warmUp(c, settings.runWarmupMs);

    const rows: Row[] = [];
    const skipped: Skipped[] = [];
    const only = options.only;
    const wanted = (name: string) =>
      only === null || only.some((text) => name.toLowerCase().includes(text));
    await measureAll(echoFigures(c), settings, rows, wanted);
    await measureAll(forwardedFigures(c), settings, rows, wanted);
    await measureAll(stepFigures(c), settings, rows, wanted);
    await measureAll(schemaFigures(c), settings, rows, wanted);
    await measureAll(nodeChainFigures(c, new Uint8Array(BLOB_BYTES)), settings, rows, wanted);
    if (wanted("10 MiB intermediate: bytes through A")) {
      log("measuring the bytes through A of a 10 MiB intermediate ...");
      rows.push(await blobBytes(c));
    }
    await measureAll(sandboxFigures(c), settings, rows, wanted);
    if (wanted("idle sandbox process")) {
      log("measuring an idle sandbox process ...");
      rows.push(await idleSandbox());
    }

    const found = !NATS_NAMES.some(wanted)
      ? null
      : options.nats
      ? await findNatsServer()
      : "--no-nats";
    if (found === null) {
      // Not selected by --only.
    } else if (typeof found === "string") {
      for (const name of NATS_NAMES) skipped.push({ name, reason: found });
      log(`skipping NATS: ${found}`);
    } else {
      log(`starting nats-server ${found.version} and a responder ...`);
      nats = await startNats(found.version);
      childPids.push(...nats.pids);
      await check("NATS request", () => nats!.request(PAYLOAD), isPayload);
      await check("NATS chain", () => nats!.chain(1), (got) => got === NODE_CHAIN_ANSWER);
      await measureAll(natsFigures(c, nats), settings, rows, wanted);
      await nats.close();
    }

    await measureAll(binaryFigures(c, bytes), settings, rows, wanted);
    await measureAll(streamFigures(c), settings, rows, wanted);

    if (wanted("idle connections")) {
      log(`measuring a node holding ${idleConnections} idle connections ...`);
      rows.push(await idleMemory(idleConnections, childPids));
    }
    if (wanted(`node serving ${slowStreams} streams to slow readers`)) {
      log(`measuring a node serving ${slowStreams} streams to slow readers ...`);
      rows.push(await slowReadersMemory(slowStreams, slowSampleMs, childPids));
    }

    let gossip: Record<string, number> | undefined;
    if (wanted("gossip simulator")) {
      log("running the gossip simulator ...");
      gossip = await gossipSimReport(options.quick);
    }
    const report: Report = {
      date: new Date().toISOString(),
      machine: machine(),
      settings,
      serverPid: urls.pid,
      childPids,
      nats: nats === null ? null : { server: nats.version, client: nats.client },
      rows,
      skipped,
      summary: summarize(rows, skipped),
    };
    if (gossip !== undefined) report.gossip = gossip;
    // deno-lint-ignore no-console
    console.log(formatTable(report));
    if (gossip !== undefined) {
      const width = Math.max(...Object.keys(gossip).map((k) => k.length));
      // deno-lint-ignore no-console
      console.log(
        `\ngossip simulator (deterministic, virtual time; rounds = gossip intervals)\n` +
          Object.entries(gossip).map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n"),
      );
    }
    // deno-lint-ignore no-console
    console.log(`\n${formatSummary(report.summary)}`);
    if (options.json !== null) await writeJson(options.json, report);
  } finally {
    await nats?.close();
    for (const connection of open) await connection.close();
    status = await server.stop();
  }
  if (!status.success) {
    throw new Error(`bench/_server.ts did not exit cleanly: ${JSON.stringify(status)}`);
  }
}

if (import.meta.main) {
  try {
    const options = parseBenchArgs(Deno.args);
    // deno-lint-ignore no-console
    if (options === null) console.log(USAGE);
    else await run(options);
  } catch (err) {
    if (err instanceof BenchUsageError) {
      // deno-lint-ignore no-console
      console.error(`bench: ${err.message}`);
      Deno.exit(2);
    }
    // deno-lint-ignore no-console
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    Deno.exitCode = 1;
  }
}
