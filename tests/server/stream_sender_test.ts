// Copyright 2026 the mpreg authors. MIT license.
// StreamSender (issue 18): it sends no chunk past the client's credit; a
// source that ignores its credit is held (and counted), and the client's
// next credit goes to the held chunks before it reaches the source.
import assert from "node:assert/strict";
import type { StreamSink, StreamSource } from "../../src/registry/stream_source.ts";
import { StreamSender, streamStats } from "../../src/server/stream_sender.ts";

/** A source that sends whatever the test pushes, credit or not. */
function unruly() {
  let sink: StreamSink | null = null;
  const granted: number[] = [];
  const source: StreamSource = {
    streamSource: true,
    cancel: () => {},
    start: (s) => {
      sink = s;
    },
    credit: (n) => granted.push(n),
  };
  return { source, granted, sink: () => sink! };
}

Deno.test("StreamSender holds chunks past the credit and passes on only the rest of a grant", () => {
  const { source, granted, sink } = unruly();
  const sent: unknown[] = [];
  let ended: number | null = null;
  const sender = new StreamSender(source, 2, {
    chunk: (v) => sent.push(v),
    end: (n) => ended = n,
    error: () => {},
  });
  const before = streamStats.buffered;
  for (const v of [1, 2, 3, 4, 5]) sink().chunk(v);
  assert.deepEqual(sent, [1, 2]);
  assert.equal(streamStats.buffered - before, 3);
  sender.grant(2);
  assert.deepEqual(sent, [1, 2, 3, 4]);
  assert.deepEqual(granted, []);
  sender.grant(4);
  assert.deepEqual(sent, [1, 2, 3, 4, 5]);
  assert.deepEqual(granted, [3]);
  assert.equal(streamStats.buffered, before);
  sink().end();
  assert.equal(ended, 5);
});

Deno.test("StreamSender: the end waits for the held chunks; an error does not", () => {
  const a = unruly();
  const sent: unknown[] = [];
  let ended: number | null = null;
  const sender = new StreamSender(a.source, 1, {
    chunk: (v) => sent.push(v),
    end: (n) => ended = n,
    error: () => {},
  });
  a.sink().chunk("x");
  a.sink().chunk("y");
  a.sink().end();
  assert.equal(ended, null);
  sender.grant(1);
  assert.deepEqual(sent, ["x", "y"]);
  assert.equal(ended, 2);

  const b = unruly();
  let failed: unknown = null;
  new StreamSender(b.source, 1, { chunk: () => {}, end: () => {}, error: (e) => failed = e });
  b.sink().chunk(1);
  b.sink().chunk(2);
  b.sink().error("boom");
  assert.equal(failed, "boom");
});
