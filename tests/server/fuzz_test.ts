// Copyright 2026 the mpreg authors. MIT license.
// Fuzzing a live node: tens of thousands of random and mutated frames in every
// encoding, plus the decoder bombs of anchors.md §4.4, while well-behaved
// clients keep calling. Seeded and bounded in frames and in time.
//
// The oracle: every bad frame gets an error response with an allowed code or a
// close with code 1007/1008/1009 and a reason, within FRAME_TIMEOUT_MS (each
// socket waits for that before its next frame); frames that may go unanswered
// by design (cancels, batches) are bracketed by probe requests; cancelled
// requests are never answered; the good clients never fail; at the end the
// node answers /healthz and new connections, nothing is left in flight, and
// no prototype was touched.
//
// Environment knobs (all optional): MPREG_FUZZ_SEED, MPREG_FUZZ_FRAMES (total
// frames), MPREG_FUZZ_MS (time budget of the random phase).
import assert from "node:assert/strict";
import { pack } from "msgpackr/pack";
import { Client, type RpcError, type Server } from "../../mod.ts";
import type { CallContext } from "../../mod.ts";
import { delay, startServer, waitFor } from "../_helpers/mod.ts";
import {
  type Answer,
  describeFrame,
  FrameFactory,
  type FuzzCase,
  type FuzzEncoding,
  type FuzzFrame,
  type FuzzResponse,
  FuzzSocket,
  Rng,
} from "../_helpers/fuzz.ts";

