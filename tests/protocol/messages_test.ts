// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import { LimitExceededError, ProtocolError } from "../../mod.ts";
import {
  MAX_STREAM_CREDIT,
  parseClientMessage,
  readRequestId,
} from "../../src/protocol/messages.ts";

Deno.test("readRequestId() accepts strings and non-negative safe integers", () => {
  assert.equal(readRequestId({ u: "01J" }), "01J");
  assert.equal(readRequestId({ u: 0 }), 0);
  for (const u of [-1, 1.5, 2 ** 60, null, [], {}]) assert.equal(readRequestId({ u }), null);
  assert.equal(readRequestId("nope"), null);
});

Deno.test("parseClientMessage() fills the original defaults of a step", () => {
  const msg = parseClientMessage({ role: "rpc", u: "x", cmds: [{ name: "a", fun: "echo" }] }, 10);
  assert.deepEqual(msg, {
    role: "rpc",
    u: "x",
    cmds: [{ name: "a", fun: "echo", args: [], kwargs: {}, locs: [] }],
  });
  assert.deepEqual(parseClientMessage({ role: "cancel", u: 3 }, 10), { role: "cancel", u: 3 });
  const full = parseClientMessage({ role: "rpc", u: 1, cmds: [], timeout: 50, all: true }, 10);
  assert.equal((full as { timeout: number }).timeout, 50);
});

Deno.test("parseClientMessage() keeps every step's name and function as sent", () => {
  // Names of every length up to past the cached ones, many sharing a cache
  // slot, several times over: each comes back equal to what was sent.
  const names = Array.from(
    { length: 600 },
    (_, i) => "n".repeat(i % 70) + i + "\u00e9".repeat(i % 3),
  );
  names.push("", "__proto__", "constructor", "12");
  for (let round = 0; round < 3; round++) {
    const cmds = names.map((name, i) => ({ name, fun: names[(i + 1) % names.length]! }));
    const msg = parseClientMessage({ role: "rpc", u: round, cmds }, 1000);
    assert.ok(msg.role === "rpc");
    assert.deepEqual(msg.cmds.map((s) => [s.name, s.fun]), cmds.map((c) => [c.name, c.fun]));
  }
});

Deno.test("parseClientMessage() rejects wrong shapes with 1004 and too many steps with 1011", () => {
  const bad = [
    "x",
    { u: 1, role: "rpc", cmds: {} },
    { u: 1, role: "rpc", cmds: [{ name: 1, fun: "f" }] },
    { u: 1, role: "rpc", cmds: [{ name: "a", fun: "f", args: "x" }] },
    { u: 1, role: "rpc", cmds: [{ name: "a", fun: "f", kwargs: [] }] },
    { u: 1, role: "rpc", cmds: [{ name: "a", fun: "f", locs: [1] }] },
    { u: 1, role: "rpc", cmds: [], timeout: 0 },
    { u: 1, role: "rpc", cmds: [], all: "yes" },
    { u: 1, role: "nope" },
    { role: "rpc", cmds: [] },
  ];
  for (const message of bad) {
    assert.throws(() => parseClientMessage(message, 10), ProtocolError, JSON.stringify(message));
  }
  assert.throws(
    () => parseClientMessage({ u: 1, role: "rpc", cmds: [{}, {}, {}] }, 2),
    LimitExceededError,
  );
  assert.throws(
    () => parseClientMessage({ u: 1, role: "nope" }, 1),
    /Invalid RPC request role: nope/,
  );
});

Deno.test("parseClientMessage(): a role holding an exact BigInt (JSON past 2^53) is a 1004 naming it", () => {
  for (
    const [role, shown] of [
      [9007199254740993n, "9007199254740993"],
      [[false, -505597642622888060n, 343], "[false,-505597642622888060,343]"],
    ] as const
  ) {
    assert.throws(() => parseClientMessage({ u: "1", role }, 10), (err: unknown) => {
      assert.ok(err instanceof ProtocolError, String(err));
      assert.equal(err.message, `Invalid RPC request role: ${shown}`);
      return true;
    });
  }
});

Deno.test("parseClientMessage() reads the retry mark of a request sent again", () => {
  const cmds = [{ name: "a", fun: "echo", args: [1] }];
  const again = parseClientMessage({ role: "rpc", u: 1, cmds, retry: true }, 10);
  assert.equal((again as { retry?: boolean }).retry, true);
  const first = parseClientMessage({ role: "rpc", u: 1, cmds, retry: false }, 10);
  assert.equal("retry" in first, false);
  assert.throws(
    () => parseClientMessage({ role: "rpc", u: 1, cmds, retry: "yes" }, 10),
    (err: unknown) => err instanceof ProtocolError && /"retry" is not a boolean/.test(err.message),
  );
});

