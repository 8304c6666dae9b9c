// Copyright 2026 the mpreg authors. MIT license.
// Fuzzing helpers: a seeded PRNG, generators of bad (and sometimes valid)
// frames in every encoding, and a raw socket that answers one frame at a time.
import { pack } from "msgpackr/pack";
import { unpack } from "msgpackr/unpack";
import { mulberry32 } from "../../testing/random.ts";

/** The three wire encodings a client can pick. */
export type FuzzEncoding = "msgpack" | "json" | "legacy";

/** The subprotocol to offer for an encoding (`undefined`: none, the original JSON). */
export function protocolOf(encoding: FuzzEncoding): string | undefined {
  return encoding === "msgpack"
    ? "mpreg.msgpack.v1"
    : encoding === "json"
    ? "mpreg.json.v1"
    : undefined;
}

/** A small, fast, seeded PRNG ({@linkcode mulberry32}) with helpers for fuzzing. */
export class Rng {
  /** A float in [0, 1). */
  readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** A length biased towards small values, up to `max`. */
  length(max: number): number {
    const r = this.next();
    if (r < 0.6) return this.int(Math.min(16, max + 1));
    if (r < 0.9) return this.int(Math.min(256, max + 1));
    return this.int(max + 1);
  }
}

/** A frame as the fuzzer sends it. */
export type FuzzFrame = string | Uint8Array<ArrayBuffer>;

/** What the generator produced, and what the socket should expect. */
export interface FuzzCase {
  /** The generator that made it, for the summary. */
  kind: string;
  /** The frames to send back to back (usually one). */
  frames: FuzzFrame[];
  /**
   * Whether the frames may get no answer by design (a `cancel`, a batch):
   * the socket then brackets them with probe requests and waits for the last
   * probe's answer.
   */
  mayBeSilent: boolean;
  /** For a duplicate-id pair: the id both requests carry; the second must get 1004. */
  duplicateId?: string | number;
  /** For a cancel of a request in flight: its id (it must never be answered). */
  cancelledId?: string | number;
}

const text = new TextEncoder();
const utf8 = new TextDecoder();

// Strings a mutation plants: step names, reserved words, references, junk.
const STRINGS = [
  "",
  "rpc",
  "cancel",
  "RPC",
  "echo",
  "echos",
  "a",
  "b",
  "a.k",
  "a.0",
  "a.constructor",
  "a.__proto__",
  "a.toString",
  "a.length",
  "b.x.y.z",
  "constructor",
  "prototype",
  "__proto__",
  "toString",
  "hasOwnProperty",
  "$literal",
  "x".repeat(300),
  "é\u0000\uffff",
  "\ud800",
  "../../etc/passwd",
  "a".repeat(70) + ".".repeat(70),
];

// Values that are wrong for at least one field, in both JSON and msgpack.
const JSON_WEIRD: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  -0.000001,
  2 ** 53,
  -(2 ** 53),
  2 ** 64,
  1e308,
  -1e308,
  5e-324,
  ...STRINGS,
  [],
  {},
  [[[]]],
  [null],
  [1, "two", { three: 3 }],
  { a: { b: [] } },
  { role: "rpc" },
  { $literal: "a" },
  { constructor: { prototype: { polluted: "yes" } } },
  { prototype: { polluted: "yes" } },
  { toString: 1, valueOf: 2, hasOwnProperty: 3 },
];

// Values only msgpack can carry: bytes, dates, NaN, infinities, -0.
const MSGPACK_WEIRD: unknown[] = [
  ...JSON_WEIRD,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  new Uint8Array([1, 2, 3]),
  new Uint8Array(0),
  new Date(0),
  new Date(8.64e15),
];