function envNumber(name: string, fallback: number): number {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name} is not a number: ${raw}`);
  return n;
}

const SEED = envNumber("MPREG_FUZZ_SEED", 0x5eed_2026) >>> 0;
const TOTAL_FRAMES = envNumber("MPREG_FUZZ_FRAMES", 25_000);
const BUDGET_MS = envNumber("MPREG_FUZZ_MS", 12_000);
/** No answer and no close within this time fails the test. */
const FRAME_TIMEOUT_MS = 2_000;
const ENCODINGS: readonly FuzzEncoding[] = ["msgpack", "json", "legacy"];
const SOCKETS_PER_ENCODING = 3;
/** Codes a bad frame may be answered with; 1002 (internal) would mean an untyped exception. */
const ALLOWED_ERROR_CODES = new Set([1001, 1003, 1004, 1006, 1008, 1011]);
const ALLOWED_CLOSE_CODES = new Set([1007, 1008, 1009]);

interface Stats {
  frames: Record<FuzzEncoding, number>;
  byKind: Record<string, number>;
  errors: Record<string, number>;
  closes: Record<string, number>;
  closeReasons: Record<string, number>;
  valid: number;
  silent: number;
  pipelinedCloses: number;
  sockets: number;
  failures: string[];
}

function newStats(): Stats {
  return {
    frames: { msgpack: 0, json: 0, legacy: 0 },
    byKind: {},
    errors: {},
    closes: {},
    closeReasons: {},
    valid: 0,
    silent: 0,
    pipelinedCloses: 0,
    sockets: 0,
    failures: [],
  };
}

function bump(table: Record<string, number>, key: string | number, by = 1): void {
  table[key] = (table[key] ?? 0) + by;
}

function fail(stats: Stats, message: string): void {
  if (stats.failures.length < 30) stats.failures.push(message);
}

/** Keeps a request in flight: sleeps up to 1 s unless cancelled (the fuzzer always cancels it). */
function fuzzSleep(this: CallContext, ms: unknown): Promise<number> {
  const n = Math.min(Math.max(Number(ms) || 0, 0), 1_000);
  const signal = this.signal;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(n);
    }, n);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Checks one answer to a bad frame and counts it. Returns false once the socket is gone. */
function judge(stats: Stats, answer: Answer, what: () => string): boolean {
  switch (answer.type) {
    case "response": {
      const { error } = answer.response;
      if (error === null) {
        stats.valid++;
      } else if (!ALLOWED_ERROR_CODES.has(error.code)) {
        bump(stats.errors, error.code);
        fail(stats, `error code ${error.code} (${error.message}) for ${what()}`);
      } else if (typeof error.message !== "string" || error.message === "") {
        fail(stats, `error ${error.code} without a message for ${what()}`);
      } else {
        bump(stats.errors, error.code);
      }
      return true;
    }
    case "close": {
      bump(stats.closes, answer.code);
      bump(stats.closeReasons, `${answer.code} ${answer.reason.replace(/\d+/g, "N").slice(0, 60)}`);
      if (!ALLOWED_CLOSE_CODES.has(answer.code) || answer.reason === "") {
        fail(stats, `close ${answer.code} "${answer.reason}" for ${what()}`);
      }
      return false;
    }
    case "garbage":
      fail(stats, `undecodable answer (${answer.what}) for ${what()}`);
      return true;
    case "timeout":
      fail(stats, `no answer and no close in ${FRAME_TIMEOUT_MS} ms for ${what()}`);
      return false;
  }
}

/** Sends one frame alone on a fresh socket: it must end in a proper close. */
async function replayAlone(
  url: string,
  encoding: FuzzEncoding,
  frame: FuzzFrame,
  stats: Stats,
  what: () => string,
): Promise<void> {
  const socket = new FuzzSocket(url, encoding);
  try {
    await socket.opened;
    stats.sockets++;
    socket.send(frame);
    // A batch may answer some of its messages before the one that closes.
    for (;;) {
      const answer = await socket.next(FRAME_TIMEOUT_MS);
      if (!judge(stats, answer, () => `replay of ${what()}`)) break;
    }
  } finally {
    await socket.close();
  }
}

/**
 * One socket's worth of fuzzing, in lockstep: each case's frames are sent,
 * then its answer (or the close) is awaited before the next case, and a
 * socket the node closed is replaced by a new one. A case that may get no
 * answer by design (a valid `cancel`) or sends several frames is bracketed
 * by probe requests, and the last probe's answer ends the wait.
 */
async function fuzzSocket(
  url: string,
  encoding: FuzzEncoding,
  worker: number,
  stats: Stats,
  shared: { sent: number; quota: number; deadline: number },
): Promise<void> {
  const factory = new FrameFactory(encoding, new Rng(SEED ^ Math.imul(worker + 1, 0x9e3779b1)));
  let socket: FuzzSocket | null = null;
  let probes = 0;
  const cancelled = new Set<string | number>();
  try {
    while (shared.sent < shared.quota && Date.now() < shared.deadline) {
      if (socket === null || !socket.open) {
        await socket?.close();
        socket = new FuzzSocket(url, encoding);
        await socket.opened;
        stats.sockets++;
        cancelled.clear();
      }
      const c: FuzzCase = factory.next();
      shared.sent += c.frames.length;
      stats.frames[encoding] += c.frames.length;
      bump(stats.byKind, c.kind, c.frames.length);
      const what = () =>
        `${encoding} ${c.kind} (seed ${SEED}, socket ${worker}): ${
          c.frames.map((f) => describeFrame(f)).join(" then ")
        }`;
      // Frames that may get no answer (a valid cancel) are bracketed by probe
      // requests; the last probe's answer ends the wait. The leading probe
      // keeps TCP from holding the frames back (Nagle and delayed ACKs add
      // 40 ms to a second small write that nothing answers).
      const bracket = c.mayBeSilent || c.frames.length > 1;
      const probe = (id: string) =>
        factory.encode({ role: "rpc", u: id, cmds: [{ name: "p", fun: "echo", args: [id] }] });
      const lead = `lead-${worker}-${probes}`;
      const tail = `tail-${worker}-${probes++}`;
      if (bracket) socket.send(probe(lead));
      socket.send(...c.frames);
      if (bracket) socket.send(probe(tail));
      if (c.cancelledId !== undefined) cancelled.add(c.cancelledId);
      const seen: FuzzResponse[] = [];
      let answers = 0;
      for (;;) {
        const answer = await socket.next(FRAME_TIMEOUT_MS);
        if (answer.type === "response") {
          const { u, r, error } = answer.response;
          if (bracket && (u === lead || u === tail)) {
            if (error !== null || (r as Record<string, unknown> | null)?.p !== u) {
              fail(stats, `probe answered ${JSON.stringify(answer.response)} around ${what()}`);
            }
            if (u === lead) continue;
            if (answers === 0) stats.silent++;
            break;
          }
          seen.push(answer.response);
          const duplicate = u === c.duplicateId && error?.code === 1004 &&
            seen.filter((x) => x.u === u).length === 1;
          if (cancelled.has(u as string | number) && !duplicate) {
            fail(stats, `a cancelled request was answered: ${JSON.stringify(answer.response)}`);
          }
        }
        answers++;
        if (
          bracket && answer.type === "close" && !answer.wasClean && c.frames.length === 1 &&
          (answer.code === 0 || answer.code === 1006)
        ) {
          // Deno 2.9 drops a server's close frame when another client frame
          // is already buffered behind the one that caused it (here: the tail
          // probe). The node did close; check the code and reason by sending
          // the frame again, alone, on a fresh socket.
          stats.pipelinedCloses++;
          await replayAlone(url, encoding, c.frames[0]!, stats, what);
          break;
        }
        if (!judge(stats, answer, what)) {
          if (answer.type === "timeout") await socket.close();
          break;
        }
        if (!bracket) break;
      }
      if (c.duplicateId !== undefined && socket.open) {
        const ok = seen.length === 1 && seen[0]!.u === c.duplicateId &&
          seen[0]!.error?.code === 1004;
        if (!ok) fail(stats, `duplicate id answered ${JSON.stringify(seen)}`);
      }
    }
  } finally {
    await socket?.close();
  }
}

interface Bomb {
  name: string;
  encoding: FuzzEncoding;
  frame: FuzzFrame;
  code: number;
  reason: RegExp;
  timed?: boolean;
}

function bytes(...parts: ArrayLike<number>[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function bombs(): Bomb[] {
  const MiB = 1024 * 1024;
  const envelope = (args: unknown[]) => ({
    role: "rpc",
    u: 1,
    cmds: [{ name: "a", fun: "echos", args }],
  });
  // A valid request whose only argument is `inner`, spliced in as raw msgpack.
  const wrapMsgpack = (inner: Uint8Array) => {
    const marker = pack(envelope(["\u0001MARK\u0001"]));
    const at = marker.indexOf(0xa6); // fixstr of 6 bytes: the marker
    return bytes(marker.subarray(0, at), inner, marker.subarray(at + 7));
  };
  const nils = new Uint8Array(1_000_000).fill(0xc0);
  const nilArray = bytes([0xdd, 0x00, 0x0f, 0x42, 0x40], nils);
  // A request whose argument holds `key` 40 levels down (44 with the envelope).
  const deepMsgpack = (key: string) => {
    const o: Record<string, unknown> = {};
    Object.defineProperty(o, key, { value: { polluted: "yes" }, enumerable: true });
    let v: unknown = o;
    for (let i = 0; i < 40; i++) v = { k: v };
    return pack(envelope([v])) as Uint8Array<ArrayBuffer>;
  };
  const deepJson = (key: string) => {
    let s = `{${key}:{"polluted":"yes"}}`;
    for (let i = 0; i < 40; i++) s = `{"k":${s}}`;
    return `{"role":"rpc","u":1,"cmds":[{"name":"a","fun":"echo","args":[${s}]}]}`;
  };
  return [
    {
      name: "1 MiB of 0x91 (nesting)",
      encoding: "msgpack",
      frame: new Uint8Array(MiB).fill(0x91),
      code: 1008,
      reason: /deeper than 64/,
      timed: true,
    },
    {
      name: "1 MiB of [ (nesting, json)",
      encoding: "json",
      frame: "[".repeat(MiB),
      code: 1008,
      reason: /deeper than 64/,
      timed: true,
    },
    {
      name: "1 MiB of [ (nesting, legacy binary)",
      encoding: "legacy",
      frame: new TextEncoder().encode("[".repeat(MiB)),
      code: 1008,
      reason: /deeper than 64/,
      timed: true,
    },
    {
      name: "nesting bomb inside a valid envelope",
      encoding: "msgpack",
      frame: wrapMsgpack(bytes(new Uint8Array(MiB).fill(0x91), [0xc0])),
      code: 1008,
      reason: /deeper than 64/,
      timed: true,
    },
    {
      name: "array32 length lie dd ff ff ff ff",
      encoding: "msgpack",
      frame: bytes([0xdd, 0xff, 0xff, 0xff, 0xff]),
      code: 1008,
      reason: /elements/,
    },
    {
      name: "map32 length lie df ff ff ff ff",
      encoding: "msgpack",
      frame: bytes([0xdf, 0xff, 0xff, 0xff, 0xff]),
      code: 1008,
      reason: /elements/,
    },
    {
      name: "str32 length lie db ff ff ff ff",
      encoding: "msgpack",
      frame: bytes([0xdb, 0xff, 0xff, 0xff, 0xff]),
      code: 1008,
      reason: /bytes, over/,
    },
    {
      name: "bin32 length lie c6 ff ff ff ff",
      encoding: "msgpack",
      frame: bytes([0xc6, 0xff, 0xff, 0xff, 0xff]),
      code: 1008,
      reason: /bytes, over/,
    },
    {
      name: "str32 lie under the limit, in an envelope",
      encoding: "msgpack",
      frame: wrapMsgpack(bytes([0xdb, 0x00, 0x10, 0x00, 0x00], [0x61, 0x62])),
      code: 1007,
      reason: /Truncated/,
    },
    {
      name: "array16 lie under the limit, in an envelope",
      encoding: "msgpack",
      frame: wrapMsgpack(bytes([0xdc, 0xff, 0xff], [0xc0])),
      code: 1007,
      reason: /Truncated/,
    },
    {
      name: "1 M nils (over maxElements)",
      encoding: "msgpack",
      frame: nilArray,
      code: 1008,
      reason: /more than 100000 elements/,
      timed: true,
    },
    {
      name: "1 M nils as the args of a valid request",
      encoding: "msgpack",
      frame: wrapMsgpack(nilArray),
      code: 1008,
      reason: /more than 100000 elements/,
    },
    {
      name: "1 M zeros in JSON args",
      encoding: "json",
      frame: JSON.stringify(envelope(new Array(1_000_000).fill(0))),
      code: 1008,
      reason: /more than 100000 elements/,
    },
    {
      name: "5 MB msgpack frame",
      encoding: "msgpack",
      frame: pack(envelope([new Uint8Array(5_000_000)])) as Uint8Array<ArrayBuffer>,
      code: 1009,
      reason: /over the limit/,
    },
    {
      name: "5 MB json frame",
      encoding: "json",
      frame: JSON.stringify(envelope(["x".repeat(5_000_000)])),
      code: 1009,
      reason: /over the limit/,
    },
    {
      name: "5 MB legacy binary frame",
      encoding: "legacy",
      frame: new TextEncoder().encode(JSON.stringify(envelope(["x".repeat(5_000_000)]))),
      code: 1009,
      reason: /over the limit/,
    },
    ...["__proto__", "constructor", "prototype"].flatMap((key): Bomb[] => [
      {
        name: `${key} key at depth 44 (msgpack)`,
        encoding: "msgpack",
        frame: deepMsgpack(key),
        code: 1007,
        reason: new RegExp(`forbidden key "${key}"`),
      },
      {
        name: `${key} key at depth 44 (json)`,
        encoding: "json",
        frame: deepJson(JSON.stringify(key)),
        code: 1007,
        reason: new RegExp(`forbidden key "${key}"`),
      },
      {
        name: `${key} key at depth 44, escaped, space before the colon (legacy)`,
        encoding: "legacy",
        // Every letter as a \u escape: "\u005f\u005f\u0070...".
        frame: deepJson(
          `"${
            [...key].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")
          }" `,
        ),
        code: 1007,
        reason: new RegExp(`forbidden key "${key}"`),
      },
    ]),
  ];
}

