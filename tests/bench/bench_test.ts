// Copyright 2026 the mpreg authors. MIT license.
// The benchmark runs end to end in --quick mode and writes a complete JSON
// report. No timing is asserted: only that every figure is there and sane,
// that the NATS figures are either measured or skipped with a reason, and
// that every process the bench started is gone.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const NATS = [
  "echo vs NATS, 1 at a time",
  "echo vs NATS, 100 in flight",
  "3-node chain vs NATS, 1 at a time",
];
const BEFORE_NATS = [
  "echo, 1 at a time",
  "bare msgpack node, 1 at a time",
  "echo, 1 at a time, against the bare node",
  "echo, 16 in flight",
  "echo, 100 in flight",
  "echo, 8 connections, 100 in flight",
  "forwarded A→B, 1 at a time",
  "forwarded A→B, 100 in flight",
  "5-step request, 1 at a time",
  "5 separate calls, 1 at a time",
  "fan-out 32 + join, 1 at a time",
  "call with a small zod schema, 1 at a time",
  "call with a small valibot schema, 1 at a time",
  "raw relay: the chain's hops vs a forwarded call's, 1 at a time",
  "3-node chain through the entry node (relay_chains: false), 1 at a time",
  "3-node chain vs a raw relay of its hops, 1 at a time",
  "3-node chain, 1 at a time",
  "10 MiB intermediate B→C, 1 at a time",
  "10 MiB intermediate: bytes through A",
  "sandboxed call, 100 in flight",
  "sandbox cold start",
  "idle sandbox process",
];
// --quick holds 100 idle connections instead of 1,000, and serves 20 slow
// readers instead of 100.
const AFTER_NATS = [
  "1 MiB binary echo, 1 at a time",
  "stream of 64 KiB chunks, one node",
  "stream of 64 KiB chunks, forwarded A→B",
  "100 idle connections",
  "node serving 20 streams to slow readers",
];
const METRICS: Record<string, string> = {
  "5-step request, 1 at a time": "p50",
  "5 separate calls, 1 at a time": "p50",
  "fan-out 32 + join, 1 at a time": "p50",
  "call with a small zod schema, 1 at a time": "p50",
  "call with a small valibot schema, 1 at a time": "p50",
  "raw relay: the chain's hops vs a forwarded call's, 1 at a time": "p50",
  "3-node chain through the entry node (relay_chains: false), 1 at a time": "p50",
  "3-node chain vs a raw relay of its hops, 1 at a time": "p50",
  "3-node chain, 1 at a time": "p50",
  "10 MiB intermediate B→C, 1 at a time": "p50",
  "10 MiB intermediate: bytes through A": "bytes",
  "3-node chain vs NATS, 1 at a time": "p50",
  "sandbox cold start": "p50",
  "idle sandbox process": "rss",
  "echo vs NATS, 1 at a time": "p50",
  "1 MiB binary echo, 1 at a time": "bytes/s",
  "stream of 64 KiB chunks, one node": "bytes/s",
  "stream of 64 KiB chunks, forwarded A→B": "bytes/s",
  "100 idle connections": "rss",
  "node serving 20 streams to slow readers": "rss",
};
const UNITS: Record<string, string> = {
  "calls/s": "calls/s",
  "p50": "µs",
  "bytes/s": "bytes/s",
  "rss": "bytes",
  "bytes": "bytes",
};
// Issue 6's targets (and issue 13's for the sandbox), as the rows carry them.
const TARGETS: Record<string, string | null> = {
  "echo, 1 at a time": "ratio >= 0.85",
  "bare msgpack node, 1 at a time": null,
  "echo, 1 at a time, against the bare node": null,
  "echo, 16 in flight": null,
  "echo, 100 in flight": "ratio >= 0.8",
  "echo, 8 connections, 100 in flight": "ratio >= 0.8",
  "forwarded A→B, 1 at a time": null,
  "forwarded A→B, 100 in flight": "ratio >= 0.6",
  "5-step request, 1 at a time": "ratio <= 1.5",
  "5 separate calls, 1 at a time": null,
  "fan-out 32 + join, 1 at a time": null,
  "call with a small zod schema, 1 at a time": "ratio <= 1.15",
  "call with a small valibot schema, 1 at a time": "ratio <= 1.15",
  "raw relay: the chain's hops vs a forwarded call's, 1 at a time": null,
  "3-node chain through the entry node (relay_chains: false), 1 at a time": null,
  "3-node chain vs a raw relay of its hops, 1 at a time": null,
  "3-node chain, 1 at a time": "ratio <= 1.6",
  "10 MiB intermediate B→C, 1 at a time": "ratio <= 1.3",
  "10 MiB intermediate: bytes through A": "ratio <= 0.01",
  "3-node chain vs NATS, 1 at a time": "ratio <= 0.4",
  "sandboxed call, 100 in flight": "ratio >= 0.4",
  "sandbox cold start": null,
  "idle sandbox process": null,
  "echo vs NATS, 1 at a time": "ratio <= 1",
  "echo vs NATS, 100 in flight": "ratio >= 3",
  "1 MiB binary echo, 1 at a time": "ratio >= 0.7",
  "stream of 64 KiB chunks, one node": "ratio >= 0.7",
  "stream of 64 KiB chunks, forwarded A→B": "ratio >= 0.4",
  "100 idle connections": "value <= 150000000",
  "node serving 20 streams to slow readers": "ratio <= 2",
};

