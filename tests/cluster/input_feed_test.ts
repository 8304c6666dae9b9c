// Copyright 2026 the mpreg authors. MIT license.
// The two ends of an input stream (issue 18), without links: the
// coordinator's InputFeed sends no chunk past the member's credit, even from
// a relayed stream that delivers more at once; the member's InputSource
// refuses a chunk past the credit it granted; a run's `ins` is checked.
import assert from "node:assert/strict";
import {
  InputFeed,
  InputSource,
  isInputsOf,
  splitInputs,
} from "../../src/cluster/_stream_inputs.ts";
import type { RunMessage } from "../../src/cluster/peer_protocol.ts";
import type { StreamSink, StreamSource } from "../../src/registry/stream_source.ts";

/** A source that delivers `held` chunks at start (as a relayed stream does), then what it is granted. */
function relayed(held: number) {
  const granted: number[] = [];
  let sink: StreamSink | null = null;
  let cancelled = false;
  const source: StreamSource = {
    streamSource: true,
    start(s) {
      sink = s;
      for (let i = 0; i < held; i++) s.chunk(i);
    },
    credit: (n) => granted.push(n),
    cancel: () => cancelled = true,
  };
  return { source, granted, sink: () => sink!, cancelled: () => cancelled };
}

Deno.test("InputFeed holds what a relayed stream delivers past the member's credit, and sends it as credit comes", () => {
  const sent: unknown[] = [];
  const { source, granted, sink } = relayed(6);
  const feed = new InputFeed(source, {
    chunk: (v) => sent.push(v),
    end: () => sent.push("end"),
    error: (e) => sent.push(e),
  });
  assert.ok(!feed.started);
  feed.credit(4);
  assert.deepEqual(sent, [0, 1, 2, 3], "no more than the member's credit");
  sink().end();
  assert.deepEqual(sent, [0, 1, 2, 3], "the end waits for the held chunks");
  feed.credit(4);
  assert.deepEqual(sent, [0, 1, 2, 3, 4, 5, "end"]);
  assert.deepEqual(granted, [], "the held chunks used the credit: nothing passed on");
});

Deno.test("InputFeed passes the member's further credit on to its source, and cancels it", () => {
  const { source, granted, cancelled } = relayed(0);
  const feed = new InputFeed(source, { chunk: () => {}, end: () => {}, error: () => {} });
  feed.credit(16);
  feed.credit(8);
  assert.deepEqual(granted, [8]);
  feed.cancel("done");
  assert.ok(cancelled());
});

Deno.test("InputSource grants credit as read, and refuses a chunk past it", () => {
  const grants: number[] = [];
  let stopped = false;
  const input = new InputSource((n) => grants.push(n), () => stopped = true);
  assert.equal(input.push(1), false, "nothing granted before it starts");
  const got: unknown[] = [];
  input.start({ chunk: (v) => got.push(v), end: () => got.push("end"), error: () => {} }, 2);
  assert.deepEqual(grants, [2]);
  assert.ok(input.push("a"));
  assert.ok(input.push("b"));
  assert.equal(input.push("c"), false, "past the credit");
  input.credit(1);
  assert.ok(input.push("c"));
  input.finish(null);
  assert.deepEqual(got, ["a", "b", "c", "end"]);
  input.cancel("late");
  assert.ok(!stopped, "no in-cancel once it ended");
});

Deno.test("splitInputs() and isInputsOf(): streams at top-level positions, null in their place", () => {
  const { source } = relayed(0);
  assert.equal(splitInputs([1, "x"], { k: 2 }), null);
  const split = splitInputs([1, source], { k: source, j: 3 })!;
  assert.deepEqual(split.args, [1, null]);
  assert.deepEqual(split.kwargs, { k: null, j: 3 });
  assert.deepEqual(split.ins, [{ i: 0, arg: 1 }, { i: 1, kwarg: "k" }]);
  const run: RunMessage = {
    t: "run",
    id: 1,
    step: "s",
    fun: "f",
    timeout: 100,
    args: split.args,
    kwargs: split.kwargs,
    ins: split.ins,
  };
  assert.ok(isInputsOf(run));
  assert.ok(!isInputsOf({ ...run, ins: [{ i: 0, arg: 1 }, { i: 1, kwarg: "j" }] }), "not null");
  assert.ok(!isInputsOf({ ...run, ins: [{ i: 0, arg: 1 }, { i: 1, arg: 1 }] }), "twice");
  assert.ok(!isInputsOf({ ...run, ins: [{ i: 0, arg: 1 }, { i: 1, kwarg: "missing" }] }));
  assert.ok(!isInputsOf({ ...run, ins: [] }), "empty");
  assert.ok(!isInputsOf({ ...run, may: true }), "may without stream");
  assert.ok(isInputsOf({ ...run, stream: 16, may: true }));
});