/** Sends each bomb on a fresh socket and checks the close; returns ms to close for the timed ones. */
async function explode(url: string, stats: Stats): Promise<Record<string, number>> {
  const timings: Record<string, number> = {};
  for (const bomb of bombs()) {
    const socket = new FuzzSocket(url, bomb.encoding);
    await socket.opened;
    stats.sockets++;
    stats.frames[bomb.encoding]++;
    bump(stats.byKind, "bomb");
    const start = performance.now();
    socket.send(bomb.frame);
    const answer = await socket.next(10_000);
    const ms = performance.now() - start;
    if (answer.type !== "close") {
      fail(stats, `bomb "${bomb.name}" got ${JSON.stringify(answer)}`);
    } else {
      bump(stats.closes, answer.code);
      bump(stats.closeReasons, `${answer.code} ${answer.reason.replace(/\d+/g, "N").slice(0, 60)}`);
      if (answer.code !== bomb.code || !bomb.reason.test(answer.reason)) {
        fail(stats, `bomb "${bomb.name}" closed ${answer.code} "${answer.reason}"`);
      }
    }
    if (bomb.timed) timings[bomb.name] = Math.round(ms * 10) / 10;
    await socket.close();
  }
  return timings;
}

/** Well-behaved calls until `stop` resolves; every result is checked. */
async function goodCaller(
  client: Client,
  id: number,
  stop: { done: boolean },
  tally: { calls: number; failures: string[] },
): Promise<void> {
  let i = 0;
  while (!stop.done) {
    const n = i++;
    try {
      if (n % 2 === 0) {
        const payload = { id, n, s: `call ${n}`, list: [n, "echo", null] };
        const value = await client.call("echo", [payload]);
        assert.deepEqual(value, payload);
      } else {
        const result = await client.request([
          { name: "first", fun: "echo", args: [{ n, tag: "x" }] },
          { name: "second", fun: "echos", args: ["first.n", "first", "literal"] },
        ]);
        assert.deepEqual(result, { second: [n, { n, tag: "x" }, "literal"] });
      }
      tally.calls++;
      // Keep calling, but leave the single JS thread mostly to the fuzzers.
      if (n % 4 === 3) await delay(1);
    } catch (err) {
      const e = err as RpcError;
      if (tally.failures.length < 10) tally.failures.push(`${e.name} ${e.code ?? ""} ${e.message}`);
    }
  }
}

