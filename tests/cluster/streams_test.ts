// Copyright 2026 the mpreg authors. MIT license.
// Streamed results across a forwarded hop (issue 18): a client on node A
// reads a stream whose producer runs on node B (`locs` forces B). Chunks
// arrive in order in both encodings; credit holds a fast producer to a slow
// reader on both nodes; the reader's cancel runs the generator's `finally`
// on B; a producer's error and B's death reach the reader at once.
import assert from "node:assert/strict";
import {
  type CallContext,
  CancelledError,
  Client,
  ConnectionError,
  FunctionError,
} from "../../mod.ts";
import { streamStats } from "../../src/server/stream_sender.ts";
import { EncodedValue } from "../../src/protocol/encoded_value.ts";
import { converged, known, startCluster } from "../_helpers/cluster.ts";
import { delay, startServer, waitFor } from "../_helpers/mod.ts";
import { memberProcess } from "../_helpers/process.ts";

/** Two nodes, A (`n0`) and B (`n1`, resource `b`); `setup` registers on B. */
async function withPair(
  setup: (b: Awaited<ReturnType<typeof startCluster>>["nodes"][number]) => void,
  test: (a: { url: string }) => Promise<void>,
): Promise<void> {
  await using cluster = await startCluster(2, "star", (i) => ({
    resources: i === 0 ? [] : ["b"],
  }));
  const [a, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
  setup(b);
  await converged(cluster.nodes);
  await known(cluster.nodes, "ran", "n1");
  await test(a);
}

function register(
  b: Parameters<Parameters<typeof withPair>[0]>[0],
  name: string,
  fn: (...args: never[]) => unknown,
) {
  b.register("ran", function (this: CallContext) {
    return this.node;
  }, { resources: ["b"] });
  b.register(name, fn, { resources: ["b"] });
}

for (const encoding of ["msgpack", "json"] as const) {
  Deno.test(`streams (${encoding}): 10,000 chunks arrive in order through A → B`, async () => {
    await withPair(
      (b) =>
        register(b, "count", async function* (this: CallContext, n: number) {
          for (let i = 0; i < n; i++) yield { i, node: this.node };
        }),
      async (a) => {
        await using client = new Client(a.url, { encoding });
        let next = 0;
        for await (const chunk of client.stream("count", [10_000], { locs: ["b"] })) {
          assert.deepEqual(chunk, { i: next, node: "n1" });
          next++;
        }
        assert.equal(next, 10_000);
      },
    );
  });
}

/** Bytes that differ from chunk to chunk: `size` bytes from seed `i`. */
function bytesOf(i: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let j = 0; j < size; j++) out[j] = (i * 31 + j * 7) & 0xff;
  return out;
}

const BINARY_SIZES = [65_536, 10, 70_000, 65_536, 9_000, 200_000, 65_536, 300, 65_536];

for (const encoding of ["msgpack", "json"] as const) {
  Deno.test(`streams (${encoding}): large chunks relayed by A as B encoded them arrive intact`, async () => {
    // A passes B's encoding of each chunk into the client's frame (msgpack)
    // or decodes it (json); frame buffers are reused on both links: every
    // chunk must still arrive whole and in order, whatever its size.
    await withPair(
      (b) =>
        register(b, "blobs", async function* (n: number) {
          for (let i = 0; i < n; i++) {
            const bytes = bytesOf(i, BINARY_SIZES[i % BINARY_SIZES.length]!);
            yield encoding === "msgpack" ? bytes : { i, text: "x".repeat(bytes.length / 10 | 0) };
          }
        }),
      async (a) => {
        await using client = new Client(a.url, { encoding });
        const n = 3 * BINARY_SIZES.length;
        let i = 0;
        for await (const chunk of client.stream("blobs", [n], { locs: ["b"], credit: 4 })) {
          const size = BINARY_SIZES[i % BINARY_SIZES.length]!;
          if (encoding === "msgpack") {
            assert.ok(chunk instanceof Uint8Array);
            assert.deepEqual(new Uint8Array(chunk), bytesOf(i, size));
          } else {
            assert.deepEqual(chunk, { i, text: "x".repeat(size / 10 | 0) });
          }
          i++;
        }
        assert.equal(i, n);
      },
    );
  });
}

Deno.test("streams: A relays B's chunks to a msgpack client without decoding them; a json client gets them decoded", async () => {
  // Every chunk A decodes goes through EncodedValue.decode: counted here
  // (the nodes run in this process).
  const decode = EncodedValue.prototype.decode;
  let decoded = 0;
  EncodedValue.prototype.decode = function (this: EncodedValue) {
    decoded++;
    return decode.call(this);
  };
  try {
    await withPair(
      (b) =>
        register(b, "rows", async function* (n: number) {
          for (let i = 0; i < n; i++) yield { i, bytes: new Uint8Array(100).fill(i) };
        }),
      async (a) => {
        // With progress asked for too: the stream then passes through what
        // ends the step's reports with it.
        for (const progress of [false, true]) {
          for (const encoding of ["msgpack", "json"] as const) {
            decoded = 0;
            await using client = new Client(a.url, { encoding });
            let i = 0;
            const options = progress ? { locs: ["b"], onProgress: () => {} } : { locs: ["b"] };
            for await (const chunk of client.stream("rows", [50], options)) {
              assert.equal((chunk as { i: number }).i, i++);
            }
            assert.equal(i, 50);
            const what = `${encoding}${progress ? " with progress" : ""}: chunks decoded on A`;
            assert.equal(decoded, encoding === "msgpack" ? 0 : 50, what);
          }
        }
      },
    );
  } finally {
    EncodedValue.prototype.decode = decode;
  }
});

