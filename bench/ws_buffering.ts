// Copyright 2026 the mpreg authors. MIT license.
/**
 * What one WebSocket connection can make a node buffer before the node's
 * frame limit (`limits.maxFrameBytes`) ever sees it, measured on a node
 * process with a WebSocket client written by hand over TCP:
 *
 * 1. `fragments`: a frame without FIN, then continuation frames of 1 MiB,
 *    without FIN, up to `--mib` MiB: the node's resident memory on the way,
 *    whether the node answered anything, and what happens once the last
 *    frame (with FIN) arrives;
 * 2. `single`: one 60 MiB frame: the node's peak resident memory until it
 *    closes the connection;
 * 3. `header`: a frame header declaring 64 MiB (Deno's WebSocket server,
 *    fastwebsockets 0.8.1, refuses frames of 64 MiB or more at the header).
 *
 * Text frames on `mpreg.json.v1`, or binary ones on `mpreg.msgpack.v1` with
 * `--binary`. Each runs against a fresh node (`server.ts --port 0`). Memory
 * is read from `/proc/<pid>/status` (`VmRSS`, and `VmHWM` after resetting it
 * through `/proc/<pid>/clear_refs`), so this runs on Linux only.
 *
 * ```sh
 * deno run -A bench/ws_buffering.ts [--mib 256] [--binary] [fragments|single|header]...
 * ```
 *
 * @module
 */
import { ServerProcess } from "../tests/_helpers/process.ts";
import {
  frameHeader,
  OP,
  readFrame,
  sendFrame,
  upgrade,
  writeAll,
} from "../tests/_helpers/raw_ws.ts";

const MiB = 1024 * 1024;

function print(line: string): void {
  // deno-lint-ignore no-console
  console.log(line);
}
const mib = (bytes: number) => (bytes / MiB).toFixed(1);

function memory(pid: number): { rss: number; peak: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1]) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/** One connection to a fresh node, and what the node sends back on it. */
interface Session {
  pid: number;
  conn: Deno.TcpConn;
  /** Memory when the connection was open and idle. */
  before: { rss: number; peak: number };
  /** When the measured part started. */
  t0: number;
  /** What the node sent (frames, close, end), with the time. */
  events: string[];
  /** Settles when the node has closed the connection. */
  closed: Promise<void>;
  /** The node's log lines since `t0`, with their time. */
  log(): string;
}

async function session(
  binary: boolean,
  measure: (s: Session) => Promise<void>,
): Promise<void> {
  const node = new ServerProcess(["--port", "0"]);
  try {
    const url = await node.url;
    const { conn, status } = await upgrade(url, {
      "sec-websocket-protocol": binary ? "mpreg.msgpack.v1" : "mpreg.json.v1",
    });
    if (status !== 101) throw new Error(`upgrade answered ${status}`);
    await new Promise((r) => setTimeout(r, 300));
    const pid = node.child.pid;
    const before = memory(pid);
    await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5"); // peak := now
    const t0 = performance.now();
    const start = Date.now();
    const seen = node.lines.length;
    const events: string[] = [];
    const at = () => `${(performance.now() - t0).toFixed(0)} ms`;
    const closed = (async () => {
      try {
        for (;;) {
          const frame = await readFrame(conn);
          if (frame === null) return void events.push(`${at()}: the node closed the connection`);
          const code = (frame.payload[0]! << 8) | frame.payload[1]!;
          const reason = new TextDecoder().decode(frame.payload.subarray(2));
          events.push(
            frame.opcode === OP.close
              ? `${at()}: close ${code} ${JSON.stringify(reason)}`
              : `${at()}: frame opcode ${frame.opcode}`,
          );
        }
      } catch (err) {
        events.push(`${at()}: ${(err as Error).name}`);
      }
    })();
    const log = () =>
      node.lines.slice(seen).map((line) => {
        const record = JSON.parse(line);
        return `${Date.parse(record["@timestamp"]) - start} ms: ${record.message}`;
      }).join(" | ") || "(nothing)";
    await measure({ pid, conn, before, t0, events, closed, log });
    conn.close();
  } finally {
    await node.stop("SIGKILL");
  }
}

