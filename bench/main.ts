// Copyright 2026 the mpreg authors. MIT license.
/**
 * The mpreg benchmark: `deno run -A bench/main.ts [--quick] [--json PATH]`.
 *
 * This process is the load generator. It spawns `bench/_server.ts`, which
 * runs a raw WebSocket echo server and an mpreg node, and measures each
 * figure against a ceiling measured in the same run between the same two
 * processes: every speed is reported as a ratio, never as a bare time.
 *
 * Each figure alternates ceiling and mpreg phases (ceiling first in even
 * rounds, mpreg first in odd ones) so drift on a noisy machine hits both
 * sides evenly, and reports the best round of each side.
 *
 * The exit code never depends on the timings: 0 unless something broke.
 *
 * To add a figure (a forwarded call, a sandboxed call, NATS, 1 MiB payloads),
 * add an entry to `figures()`: a name, a ceiling runner, an mpreg runner and
 * an optional floor.
 *
 * @module
 */
import { Client, MSGPACK_PROTOCOL } from "../mod.ts";
import { inFlight, type Measurement, oneAtATime, type Phases } from "./_measure.ts";
import { RawEchoClient } from "./_raw_echo.ts";
import {
  formatTable,
  machine,
  type Report,
  type Row,
  type Settings,
  writeJson,
} from "./_report.ts";
import type { ServerUrls } from "./_server.ts";
import { gossipSimReport } from "./gossip_sim.ts";

const ROOT = new URL("../", import.meta.url);
const SERVER_SCRIPT = new URL("./_server.ts", import.meta.url);

const PAYLOAD_BYTES = 100;
/** 100 ASCII bytes; it does not start with "echo", so the client sends it unescaped. */
const PAYLOAD = "payload:" +
  "abcdefghijklmnopqrstuvwxyz0123456789".repeat(3).slice(0, PAYLOAD_BYTES - 8);
const IN_FLIGHT = 100;

const FULL = { warmupMs: 400, measureMs: 2_000, rounds: 2 };
const QUICK = { warmupMs: 200, measureMs: 300, rounds: 2 };

interface Options {
  quick: boolean;
  json: string | null;
}

const USAGE = "usage: deno run -A bench/main.ts [--quick] [--json PATH]";

function parseArgs(args: string[]): Options {
  const options: Options = { quick: false, json: null };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--quick") options.quick = true;
    else if (arg === "--json" && i + 1 < args.length) options.json = args[++i]!;
    else if (arg.startsWith("--json=")) options.json = arg.slice("--json=".length);
    else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return options;
}

/** The server process and how to stop it. */
interface ServerProcess {
  urls: ServerUrls;
  /** Closes its stdin, sends SIGTERM (SIGKILL after 5 s) and waits for its exit. */
  stop(): Promise<Deno.CommandStatus>;
}

async function stopChild(
  child: Deno.ChildProcess,
  drained: Promise<void>,
): Promise<Deno.CommandStatus> {
  try {
    await child.stdin.close();
  } catch {
    // Already closed.
  }
  try {
    child.kill("SIGTERM");
  } catch {
    // Already exited.
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => timer = setTimeout(resolve, 5_000, null));
  const status = await Promise.race([child.status, late]);
  clearTimeout(timer);
  if (status !== null) {
    await drained;
    return status;
  }
  try {
    child.kill("SIGKILL");
  } catch {
    // Exited just now.
  }
  const killed = await child.status;
  await drained;
  return killed;
}

async function spawnServer(): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SERVER_SCRIPT.href],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  // Keep reading after the first line so the pipe never fills; nothing else is expected.
  const drain = async () => {
    while (!(await reader.read()).done) {
      // Discard.
    }
  };
  try {
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("bench/_server.ts exited before printing its URLs");
      text += value;
    }
    const urls = JSON.parse(text.slice(0, text.indexOf("\n"))) as ServerUrls;
    const drained = drain();
    return { urls, stop: () => stopChild(child, drained) };
  } catch (err) {
    await stopChild(child, drain());
    throw err;
  }
}

/** One side of a figure: measures one phase. */
type Runner = (phases: Phases) => Promise<Measurement>;

/** A figure: mpreg against its ceiling. */
interface Figure {
  name: string;
  ceilingName: string;
  ceiling: Runner;
  mpreg: Runner;
  floor: number | null;
}