Deno.test("streams: a slow reader holds a fast producer on B to the credit, and A holds nothing", async () => {
  const credit = 4;
  let produced = 0;
  await withPair(
    (b) =>
      register(b, "fast", function* () {
        for (let i = 0; i < 40; i++) {
          produced++;
          yield i;
        }
      }),
    async (a) => {
      await using client = new Client(a.url);
      let consumed = 0;
      let most = 0;
      for await (const _ of client.stream("fast", [], { locs: ["b"], credit })) {
        consumed++;
        // Produced but not yet read: in the reader's queue, on the wire, on A.
        most = Math.max(most, produced - consumed);
        assert.ok(
          produced - consumed <= credit + 1,
          `${produced} produced, ${consumed} read, credit ${credit}`,
        );
        assert.equal(streamStats.buffered, 0, "chunks held on A past the credit");
        await delay(10);
      }
      assert.equal(consumed, 40);
      // The producer did run ahead, as far as the credit allows.
      assert.ok(most >= credit - 1, `at most ${most} ahead`);
    },
  );
});

for (const how of ["cancel()", "signal"] as const) {
  Deno.test(`streams: the reader's ${how} stops a generator on B (its finally runs)`, async () => {
    let produced = 0;
    let finallyRan = false;
    let aborted = false;
    await withPair(
      (b) =>
        register(b, "endless", async function* (this: CallContext) {
          try {
            for (;;) {
              produced++;
              yield produced;
              await delay(1);
            }
          } finally {
            finallyRan = true;
            aborted = this.signal.aborted;
          }
        }),
      async (a) => {
        await using client = new Client(a.url);
        const controller = new AbortController();
        const reader = client.stream("endless", [], { locs: ["b"], signal: controller.signal })
          .getReader();
        for (let i = 1; i <= 3; i++) assert.equal((await reader.read()).value, i);
        if (how === "cancel()") {
          await reader.cancel("enough");
        } else {
          controller.abort();
          const err = await reader.read().then(() => null, (e) => e);
          // Chunks already queued may come first; the error follows them.
          if (err === null) {
            let e: unknown = null;
            while (e === null) {
              e = await reader.read().then((r) => (r.done ? "done" : null), (x) => x);
            }
            assert.ok(e instanceof CancelledError, String(e));
          } else {
            assert.ok(err instanceof CancelledError, String(err));
          }
        }
        await waitFor(() => finallyRan, 5_000, "the generator's finally on B");
        assert.ok(aborted, "this.signal aborted on B");
        const stopped = produced;
        await delay(50);
        assert.equal(produced, stopped);
      },
    );
  });
}

Deno.test("streams: a producer's error mid-stream reaches the reader as 1003, after its chunks", async () => {
  await withPair(
    (b) =>
      register(b, "fails", async function* () {
        for (let i = 0; i < 5; i++) yield i;
        throw new RangeError("out of ticks");
      }),
    async (a) => {
      await using client = new Client(a.url);
      const got: unknown[] = [];
      const err = await (async () => {
        for await (const chunk of client.stream("fails", [], { locs: ["b"] })) got.push(chunk);
      })().then(() => null, (e) => e);
      assert.deepEqual(got, [0, 1, 2, 3, 4]);
      assert.ok(err instanceof FunctionError, String(err));
      assert.equal(err.code, 1003);
      assert.match(err.message, /RangeError: out of ticks/);
    },
  );
});

Deno.test("streams: B killed mid-stream fails the reader with a ConnectionError at once", async () => {
  const dir = await Deno.makeTempDir();
  await using a = await startServer({ name: "a", gossipIntervalMs: 150 });
  const b = await memberProcess(dir, "b", a.url, "tests/fixtures/stream_functions.ts");
  try {
    await b.url;
    await waitFor(() => (a.cluster.functions().ticks ?? []).length === 1, 10_000, "catalog");
    await using client = new Client(a.url);
    // Long deadlines: only the link's loss may end the stream.
    const reader = client.stream("ticks", [], {
      locs: ["b"],
      idleTimeoutMs: 60_000,
      timeoutMs: 60_000,
    }).getReader();
    assert.equal((await reader.read()).value, "tick 0");
    await b.stop("SIGKILL");
    let err: unknown = null;
    while (err === null) {
      err = await reader.read().then((r) => (r.done ? "ended" : null), (e) => e);
    }
    assert.ok(err instanceof ConnectionError, String(err));
  } finally {
    await b.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});
