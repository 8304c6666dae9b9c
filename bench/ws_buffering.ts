// Copyright 2026 the mpreg authors. MIT license.
/**
 * What one WebSocket connection can make a node buffer before the node's
 * frame limit (`limits.maxFrameBytes`) ever sees it, measured on a node
 * process with a WebSocket client written by hand over TCP:
 *
 * 1. `fragments`: a text frame without FIN, then continuation frames of
 *    1 MiB, without FIN, up to `--mib` MiB; the node's resident memory after
 *    each step, whether the node answered anything, and what happens when the
 *    last frame (with FIN) arrives;
 * 2. `single`: one 60 MiB frame: the node's peak resident memory while it
 *    arrives and until the node closes the connection;
 * 3. `header`: a frame header declaring 64 MiB (Deno's WebSocket server,
 *    fastwebsockets 0.8.1, refuses frames of 64 MiB or more at the header).
 *
 * Each runs against a fresh node (`deno run -A server.ts --port 0`). Memory is
 * read from `/proc/<pid>/status` (`VmRSS`, and `VmHWM` after resetting it
 * through `/proc/<pid>/clear_refs`), so this runs on Linux only.
 *
 * ```sh
 * deno run -A bench/ws_buffering.ts [--mib 256] [--binary] [fragments|single|header]...
 * ```
 *
 * @module
 */
import {
  frameHeader,
  OP,
  readFrame,
  sendFrame,
  upgrade,
  writeAll,
} from "../tests/_helpers/raw_ws.ts";

const MiB = 1024 * 1024;

interface Node {
  child: Deno.ChildProcess;
  pid: number;
  url: string;
  /** Log lines of the node, with the time they arrived (ms since the node's start). */
  lines: Array<{ at: number; line: string }>;
}

async function startNode(): Promise<Node> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../server.ts", import.meta.url).pathname,
      "--port",
      "0",
      "--log-format",
      "json",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: Node["lines"] = [];
  const { promise, resolve } = Promise.withResolvers<string>();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        lines.push({ at: performance.now(), line });
        try {
          const url = JSON.parse(line)?.properties?.url;
          if (typeof url === "string") resolve(url);
        } catch {
          // not JSON
        }
      }
    }
  };
  void read(child.stdout);
  void read(child.stderr);
  return { child, pid: child.pid, url: await promise, lines };
}

async function stopNode(node: Node): Promise<void> {
  try {
    node.child.kill("SIGKILL");
  } catch {
    // gone
  }
  await node.child.status;
}

function status(pid: number): { rss: number; hwm: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1]) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

/** Resets the peak resident size (`VmHWM`) of a process to its current size. */
function resetPeak(pid: number): void {
  Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
}

const mib = (bytes: number) => (bytes / MiB).toFixed(1);

/** Reads the server's frames in the background; `events` records what arrived, and when. */
function watchServer(conn: Deno.Conn, events: string[], t0: number): Promise<void> {
  return (async () => {
    try {
      for (;;) {
        const frame = await readFrame(conn);
        const at = (performance.now() - t0).toFixed(0);
        if (frame === null) {
          events.push(`${at} ms: the node closed the TCP connection`);
          return;
        }
        if (frame.opcode === OP.close) {
          const code = frame.payload.length >= 2 ? (frame.payload[0]! << 8) | frame.payload[1]! : 0;
          const reason = new TextDecoder().decode(frame.payload.subarray(2));
          events.push(`${at} ms: close frame ${code} ${JSON.stringify(reason)}`);
        } else {
          events.push(`${at} ms: frame opcode ${frame.opcode}, ${frame.payload.length} bytes`);
        }
      }
    } catch (err) {
      events.push(`${(performance.now() - t0).toFixed(0)} ms: read failed: ${err}`);
    }
  })();
}

/** Text frames on mpreg.json.v1, or binary frames on mpreg.msgpack.v1 (`--binary`). */
let binary = false;

function open(url: string): ReturnType<typeof upgrade> {
  return upgrade(url, {
    "sec-websocket-protocol": binary ? "mpreg.msgpack.v1" : "mpreg.json.v1",
  });
}

