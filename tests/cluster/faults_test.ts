// Copyright 2026 the mpreg authors. MIT license.
// Failure detection and recovery with real node processes: SIGKILL under
// load, SIGSTOP and resume, a graceful stop under load.
import assert from "node:assert/strict";
import { Client, type MemberInfo, type Server, TimeoutError } from "../../mod.ts";
import { startServer, waitFor } from "../_helpers/mod.ts";
import { repoPath, ServerProcess } from "../_helpers/process.ts";

const INTERVAL_S = 0.2;

/** A node process serving `work` and `whoami`, seeded with `seed`. */
async function nodeProcess(dir: string, name: string, seed: string, port = 0) {
  const path = `${dir}/${name}.yaml`;
  await Deno.writeTextFile(
    path,
    [
      `name: ${name}`,
      `port: ${port}`,
      `peers: [${seed}]`,
      `gossip_interval: ${INTERVAL_S}`,
      "functions:",
      `  - module: ${repoPath("tests/fixtures/cluster_functions.ts")}`,
    ].join("\n"),
  );
  const proc = new ServerProcess(["--config", path, "--log-level", "debug"]);
  const url = await proc.url;
  return { proc, url, port: Number(new URL(url).port) };
}

function state(entry: Server, name: string): MemberInfo["state"] | undefined {
  return entry.cluster.member(name)?.state;
}

async function withCluster(
  fn: (entry: Server, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const entry = await startServer({ name: "entry", gossipIntervalMs: INTERVAL_S * 1000 });
  try {
    await fn(entry, dir);
  } finally {
    await entry.stop({ drainTimeoutMs: 0 });
    await Deno.remove(dir, { recursive: true });
  }
}

/** Calls `work` in a loop from `callers` callers until `stop`, recording every outcome. */
function load(client: Client, callers: number, timeoutMs: number) {
  const outcomes: Array<{ sent: number; ended: number; ok: boolean; error?: unknown }> = [];
  let running = true;
  const loops = Array.from({ length: callers }, async () => {
    while (running) {
      const sent = Date.now();
      try {
        await client.call("work", [20], { timeoutMs });
        outcomes.push({ sent, ended: Date.now(), ok: true });
      } catch (error) {
        outcomes.push({ sent, ended: Date.now(), ok: false, error });
      }
    }
  });
  return {
    outcomes,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

Deno.test("faults: SIGKILL under load; calls end in time, survivors serve, the node rejoins", async () => {
  await withCluster(async (entry, dir) => {
    const b = await nodeProcess(dir, "b", entry.url);
    const c = await nodeProcess(dir, "c", entry.url);
    let b2: Awaited<ReturnType<typeof nodeProcess>> | null = null;
    try {
      await waitFor(() => state(entry, "b") === "alive" && state(entry, "c") === "alive");
      await waitFor(() => (entry.cluster.functions().work ?? []).length === 2, 5_000, "catalog");
      await using client = new Client(entry.url);
      const timeoutMs = 3_000;
      const traffic = load(client, 16, timeoutMs);
      await new Promise((r) => setTimeout(r, 300));
      const killedAt = Date.now();
      await b.proc.stop("SIGKILL");
      await waitFor(() => state(entry, "b") !== "alive", 5_000, "b to be suspected");
      const suspectedAt = Date.now();
      await new Promise((r) => setTimeout(r, 500));
      await traffic.stop();
      const { outcomes } = traffic;
      assert.ok(outcomes.length > 50, `load ran: ${outcomes.length} calls`);
      for (const o of outcomes) {
        assert.ok(!(o.error instanceof TimeoutError), "no call ran into its deadline");
        assert.ok(o.ended - o.sent < timeoutMs, "every call ended within its deadline");
      }
      const failed = outcomes.filter((o) => !o.ok);
      assert.ok(
        failed.every((o) => o.sent < suspectedAt),
        "only calls sent before the suspicion failed",
      );
      assert.ok(
        outcomes.filter((o) => o.sent >= suspectedAt).every((o) => o.ok),
        "calls after the suspicion reach the survivors",
      );
      assert.ok(killedAt <= suspectedAt);
      // Restart b: it rejoins with a higher incarnation and serves again.
      b2 = await nodeProcess(dir, "b", entry.url);
      await waitFor(() => state(entry, "b") === "alive", 10_000, "b to rejoin");
      await waitFor(
        () => entry.cluster.functions().work?.includes("b") ?? false,
        5_000,
        "b's functions",
      );
      const served = new Set<string>();
      await waitFor(
        async () => {
          served.add(await client.call("whoami", [], { locs: [] }) as string);
          return served.has("b");
        },
        10_000,
        "a call to reach the restarted b",
      );
    } finally {
      await b.proc.stop("SIGKILL");
      await b2?.proc.stop();
      await c.proc.stop();
    }
  });
});

Deno.test("faults: a node paused with SIGSTOP is suspected, then refutes when resumed", async () => {
  await withCluster(async (entry, dir) => {
    const b = await nodeProcess(dir, "b", entry.url);
    try {
      await waitFor(() => state(entry, "b") === "alive");
      const before = entry.cluster.member("b")!.incarnation;
      b.proc.child.kill("SIGSTOP");
      await waitFor(() => state(entry, "b") === "suspect", 5_000, "b to be suspected");
      b.proc.child.kill("SIGCONT");
      await waitFor(() => state(entry, "b") === "alive", 10_000, "b to refute");
      assert.ok(
        entry.cluster.member("b")!.incarnation > before,
        "refuted with a higher incarnation",
      );
      await using client = new Client(entry.url);
      assert.equal(await client.call("whoami"), "b");
    } finally {
      b.proc.child.kill("SIGCONT");
      await b.proc.stop();
    }
  });
});

Deno.test("faults: a graceful stop under load fails no call sent after the leave", async () => {
  await withCluster(async (entry, dir) => {
    const b = await nodeProcess(dir, "b", entry.url);
    const c = await nodeProcess(dir, "c", entry.url);
    try {
      await waitFor(() => (entry.cluster.functions().work ?? []).length === 2, 10_000, "catalog");
      await using client = new Client(entry.url);
      const traffic = load(client, 16, 5_000);
      await new Promise((r) => setTimeout(r, 300));
      let leftAt = Infinity;
      entry.cluster.addEventListener("left", () => leftAt = Math.min(leftAt, Date.now()));
      const status = await b.proc.stop("SIGTERM");
      assert.equal(status.code, 0);
      await waitFor(() => state(entry, "b") === "left", 5_000, "b to have left");
      await new Promise((r) => setTimeout(r, 300));
      await traffic.stop();
      const after = traffic.outcomes.filter((o) => o.sent >= leftAt);
      assert.ok(after.length > 10, "calls were sent after the leave");
      assert.deepEqual(after.filter((o) => !o.ok).map((o) => String(o.error)), []);
      assert.deepEqual(
        traffic.outcomes.filter((o) => !o.ok).map((o) => String(o.error)),
        [],
        "the drain let every call finish",
      );
    } finally {
      await b.proc.stop();
      await c.proc.stop();
    }
  });
});
