// Copyright 2026 the mpreg authors. MIT license.
/**
 * Where a process spent its time, from V8's tick profiler, with the time in
 * V8's builtins and in native code (V8's runtime, Deno's ops, libc) charged
 * to the JavaScript line that called it. `--cpu-prof` folds that time into
 * the calling function, which hides a runtime call inside one line; this is
 * how the costs in docs/performance.md were found.
 *
 * ```sh
 * deno run -A --v8-flags=--prof,--log-source-position,--logfile=/tmp/node.log,--no-logfile-per-isolate bench/_server.ts
 * # ...load it, stop it...
 * deno run -A bench/ticks.ts /tmp/node.log [--top 30] [--only TEXT]
 * ```
 *
 * It prints the ticks by what was running (`self`), then the ticks outside
 * JavaScript by what ran and the nearest JavaScript frame with its source
 * line (`--only` keeps the frames whose name holds TEXT). Source lines of
 * local modules are read from Deno's cache of transpiled files, so they
 * are lines of the JavaScript that ran.
 *
 * @module
 */

/** A named range of code. */
interface Code {
  start: number;
  size: number;
  name: string;
}

/** Source positions of one compiled function: pc offset → source offset. */
interface Positions {
  script: number;
  pcs: number[];
  offsets: number[];
}

/** One sample: where the thread was and the return addresses above it. */
interface Tick {
  pc: number;
  idle: boolean;
  stack: number[];
}

/** What `bench/ticks.ts` reads from a log. */
export interface TickLog {
  /** Ticks taken. */
  ticks: Tick[];
  /** The name of the code at `pc`: `JS:…`, `Builtin:…`, or `[library]`. */
  nameAt(pc: number): string;
  /** `file:line` of the source that `pc` (a return address) was in, if known. */
  lineAt(pc: number): string | null;
}

const VM_IDLE = 8;

/**
 * Parses a V8 `--prof` log.
 *
 * @param text The log.
 * @param sourceOf Reads a script's source by its URL (for `lineAt`).
 * @returns The ticks and lookups.
 *
 * @example
 * ```ts ignore
 * const log = parseTickLog(await Deno.readTextFile("/tmp/node.log"), () => null);
 * console.log(log.ticks.length);
 * ```
 */
export function parseTickLog(text: string, sourceOf: (url: string) => string | null): TickLog {
  const codes = new Map<number, Code>();
  const libs: Code[] = [];
  const positions = new Map<number, Positions>();
  const scriptUrls = new Map<number, string>();
  const scriptSources = new Map<number, string>();
  const ticks: Tick[] = [];
  for (const line of text.split("\n")) {
    const parts = line.split(",");
    switch (parts[0]) {
      case "shared-library": {
        const start = parseInt(parts[2]!, 16);
        libs.push({ start, size: parseInt(parts[3]!, 16) - start, name: `[${base(parts[1]!)}]` });
        break;
      }
      case "code-creation": {
        const start = parseInt(parts[4]!, 16);
        if (Number.isNaN(start)) break;
        codes.set(start, { start, size: Number(parts[5]), name: `${parts[1]}:${parts[6]}` });
        break;
      }
      case "code-move": {
        const from = parseInt(parts[1]!, 16);
        const to = parseInt(parts[2]!, 16);
        const code = codes.get(from);
        if (code !== undefined) {
          codes.delete(from);
          codes.set(to, { ...code, start: to });
        }
        const moved = positions.get(from);
        if (moved !== undefined) positions.set(to, moved);
        break;
      }
      case "code-source-info": {
        const start = parseInt(parts[1]!, 16);
        const script = Number(parts[2]);
        const pcs: number[] = [];
        const offsets: number[] = [];
        // "C<pc offset>O<source offset>", with an "I<n>" for inlined code.
        for (const m of (parts[5] ?? "").matchAll(/C(\d+)O(\d+)(I\d+)?/g)) {
          if (m[3] !== undefined) continue; // an inlined function's own script is not known here
          pcs.push(Number(m[1]));
          offsets.push(Number(m[2]));
        }
        positions.set(start, { script, pcs, offsets });
        const url = /(file:\/\/\S+?):\d+:\d+/.exec(codes.get(start)?.name ?? "")?.[1];
        if (url !== undefined) scriptUrls.set(script, url);
        break;
      }
      case "script-source":
        if (!scriptUrls.has(Number(parts[1]))) scriptUrls.set(Number(parts[1]), parts[2]!);
        scriptSources.set(
          Number(parts[1]),
          parts.slice(3).join(",").replaceAll("\\x2C", ",").replaceAll("\\n", "\n"),
        );
        break;
      case "tick":
        ticks.push({
          pc: parseInt(parts[1]!, 16),
          idle: Number(parts[5]) === VM_IDLE,
          stack: parts.slice(6).filter((p) => p.startsWith("0x")).map((p) => parseInt(p, 16)),
        });
        break;
    }
  }
  const sorted = [...codes.values()].sort((a, b) => a.start - b.start);
  const find = (pc: number): Code | undefined => {
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]!.start <= pc) lo = mid + 1;
      else hi = mid - 1;
    }
    const code = sorted[hi];
    return code !== undefined && pc < code.start + code.size ? code : undefined;
  };
  const libAt = (pc: number) => libs.find((l) => pc >= l.start && pc < l.start + l.size);
  const delta = builtinDelta(ticks, sorted, find, libAt);
  const nameAt = (pc: number): string => {
    const code = find(pc);
    if (code !== undefined) return code.name;
    const lib = libAt(pc);
    if (lib === undefined) return "[unknown]";
    const builtin = delta === 0 ? undefined : find(pc - delta);
    return builtin !== undefined && !builtin.name.startsWith("JS:") ? builtin.name : lib.name;
  };
  const lineAt = (pc: number): string | null => {
    const code = find(pc);
    const info = code === undefined ? undefined : positions.get(code.start);
    if (code === undefined || info === undefined) return null;
    const offset = pc - code.start - 1; // a return address is just past the call
    let at = -1;
    for (let i = 0; i < info.pcs.length && info.pcs[i]! <= offset; i++) at = info.offsets[i]!;
    if (at < 0) return null;
    const url = scriptUrls.get(info.script);
    const source = scriptSources.get(info.script) ?? (url === undefined ? null : sourceOf(url));
    if (source === null || at > source.length) return null;
    const line = source.slice(0, at).split("\n").length;
    return `${url === undefined ? `script ${info.script}` : base(url)}:${line}`;
  };
  return { ticks, nameAt, lineAt };
}

