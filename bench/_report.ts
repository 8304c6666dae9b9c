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
  /** Warm-up before each measured phase, in milliseconds. */
  warmupMs: number;
  /** Each measured phase, in milliseconds. */
  measureMs: number;
  /** Rounds of each figure; the best is reported. */
  rounds: number;
}

/** One figure: mpreg against its ceiling. */
export interface Row {
  /** The figure's name. */
  name: string;
  /** What the ceiling is. */
  ceilingName: string;
  /** The unit of `value` and `ceiling`. */
  unit: string;
  /** The best mpreg rate. */
  value: number;
  /** The best ceiling rate. */
  ceiling: number;
  /** `value / ceiling`. */
  ratio: number;
  /** The lowest acceptable ratio, or `null` when none is set. */
  floor: number | null;
  /** Whether the ratio meets the floor (`null` without a floor). */
  met: boolean | null;
  /** The best mpreg measured phase. */
  best: Measurement;
  /** The best ceiling measured phase. */
  ceilingBest: Measurement;
  /** Every round's mpreg rate, in order. */
  runs: number[];
  /** Every round's ceiling rate, in order. */
  ceilingRuns: number[];
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
  /** The figures. */
  rows: Row[];
  /** The deterministic gossip simulator's figures (rounds, bytes, counts). */
  gossip?: Record<string, number>;
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

function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) =>
    row.map((cell, i) => i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))
      .join("  ").trimEnd()
  ).join("\n");
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
    `payload: ${s.payloadBytes}-byte string, msgpack, one connection per side; ` +
    `${s.rounds} rounds of ${s.warmupMs} ms warm-up + ${s.measureMs} ms measured, best of each`,
  ];
  const cells = [[
    "figure",
    "mpreg/s",
    "p50 µs",
    "p99 µs",
    "ceiling/s",
    "p50 µs",
    "p99 µs",
    "ratio",
    "floor",
    "met",
  ]];
  for (const row of report.rows) {
    cells.push([
      row.name,
      integer.format(row.value),
      integer.format(row.best.p50Us),
      integer.format(row.best.p99Us),
      integer.format(row.ceiling),
      integer.format(row.ceilingBest.p50Us),
      integer.format(row.ceilingBest.p99Us),
      row.ratio.toFixed(2),
      row.floor === null ? "-" : row.floor.toFixed(2),
      row.met === null ? "-" : row.met ? "yes" : "NO",
    ]);
  }
  const ceilings = report.rows.map((row) => `  ${row.name}: ceiling = ${row.ceilingName}`);
  return [...header, "", pad(cells), "", ...ceilings].join("\n");
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
