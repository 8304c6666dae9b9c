// Copyright 2026 the mpreg authors. MIT license.
// The benchmark runs end to end in --quick mode and writes a complete JSON
// report. No timing is asserted: only that every figure is there and sane.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const FIGURES = [
  "echo, 1 at a time",
  "echo, 100 in flight",
  "forwarded A→B, 1 at a time",
  "forwarded A→B, 100 in flight",
  "sandboxed call, 100 in flight",
];

function assertPositive(value: unknown, what: string): void {
  assert.equal(typeof value, "number", `${what} is a number`);
  assert.ok(Number.isFinite(value) && (value as number) > 0, `${what} is positive: ${value}`);
}

async function serverGone(pid: number): Promise<boolean> {
  try {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    return !cmdline.includes("_server.ts");
  } catch {
    return true;
  }
}

Deno.test("bench/main.ts --quick writes every figure as a ratio to its ceiling", async () => {
  const json = await Deno.makeTempFile({ prefix: "mpreg-bench-", suffix: ".json" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("bench/main.ts", ROOT).href, "--quick", "--json", json],
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
    assert.deepEqual(report.rows.map((row: { name: string }) => row.name), FIGURES);
    for (const key of ["joinRounds99", "deadEverywhereRoundsMax", "loss5FalseDead", "wallMs"]) {
      assert.equal(typeof report.gossip[key], "number", `gossip.${key}`);
    }
    for (const row of report.rows) {
      for (const key of ["value", "ceiling", "ratio"]) {
        assertPositive(row[key], `${row.name}: ${key}`);
      }
      if (row.floor === null) {
        assert.equal(row.met, null, `${row.name}: met without a floor`);
      } else {
        assertPositive(row.floor, `${row.name}: floor`);
        assert.equal(typeof row.met, "boolean", `${row.name}: met`);
      }
      for (const side of ["best", "ceilingBest"]) {
        for (const key of ["ops", "opsPerSec", "p50Us", "p99Us"]) {
          assertPositive(row[side][key], `${row.name}: ${side}.${key}`);
        }
      }
      assert.equal(row.runs.length, report.settings.rounds);
      assert.equal(row.ceilingRuns.length, report.settings.rounds);
      assert.ok(stdout.includes(row.name), `the table shows ${row.name}`);
    }
    assert.match(stdout, /machine: /);
    if (Deno.build.os === "linux") {
      // main.ts waited for its server process, so it is gone by now.
      assertPositive(report.serverPid, "serverPid");
      assert.ok(
        await serverGone(report.serverPid),
        `bench server ${report.serverPid} still running`,
      );
    }
  } finally {
    await Deno.remove(json).catch(() => {});
  }
});