/**
 * V8 logs its builtins where it copied them, but ticks can land in the copy
 * inside the executable: every builtin is then off by one distance. It is
 * found as the distance that puts most such ticks inside a builtin.
 */
function builtinDelta(
  ticks: Tick[],
  sorted: Code[],
  find: (pc: number) => Code | undefined,
  libAt: (pc: number) => Code | undefined,
): number {
  const builtins = sorted.filter((c) => c.name.startsWith("Builtin:"));
  const votes = new Map<number, number>();
  let sampled = 0;
  for (const tick of ticks) {
    if (sampled >= 300 || tick.idle || find(tick.pc) !== undefined || !libAt(tick.pc)) continue;
    sampled++;
    // Both copies are page-aligned: a candidate keeps the tick's page offset.
    const page = tick.pc % 4096;
    for (const b of builtins) {
      const first = b.start - (b.start % 4096) + page;
      for (let at = first < b.start ? first + 4096 : first; at < b.start + b.size; at += 4096) {
        const d = tick.pc - at;
        votes.set(d, (votes.get(d) ?? 0) + 1);
      }
    }
  }
  let best = 0;
  let bestVotes = 0;
  for (const [d, n] of votes) if (n > bestVotes) [best, bestVotes] = [d, n];
  // A real distance explains many ticks; chance alignments explain a few.
  return bestVotes >= Math.max(5, sampled / 10) ? best : 0;
}

function base(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * The report `bench/ticks.ts` prints.
 *
 * @param log A parsed log.
 * @param top Rows per table.
 * @param only Keep rows whose JavaScript frame holds this text.
 * @returns The report's lines.
 */
export function report(log: TickLog, top: number, only = ""): string[] {
  const busy = log.ticks.filter((t) => !t.idle);
  const self = new Map<string, number>();
  const outside = new Map<string, number>();
  for (const tick of busy) {
    const name = log.nameAt(tick.pc);
    self.set(name, (self.get(name) ?? 0) + 1);
    if (name.startsWith("JS:")) continue;
    // The nearest JavaScript frame: the line it was running.
    const frame = tick.stack.find((pc) => log.nameAt(pc).startsWith("JS:"));
    const caller = frame === undefined ? "(no JavaScript frame)" : log.nameAt(frame);
    if (!caller.includes(only)) continue;
    const line = frame === undefined ? null : log.lineAt(frame);
    // "JS:name url:line:column" is shortened to the name and the line that ran.
    const where = frame === undefined ? caller : caller.split(" ")[0];
    const key = `${name}  <-  ${where}${line === null ? "" : ` (${line})`}`;
    outside.set(key, (outside.get(key) ?? 0) + 1);
  }
  const table = (counts: Map<string, number>): string[] =>
    [...counts].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, n]) =>
      `${String(n).padStart(6)} ${(100 * n / busy.length).toFixed(1).padStart(5)} %  ${name}`
    );
  return [
    `${busy.length} busy ticks (${log.ticks.length - busy.length} idle)`,
    "",
    "by what was running:",
    ...table(self),
    "",
    "outside JavaScript, by the JavaScript frame nearest to it:",
    ...table(outside),
  ];
}

if (import.meta.main) {
  const args = [...Deno.args];
  const flag = (name: string, fallback: string): string => {
    const i = args.indexOf(name);
    if (i < 0) return fallback;
    const [, value] = args.splice(i, 2);
    return value ?? fallback;
  };
  const top = Number(flag("--top", "30"));
  const only = flag("--only", "");
  const path = args[0];
  if (path === undefined) {
    // deno-lint-ignore no-console
    console.error("usage: deno run -A bench/ticks.ts LOG [--top N] [--only TEXT]");
    Deno.exit(2);
  }
  // Deno keeps the JavaScript it ran for local modules here.
  const cache = Deno.env.get("DENO_DIR") ??
    `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`}/deno`;
  const sourceOf = (url: string): string | null => {
    try {
      return Deno.readTextFileSync(`${cache}/gen/file${new URL(url).pathname}.js`);
    } catch {
      return null;
    }
  };
  // deno-lint-ignore no-console
  console.log(report(parseTickLog(await Deno.readTextFile(path), sourceOf), top, only).join("\n"));
}