// Byte sequences that are interesting to msgpack decoders.
const MSGPACK_TOKENS: number[][] = [
  [0xc1], // never used
  [0xc0],
  [0xc2],
  [0xc3],
  [0x91],
  [0x80],
  [0x90],
  [0xa0],
  [0xdc, 0xff, 0xff],
  [0xdd, 0xff, 0xff, 0xff, 0xff], // array32 length lie
  [0xdf, 0xff, 0xff, 0xff, 0xff], // map32 length lie
  [0xdb, 0xff, 0xff, 0xff, 0xff], // str32 length lie
  [0xc6, 0xff, 0xff, 0xff, 0xff], // bin32 length lie
  [0xc9, 0x00, 0x00, 0x00, 0x01, 0x05, 0x00], // ext32 of another type
  [0xd4, 0x01, 0x00], // fixext1
  [0xd6, 0xff, 0x00, 0x00, 0x00, 0x00], // timestamp32
  [0xd7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // timestamp64, huge
  [0xc7, 0x0c, 0xff, ...new Array(12).fill(0xff)], // timestamp96, huge
  [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // uint64 max
  [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0], // int64 min
  [0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], // float64 NaN
  [0xca, 0x7f, 0x80, 0, 0], // float32 infinity
  [0xa9, ...text.encode("__proto__")],
  [0xab, ...text.encode("constructor")],
];

const JSON_TOKENS = [
  "{",
  "}",
  "[",
  "]",
  ",",
  ":",
  '"',
  "\\",
  "\\u0000",
  "\\ud800",
  "null",
  "true",
  "-",
  "1e999",
  "-0",
  "NaN",
  "Infinity",
  '"__proto__":',
  '"\\u005f_proto__":',
  '"constructor":',
  "\u0000",
  "\ud800",
  "\u2028",
  "/*",
  "[".repeat(70),
];

/** Builds frames for one encoding. */
export class FrameFactory {
  readonly encoding: FuzzEncoding;
  readonly #rng: Rng;
  #counter = 0;
  readonly #big = new Map<number, FuzzFrame>();

  constructor(encoding: FuzzEncoding, rng: Rng) {
    this.encoding = encoding;
    this.#rng = rng;
  }

  /** Encodes a message as a client of this encoding would. */
  encode(message: unknown): FuzzFrame {
    if (this.encoding === "msgpack") return pack(message) as Uint8Array<ArrayBuffer>;
    const json = JSON.stringify(message) ?? "null";
    // The original JSON may arrive in text or binary frames.
    return this.encoding === "legacy" && this.#rng.chance(0.5) ? text.encode(json) : json;
  }

  /** The next case. */
  next(): FuzzCase {
    const r = this.#rng.next();
    if (r < 0.14) return this.#random();
    if (r < 0.24) return this.#randomValue();
    if (r < 0.56) return this.#bytes();
    if (r < 0.9) return this.#fields();
    return this.#special();
  }

  #id(): string | number {
    const rng = this.#rng;
    const n = this.#counter++;
    return rng.chance(0.5) ? n : `id-${n}`;
  }

  /** A valid request (or cancel) that mutations start from. */
  valid(): Record<string, unknown> {
    const rng = this.#rng;
    const u = this.#id();
    switch (rng.int(4)) {
      case 0:
        return { role: "rpc", u, cmds: [{ name: "a", fun: "echo", args: [this.#value(2)] }] };
      case 1:
        return {
          role: "rpc",
          u,
          cmds: [
            { name: "a", fun: "echo", args: [{ k: this.#value(1) }], kwargs: {}, locs: [] },
            {
              name: "b",
              fun: "echos",
              args: ["a", "a.k", { $literal: "a" }],
              kwargs: {},
              locs: [],
            },
          ],
          timeout: 5000,
          all: rng.chance(0.5),
        };
      case 2:
        return {
          role: "rpc",
          u,
          cmds: [{ name: "e", fun: "echos", args: [1, "x"], kwargs: { k: [1, 2] }, locs: [] }],
          timeout: 1000,
        };
      default:
        return { role: "cancel", u };
    }
  }

  #weird(): unknown {
    const rng = this.#rng;
    if (rng.chance(0.15)) return this.#value(3);
    return structuredCloneSafe(rng.pick(this.encoding === "msgpack" ? MSGPACK_WEIRD : JSON_WEIRD));
  }

  /** A random value tree, at most `depth` containers deep. */
  #value(depth: number): unknown {
    const rng = this.#rng;
    const msgpack = this.encoding === "msgpack";
    const r = rng.int(depth > 0 ? 12 : 9);
    switch (r) {
      case 0:
        return null;
      case 1:
        return rng.chance(0.5);
      case 2:
        return rng.int(1000) - 500;
      case 3:
        return (rng.next() - 0.5) * 10 ** rng.int(30);
      case 4:
        return rng.pick(STRINGS);
      case 5: {
        let s = "";
        const n = rng.length(40);
        for (let i = 0; i < n; i++) {
          s += String.fromCharCode(rng.int(rng.chance(0.8) ? 128 : 65536));
        }
        return s;
      }
      case 6:
        return msgpack ? rng.bytes(rng.length(32)) : rng.pick(STRINGS);
      case 7:
        return structuredCloneSafe(rng.pick(msgpack ? MSGPACK_WEIRD : JSON_WEIRD));
      case 8:
        return rng.int(2 ** 31);
      case 9:
      case 10: {
        const n = rng.length(6);
        const out: unknown[] = [];
        for (let i = 0; i < n; i++) out.push(this.#value(depth - 1));
        return out;
      }
      default: {
        const n = rng.length(6);
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          define(
            out,
            rng.chance(0.7) ? rng.pick(["k", "x", "u", "role", "cmds"]) : String(rng.pick(STRINGS)),
            this.#value(depth - 1),
          );
        }
        return out;
      }
    }
  }

  #case(kind: string, frame: FuzzFrame, mayBeSilent?: boolean): FuzzCase {
    return {
      kind,
      frames: [frame],
      mayBeSilent: mayBeSilent ?? maySilence(this.encoding, frame),
    };
  }

  /** Purely random bytes or text. */
  #random(): FuzzCase {
    const rng = this.#rng;
    const n = rng.chance(0.02) ? rng.int(64 * 1024) : rng.length(512);
    if (this.encoding === "msgpack") return this.#case("random", rng.bytes(n));
    if (rng.chance(0.3)) return this.#case("random", rng.bytes(n));
    let s = "";
    const alphabet = '{}[]":,\\0123456789-+.eEtrufalsn \t\n';
    for (let i = 0; i < n; i++) {
      s += rng.chance(0.7)
        ? alphabet[rng.int(alphabet.length)]
        : String.fromCharCode(rng.int(65536));
    }
    return this.#case("random", s);
  }

  /** A well-formed but random value: usually not a message at all. */
  #randomValue(): FuzzCase {
    const rng = this.#rng;
    let value = this.#value(4);
    if (rng.chance(0.5) && isRecord(value)) define(value, "u", this.#id());
    if (rng.chance(0.3) && isRecord(value)) define(value, "role", rng.pick(["rpc", "cancel", "x"]));
    if (value === undefined) value = null;
    return this.#case("random-value", this.encode(value));
  }

  /** Byte (or character) mutations of a valid request. */
  #bytes(): FuzzCase {
    const rng = this.#rng;
    const base = this.encode(this.valid());
    const other = this.encode(this.valid());
    if (typeof base === "string") {
      let s = base;
      const rounds = 1 + rng.int(4);
      for (let i = 0; i < rounds; i++) {
        s = this.#mutateText(s, typeof other === "string" ? other : "");
      }
      return this.#case("mutated-bytes", s);
    }
    let b: Uint8Array<ArrayBuffer> = base;
    const rounds = 1 + rng.int(4);
    for (let i = 0; i < rounds; i++) {
      b = this.#mutateBytes(b, other instanceof Uint8Array ? other : new Uint8Array(0));
    }
    return this.#case("mutated-bytes", b);
  }

  #mutateBytes(b: Uint8Array<ArrayBuffer>, other: Uint8Array): Uint8Array<ArrayBuffer> {
    const rng = this.#rng;
    const at = rng.int(b.length + 1);
    const out = (parts: ArrayLike<number>[]): Uint8Array<ArrayBuffer> => {
      const size = parts.reduce((n, p) => n + p.length, 0);
      const r = new Uint8Array(size);
      let o = 0;
      for (const p of parts) {
        r.set(p, o);
        o += p.length;
      }
      return r;
    };
    switch (rng.int(8)) {
      case 0: { // bit flip
        if (b.length === 0) return b;
        const c = b.slice();
        c[at % b.length]! ^= 1 << rng.int(8);
        return c;
      }
      case 1: { // random byte
        if (b.length === 0) return b;
        const c = b.slice();
        c[at % b.length] = rng.int(256);
        return c;
      }
      case 2: // truncate
        return b.slice(0, at);
      case 3: // insert random bytes
        return out([b.subarray(0, at), rng.bytes(1 + rng.int(8)), b.subarray(at)]);
      case 4: { // delete a range
        const len = 1 + rng.int(8);
        return out([b.subarray(0, at), b.subarray(Math.min(b.length, at + len))]);
      }
      case 5: { // duplicate a range
        const len = 1 + rng.int(16);
        return out([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]);
      }
      case 6: // splice two frames
        return out([b.subarray(0, at), other.subarray(rng.int(other.length + 1))]);
      default: { // plant an interesting token
        const token = this.encoding === "msgpack"
          ? rng.pick(MSGPACK_TOKENS)
          : [...text.encode(rng.pick(JSON_TOKENS))];
        return rng.chance(0.5)
          ? out([b.subarray(0, at), token, b.subarray(at)])
          : out([b.subarray(0, at), token, b.subarray(Math.min(b.length, at + token.length))]);
      }
    }
  }

  #mutateText(s: string, other: string): string {
    const rng = this.#rng;
    const at = rng.int(s.length + 1);
    switch (rng.int(7)) {
      case 0: { // replace a character
        const c = rng.chance(0.5) ? rng.pick(JSON_TOKENS)[0]! : String.fromCharCode(rng.int(65536));
        return s.slice(0, at) + c + s.slice(at + 1);
      }
      case 1:
        return s.slice(0, at);
      case 2:
        return s.slice(0, at) + String.fromCharCode(rng.int(128)) + s.slice(at);
      case 3:
        return s.slice(0, at) + s.slice(at + 1 + rng.int(8));
      case 4:
        return s.slice(0, at) + s.slice(at, at + 1 + rng.int(16)) + s.slice(at);
      case 5:
        return s.slice(0, at) + other.slice(rng.int(other.length + 1));
      default:
        return s.slice(0, at) + rng.pick(JSON_TOKENS) + s.slice(at);
    }
  }

  /** Wrong types, missing and extra keys in every field of a valid request. */
  #fields(): FuzzCase {
    const rng = this.#rng;
    const message = this.valid();
    const rounds = 1 + (rng.chance(0.3) ? rng.int(3) : 0);
    for (let i = 0; i < rounds; i++) this.#mutateField(message);
    return this.#case(`field`, this.encode(message));
  }

  #mutateField(message: Record<string, unknown>): void {
    const rng = this.#rng;
    const cmds = Array.isArray(message.cmds) ? message.cmds as unknown[] : null;
    // Pick a container and a key in it.
    let target: Record<string, unknown> | unknown[] = message;
    let keys: Array<string | number> = ["role", "u", "cmds", "timeout", "all"];
    if (cmds !== null && cmds.length > 0 && rng.chance(0.55)) {
      const i = rng.int(cmds.length);
      const step = cmds[i];
      if (isRecord(step) && rng.chance(0.85)) {
        target = step;
        keys = ["name", "fun", "args", "kwargs", "locs"];
        const args = step.args;
        if (Array.isArray(args) && args.length > 0 && rng.chance(0.25)) {
          target = args;
          keys = [rng.int(args.length)];
        }
      } else {
        target = cmds;
        keys = [i];
      }
    }
    const key = rng.pick(keys);
    const r = rng.int(10);
    if (Array.isArray(target)) {
      target[key as number] = this.#weird();
      return;
    }
    const k = String(key);
    if (r === 0) {
      delete target[k];
    } else if (r === 1) {
      // An extra key, possibly a dangerous one.
      define(
        target,
        rng.pick(["extra", "constructor", "prototype", "toString", "__proto__", "u", "$literal"]),
        this.#weird(),
      );
    } else if (k === "u" && r < 5) {
      target.u = rng.pick<unknown>([
        -1,
        1.5,
        2 ** 53,
        2 ** 64,
        -0,
        "",
        "x".repeat(1000),
        null,
        [],
        {},
        true,
        Number.NaN,
      ]);
    } else if (k === "role" && r < 5) {
      target.role = rng.pick<unknown>(["RPC", "Rpc", "", "cancel ", "peer", "hello", 1, null, [
        "rpc",
      ]]);
    } else if (k === "cmds" && r < 5) {
      // Many steps, an empty list, duplicates, or too many.
      const n = rng.pick([0, 2, 3, 50, 1001]);
      target.cmds = Array.from({ length: n }, (_, i) => ({
        name: rng.chance(0.8) ? `s${i % (rng.chance(0.5) ? n : 2)}` : "",
        fun: "echo",
        args: [rng.chance(0.5) ? `s${i + 1}` : i],
      }));
    } else if (k === "timeout" && r < 5) {
      target.timeout = rng.pick<unknown>([0, -1, 1e-9, 0.5, 1e308, 2 ** 64, "1000", null]);
    } else {
      target[k] = this.#weird();
    }
  }

  /** Cancels, duplicate ids, depth and element limits at the edge. */
  #special(): FuzzCase {
    const rng = this.#rng;
    const u = this.#id();
    switch (rng.int(10)) {
      case 9:
        return this.#batch();
      case 0: // cancel of an unknown id
        return this.#case("cancel-unknown", this.encode({ role: "cancel", u }), true);
      case 1: // cancel with a wrong id type: no readable u
        return this.#case("cancel-bad-id", this.encode({ role: "cancel", u: this.#weird() }));
      case 2: { // duplicate id while the first is in flight, then cancel the first
        // Ids no other case can produce, not even by mutation.
        const held = `held-${this.#counter++}`;
        const a = { role: "rpc", u: held, cmds: [{ name: "s", fun: "fuzz_sleep", args: [1000] }] };
        const b = { role: "rpc", u: held, cmds: [{ name: "e", fun: "echo", args: [1] }] };
        return {
          kind: "duplicate-id",
          frames: [this.encode(a), this.encode(b), this.encode({ role: "cancel", u: held })],
          mayBeSilent: true,
          duplicateId: held,
          cancelledId: held,
        };
      }
      case 3: { // cancel of a request in flight: no answer for it, ever
        const held = `held-${this.#counter++}`;
        const a = { role: "rpc", u: held, cmds: [{ name: "s", fun: "fuzz_sleep", args: [1000] }] };
        return {
          kind: "cancel-in-flight",
          frames: [this.encode(a), this.encode({ role: "cancel", u: held })],
          mayBeSilent: true,
          cancelledId: held,
        };
      }
      case 4: { // nesting around the depth limit (64, envelope included; args at 4)
        const depth = 58 + rng.int(8);
        let v: unknown = 1;
        for (let i = 0; i < depth; i++) v = rng.chance(0.5) ? [v] : { k: v };
        return this.#case(
          "depth-edge",
          this.encode({ role: "rpc", u, cmds: [{ name: "a", fun: "echo", args: [v] }] }),
        );
      }
      case 5: { // elements around the limit (100,000); big, so built once and sent rarely
        if (!rng.chance(0.3)) {
          return this.#case("cancel-unknown", this.encode({ role: "cancel", u }), true);
        }
        const n = rng.pick([99_990, 100_001, 150_000]);
        let frame = this.#big.get(n);
        if (frame === undefined) {
          frame = this.encode({
            role: "rpc",
            u: "elements",
            cmds: [{ name: "a", fun: "echos", args: new Array(n).fill(0) }],
          });
          this.#big.set(n, frame);
        }
        return this.#case("elements-edge", frame, false);
      }
      case 6: { // the forbidden key, at some depth, maybe escaped
        let v: unknown = 1;
        const depth = rng.int(8);
        for (let i = 0; i < depth; i++) v = { k: v };
        if (this.encoding === "msgpack") {
          const inner: Record<string, unknown> = {};
          define(inner, "__proto__", { polluted: "yes" });
          return this.#case(
            "proto-key",
            this.encode({ role: "rpc", u, cmds: [{ name: "a", fun: "echo", args: [[v, inner]] }] }),
          );
        }
        const key = rng.pick([
          '"__proto__"',
          '"\\u005f_proto__"',
          '"__proto\\u005f_"',
          '"__proto__"  ',
        ]);
        const frame = `{"role":"rpc","u":${
          JSON.stringify(u)
        },"cmds":[{"name":"a","fun":"echo","args":[[${
          JSON.stringify(v)
        },{${key}:{"polluted":"yes"}}]]}]}`;
        return this.#case(
          "proto-key",
          this.encoding === "legacy" && rng.chance(0.5) ? text.encode(frame) : frame,
        );
      }
      case 7: // prototype-ish keys that are allowed: answered normally
        return this.#case(
          "constructor-key",
          this.encode({
            role: "rpc",
            u,
            cmds: [{
              name: "constructor",
              fun: "echos",
              args: [{ constructor: { prototype: { polluted: "yes" } } }, "toString"],
              kwargs: { prototype: { polluted: "yes" }, hasOwnProperty: 1 },
            }],
          }),
        );
      default: // a step named __proto__ or a reference through a prototype key
        return this.#case(
          "proto-step",
          this.encode({
            role: "rpc",
            u,
            cmds: rng.chance(0.5) ? [{ name: "__proto__", fun: "echo", args: [1] }] : [
              { name: "a", fun: "echo", args: [{ x: 1 }] },
              {
                name: "b",
                fun: "echo",
                args: [rng.pick(["a.constructor", "a.__proto__", "a.toString", "a.x.constructor"])],
              },
            ],
          }),
        );
    }
  }

  /** A batch frame: an array of messages (the original MPREG JSON has none: closed). */
  #batch(): FuzzCase {
    const rng = this.#rng;
    const held = `held-${this.#counter++}`;
    let items: unknown[];
    let duplicateId: string | undefined;
    let cancelledId: string | undefined;
    switch (rng.int(6)) {
      case 0:
        items = [];
        break;
      case 1:
        items = Array.from({ length: 1 + rng.int(6) }, () => this.valid());
        break;
      case 2: // a duplicate id and a cancel inside one batch
        items = [
          { role: "rpc", u: held, cmds: [{ name: "s", fun: "fuzz_sleep", args: [1000] }] },
          { role: "rpc", u: held, cmds: [{ name: "e", fun: "echo", args: [1] }] },
          { role: "cancel", u: held },
        ];
        duplicateId = held;
        cancelledId = held;
        break;
      case 3: // a good message, then one without a readable id
        items = [this.valid(), this.#weird()];
        break;
      case 4: // a batch inside a batch
        items = [[this.valid()]];
        break;
      default: // many small requests at once
        items = Array.from({ length: 200 + rng.int(300) }, (_, i) => ({
          role: "rpc",
          u: `${held}-${i}`,
          cmds: [{ name: "a", fun: "echo", args: [i] }],
        }));
    }
    const c: FuzzCase = { kind: "batch", frames: [this.encode(items)], mayBeSilent: true };
    if (duplicateId !== undefined) c.duplicateId = duplicateId;
    if (cancelledId !== undefined) c.cancelledId = cancelledId;
    return c;
  }
}