interface Measurement {
  ops: number;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
}

interface Row {
  name: string;
  ceilingName: string;
  metric: string;
  unit: string;
  value: number;
  ceiling: number;
  ratio: number;
  target: { of: string; op: string; bound: number } | null;
  met: boolean | null;
  median: Measurement | null;
  ceilingMedian: Measurement | null;
  runs: number[];
  ceilingRuns: number[];
  ratios: number[];
}

function assertPositive(value: unknown, what: string): void {
  assert.equal(typeof value, "number", `${what} is a number`);
  assert.ok(Number.isFinite(value) && (value as number) > 0, `${what} is positive: ${value}`);
}

async function gone(pid: number): Promise<boolean> {
  try {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    // An empty command line is a zombie: it exited, only its parent's wait is missing.
    return !/bench\/_|nats-server/.test(cmdline);
  } catch {
    return true;
  }
}

function checkRow(row: Row, rounds: number, stdout: string): void {
  const metric = METRICS[row.name] ?? "calls/s";
  assert.equal(row.metric, metric, `${row.name}: metric`);
  assert.equal(row.unit, UNITS[metric], `${row.name}: unit`);
  assert.equal(typeof row.ceilingName, "string");
  for (const key of ["value", "ceiling", "ratio"] as const) {
    assertPositive(row[key], `${row.name}: ${key}`);
  }
  assert.ok(Math.abs(row.ratio - row.value / row.ceiling) < 1e-9, `${row.name}: ratio`);
  const target = row.target === null
    ? null
    : `${row.target.of} ${row.target.op} ${row.target.bound}`;
  assert.equal(target, TARGETS[row.name], `${row.name}: target`);
  if (row.target === null) {
    assert.equal(row.met, null, `${row.name}: met without a target`);
  } else {
    assert.equal(typeof row.met, "boolean", `${row.name}: met`);
  }
  if (metric === "rss" || metric === "bytes") {
    assert.equal(row.median, null);
    assert.equal(row.ceilingMedian, null);
    assert.deepEqual(row.runs, [row.value]);
    assert.deepEqual(row.ceilingRuns, [row.ceiling]);
  } else {
    for (const side of ["median", "ceilingMedian"] as const) {
      for (const key of ["ops", "opsPerSec", "p50Us", "p99Us"] as const) {
        assertPositive(row[side]?.[key], `${row.name}: ${side}.${key}`);
      }
    }
    if (metric === "p50") assert.equal(row.value, row.median!.p50Us, `${row.name}: p50`);
    assert.equal(row.runs.length, rounds);
    assert.equal(row.ceilingRuns.length, rounds);
    assert.equal(row.ratios.length, rounds);
    // The row is the round with the median ratio.
    const i = row.ratios.indexOf(row.ratio);
    assert.ok(i >= 0, `${row.name}: the ratio is one round's`);
    assert.equal(row.value, row.runs[i], `${row.name}: value from the median round`);
    assert.equal(row.ceiling, row.ceilingRuns[i], `${row.name}: ceiling from the median round`);
    const below = row.ratios.filter((r) => r < row.ratio).length;
    const above = row.ratios.filter((r) => r > row.ratio).length;
    assert.ok(below <= (rounds - 1) >> 1 && above <= rounds >> 1, `${row.name}: median ratio`);
  }
  assert.ok(stdout.includes(row.name), `the table shows ${row.name}`);
}

