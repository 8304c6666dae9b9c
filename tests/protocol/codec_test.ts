// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { pack } from "msgpackr/pack";
import { unpack } from "msgpackr/unpack";
import { DEFAULT_LIMITS, LimitExceededError, ProtocolError } from "../../mod.ts";
import {
  createCodec,
  JSON_PROTOCOL,
  MSGPACK_PROTOCOL,
  negotiateCodec,
} from "../../src/protocol/codec.ts";
import { mulberry32 } from "../../testing/random.ts";

const limited = (encoding: "msgpack" | "json" | "legacy", limits = {}) =>
  createCodec(encoding, { limits: { ...DEFAULT_LIMITS, ...limits } });

Deno.test("codecs round-trip messages; msgpack keeps bytes and dates", () => {
  const message = { u: 7, r: { a: [1, "two", { three: null }], b: true }, error: null };
  for (const encoding of ["msgpack", "json", "legacy"] as const) {
    const codec = limited(encoding);
    assert.deepEqual(codec.decode(codec.encode(message)), message);
  }
  const msgpack = limited("msgpack");
  const bytes = new Uint8Array([1, 2, 255]);
  const when = new Date(1_700_000_000_123);
  const out = msgpack.decode(msgpack.encode({ bytes, when })) as { bytes: Uint8Array; when: Date };
  assert.deepEqual([...out.bytes], [1, 2, 255]);
  assert.equal(out.when.getTime(), when.getTime());
});

Deno.test("encodeCall() and encodeAnswer() write what encode() writes for the same messages", () => {
  const ids = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 0xffff_ffff, 2 ** 32, -1, 1.5];
  const names = ["echo", "é", "x".repeat(31), "x".repeat(32), "ü".repeat(127), "x".repeat(300)];
  const args = [[], ["payload"], [{ a: [1, null], b: new Uint8Array([1, 2]) }, 3]];
  for (const encoding of ["msgpack", "json", "legacy"] as const) {
    const codec = limited(encoding);
    const decode = (frame: string | Uint8Array) =>
      // A copy: encode() may return a view of a buffer it reuses.
      codec.decode(typeof frame === "string" ? frame : new Uint8Array(frame));
    for (const u of ids) {
      for (const name of names) {
        for (const a of args) {
          const timeout = u === 1.5 ? 2.5 : u; // a float timeout too
          const call = { role: "rpc", u, cmds: [{ name, fun: name + "_f", args: a }], timeout };
          const frame = codec.encodeCall(u, name, name + "_f", a, timeout);
          assert.deepEqual(decode(frame), decode(codec.encode(call)));
        }
      }
      for (const r of [null, "hi", { echo: "payload" }, [1, { two: 2 }], undefined]) {
        const answer = decode(codec.encode({ u, r, error: null }));
        assert.deepEqual(decode(codec.encodeAnswer(u, r)), answer, `${encoding} ${u} ${r}`);
      }
    }
  }
  // A string id (the original MPREG's clients send UUIDs).
  const msgpack = limited("msgpack");
  assert.deepEqual(msgpack.decode(new Uint8Array(msgpack.encodeAnswer("id-1", 5) as Uint8Array)), {
    u: "id-1",
    r: 5,
    error: null,
  });
});

Deno.test("msgpack: bytes decoded from a Uint8Array are copies; from an ArrayBuffer they view it", () => {
  const msgpack = limited("msgpack");
  // A copy with an ArrayBuffer of its own (encode() may return a view).
  const frame = new Uint8Array(msgpack.encode({ bytes: new Uint8Array([1, 2, 3]) }) as Uint8Array);
  const copied = (msgpack.decode(frame) as { bytes: Uint8Array }).bytes;
  const viewing = (msgpack.decode(frame.buffer) as { bytes: Uint8Array }).bytes;
  assert.notEqual(copied.buffer, frame.buffer);
  assert.equal(viewing.buffer, frame.buffer);
  // The caller may reuse a Uint8Array frame once decode() returns.
  frame.fill(0);
  assert.deepEqual([...copied], [1, 2, 3]);
  assert.deepEqual([...viewing], [0, 0, 0]);
});

