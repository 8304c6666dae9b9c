// Copyright 2026 the mpreg authors. MIT license.
// The peer handshake and forwarded steps over the in-memory transport: two
// PeerLinks on `memory://` URLs, no sockets, no cluster.
import assert from "node:assert/strict";
import { DEFAULT_LIMITS, ErrorCode, type Limits, RpcError } from "../../mod.ts";
import type { GossipMessage, NodeRecord } from "../../src/cluster/membership.ts";
import { PeerLink, type PeerLinkHost } from "../../src/cluster/peer_link.ts";
import {
  PEER_PROTOCOL,
  type PeerMessage,
  type RunMessage,
} from "../../src/cluster/peer_protocol.ts";
import { listenMemory, type MemoryChannel } from "../../src/transport/memory.ts";
import { ProducerSource, type StreamSource } from "../../src/registry/stream_source.ts";

interface TestHost extends PeerLinkHost {
  readonly runs: RunMessage[];
  readonly inputs: PeerMessage[];
  readonly cancelled: number[];
  answerWith: (link: PeerLink, message: RunMessage) => void;
}

function record(name: string): NodeRecord {
  return {
    name,
    incarnation: 1_000,
    catalogVersion: 1,
    urls: [`memory://${name}`],
    resources: [],
    functions: { echo: [] },
  };
}

function host(
  name: string,
  options: { cluster?: string; secret?: string; limits?: Limits; handshakeTimeoutMs?: number } = {},
): TestHost {
  const self: TestHost = {
    clusterId: options.cluster ?? "test",
    secret: options.secret ?? null,
    limits: options.limits ?? DEFAULT_LIMITS,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 2_000,
    runs: [],
    inputs: [],
    cancelled: [],
    answerWith: (link, message) =>
      link.answer({ t: "result", id: message.id, value: message.args[0] }),
    localRecord: () => record(name),
    linkReady: () => {},
    linkClosed: () => {},
    gossip: (_link: PeerLink, _message: GossipMessage) => {},
    run: (link, message) => {
      self.runs.push(message);
      self.answerWith(link, message);
    },
    authorize: () => {},
    cancelRun: (_link, id) => self.cancelled.push(id),
    creditRun: () => {},
    fetch: () => {},
    drop: () => {},
    hop: () => {},
    hopAnswer: () => {},
    halt: () => {},
    input: (_link, message) => {
      self.inputs.push(message);
      return true;
    },
    traffic: () => {},
  };
  return self;
}

/** Links `a` (dialing) to `b` (accepting) at `memory://<name>`. */
async function link(
  name: string,
  a: TestHost,
  b: TestHost,
): Promise<
  { dialed: PeerLink; accepted: PeerLink; ready: [boolean, boolean]; stop(): Promise<void> }
> {
  const accepted = Promise.withResolvers<PeerLink>();
  // Both ends of the pair close together: the accepting end's close is the pair's.
  const closed = Promise.withResolvers<void>();
  const stop = listenMemory(name, {
    select: (offered) => offered.includes(PEER_PROTOCOL) ? PEER_PROTOCOL : null,
    accept: (channel) => {
      accepted.resolve(PeerLink.accept(channel, b, "memory"));
      const onclose = channel.onclose!;
      channel.onclose = (event) => {
        onclose(event);
        closed.resolve();
      };
    },
  });
  const dialed = PeerLink.dial(`memory://${name}`, a);
  const other = await accepted.promise;
  const ready = await Promise.all([dialed.handshake, other.handshake]);
  return {
    dialed,
    accepted: other,
    ready,
    stop: () => {
      stop();
      dialed.close("test over");
      other.close("test over");
      return closed.promise;
    },
  };
}

const run = (args: unknown[]) => ({ fun: "echo", step: "s", args, timeout: 1_000 });

Deno.test("PeerLink over memory: the handshake exchanges records, without and with a cluster secret", async () => {
  for (const secret of [undefined, "s3cret"]) {
    const a = host("a", { secret });
    const b = host("b", { secret });
    const pair = await link(`peer-mem-hs-${secret ?? "open"}`, a, b);
    try {
      assert.deepEqual(pair.ready, [true, true], pair.dialed.closeReason);
      assert.equal(pair.dialed.peer, "b");
      assert.equal(pair.accepted.peer, "a");
      assert.equal(pair.dialed.dialerNonce, pair.accepted.dialerNonce);
      assert.equal(await pair.dialed.run(run(["hi"]), new AbortController().signal), "hi");
    } finally {
      await pair.stop();
    }
  }
});