const settle = (closed: Promise<void>, ms: number) =>
  Promise.race([closed, new Promise((r) => setTimeout(r, ms))]);

function fragments(binary: boolean, total: number): Promise<void> {
  return session(binary, async ({ pid, conn, before, t0, events, closed, log }) => {
    print(
      `fragments (${binary ? "binary" : "text"}), limits.maxFrameBytes 4 MiB: ` +
        `node RSS ${mib(before.rss)} MiB before`,
    );
    print("  sent (MiB) | node RSS (MiB) | growth (MiB) | node answers so far");
    const chunk = new Uint8Array(MiB).fill(0x20); // spaces: valid UTF-8
    for (let sent = 1; sent <= total; sent++) {
      const opcode = sent > 1 ? OP.continuation : binary ? OP.binary : OP.text;
      await sendFrame(conn, opcode, false, chunk);
      if (sent === 4 || sent === 5 || sent % Math.max(1, Math.floor(total / 8)) === 0) {
        await new Promise((r) => setTimeout(r, 200));
        const now = memory(pid);
        print(
          `  ${String(sent).padStart(10)} | ${mib(now.rss).padStart(14)} | ${
            mib(now.rss - before.rss).padStart(12)
          } | ${events.length}`,
        );
      }
    }
    const fin = performance.now() - t0;
    await sendFrame(conn, OP.continuation, true, new TextEncoder().encode(" "));
    await settle(closed, 20_000);
    const after = memory(pid);
    print(`  FIN sent at ${fin.toFixed(0)} ms; then: ${events.join("; ")}`);
    print(`  node log: ${log()}`);
    print(`  node RSS peak ${mib(after.peak)} MiB, now ${mib(after.rss)} MiB`);
  });
}

function single(binary: boolean, size: number): Promise<void> {
  return session(binary, async ({ pid, conn, before, t0, events, closed }) => {
    await writeAll(conn, frameHeader(binary ? OP.binary : OP.text, true, size));
    const chunk = new Uint8Array(MiB).fill(0x20);
    for (let sent = 0; sent < size; sent += MiB) {
      await writeAll(conn, chunk.subarray(0, Math.min(MiB, size - sent)));
    }
    const sent = performance.now() - t0;
    await settle(closed, 20_000);
    await new Promise((r) => setTimeout(r, 200));
    const after = memory(pid);
    print(
      `single ${mib(size)} MiB ${binary ? "binary" : "text"} frame: node RSS ${
        mib(before.rss)
      } MiB before, peak ${mib(after.peak)} MiB (+${mib(after.peak - before.rss)} MiB), ${
        mib(after.rss)
      } MiB after; sent in ${sent.toFixed(0)} ms; ${events.join("; ")}`,
    );
  });
}

function header(size: number): Promise<void> {
  return session(true, async ({ pid, conn, before, events, closed }) => {
    await writeAll(conn, frameHeader(OP.binary, true, size));
    await writeAll(conn, new Uint8Array(MiB)).catch(() => {});
    await settle(closed, 5_000);
    print(
      `header declaring ${mib(size)} MiB: node peak +${mib(memory(pid).peak - before.rss)} MiB; ${
        events.join("; ") || "no answer in 5 s"
      }`,
    );
  });
}

if (import.meta.main) {
  const args = [...Deno.args];
  const at = args.indexOf("--mib");
  const total = at >= 0 ? Number(args.splice(at, 2)[1]) : 256;
  const b = args.indexOf("--binary");
  const binary = b >= 0;
  if (binary) args.splice(b, 1);
  print(`Deno ${Deno.version.deno}, V8 ${Deno.version.v8}`);
  for (const name of args.length > 0 ? args : ["fragments", "single", "header"]) {
    if (name === "fragments") await fragments(binary, total);
    else if (name === "single") await single(binary, 60 * MiB);
    else if (name === "header") await header(64 * MiB);
    else throw new Error(`unknown experiment ${name}`);
  }
}