async function fragments(total: number): Promise<void> {
  const node = await startNode();
  try {
    const before = status(node.pid);
    const { conn, status: code } = await open(node.url);
    if (code !== 101) throw new Error(`upgrade answered ${code}`);
    const t0 = performance.now();
    const events: string[] = [];
    const watching = watchServer(conn, events, t0);
    const chunk = new Uint8Array(MiB).fill(0x20); // spaces: valid UTF-8 text
    const seenLines = node.lines.length;
    console.log(
      `fragments (${binary ? "binary" : "text"}): node RSS before ${
        mib(before.rss)
      } MiB; limits.maxFrameBytes is 4 MiB`,
    );
    console.log("  sent (MiB) | node RSS (MiB) | RSS growth (MiB) | server frames so far");
    for (let sent = 1; sent <= total; sent++) {
      await sendFrame(conn, sent === 1 ? first() : OP.continuation, false, chunk);
      if (sent % Math.max(1, Math.floor(total / 8)) === 0 || sent === 4 || sent === 5) {
        await new Promise((r) => setTimeout(r, 200));
        const now = status(node.pid);
        console.log(
          `  ${String(sent).padStart(10)} | ${mib(now.rss).padStart(14)} | ${
            mib(now.rss - before.rss).padStart(16)
          } | ${events.length}`,
        );
      }
    }
    const finAt = performance.now();
    await sendFrame(conn, OP.continuation, true, new TextEncoder().encode(" "));
    await Promise.race([watching, new Promise((r) => setTimeout(r, 10_000))]);
    const after = status(node.pid);
    console.log(
      `  after FIN: ${events.join("; ")} (FIN sent at ${(finAt - t0).toFixed(0)} ms); ` +
        `peak RSS ${mib(after.hwm)} MiB, RSS now ${mib(after.rss)} MiB`,
    );
    const logged = node.lines.slice(seenLines).map((l) => {
      try {
        const record = JSON.parse(l.line);
        return `${(l.at - t0).toFixed(0)} ms: ${record.level} ${record.message}`;
      } catch {
        return l.line;
      }
    });
    console.log(`  node log meanwhile: ${logged.join(" | ") || "(nothing)"}`);
    conn.close();
  } finally {
    await stopNode(node);
  }
}

function first(): number {
  return binary ? OP.binary : OP.text;
}

async function singleFrame(size: number): Promise<void> {
  const node = await startNode();
  try {
    const { conn, status: code } = await open(node.url);
    if (code !== 101) throw new Error(`upgrade answered ${code}`);
    await new Promise((r) => setTimeout(r, 300));
    const before = status(node.pid);
    resetPeak(node.pid);
    const t0 = performance.now();
    const events: string[] = [];
    const watching = watchServer(conn, events, t0);
    let peak = before.rss;
    const sampler = setInterval(() => peak = Math.max(peak, status(node.pid).rss), 5);
    const chunk = new Uint8Array(MiB).fill(0x20);
    await writeAll(conn, frameHeader(first(), true, size));
    for (let sent = 0; sent < size; sent += MiB) {
      await writeAll(conn, chunk.subarray(0, Math.min(MiB, size - sent)));
    }
    const sentAt = performance.now() - t0;
    await Promise.race([watching, new Promise((r) => setTimeout(r, 10_000))]);
    await new Promise((r) => setTimeout(r, 200));
    clearInterval(sampler);
    const after = status(node.pid);
    console.log(
      `single ${mib(size)} MiB ${binary ? "binary" : "text"} frame: RSS before ${
        mib(before.rss)
      } MiB, peak ${mib(after.hwm)} MiB (+${mib(after.hwm - before.rss)} MiB; sampled peak +${
        mib(peak - before.rss)
      } MiB), after ${mib(after.rss)} MiB; sent in ${sentAt.toFixed(0)} ms; ${events.join("; ")}`,
    );
    conn.close();
  } finally {
    await stopNode(node);
  }
}

async function headerOnly(size: number): Promise<void> {
  const node = await startNode();
  try {
    const { conn, status: code } = await upgrade(node.url);
    if (code !== 101) throw new Error(`upgrade answered ${code}`);
    await new Promise((r) => setTimeout(r, 300));
    const before = status(node.pid);
    resetPeak(node.pid);
    const t0 = performance.now();
    const events: string[] = [];
    const watching = watchServer(conn, events, t0);
    await writeAll(conn, frameHeader(OP.binary, true, size));
    await writeAll(conn, new Uint8Array(MiB));
    await Promise.race([watching, new Promise((r) => setTimeout(r, 5_000))]);
    const after = status(node.pid);
    console.log(
      `header declaring ${mib(size)} MiB: peak +${mib(after.hwm - before.rss)} MiB; ${
        events.join("; ") || "no answer in 5 s"
      }`,
    );
    conn.close();
  } finally {
    await stopNode(node);
  }
}

if (import.meta.main) {
  const args = [...Deno.args];
  const at = args.indexOf("--mib");
  const total = at >= 0 ? Number(args.splice(at, 2)[1]) : 256;
  const b = args.indexOf("--binary");
  if (b >= 0) {
    binary = true;
    args.splice(b, 1);
  }
  const which = args.length > 0 ? args : ["fragments", "single", "header"];
  console.log(`Deno ${Deno.version.deno}, V8 ${Deno.version.v8}`);
  for (const name of which) {
    if (name === "fragments") await fragments(total);
    else if (name === "single") await singleFrame(60 * MiB);
    else if (name === "header") await headerOnly(64 * MiB);
    else throw new Error(`unknown experiment ${name}`);
  }
}