Deno.test("frames: json is text, legacy and msgpack are binary", () => {
  assert.equal(typeof limited("json").encode({ u: 1 }), "string");
  assert.ok(limited("legacy").encode({ u: 1 }) instanceof Uint8Array);
  assert.ok(limited("msgpack").encode({ u: 1 }) instanceof Uint8Array);
  // The original MPREG sends UTF-8 JSON in binary frames; both kinds are read.
  const legacy = limited("legacy");
  assert.deepEqual(legacy.decode('{"u":"x"}'), { u: "x" });
  assert.deepEqual(legacy.decode(new TextEncoder().encode('{"u":"x"}')), { u: "x" });
});

Deno.test("negotiateCodec() picks the first known subprotocol, or the original JSON", () => {
  assert.equal(negotiateCodec([])?.encoding, "legacy");
  assert.equal(negotiateCodec(["x", JSON_PROTOCOL, MSGPACK_PROTOCOL])?.encoding, "json");
  assert.equal(negotiateCodec([MSGPACK_PROTOCOL])?.protocol, MSGPACK_PROTOCOL);
  assert.equal(negotiateCodec(["unknown"]), null);
});

Deno.test("decode() checks the frame size first", () => {
  for (const encoding of ["msgpack", "json"] as const) {
    const codec = limited(encoding, { maxFrameBytes: 10 });
    const frame = encoding === "json" ? '{"u":"0123456789"}' : pack({ u: "0123456789" });
    assert.throws(() => codec.decode(frame), (err: unknown) => {
      assert.ok(err instanceof LimitExceededError);
      assert.deepEqual(err.details, { limit: "maxFrameBytes", max: 10 });
      return true;
    });
  }
});

Deno.test("the pre-scan rejects nesting bombs in one pass, before decoding", () => {
  const msgpack = limited("msgpack");
  const bomb = new Uint8Array(1 << 20).fill(0x91);
  assert.throws(() => msgpack.decode(bomb), /deeper than 64/);
  assert.throws(() => limited("json").decode("[".repeat(1 << 20)), /deeper than 64/);
  // Exactly at the limit is fine.
  const ok = limited("msgpack", { maxDepth: 3 });
  assert.deepEqual(ok.decode(pack([[[1]]])), [[[1]]]);
  assert.throws(() => ok.decode(pack([[[[1]]]])), /deeper than 3/);
});

Deno.test("the pre-scan catches lying lengths, element and string limits", () => {
  const msgpack = limited("msgpack");
  assert.throws(() => msgpack.decode(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff])), (err) => {
    assert.ok(err instanceof LimitExceededError || err instanceof ProtocolError);
    return true;
  });
  assert.throws(() => msgpack.decode(new Uint8Array([0xdb, 0xff, 0xff, 0xff, 0xff])));
  assert.throws(() => msgpack.decode(new Uint8Array([0x92, 0x01])), /Truncated/);
  assert.throws(() => msgpack.decode(new Uint8Array([0x01, 0x02])), /Trailing/);
  const few = limited("msgpack", { maxElements: 5 });
  assert.throws(() => few.decode(pack([1, 2, 3, 4, 5, 6])), LimitExceededError);
  const short = limited("json", { maxStringBytes: 4 });
  assert.throws(() => short.decode('{"u":"12345"}'), LimitExceededError);
  assert.throws(() => limited("msgpack", { maxStringBytes: 4 }).decode(pack("12345")));
});