Deno.test("PeerLink over memory: a wrong secret and another cluster are refused in the handshake", async () => {
  const wrong = await link(
    "peer-mem-secret",
    host("a", { secret: "x" }),
    host("b", { secret: "y" }),
  );
  await wrong.stop();
  assert.deepEqual(wrong.ready, [false, false]);
  assert.match(wrong.dialed.closeReason, /does not know the cluster secret/);

  const other = await link("peer-mem-cluster", host("a", { cluster: "one" }), host("b"));
  await other.stop();
  assert.deepEqual(other.ready, [false, false]);
  assert.match(other.dialed.closeReason, /refused: Cluster ID mismatch/);
});

Deno.test("PeerLink over memory: a peer that never answers the hello times the handshake out", async () => {
  const accepted: MemoryChannel[] = [];
  const stop = listenMemory("peer-mem-silent", {
    select: () => PEER_PROTOCOL,
    accept: (channel) => accepted.push(channel),
  });
  try {
    const dialed = PeerLink.dial("memory://peer-mem-silent", host("a", { handshakeTimeoutMs: 20 }));
    assert.equal(await dialed.handshake, false);
    assert.equal(dialed.closeReason, "handshake timed out");
  } finally {
    stop();
    for (const channel of accepted) channel.drop();
  }
});

Deno.test("PeerLink over memory: a result over the limits the dialer announced, or one that cannot be encoded, is that step's error, and the link stays up", async () => {
  // The dialer decodes frames of at most 4 KB: it says so in its hello.
  const a = host("a", { limits: { ...DEFAULT_LIMITS, maxFrameBytes: 4096 } });
  const b = host("b");
  b.answerWith = (link, message) => {
    const kind = message.args[0];
    const value = kind === "big" ? "x".repeat(10_000) : kind === "symbol" ? Symbol("no") : kind;
    link.answer({ t: "result", id: message.id, value });
  };
  const pair = await link("peer-mem-limits", a, b);
  try {
    const signal = new AbortController().signal;
    await assert.rejects(pair.dialed.run(run(["big"]), signal), (err: unknown) => {
      assert.ok(err instanceof RpcError, String(err));
      assert.equal(err.code, ErrorCode.LimitExceeded);
      assert.match(err.message, /over the limit of 4096 of node "a"/);
      return true;
    });
    await assert.rejects(pair.dialed.run(run(["symbol"]), signal), (err: unknown) => {
      assert.ok(err instanceof RpcError, String(err));
      assert.equal(err.code, ErrorCode.Function);
      assert.match(err.message, /cannot be encoded as msgpack/);
      return true;
    });
    assert.ok(pair.dialed.ready && pair.accepted.ready, "the link stays up");
    assert.equal(await pair.dialed.run(run(["small"]), signal), "small");
  } finally {
    await pair.stop();
  }
});

Deno.test("PeerLink over memory: aborting a step sends its cancel, and a closed link fails the steps in flight", async () => {
  const a = host("a");
  const b = host("b");
  b.answerWith = () => {}; // never answers
  const pair = await link("peer-mem-cancel", a, b);
  try {
    const controller = new AbortController();
    const step = pair.dialed.run(run([1]), controller.signal);
    while (b.runs.length === 0) await new Promise((r) => setTimeout(r, 1));
    controller.abort(new Error("stop"));
    await assert.rejects(step, /stop/);
    while (b.cancelled.length === 0) await new Promise((r) => setTimeout(r, 1));
    assert.deepEqual(b.cancelled, [b.runs[0]!.id]);

    const lost = pair.dialed.run(run([2]), new AbortController().signal);
    pair.accepted.close("going away");
    await assert.rejects(lost, /Lost the link to node "b" while a step was running there/);
  } finally {
    await pair.stop();
  }
});

Deno.test("PeerLink over memory: an 'end' for a run that is not a stream is malformed (it would have answered the step with undefined)", async () => {
  const a = host("a");
  const b = host("b");
  b.answerWith = (link, message) => link.send({ t: "end", id: message.id });
  const pair = await link("peer-mem-end", a, b);
  try {
    await assert.rejects(
      pair.dialed.run(run([1]), new AbortController().signal),
      (err: unknown) => {
        assert.ok(err instanceof RpcError, String(err));
        assert.equal(err.code, ErrorCode.Connection);
        assert.match(err.message, /malformed end/);
        return true;
      },
    );
  } finally {
    await pair.stop();
  }
});