Deno.test("parseClientMessage() keeps a W3C tp and refuses a malformed one with 1004 naming it", () => {
  const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const rpc = (value: unknown) => ({ role: "rpc", u: 1, cmds: [], tp: value });
  assert.equal((parseClientMessage(rpc(tp), 10) as { tp?: string }).tp, tp);
  assert.ok(!("tp" in parseClientMessage(rpc(null), 10)), "null is no trace context");
  const malformed = [
    "",
    tp.toUpperCase(),
    tp.replace(/^00/, "01"),
    tp.replace(/^00/, "ff"),
    `${tp}-extra`,
    ` ${tp}`,
    tp.replace("b7ad6b7169203331", "0".repeat(16)),
    tp.replace("0af7651916cd43dd8448eb211c80319c", "0".repeat(32)),
    tp.replace(/-01$/, "-1"),
    42,
    [tp],
  ];
  for (const value of malformed) {
    assert.throws(() => parseClientMessage(rpc(value), 10), (err: unknown) => {
      assert.ok(err instanceof ProtocolError, `${JSON.stringify(value)}: ${err}`);
      assert.equal(err.code, 1004);
      assert.match(err.message, /^"tp" is not a W3C traceparent: expected 00-<32 hex digits>/);
      return true;
    });
  }
});

Deno.test("parseClientMessage() reads a stream's credit, and the credit role; bad credits are 1004", () => {
  const step = { name: "a", fun: "ticks" };
  const msg = parseClientMessage({ role: "rpc", u: 1, cmds: [step], stream: 8 }, 10);
  assert.equal(msg.role === "rpc" && msg.stream, 8);
  // Several steps may stream (the runner checks there is one result step).
  const two = { role: "rpc", u: 1, cmds: [step, { name: "b", fun: "echo" }], stream: 4 };
  assert.equal((parseClientMessage(two, 10) as { stream?: number }).stream, 4);
  assert.deepEqual(parseClientMessage({ role: "credit", u: 1, n: 4 }, 10), {
    role: "credit",
    u: 1,
    n: 4,
  });
  const bad: unknown[] = [
    { role: "rpc", u: 1, cmds: [step], stream: 0 },
    { role: "rpc", u: 1, cmds: [step], stream: 1.5 },
    // A streamed request returns its one result step's stream, never every step.
    { role: "rpc", u: 1, cmds: [step, { name: "b", fun: "echo" }], stream: 4, all: true },
    { role: "credit", u: 1, n: 0 },
    { role: "credit", u: 1, n: "8" },
    { role: "credit", u: 1 },
  ];
  for (const message of bad) {
    assert.throws(() => parseClientMessage(message, 10), ProtocolError, JSON.stringify(message));
  }
});

Deno.test("parseClientMessage() refuses a stream credit over MAX_STREAM_CREDIT (a client could make a node buffer without bound)", () => {
  const step = { name: "a", fun: "ticks" };
  const top = { role: "rpc", u: 1, cmds: [step], stream: MAX_STREAM_CREDIT };
  assert.equal((parseClientMessage(top, 10) as { stream?: number }).stream, MAX_STREAM_CREDIT);
  for (
    const message of [
      { role: "rpc", u: 1, cmds: [step], stream: Number.MAX_SAFE_INTEGER },
      { role: "rpc", u: 1, cmds: [step], stream: MAX_STREAM_CREDIT + 1 },
      { role: "credit", u: 1, n: MAX_STREAM_CREDIT + 1 },
    ]
  ) {
    assert.throws(() => parseClientMessage(message, 10), (err: unknown) => {
      assert.ok(err instanceof ProtocolError, JSON.stringify(message));
      assert.match(err.message, /credit of at most 256/);
      return true;
    });
  }
});

Deno.test("parseClientMessage() reads an upload's in messages and a request's ins", () => {
  const parse = (m: Record<string, unknown>) => parseClientMessage(m, 10);
  assert.deepEqual(parse({ role: "in", u: 1, i: 0, chunk: null }), {
    role: "in",
    u: 1,
    i: 0,
    chunk: null,
  });
  assert.deepEqual(parse({ role: "in", u: 1, i: 2, bytes: "AQID" }), {
    role: "in",
    u: 1,
    i: 2,
    chunk: new Uint8Array([1, 2, 3]),
  });
  assert.deepEqual(parse({ role: "in", u: 1, i: 0, end: true }), {
    role: "in",
    u: 1,
    i: 0,
    end: true,
  });
  assert.deepEqual(parse({ role: "in", u: 1, i: 0, error: "boom" }), {
    role: "in",
    u: 1,
    i: 0,
    error: "boom",
  });
  for (
    const bad of [
      { i: -1, end: true },
      { i: 64, end: true },
      { i: 0 },
      { i: 0, chunk: 1, end: true },
      { i: 0, end: false },
      { i: 0, bytes: "not base64!" },
      { i: 0, bytes: 7 },
      { i: 0, error: 7 },
    ]
  ) {
    assert.throws(() => parse({ role: "in", u: 1, ...bad }), ProtocolError, JSON.stringify(bad));
  }
  const cmds = [{ name: "a", fun: "f", args: [null, 1], kwargs: { k: null } }];
  const request = parse({
    role: "rpc",
    u: 1,
    cmds,
    ins: [{ step: "a", arg: 0 }, { step: "a", kwarg: "k" }],
  });
  assert.deepEqual((request as { ins: unknown }).ins, [{ step: "a", arg: 0 }, {
    step: "a",
    kwarg: "k",
  }]);
  for (
    const ins of [
      [],
      {},
      [{ step: "a", arg: 0 }, { step: "a", arg: 0 }],
      [{ step: "a", arg: 1 }],
      [{ step: "a", kwarg: "__proto__" }],
      Array.from({ length: 65 }, () => ({ step: "a", arg: 0 })),
    ]
  ) {
    assert.throws(
      () => parse({ role: "rpc", u: 1, cmds, ins }),
      ProtocolError,
      JSON.stringify(ins),
    );
  }
});