Deno.test("bench/main.ts --quick writes every figure as a ratio to its yardstick", async () => {
  const json = await Deno.makeTempFile({ prefix: "mpreg-bench-", suffix: ".json" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--lock=tests/dev.lock",
        new URL("bench/main.ts", ROOT).href,
        "--quick",
        "--json",
        json,
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `bench exited ${out.code}\n${stdout}\n${stderr}`);

    const report = JSON.parse(await Deno.readTextFile(json));
    assert.equal(typeof report.machine.target, "string");
    assertPositive(report.machine.cpus, "machine.cpus");
    assertPositive(report.settings.measureMs, "settings.measureMs");
    assertPositive(report.settings.runWarmupMs, "settings.runWarmupMs");
    assert.equal(report.settings.binaryBytes, 1024 * 1024);
    assert.equal(report.settings.idleConnections, 100);
    for (
      const key of [
        "joinRounds99",
        "deadEverywhereRoundsMax",
        "loss5FalseDead",
        "partitionHealRounds100",
        "partitionFalseDead",
        "restartRefoundRounds100",
        "wallMs",
      ]
    ) {
      assert.equal(typeof report.gossip[key], "number", `gossip.${key}`);
    }

    // NATS is measured when nats-server is on PATH, else skipped with a reason.
    const names = report.rows.map((row: Row) => row.name);
    const natsRan = names.includes(NATS[0]);
    if (natsRan) {
      assert.deepEqual(names, [...BEFORE_NATS, ...NATS, ...AFTER_NATS]);
      assert.deepEqual(report.skipped, []);
      assert.equal(typeof report.nats.server, "string");
      assert.equal(typeof report.nats.client, "string");
      assert.match(stdout, /NATS: nats-server /);
    } else {
      assert.deepEqual(names, [...BEFORE_NATS, ...AFTER_NATS]);
      assert.equal(report.nats, null);
      assert.deepEqual(report.skipped.map((s: { name: string }) => s.name), NATS);
      for (const skipped of report.skipped) {
        assert.ok(skipped.reason.length > 0, `${skipped.name}: a reason`);
        assert.ok(stdout.includes(`${skipped.name}: skipped, ${skipped.reason}`));
      }
    }
    for (const row of report.rows) checkRow(row, report.settings.rounds, stdout);

    // The summary counts the targets, and its line ends the output.
    const targeted = report.rows.filter((row: Row) => row.target !== null);
    assert.equal(report.summary.targets, targeted.length);
    assert.equal(report.summary.met, targeted.filter((row: Row) => row.met).length);
    assert.equal(report.summary.missed.length, targeted.length - report.summary.met);
    assert.deepEqual(report.summary.skipped, natsRan ? [] : NATS);
    const last = stdout.trimEnd().split("\n").at(-1)!;
    assert.ok(
      last.startsWith(`targets met: ${report.summary.met} of ${report.summary.targets}`),
      `the last line is the summary: ${last}`,
    );
    assert.match(stdout, /machine: /);

    if (Deno.build.os === "linux") {
      // main.ts waited for every process it started, so they are all gone.
      assertPositive(report.serverPid, "serverPid");
      assert.equal(
        report.childPids.length,
        natsRan ? 8 : 3,
        "server, idle node, slow-readers node (+ nats-server and four responders)",
      );
      for (const pid of report.childPids) {
        assertPositive(pid, "child pid");
        assert.ok(await gone(pid), `bench child ${pid} still running`);
      }
    }
  } finally {
    await Deno.remove(json).catch(() => {});
  }
});