Deno.test("PeerLink over memory: a chunk past a stream's credit is malformed (a member could make its coordinator hold without bound)", async () => {
  const a = host("a");
  const b = host("b");
  // Credit 2, but the member sends 3 chunks before any more is granted.
  b.answerWith = (link, message) => {
    for (let i = 0; i < 3; i++) link.send({ t: "chunk", id: message.id, value: i });
  };
  const pair = await link("peer-mem-credit", a, b);
  try {
    const relay = await pair.dialed.run({ ...run([1]), stream: 2 }, new AbortController().signal);
    const got: unknown[] = [];
    const failed = Promise.withResolvers<unknown>();
    (relay as StreamSource).start(
      { chunk: (v) => got.push(v), end: () => failed.resolve(null), error: failed.resolve },
      2,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const error = await Promise.race([
      failed.promise,
      new Promise((resolve) => timer = setTimeout(() => resolve("no end in 5 s"), 5_000)),
    ]);
    clearTimeout(timer);
    assert.deepEqual(got, [0, 1], "the chunks within the credit are relayed");
    assert.ok(error instanceof RpcError, String(error));
    assert.equal(error.code, ErrorCode.Connection);
    assert.match(error.message, /malformed chunk: past the stream's credit/);
  } finally {
    await pair.stop();
  }
});

Deno.test("PeerLink over memory: progress reports reach a run that asked for them, in order before its result; one over the limits is dropped; a malformed one closes the link", async () => {
  const a = host("a", { limits: { ...DEFAULT_LIMITS, maxStringBytes: 1_000 } });
  const b = host("b");
  b.answerWith = (link, message) => {
    if (message.progress === true) {
      link.progress(message.id, 0.5);
      // Over the 1,000 bytes a string may hold on `a`: dropped, the run goes on.
      link.progress(message.id, "x".repeat(2_000));
      link.progress(message.id, { done: 1, total: 1 });
    }
    link.answer({ t: "result", id: message.id, value: message.args[0] });
  };
  const pair = await link("peer-mem-progress", a, b);
  try {
    const seen: unknown[] = [];
    const value = await pair.dialed.run(
      run(["done"]),
      new AbortController().signal,
      (report) => seen.push(report),
    );
    assert.equal(value, "done");
    assert.deepEqual(seen, [0.5, { done: 1, total: 1 }]);
    assert.equal(b.runs[0]!.progress, true);
    // Not asked: the run message carries no `progress`, and the member sends none.
    assert.equal(await pair.dialed.run(run([7]), new AbortController().signal), 7);
    assert.equal(b.runs[1]!.progress, undefined);

    b.answerWith = (link, message) =>
      link.send({ t: "progress", id: message.id } as unknown as RunMessage);
    await assert.rejects(
      pair.dialed.run(run([1]), new AbortController().signal, () => {}),
      (err: unknown) => {
        assert.ok(err instanceof RpcError, String(err));
        assert.equal(err.code, ErrorCode.Connection);
        assert.match(err.message, /malformed progress/);
        return true;
      },
    );
  } finally {
    await pair.stop();
  }
});

/** A generator of `n` chunks that counts what it produced. */
function counted(n: number) {
  const state = { produced: 0, closed: false };
  const source = new ProducerSource(
    (function* () {
      try {
        for (let i = 0; i < n; i++) {
          state.produced++;
          yield i;
        }
      } finally {
        state.closed = true;
      }
    })(),
    new AbortController().signal,
    (e) => e,
  );
  return { state, source };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

Deno.test("PeerLink over memory: an input stream is fed only as far as the member's in-credit, then its end", async () => {
  const a = host("a");
  const b = host("b");
  let member: PeerLink | null = null;
  let runId = -1;
  b.answerWith = (link, message) => {
    member = link;
    runId = message.id;
  };
  const pair = await link("peer-mem-inputs", a, b);
  try {
    const { state, source } = counted(5);
    const answer = pair.dialed.run(
      { ...run([0, null]), ins: [{ i: 0, arg: 1 }] },
      new AbortController().signal,
      undefined,
      [source],
    );
    await tick();
    assert.deepEqual(b.runs[0]!.args, [0, null]);
    assert.deepEqual(b.runs[0]!.ins, [{ i: 0, arg: 1 }]);
    assert.equal(state.produced, 0, "nothing read before the member asks");
    member!.send({ t: "in-credit", id: runId, i: 0, n: 2 });
    await tick();
    assert.equal(state.produced, 2, "read as far as the credit");
    assert.deepEqual(b.inputs.map((m) => m.t === "in" ? m.value : m.t), [0, 1]);
    member!.send({ t: "in-credit", id: runId, i: 0, n: 8 });
    await tick();
    assert.deepEqual(b.inputs.map((m) => m.t === "in" ? m.value : m.t), [0, 1, 2, 3, 4, "in-end"]);
    member!.answer({ t: "result", id: runId, value: "done" });
    assert.equal(await answer, "done");
  } finally {
    await pair.stop();
  }
});

Deno.test("PeerLink over memory: in-cancel closes the input's producer; a step refused unstarted leaves it untouched", async () => {
  const a = host("a");
  const b = host("b");
  let member: PeerLink | null = null;
  let runId = -1;
  b.answerWith = (link, message) => {
    member = link;
    runId = message.id;
  };
  const pair = await link("peer-mem-in-cancel", a, b);
  try {
    const { state, source } = counted(100);
    const answer = pair.dialed.run(
      { ...run([null]), ins: [{ i: 0, arg: 0 }] },
      new AbortController().signal,
      undefined,
      [source],
    );
    await tick();
    member!.send({ t: "in-credit", id: runId, i: 0, n: 1 });
    await tick();
    member!.send({ t: "in-cancel", id: runId, i: 0 });
    await tick();
    assert.ok(state.closed, "the generator's finally ran");
    member!.answer({ t: "result", id: runId, value: 1 });
    await answer;

    const untouched = counted(3);
    b.answerWith = (link, message) =>
      link.answer({
        t: "error",
        id: message.id,
        error: { code: 1014, message: "draining", details: null },
        started: false,
      });
    await assert.rejects(
      pair.dialed.run(
        { ...run([null]), ins: [{ i: 0, arg: 0 }] },
        new AbortController().signal,
        undefined,
        [untouched.source],
      ),
      (err: unknown) => (err as Error).name === "Unstarted",
    );
    assert.equal(untouched.state.produced, 0);
    assert.ok(!untouched.state.closed, "left for the next member");
  } finally {
    await pair.stop();
  }
});

Deno.test("PeerLink over memory: malformed input messages close the link (bad ins, in-credit, a chunk past the member's credit)", async () => {
  for (
    const [label, message, pattern] of [
      [
        "ins at a non-null position",
        { t: "run", id: 1, ...run([1]), ins: [{ i: 0, arg: 0 }] },
        /malformed run/,
      ],
      [
        "ins out of range",
        { t: "run", id: 1, ...run([null]), ins: [{ i: 0, arg: 3 }] },
        /malformed run/,
      ],
      [
        "ins numbered wrong",
        { t: "run", id: 1, ...run([null]), ins: [{ i: 1, arg: 0 }] },
        /malformed run/,
      ],
      ["may without stream", { t: "run", id: 1, ...run([1]), may: true }, /malformed run/],
      ["in-credit of 0", { t: "in-credit", id: 1, i: 0, n: 0 }, /malformed in-credit/],
      ["in-error without an error", { t: "in-error", id: 1, i: 0 }, /malformed in-error/],
      ["in past credit", { t: "in", id: 1, i: 0, value: 1 }, /past the stream's credit/],
    ] as const
  ) {
    const a = host("a");
    const b = host("b");
    b.input = () => false;
    const pair = await link(`peer-mem-bad-${label.replaceAll(" ", "-")}`, a, b);
    try {
      pair.dialed.send(message as unknown as PeerMessage);
      await tick();
      assert.ok(!pair.accepted.ready, `${label}: the link closed`);
      assert.match(pair.accepted.closeReason, pattern, label);
    } finally {
      await pair.stop();
    }
  }
});

Deno.test("PeerLink over memory: steps sent to one member in the same turn leave together, as one frame", async () => {
  const a = host("a");
  const b = host("b");
  const accepted = Promise.withResolvers<PeerLink>();
  const closed = Promise.withResolvers<void>();
  let frames = 0;
  const stop = listenMemory("peer-mem-fan-out", {
    select: (offered) => offered.includes(PEER_PROTOCOL) ? PEER_PROTOCOL : null,
    accept: (channel) => {
      accepted.resolve(PeerLink.accept(channel, b, "memory"));
      const onmessage = channel.onmessage!;
      channel.onmessage = (event) => {
        frames++;
        onmessage(event);
      };
      const onclose = channel.onclose!;
      channel.onclose = (event) => {
        onclose(event);
        closed.resolve();
      };
    },
  });
  const dialed = PeerLink.dial("memory://peer-mem-fan-out", a);
  const other = await accepted.promise;
  try {
    assert.deepEqual(await Promise.all([dialed.handshake, other.handshake]), [true, true]);
    const before = frames;
    const signal = new AbortController().signal;
    // A fan-out of three steps to one member, as a request's scheduler starts them: one turn.
    const values = await Promise.all([1, 2, 3].map((n) => dialed.run(run([n]), signal)));
    assert.deepEqual(values, [1, 2, 3]);
    assert.equal(b.runs.length, 3);
    assert.equal(frames - before, 1, "the three runs came in one frame");
  } finally {
    stop();
    dialed.close("test over");
    other.close("test over");
    await closed.promise;
  }
});