/** Whether a value is a plain object (not an array, not bytes). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array) && !(value instanceof Date);
}

/** Sets an own property, even `__proto__`. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function structuredCloneSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) return value.slice();
  if (value instanceof Date) return new Date(value.getTime());
  if (typeof value === "object" && value !== null) return JSON.parse(JSON.stringify(value));
  return value;
}

/** Whether an encoding carries batches: a frame holding an array of messages. */
export function batches(encoding: FuzzEncoding): boolean {
  return encoding !== "legacy";
}

/**
 * Whether a frame may get no answer by design: a `cancel`, or a batch (which
 * may be empty or hold only cancels). Decoded here independently of the
 * node's codec; a frame the node leaves unanswered that this does not
 * recognise shows up as a missing answer.
 */
export function maySilence(encoding: FuzzEncoding, frame: FuzzFrame): boolean {
  let message: unknown;
  try {
    if (encoding === "msgpack") {
      if (typeof frame === "string") return false;
      message = unpack(frame);
    } else {
      message = JSON.parse(typeof frame === "string" ? frame : utf8.decode(frame));
    }
  } catch {
    return false;
  }
  return (isRecord(message) && message.role === "cancel") ||
    (Array.isArray(message) && batches(encoding));
}

/** A response as decoded from the node. */
export interface FuzzResponse {
  u: unknown;
  r: unknown;
  error: { code: number; message: string; details: unknown } | null;
}