function figures(raw: RawEchoClient, client: Client): Figure[] {
  const rawEcho = () => raw.echo(PAYLOAD);
  const mpregEcho = () => client.call("echo", [PAYLOAD]);
  const forwarded = () => client.call("fecho", [PAYLOAD]);
  const inlineAdd = () => client.call("inline_add", [2, 3]);
  const sandboxAdd = () => client.call("sandbox_add", [2, 3]);
  return [
    {
      name: "echo, 1 at a time",
      ceilingName: "raw WebSocket echo, 1 at a time",
      ceiling: (phases) => oneAtATime(rawEcho, phases),
      mpreg: (phases) => oneAtATime(mpregEcho, phases),
      floor: 0.7,
    },
    {
      name: `echo, ${IN_FLIGHT} in flight`,
      ceilingName: `raw WebSocket echo, ${IN_FLIGHT} in flight`,
      ceiling: (phases) => inFlight(IN_FLIGHT, rawEcho, phases),
      mpreg: (phases) => inFlight(IN_FLIGHT, mpregEcho, phases),
      floor: 0.4,
    },
    {
      name: "forwarded A→B, 1 at a time",
      ceilingName: "raw WebSocket echo, 1 at a time",
      ceiling: (phases) => oneAtATime(rawEcho, phases),
      mpreg: (phases) => oneAtATime(forwarded, phases),
      floor: null,
    },
    {
      name: `forwarded A→B, ${IN_FLIGHT} in flight`,
      ceilingName: `raw WebSocket echo, ${IN_FLIGHT} in flight`,
      ceiling: (phases) => inFlight(IN_FLIGHT, rawEcho, phases),
      mpreg: (phases) => inFlight(IN_FLIGHT, forwarded, phases),
      floor: 0.35,
    },
    {
      name: `sandboxed call, ${IN_FLIGHT} in flight`,
      ceilingName: `the same function inline, ${IN_FLIGHT} in flight`,
      ceiling: (phases) => inFlight(IN_FLIGHT, inlineAdd, phases),
      mpreg: (phases) => inFlight(IN_FLIGHT, sandboxAdd, phases),
      floor: 0.5,
    },
  ];
}

function best(runs: Measurement[]): Measurement {
  return runs.reduce((a, b) => (b.opsPerSec > a.opsPerSec ? b : a));
}

async function measure(figure: Figure, settings: Settings): Promise<Row> {
  const phases = { warmupMs: settings.warmupMs, measureMs: settings.measureMs };
  const ceilingRuns: Measurement[] = [];
  const mpregRuns: Measurement[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    // ABBA: the ceiling first in even rounds, mpreg first in odd ones.
    if (round % 2 === 0) {
      ceilingRuns.push(await figure.ceiling(phases));
      mpregRuns.push(await figure.mpreg(phases));
    } else {
      mpregRuns.push(await figure.mpreg(phases));
      ceilingRuns.push(await figure.ceiling(phases));
    }
  }
  const mpreg = best(mpregRuns);
  const ceiling = best(ceilingRuns);
  const ratio = mpreg.opsPerSec / ceiling.opsPerSec;
  return {
    name: figure.name,
    ceilingName: figure.ceilingName,
    unit: "calls/s",
    value: mpreg.opsPerSec,
    ceiling: ceiling.opsPerSec,
    ratio,
    floor: figure.floor,
    met: figure.floor === null ? null : ratio >= figure.floor,
    best: mpreg,
    ceilingBest: ceiling,
    runs: mpregRuns.map((m) => m.opsPerSec),
    ceilingRuns: ceilingRuns.map((m) => m.opsPerSec),
  };
}

async function checkEcho(name: string, fn: () => Promise<unknown>): Promise<void> {
  const got = await fn();
  if (got !== PAYLOAD) {
    throw new Error(`${name} answered ${JSON.stringify(got)} instead of the payload`);
  }
}

async function run(options: Options): Promise<void> {
  const { rounds, ...phases } = options.quick ? QUICK : FULL;
  const settings: Settings = {
    payloadBytes: new TextEncoder().encode(PAYLOAD).length,
    ...phases,
    rounds,
  };
  const server = await spawnServer();
  let raw: RawEchoClient | null = null;
  let client: Client | null = null;
  let status: Deno.CommandStatus;
  try {
    raw = await RawEchoClient.connect(server.urls.raw, MSGPACK_PROTOCOL);
    client = new Client(server.urls.mpreg, { encoding: "msgpack" });
    await client.connect({ timeoutMs: 5_000 });
    await checkEcho("raw echo", () => raw!.echo(PAYLOAD));
    await checkEcho("mpreg echo", () => client!.call("echo", [PAYLOAD]));

    const rows: Row[] = [];
    for (const figure of figures(raw, client)) {
      // deno-lint-ignore no-console
      console.error(`measuring ${figure.name} ...`);
      rows.push(await measure(figure, settings));
    }
    // deno-lint-ignore no-console
    console.error("running the gossip simulator ...");
    const gossip = await gossipSimReport(options.quick);
    const report: Report = {
      date: new Date().toISOString(),
      machine: machine(),
      settings,
      serverPid: server.urls.pid,
      rows,
      gossip,
    };
    // deno-lint-ignore no-console
    console.log(formatTable(report));
    const width = Math.max(...Object.keys(gossip).map((k) => k.length));
    // deno-lint-ignore no-console
    console.log(
      `\ngossip simulator (deterministic, virtual time; rounds = gossip intervals)\n` +
        Object.entries(gossip).map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n"),
    );
    if (options.json !== null) await writeJson(options.json, report);
  } finally {
    client?.close();
    await raw?.close();
    status = await server.stop();
  }
  if (!status.success) {
    throw new Error(`bench/_server.ts did not exit cleanly: ${JSON.stringify(status)}`);
  }
}

if (import.meta.main) {
  try {
    await run(parseArgs(Deno.args));
  } catch (err) {
    // deno-lint-ignore no-console
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    Deno.exitCode = 1;
  }
}
