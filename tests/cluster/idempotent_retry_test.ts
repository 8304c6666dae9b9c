// Copyright 2026 the mpreg authors. MIT license.
// Opt-in retries: a function registered idempotent is re-sent after a
// failure that may have run it (its node killed under load), by the
// coordinating node and by the client; any other function never is.
import assert from "node:assert/strict";
import { type CallContext, Client, ConnectionError, ErrorCode, type Server } from "../../mod.ts";
import { delay, rpcFailure, startServer, waitFor } from "../_helpers/mod.ts";
import { repoPath, ServerProcess } from "../_helpers/process.ts";
import { work } from "../fixtures/cluster_functions.ts";

const INTERVAL_MS = 200;

/** A node process serving the retry functions, `slowIdem` registered idempotent. */
async function nodeProcess(dir: string, name: string, seed: string) {
  const path = `${dir}/${name}.yaml`;
  const proc = await ServerProcess.fromYaml(path, [
    `name: ${name}`,
    "port: 0",
    `peers: [${seed}]`,
    `gossip_interval: ${INTERVAL_MS / 1000}`,
    "functions:",
    `  - module: ${repoPath("tests/fixtures/retry_functions.ts")}`,
    "    idempotent: [slowIdem, slowTicks]",
    // Inline: a sandboxed function cannot stream (yet).
    "    trusted: true",
  ]);
  await proc.url;
  return proc;
}

/** The same functions in this process, counting their runs. */
function serveCounted(node: Server): { runs: Record<string, number> } {
  const runs: Record<string, number> = { slowIdem: 0, slowOnce: 0, slowTicks: 0 };
  const slow = (fun: string) =>
    function (this: CallContext, ms: number): Promise<string> {
      runs[fun]!++;
      return work.call(this, ms);
    };
  node.register("slowIdem", slow("slowIdem"), { idempotent: true });
  node.register("slowTicks", async function* (this: CallContext, ms: number) {
    runs.slowTicks!++;
    yield await work.call(this, ms);
  }, { idempotent: true });
  node.register("slowOnce", slow("slowOnce"));
  return { runs };
}

/** A promise's outcome, handled at once (the test awaits it later). */
function settled(promise: Promise<unknown>): Promise<{ value?: unknown; error?: string }> {
  return promise.then((value) => ({ value }), (error) => ({ error: String(error) }));
}

async function withNodes(
  fn: (c: Server, b: ServerProcess, runs: Record<string, number>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const c = await startServer({ name: "c", gossipIntervalMs: INTERVAL_MS });
  const { runs } = serveCounted(c);
  const b = await nodeProcess(dir, "b", c.url);
  try {
    await waitFor(
      () => (c.cluster.functions().slowIdem ?? []).includes("b"),
      10_000,
      "b's functions in c's catalog",
    );
    await fn(c, b, runs);
  } finally {
    await b.stop("SIGKILL");
    await c.stop({ drainTimeoutMs: 0 });
    await Deno.remove(dir, { recursive: true });
  }
}

/** An entry node `a` seeded with c, once its catalog lists `fun` on b and c. */
async function withEntry(
  c: Server,
  fun: string,
  fn: (a: Server) => Promise<void>,
): Promise<void> {
  const a = await startServer({ name: "a", gossipIntervalMs: INTERVAL_MS, peers: [c.url] });
  try {
    await waitFor(
      () => (a.cluster.functions()[fun] ?? []).length === 2,
      10_000,
      "b and c in a's catalog",
    );
    await fn(a);
  } finally {
    await a.stop({ drainTimeoutMs: 0 });
  }
}

Deno.test("retries: the client re-sends an idempotent call whose node was killed while running it", async () => {
  await withNodes(async (c, b, runs) => {
    await using client = new Client([await b.url, c.url], { timeoutMs: 5_000 });
    const call = settled(client.call("slowIdem", [400]));
    await delay(150);
    await b.stop("SIGKILL");
    assert.deepEqual(await call, { value: "c" }, "the call was re-sent to c and answered there");
    assert.equal(runs.slowIdem, 1);
  });
});

Deno.test("retries: the client never re-sends a call to a function not registered idempotent", async () => {
  await withNodes(async (c, b, runs) => {
    await using client = new Client([await b.url, c.url], { timeoutMs: 5_000 });
    const call = client.call("slowOnce", [400]);
    const failure = rpcFailure(call);
    await delay(150);
    await b.stop("SIGKILL");
    const error = await failure;
    assert.ok(error instanceof ConnectionError, `${error.name}: ${error.message}`);
    assert.equal(error.code, ErrorCode.Connection);
    // Nothing reaches c later either.
    await delay(500);
    assert.equal(runs.slowOnce, 0, "c never ran it");
  });
});

Deno.test("retries: under load, a killed node's idempotent steps are re-sent by the coordinator; none fail", async () => {
  await withNodes(async (c, b) => {
    // An entry node without the function: it spreads the steps over b and c.
    await withEntry(c, "slowIdem", async (a) => {
      await using client = new Client(a.url, { timeoutMs: 5_000 });
      let running = true;
      const outcomes: Array<{ ok: boolean; node?: string; error?: unknown }> = [];
      const loops = Array.from({ length: 16 }, async () => {
        while (running) {
          try {
            const node = await client.call("slowIdem", [100]) as string;
            outcomes.push({ ok: true, node });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      });
      await waitFor(() => outcomes.some((o) => o.node === "b"), 5_000, "b to serve calls");
      await b.stop("SIGKILL");
      await delay(600);
      running = false;
      await Promise.all(loops);
      const failed = outcomes.filter((o) => !o.ok);
      assert.deepEqual(
        failed.map((o) => String(o.error)),
        [],
        "no call failed: the steps running on b were re-sent",
      );
      assert.ok((a.stats().cluster?.retried ?? 0) > 0, "some steps were re-sent");
      assert.ok(outcomes.filter((o) => o.node === "c").length > 0);
    });
  });
});

Deno.test("retries: a stream is never sent again, even of an idempotent function, when its member is lost", async () => {
  await withNodes(async (c, b, runs) => {
    await withEntry(c, "slowTicks", async (a) => {
      await using client = new Client(a.url, { timeoutMs: 5_000 });
      // Streams spread over b and c; b is killed before any sends its chunk.
      const outcomes = Array.from(
        { length: 16 },
        () => settled(Array.fromAsync(client.stream("slowTicks", [400]))),
      );
      await delay(150);
      await b.stop("SIGKILL");
      const ends = await Promise.all(outcomes);
      const failed = ends.filter((end) => end.error !== undefined);
      assert.ok(failed.length > 0, "the streams running on b failed");
      for (const end of failed) assert.match(end.error!, /^ConnectionError: /);
      const fromC = ends.filter((end) => JSON.stringify(end.value) === '["c"]').length;
      assert.equal(fromC + failed.length, 16, JSON.stringify(ends));
      assert.equal(runs.slowTicks, fromC, "c ran only the streams first sent to it");
      assert.equal(a.stats().cluster?.retried, 0);
    });
  });
});