/** One thing the node did after a frame. */
export type Answer =
  | { type: "response"; response: FuzzResponse }
  | { type: "garbage"; what: string }
  | { type: "close"; code: number; reason: string; wasClean: boolean }
  | { type: "timeout" };

/**
 * A raw socket for one encoding that hands out what the node sends, one
 * answer at a time, and fails loudly on anything it cannot decode.
 */
export class FuzzSocket {
  readonly encoding: FuzzEncoding;
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  #inbox: Answer[] = [];
  #wake: (() => void) | null = null;
  #closeSeen = false;

  constructor(url: string, encoding: FuzzEncoding) {
    this.encoding = encoding;
    const protocol = protocolOf(encoding);
    this.ws = protocol === undefined ? new WebSocket(url) : new WebSocket(url, protocol);
    this.ws.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error("socket error before open"));
    });
    this.closed = new Promise((resolve) => {
      this.ws.onclose = (event) => {
        this.#closeSeen = true;
        this.#push({
          type: "close",
          code: event.code,
          reason: event.reason,
          wasClean: event.wasClean,
        });
        resolve(event);
      };
    });
    this.ws.onmessage = (event) => {
      try {
        for (const response of this.#decode(event.data)) this.#push({ type: "response", response });
      } catch (err) {
        this.#push({ type: "garbage", what: (err as Error).message });
      }
    };
  }

  /** True until the close event. */
  get open(): boolean {
    return !this.#closeSeen && this.ws.readyState === WebSocket.OPEN;
  }

  #decode(data: unknown): FuzzResponse[] {
    let message: unknown;
    if (this.encoding === "msgpack") {
      if (!(data instanceof ArrayBuffer)) throw new Error("msgpack node sent a text frame");
      message = unpack(new Uint8Array(data));
    } else if (this.encoding === "json") {
      if (typeof data !== "string") throw new Error("json node sent a binary frame");
      message = JSON.parse(data);
    } else {
      if (!(data instanceof ArrayBuffer)) throw new Error("legacy node sent a text frame");
      message = JSON.parse(utf8.decode(data));
    }
    // On the mpreg.* subprotocols a frame may carry a batch of responses.
    const batch = Array.isArray(message) && batches(this.encoding) ? message : [message];
    return batch.map((item) => {
      if (!isRecord(item) || !("u" in item) || !("r" in item) || !("error" in item)) {
        throw new Error(`malformed response: ${JSON.stringify(item)?.slice(0, 200)}`);
      }
      return item as unknown as FuzzResponse;
    });
  }

  #push(answer: Answer): void {
    this.#inbox.push(answer);
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Sends frames back to back. */
  send(...frames: FuzzFrame[]): void {
    for (const frame of frames) this.ws.send(frame);
  }

  /** The next answer, or `timeout` after `ms`. */
  async next(ms: number): Promise<Answer> {
    if (this.#inbox.length === 0) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#wake = resolve;
      const timer = setTimeout(resolve, ms);
      await promise;
      clearTimeout(timer);
      this.#wake = null;
    }
    return this.#inbox.shift() ?? { type: "timeout" };
  }

  /** Closes (if still open) and waits for the close event. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      this.ws.close();
    }
    await this.closed;
  }
}

/** A short hex view of a frame, for failure messages. */
export function describeFrame(frame: FuzzFrame, max = 160): string {
  if (typeof frame === "string") {
    return `text(${frame.length}) ${JSON.stringify(frame.slice(0, max))}${
      frame.length > max ? "…" : ""
    }`;
  }
  const hex = Array.from(frame.subarray(0, max), (b) => b.toString(16).padStart(2, "0")).join("");
  return `binary(${frame.length}) ${hex}${frame.length > max ? "…" : ""}`;
}
