// Copyright 2026 the mpreg authors. MIT license.
// The hand-written msgpack envelopes (`Codec.encodeCall`, `encodeAnswer`:
// the fixed keys written as bytes around msgpackr's encoding of the one
// variable part) against encoding the whole message with `encode()`.
//
//   deno bench bench/micro/envelope_bench.ts      (or: deno task bench:micro)
import { createCodec } from "../../src/protocol/codec.ts";

const codec = createCodec("msgpack");
const args = ["hello", 42, { unit: "kg" }];
const result = { text: "hello", n: 42, list: [1, 2, 3] };
let u = 1;

Deno.bench({
  name: "encode({ role, u, cmds, timeout })",
  group: "encode a call",
  baseline: true,
  fn() {
    codec.encode({
      role: "rpc",
      u: u++,
      cmds: [{ name: "s", fun: "echo", args }],
      timeout: 30_000,
    });
  },
});
Deno.bench({
  name: "encodeCall(u, name, fun, args, timeout)",
  group: "encode a call",
  fn() {
    codec.encodeCall(u++, "s", "echo", args, 30_000);
  },
});

Deno.bench({
  name: "encode({ u, error: null, r })",
  group: "encode an answer",
  baseline: true,
  fn() {
    codec.encode({ u: u++, error: null, r: result });
  },
});
Deno.bench({
  name: "encodeAnswer(u, r)",
  group: "encode an answer",
  fn() {
    codec.encodeAnswer(u++, result);
  },
});
