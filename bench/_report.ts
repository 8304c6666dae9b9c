// Copyright 2026 the mpreg authors. MIT license.
/**
 * The bench's report: the machine it ran on, the settings, and one row per
 * figure, each an mpreg rate next to the ceiling measured in the same run.
 * Printed as a table and optionally written as JSON.
 *
 * @module
 */
import type { Measurement } from "./_measure.ts";

/** Where the bench ran. */
export interface Machine {
  /** `Deno.build.target`. */
  target: string;
  /** `navigator.hardwareConcurrency`. */
  cpus: number;
  /** The Deno version. */
  deno: string;
  /** The V8 version. */
  v8: string;
  /** `Deno.osRelease()`. */
  osRelease: string;
  /** The CPU model from /proc/cpuinfo, or `null` when unreadable. */
  cpuModel: string | null;
}

/** How the figures were measured. */
export interface Settings {
  /** Size of the payload string, in bytes. */
  payloadBytes: number;
  /** Size of the binary argument of the bytes-per-second figure, in bytes. */
  binaryBytes: number;
  /** Idle connections held by the node in the memory figure. */
  idleConnections: number;
  /** Warm-up before each measured phase, in milliseconds. */
  warmupMs: number;
  /** Warm-up of each hot path once, before the first figure, in milliseconds. */
  runWarmupMs: number;
  /** Each measured phase, in milliseconds. */
  measureMs: number;
  /** Rounds of each figure; the round with the median ratio is reported. */
  rounds: number;
}

/**
 * What a row's `value`, `ceiling` and `ratio` measure:
 * - `calls/s`: operations per second;
 * - `p50`: median latency in microseconds;
 * - `bytes/s`: payload bytes per second, one way;
 * - `rss`: resident memory in bytes, measured once;
 * - `bytes`: bytes carried (by a node's links), counted.
 */
export type Metric = "calls/s" | "p50" | "bytes/s" | "rss" | "bytes";

/** A row's target, from issue 6. */
export interface Target {
  /** Whether the bound applies to the ratio or to the absolute value. */
  of: "ratio" | "value";
  /** `>=`: at least the bound (a floor); `<=`: at most the bound. */
  op: ">=" | "<=";
  /** The bound, in the ratio's or the value's unit. */
  bound: number;
}

/** One figure: mpreg against its yardstick. */
export interface Row {
  /** The figure's name. */
  name: string;
  /** What the yardstick is (a raw echo, a single call, NATS, the idle node). */
  ceilingName: string;
  /** What `value`, `ceiling` and `ratio` measure. */
  metric: Metric;
  /** The unit of `value` and `ceiling`: `calls/s`, `µs`, `bytes/s` or `bytes`. */
  unit: string;
  /** mpreg's figure in the median round. */
  value: number;
  /** The yardstick's figure in the median round. */
  ceiling: number;
  /** `value / ceiling`: the median of the rounds' ratios. */
  ratio: number;
  /** The target, or `null` when issue 6 sets none for this row. */
  target: Target | null;
  /** Whether the target is met (`null` without a target). */
  met: boolean | null;
  /** mpreg's measured phase in the median round (`null` for the memory figure). */
  median: Measurement | null;
  /** The yardstick's measured phase in the median round (`null` for the memory figure). */
  ceilingMedian: Measurement | null;
  /** Every round's mpreg figure, in order. */
  runs: number[];
  /** Every round's yardstick figure, in order. */
  ceilingRuns: number[];
  /** Every round's ratio, in order. */
  ratios: number[];
  /** Anything else worth knowing about the row. */
  note?: string;
}

/** A figure that could not run here, and why. */
export interface Skipped {
  /** The figure's name. */
  name: string;
  /** Why it was skipped. */
  reason: string;
}

/** The targets met and missed. */
export interface Summary {
  /** Rows with a target. */
  targets: number;
  /** Rows meeting their target. */
  met: number;
  /** The rows missing their target, with figure and target. */
  missed: string[];
  /** The names of the skipped figures. */
  skipped: string[];
}

/** The whole report, as written to JSON. */
export interface Report {
  /** When the run finished, ISO 8601. */
  date: string;
  /** Where it ran. */
  machine: Machine;
  /** How it measured. */
  settings: Settings;
  /** The id of the server process (gone once the bench returns). */
  serverPid: number;
  /** The ids of every process the bench started (all gone once it returns). */
  childPids: number[];
  /** The NATS yardstick: server and client versions, or `null` when skipped. */
  nats: { server: string; client: string } | null;
  /** The figures. */
  rows: Row[];
  /** Figures that could not run on this machine. */
  skipped: Skipped[];
  /** The targets met and missed. */
  summary: Summary;
  /** The deterministic gossip simulator's figures (rounds, bytes, counts). */
  gossip?: Record<string, number>;
}

/**
 * Whether a figure meets a target.
 *
 * @param target The target, or `null`.
 * @param value The absolute figure.
 * @param ratio The ratio to the yardstick.
 * @returns `null` without a target, else whether it is met.
 */
export function meets(target: Target | null, value: number, ratio: number): boolean | null {
  if (target === null) return null;
  const x = target.of === "ratio" ? ratio : value;
  return target.op === ">=" ? x >= target.bound : x <= target.bound;
}

function cpuModel(): string | null {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    return /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? null;
  } catch {
    return null;
  }
}

/**
 * Describes this machine.
 *
 * @returns The machine's description.
 */