Deno.test("the pre-scan accepts every well-formed message and refuses every truncation of one", () => {
  const msgpack = limited("msgpack", { maxDepth: 200, maxElements: 10_000_000 });
  const random = mulberry32(6);
  const int = (n: number) => Math.floor(random() * n);
  // Values that reach every msgpack type the codec writes, sized across
  // each length format (fix, 8, 16 and 32 bits).
  const leaf = (): unknown => {
    switch (int(12)) {
      case 0:
        return null;
      case 1:
        return random() < 0.5;
      case 2:
        return int(256) - 128;
      case 3:
        return int(1 << 20) * (random() < 0.5 ? -1 : 1);
      case 4:
        return 2 ** 40 + int(1000);
      case 5:
        return random() * 1e6;
      case 6:
        return "é".repeat(int(40));
      case 7:
        return "x".repeat([0, 31, 32, 255, 256, random() < 0.1 ? 65_536 : 1][int(6)]!);
      case 8:
        return new Uint8Array(int(300));
      case 9:
        return new Date(int(2 ** 40));
      case 10:
        return new Date(-int(2 ** 40));
      default:
        return -(2 ** 40) - int(1000);
    }
  };
  const value = (depth: number): unknown => {
    if (depth > 2 || random() < 0.4) return leaf();
    // Now and then a deep chain of one-element arrays.
    if (random() < 0.02) return Array.from({ length: 100 }).reduce((inner) => [inner], leaf());
    // Now and then a long array of small numbers, for the 32-bit length format.
    if (random() < 0.02) return Array.from({ length: 70_000 }, () => int(100));
    const n = [0, 3, 15, 16, 17][int(5)]!;
    if (random() < 0.5) return Array.from({ length: n }, () => value(depth + 1));
    const object: Record<string, unknown> = {};
    for (let i = 0; i < Math.min(n, 40); i++) object[`k${i}`] = value(depth + 1);
    return object;
  };
  for (let i = 0; i < 300; i++) {
    const v = value(0);
    const frame = pack(v);
    // Accepted, and decoded as msgpackr decodes it (binary comes back as a Buffer).
    assert.deepEqual(msgpack.decode(frame), unpack(frame));
    const cut = int(frame.length);
    assert.throws(() => msgpack.decode(frame.subarray(0, cut)), ProtocolError, `cut at ${cut}`);
  }
});

Deno.test("forbidden keys are refused at any depth, escaped or not", () => {
  for (const key of ["__proto__", "constructor", "prototype"]) {
    assert.throws(() => limited("json").decode(`{"a":[{"${key}":1}]}`), ProtocolError);
    const map = new Uint8Array([0x81, 0xa0 | key.length, ...new TextEncoder().encode(key), 0x01]);
    assert.throws(() => limited("msgpack").decode(map), new RegExp(key));
  }
  assert.throws(() => limited("json").decode('{"\\u005f_proto__":{}}'), /__proto__/);
  // As values, the words are plain data.
  assert.deepEqual(limited("json").decode('{"k":"constructor"}'), { k: "constructor" });
});

Deno.test("only the msgpack timestamp extension is accepted", () => {
  const ext = new Uint8Array([0xd4, 0x01, 0x00]); // fixext1 of type 1
  assert.throws(() => limited("msgpack").decode(ext), /extension|type/);
  assert.throws(() => limited("msgpack").decode(new Uint8Array([0xc1])), /0xc1/);
});

Deno.test("msgpack sends undefined (and functions) as nil, which a limited codec reads as null", () => {
  const msgpack = limited("msgpack");
  const frame = msgpack.encode({ a: undefined, b: [1, undefined], f: () => 1 });
  // msgpackr's default is an extension (fixext 1 of type 0) that the
  // pre-scan refuses, which closed the connection of any call with one.
  assert.deepEqual(msgpack.decode(frame), { a: null, b: [1, null], f: null });
});

Deno.test("text in a binary protocol, and malformed input, are ProtocolErrors", () => {
  assert.throws(() => limited("msgpack").decode("text"), ProtocolError);
  assert.throws(() => limited("json").decode("{nope"), ProtocolError);
  assert.throws(() => limited("legacy").decode(new Uint8Array([0xff, 0xfe])), /UTF-8/);
});
