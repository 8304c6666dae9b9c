// Copyright 2026 the mpreg authors. MIT license.
// Graceful stops lose nothing, with real node processes stopped by SIGTERM:
// a stop under load keeps every answer the node sent, and a rolling restart
// of every node of a cluster fails no call.
import assert from "node:assert/strict";
import { Client, ConnectionError, UnavailableError } from "../../mod.ts";
import { waitFor } from "../_helpers/mod.ts";
import { repoPath, ServerProcess } from "../_helpers/process.ts";

interface NodeProcess {
  name: string;
  proc: ServerProcess;
  url: string;
  port: number;
}

/** A node process serving `tally` (inline), not preferring local runs, so steps cross links. */
async function startNode(
  dir: string,
  name: string,
  options: { port?: number; peers?: string[] } = {},
): Promise<NodeProcess> {
  const path = `${dir}/${name}.yaml`;
  await Deno.writeTextFile(
    path,
    [
      `name: ${name}`,
      `port: ${options.port ?? 0}`,
      `peers: [${(options.peers ?? []).join(", ")}]`,
      "gossip_interval: 0.2",
      "prefer_local: false",
      "drain_timeout: 10",
      "functions:",
      `  - module: ${repoPath("tests/fixtures/tally_functions.ts")}`,
      "    trusted: true",
    ].join("\n"),
  );
  const proc = new ServerProcess(["--config", path, "--log-level", "debug"]);
  const url = await proc.url;
  return { name, proc, url, port: Number(new URL(url).port) };
}

/** The members `node` sees alive that offer `tally`. */
async function serving(node: NodeProcess): Promise<string[]> {
  try {
    const view = await (await fetch(`http://127.0.0.1:${node.port}/cluster`)).json();
    const alive = new Set<string>(
      view.members.filter((m: { state: string }) => m.state === "alive").map((
        m: { name: string },
      ) => m.name),
    );
    return (view.functions.tally ?? []).filter((n: string) => alive.has(n)).sort();
  } catch {
    return [];
  }
}

async function formed(nodes: NodeProcess[]): Promise<void> {
  const names = JSON.stringify(nodes.map((n) => n.name).sort());
  await waitFor(
    async () => (await Promise.all(nodes.map(serving))).every((s) => JSON.stringify(s) === names),
    15_000,
    "every node to serve tally everywhere",
  );
}

/** The ids of the `tally` calls that started on these processes, with how often each did. */
function started(procs: ServerProcess[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const proc of procs) {
    for (const line of proc.lines) {
      if (!line.includes("Started")) continue;
      try {
        const id = JSON.parse(line)?.properties?.id;
        if (typeof id === "string") counts.set(id, (counts.get(id) ?? 0) + 1);
      } catch {
        // not a JSON line
      }
    }
  }
  return counts;
}

interface Outcome {
  id: string;
  ok: boolean;
  error?: unknown;
}

/** Calls `tally` from `callers` loops until `stop()`, each call with its own id. */
function load(client: Client, callers: number) {
  const outcomes: Outcome[] = [];
  let running = true;
  let next = 0;
  const loops = Array.from({ length: callers }, async () => {
    while (running) {
      const id = `call-${next++}`;
      try {
        await client.call("tally", [id, 20], { timeoutMs: 10_000 });
        outcomes.push({ id, ok: true });
      } catch (error) {
        outcomes.push({ id, ok: false, error });
      }
    }
  });
  return {
    outcomes,
    async stop(): Promise<Outcome[]> {
      running = false;
      await Promise.all(loops);
      return outcomes;
    },
  };
}

Deno.test("graceful: SIGTERM under load fails no call that reached the node; the rest never started", async () => {
  const dir = await Deno.makeTempDir();
  const node = await startNode(dir, "solo");
  try {
    await using client = new Client(node.url);
    const traffic = load(client, 16);
    await waitFor(() => traffic.outcomes.length > 50, 10_000, "load to run");
    const status = await node.proc.stop("SIGTERM");
    assert.equal(status.code, 0);
    const outcomes = await traffic.stop();
    const ran = started([node.proc]);
    // Every call that reached the node got its answer, although the client
    // was writing when the node went away.
    const lost = outcomes.filter((o) => !o.ok && ran.has(o.id));
    assert.deepEqual(lost.map((o) => `${o.id}: ${o.error}`), [], "calls that ran and failed");
    for (const o of outcomes.filter((o) => o.ok)) assert.equal(ran.get(o.id), 1, o.id);
    // The others never started: the node refused them unstarted (1014, and
    // with no other URL to send them to, that is the caller's error), or
    // they waited for a connection that every URL refused.
    for (const o of outcomes.filter((o) => !o.ok)) {
      if (o.error instanceof UnavailableError) {
        assert.equal((o.error.details as { started?: boolean }).started, false, o.error.message);
      } else {
        assert.ok(o.error instanceof ConnectionError, String(o.error));
        assert.ok(o.error.message.includes(node.url), o.error.message);
      }
    }
    assert.ok(outcomes.filter((o) => o.ok).length > 50);
  } finally {
    await node.proc.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("graceful: a rolling SIGTERM restart of three nodes under load fails no call", async () => {
  const dir = await Deno.makeTempDir();
  const a = await startNode(dir, "a");
  const b = await startNode(dir, "b", { peers: [a.url] });
  const c = await startNode(dir, "c", { peers: [a.url, b.url] });
  const nodes = [a, b, c];
  const all = nodes.map((n) => n.proc);
  try {
    await formed(nodes);
    await using client = new Client(nodes.map((n) => n.url));
    const traffic = load(client, 16);
    await waitFor(() => traffic.outcomes.length > 50, 10_000, "load to run");
    for (let i = 0; i < nodes.length; i++) {
      const old = nodes[i]!;
      const status = await old.proc.stop("SIGTERM");
      assert.equal(status.code, 0, `${old.name} exits cleanly`);
      const peers = nodes.filter((n) => n !== old).map((n) => n.url);
      nodes[i] = await startNode(dir, old.name, { port: old.port, peers });
      all.push(nodes[i]!.proc);
      await formed(nodes);
    }
    const before = traffic.outcomes.length;
    await waitFor(() => traffic.outcomes.length > before + 50, 10_000, "load after the restarts");
    const outcomes = await traffic.stop();
    const ran = started(all);
    const failed = outcomes.filter((o) => !o.ok);
    assert.deepEqual(
      failed.map((o) =>
        `${o.id} (${ran.has(o.id) ? "reached a node" : "never started"}): ${o.error}`
      ),
      [],
      "failed calls",
    );
    for (const o of outcomes) assert.equal(ran.get(o.id), 1, `${o.id} ran once`);
    assert.ok(outcomes.length > 200, `calls made: ${outcomes.length}`);
  } finally {
    await Promise.all(nodes.map((n) => n.proc.stop()));
    await Deno.remove(dir, { recursive: true });
  }
});