export function machine(): Machine {
  return {
    target: Deno.build.target,
    cpus: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    osRelease: Deno.osRelease(),
    cpuModel: cpuModel(),
  };
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const MB = 1e6;

function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) =>
    row.map((cell, i) => i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))
      .join("  ").trimEnd()
  ).join("\n");
}

/** The absolute figure as the table shows it: a rate, or memory. */
function amount(row: Row, value: number, m: Measurement | null): string {
  switch (row.metric) {
    case "bytes/s":
      return `${(value / MB).toFixed(0)} MB/s`;
    case "rss":
    case "bytes":
      return `${(value / MB).toFixed(1)} MB`;
    default:
      return m === null ? "-" : `${integer.format(m.opsPerSec)}/s`;
  }
}

function micros(m: Measurement | null, key: "p50Us" | "p99Us"): string {
  return m === null ? "-" : integer.format(m[key]);
}

/**
 * A target as the table shows it, e.g. `≥ 0.85`, `p50 ≤ 1.50`, `≤ 150 MB`.
 *
 * @param row The row.
 * @returns The target, or `-` without one.
 */
export function formatTarget(row: Row): string {
  const t = row.target;
  if (t === null) return "-";
  const op = t.op === ">=" ? "≥" : "≤";
  if (t.of === "value") {
    return row.metric === "rss" || row.metric === "bytes/s"
      ? `${op} ${integer.format(t.bound / MB)} MB${row.metric === "bytes/s" ? "/s" : ""}`
      : `${op} ${integer.format(t.bound)} ${row.unit}`;
  }
  return `${row.metric === "p50" ? "p50 " : ""}${op} ${t.bound.toFixed(2)}`;
}

/**
 * Counts the targets met and missed.
 *
 * @param rows The figures.
 * @param skipped The figures that did not run.
 * @returns The summary.
 */
export function summarize(rows: Row[], skipped: Skipped[]): Summary {
  const targeted = rows.filter((row) => row.target !== null);
  return {
    targets: targeted.length,
    met: targeted.filter((row) => row.met === true).length,
    missed: targeted.filter((row) => row.met === false).map((row) =>
      row.target!.of === "ratio"
        ? `${row.name} (${row.ratio.toFixed(2)}, target ${formatTarget(row)})`
        : `${row.name} (${amount(row, row.value, row.median)}, target ${formatTarget(row)})`
    ),
    skipped: skipped.map((s) => s.name),
  };
}

/**
 * The one-line summary of the targets met and missed.
 *
 * @param summary The summary.
 * @returns One line.
 */
export function formatSummary(summary: Summary): string {
  const parts = [`targets met: ${summary.met} of ${summary.targets}`];
  if (summary.missed.length > 0) parts.push(`missed: ${summary.missed.join("; ")}`);
  if (summary.skipped.length > 0) parts.push(`skipped: ${summary.skipped.join("; ")}`);
  return parts.join(" | ");
}

/**
 * Formats the report as a plain-text table.
 *
 * @param report The report.
 * @returns The table with a header naming the machine and settings.
 */
export function formatTable(report: Report): string {
  const m = report.machine;
  const s = report.settings;
  const header = [
    `machine: ${m.target}, ${m.cpus} CPUs, ${m.cpuModel ?? "unknown CPU"}, ` +
    `Deno ${m.deno} (V8 ${m.v8}), kernel ${m.osRelease}`,
    `payload: ${s.payloadBytes}-byte string (binary row: ${s.binaryBytes / 1024 / 1024} MiB ` +
    `Uint8Array), msgpack, one connection per side unless named; each path warmed up ` +
    `${s.runWarmupMs} ms one at a time and as long in flight first; ${s.rounds} rounds of ` +
    `${s.warmupMs} ms warm-up + ${s.measureMs} ms measured per side, in alternating order; ` +
    `each row is the round with the median ratio; MB = 10^6 bytes`,
    report.nats === null
      ? `NATS: skipped (${
        report.skipped.find((x) => x.name.includes("NATS"))?.reason ?? "not run"
      })`
      : `NATS: nats-server ${report.nats.server}, ${report.nats.client}`,
  ];
  const cells = [[
    "figure",
    "mpreg",
    "p50 µs",
    "p99 µs",
    "yardstick",
    "p50 µs",
    "p99 µs",
    "ratio",
    "of",
    "target",
    "met",
  ]];
  for (const row of report.rows) {
    cells.push([
      row.name,
      amount(row, row.value, row.median),
      micros(row.median, "p50Us"),
      micros(row.median, "p99Us"),
      amount(row, row.ceiling, row.ceilingMedian),
      micros(row.ceilingMedian, "p50Us"),
      micros(row.ceilingMedian, "p99Us"),
      row.ratio.toFixed(2),
      row.metric === "rss" ? "RSS" : row.metric,
      formatTarget(row),
      row.met === null ? "-" : row.met ? "yes" : "NO",
    ]);
  }
  for (const skipped of report.skipped) {
    cells.push([skipped.name, "skipped", "", "", "", "", "", "", "", "", ""]);
  }
  const notes = [
    ...report.rows.map((row) =>
      `  ${row.name}: yardstick = ${row.ceilingName}${row.note ? `; ${row.note}` : ""}`
    ),
    ...report.skipped.map((x) => `  ${x.name}: skipped, ${x.reason}`),
  ];
  return [...header, "", pad(cells), "", ...notes].join("\n");
}

/**
 * Writes the report as pretty-printed JSON.
 *
 * @param path The file to write.
 * @param report The report.
 */
export async function writeJson(path: string, report: Report): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify(report, null, 2) + "\n");
}