Deno.test("fuzz: bad frames and decoder bombs never hurt the node or a good client", async () => {
  const protoBefore = Object.getOwnPropertyNames(Object.prototype).join();
  const started = performance.now();
  const server: Server = await startServer({ name: "fuzz" });
  server.register("fuzz_sleep", fuzzSleep as (...args: unknown[]) => unknown);
  const stats = newStats();
  const clients = [
    new Client(server.url, { timeoutMs: 10_000 }),
    new Client(server.url, { timeoutMs: 10_000, encoding: "json" }),
  ];
  const stop = { done: false };
  const tally = { calls: 0, failures: [] as string[] };
  try {
    await Promise.all(clients.map((c) => c.connect()));
    // Four calls in flight the whole time: two per client.
    const callers = [0, 1, 2, 3].map((i) => goodCaller(clients[i % 2]!, i, stop, tally));
    let timings: Record<string, number> = {};
    let fuzzMs = 0;
    try {
      timings = await explode(server.url, stats);
      const fuzzStart = performance.now();
      const shared = { sent: 0, quota: TOTAL_FRAMES, deadline: Date.now() + BUDGET_MS };
      await Promise.all(
        ENCODINGS.flatMap((encoding, e) =>
          Array.from(
            { length: SOCKETS_PER_ENCODING },
            (_, k) => fuzzSocket(server.url, encoding, e * SOCKETS_PER_ENCODING + k, stats, shared),
          )
        ),
      );
      fuzzMs = performance.now() - fuzzStart;
    } finally {
      stop.done = true;
      await Promise.all(callers);
    }

    const total = ENCODINGS.reduce((n, e) => n + stats.frames[e], 0);
    const summary = {
      seed: SEED,
      frames: { total, ...stats.frames },
      rate: `${Math.round(total / (fuzzMs / 1000))} frames/s`,
      valid: stats.valid,
      silentByDesign: stats.silent,
      closeFramesLostToPipelining: stats.pipelinedCloses,
      errors: stats.errors,
      closes: stats.closes,
      sockets: stats.sockets,
      goodCalls: tally.calls,
      bombMs: timings,
      byKind: stats.byKind,
      closeReasons: Object.fromEntries(
        Object.entries(stats.closeReasons).sort((a, b) => b[1] - a[1]).slice(0, 12),
      ),
      wallMs: Math.round(performance.now() - started),
    };
    // deno-lint-ignore no-console
    console.log(JSON.stringify(summary, null, 1));

    // Nothing leaked: every request the fuzzers left in flight was cancelled.
    await waitFor(() => server.inFlight === 0, 2_000, "no requests in flight");
    // The node is alive: health, a new connection, and no prototype was touched.
    const health = await fetch(`${server.url.replace("ws:", "http:")}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await health.json()).status, "ok");
    await using fresh = new Client(server.url, { timeoutMs: 5_000 });
    assert.equal(await fresh.call("echo", ["still here"]), "still here");
    assert.equal(Object.getOwnPropertyNames(Object.prototype).join(), protoBefore);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);

    assert.deepEqual(stats.failures, [], "every bad frame gets an allowed error or close");
    assert.deepEqual(tally.failures, [], "the good clients never fail");
    assert.ok(tally.calls > 0, "the good clients made calls");
    for (const encoding of ENCODINGS) {
      assert.ok(
        stats.frames[encoding] >= 300,
        `too few ${encoding} frames: ${stats.frames[encoding]}`,
      );
    }
    for (const [name, ms] of Object.entries(timings)) {
      assert.ok(ms < 1_000, `${name} took ${ms} ms to be rejected`);
    }
  } finally {
    stop.done = true;
    for (const c of clients) c.close();
    await server.stop();
  }
});
