// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { DEFAULT_LIMITS, ErrorCode } from "../../mod.ts";
import { createCodec } from "../../src/protocol/codec.ts";
import { AnswerEncoder } from "../../src/transport/answers.ts";

const codec = createCodec("json");
const format = {
  result: (u: number, r: unknown) => codec.encodeAnswer(u, r),
  error: (u: number, error: unknown, started: boolean) =>
    codec.encode({ u, r: null, error, started }),
};
const read = (frame: unknown) => JSON.parse(frame as string);

Deno.test("AnswerEncoder: a result the codec refuses is that call's error (1003), whatever else it held", () => {
  const answers = new AnswerEncoder<number>(codec, format, DEFAULT_LIMITS);
  assert.deepEqual(read(answers.result(1, { ok: true })), { u: 1, r: { ok: true }, error: null });
  // JSON writes a BigInt exactly (docs/protocol.md); a toJSON that throws cannot be written.
  const unwritable = {
    toJSON() {
      throw new Error("not today");
    },
  };
  const refused = read(answers.result(2, { n: unwritable }));
  assert.equal(refused.u, 2);
  assert.equal(refused.error.code, ErrorCode.Function);
  assert.match(refused.error.message, /The result cannot be encoded as json/);
  assert.equal(refused.started, true);
});

Deno.test("AnswerEncoder: a result over the receiver's maxElements is refused before encoding (1011)", () => {
  const answers = new AnswerEncoder<number>(codec, format, { ...DEFAULT_LIMITS, maxElements: 10 });
  // 2^20 values once encoded, from 21 objects.
  let shared: unknown = 1;
  for (let i = 0; i < 20; i++) shared = [shared, shared];
  const refused = read(answers.result(3, shared));
  assert.equal(refused.error.code, ErrorCode.LimitExceeded);
  assert.deepEqual(refused.error.details, { limit: "maxElements", max: 10 });
});

Deno.test("AnswerEncoder: with scan, an answer over the receiver's frame size or depth is refused, and a refusal stays one", () => {
  const answers = new AnswerEncoder<number>(codec, format, {
    ...DEFAULT_LIMITS,
    maxFrameBytes: 200,
  }, {
    scan: true,
    receiver: () => 'node "b"',
  });
  const big = read(answers.result(4, "x".repeat(500)));
  assert.equal(big.error.code, ErrorCode.LimitExceeded);
  assert.match(
    big.error.message,
    /The answer would be \d+ bytes, over the limit of 200 of node "b"/,
  );
  const refusal = read(
    answers.error(
      5,
      { code: ErrorCode.Unavailable, message: "x".repeat(500), details: null },
      false,
    ),
  );
  assert.equal(refusal.error.code, ErrorCode.LimitExceeded);
  assert.equal(refusal.started, false, "a refusal stays one");
  answers.limits = { ...DEFAULT_LIMITS, maxDepth: 3 };
  const deep = read(answers.result(6, [[[[1]]]]));
  assert.equal(deep.error.code, ErrorCode.LimitExceeded);
});
