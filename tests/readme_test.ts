// Copyright 2026 the mpreg authors. MIT license.
// The newcomer's hour, from the README's own words (issue 16): a fresh
// project outside the repository adds mpreg the way the README says, runs
// the quickstart with the README's run line, and a 3-node cluster started
// with the README's commands answers the README's request. Only ports are
// changed (to free ones), so tests can run in parallel.
import assert from "node:assert/strict";
import { repoPath, runScript, ServerProcess } from "./_helpers/process.ts";
import { waitFor } from "./_helpers/mod.ts";

const README = await Deno.readTextFile(repoPath("README.md"));

/** The body of the first fenced block of `lang` after `heading`. */
function block(heading: string, lang: string): string {
  const at = README.indexOf(heading);
  assert.ok(at >= 0, `README has no "${heading}"`);
  const open = README.indexOf("```" + lang + "\n", at);
  assert.ok(open >= 0, `no ${lang} block after "${heading}"`);
  const start = open + lang.length + 4;
  return README.slice(start, README.indexOf("\n```", start));
}

/**
 * Runs README samples as a fresh project outside the repository would: the
 * README's deno.json (with the clone linked), the files, then each command
 * line in turn. Answers each one's exit code, stdout and stderr.
 */
async function runSample(
  files: Record<string, string>,
  lines: string[],
): Promise<Array<{ code: number; stdout: string; stderr: string }>> {
  const project = await Deno.makeTempDir({ prefix: "mpreg-newcomer-" });
  try {
    // The README's deno.json, with the clone where the README puts it (next to the project).
    const config = JSON.parse(block("### Using mpreg in your own project", "json"));
    assert.deepEqual(config.links, ["../mpreg"]);
    config.links = [repoPath(".")];
    await Deno.writeTextFile(`${project}/deno.json`, JSON.stringify(config, null, 2));
    for (const [file, code] of Object.entries(files)) {
      await Deno.writeTextFile(`${project}/${file}`, code);
    }
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    const results = [];
    for (const line of lines) {
      const [, ...args] = line.split(" ");
      const out = await new Deno.Command(Deno.execPath(), {
        args,
        cwd: project,
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      results.push({ code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) });
    }
    return results;
  } finally {
    await Deno.remove(project, { recursive: true });
  }
}

Deno.test("README: a fresh project adds mpreg as the README says and runs the quickstart with its run line", async () => {
  const runLine = /runs as `(deno run [^`]*main\.ts)`/.exec(README)?.[1];
  assert.ok(runLine, "the README gives the quickstart's run line");
  const [out] = await runSample({ "main.ts": block("## Quickstart in code", "ts") }, [runLine]);
  assert.equal(out!.code, 0, out!.stderr);
  assert.deepEqual(out!.stdout.trim().split("\n"), ["5", '{ final: "Final Answer: 60" }']);
});

Deno.test("README: the typed-calls sample runs with its run line, and what its comments say does not compile does not", async () => {
  const runLine = /runs as `(deno run [^`]*typed\.ts)`/.exec(README)?.[1];
  assert.ok(runLine, "the README gives the typed sample's run line");
  assert.match(README, /`deno check typed\.ts`/);
  const sample = block("## Typed calls", "ts");
  // What the comments say does not compile, written in (checked in one process with the sample).
  const broken = sample
    .replace("remote.add(2, 3)", 'remote.add("2", 3)')
    .replace('s.u.at("id"), 35', 's.u.at("name"), 35')
    .replace("console.log(out.final)", "console.log(out.u)") + "\nawait remote.sub(1, 2);\n";
  const [run, check] = await runSample({ "typed.ts": sample, "broken.ts": broken }, [
    runLine,
    "deno check typed.ts broken.ts",
  ]);
  assert.equal(run!.code, 0, run!.stderr);
  assert.deepEqual(run!.stdout.trim().split("\n"), ["5", "Oslo: 42"]);
  assert.notEqual(check!.code, 0);
  const errors = check!.stderr.split("\n").filter((line) => line.includes("[ERROR]"));
  assert.equal(errors.length, 4, check!.stderr);
  assert.doesNotMatch(check!.stderr, /\/typed\.ts:\d/, "the sample itself compiles");
  assert.match(
    check!.stderr,
    /Argument of type 'string' is not assignable to parameter of type 'number'/,
  );
  assert.match(check!.stderr, /Argument of type 'Ref<string, "u">' is not assignable/);
  assert.match(check!.stderr, /Property 'u' does not exist on type/);
  assert.match(check!.stderr, /Property 'sub' does not exist on type 'Typed</);
});

Deno.test("README: the Streams sample runs with its run line and prints what it says", async () => {
  const runLine = /runs as `(deno run [^`]*streams\.ts)`/.exec(README)?.[1];
  assert.ok(runLine, "the README gives the Streams sample's run line");
  const [out] = await runSample({ "streams.ts": block("## Streams", "ts") }, [runLine]);
  assert.equal(out!.code, 0, out!.stderr);
  assert.deepEqual(out!.stdout.trim().split("\n"), [
    '[ "tick 1", "tick 2", "tick 3" ]',
    "tick 1",
    "true",
  ]);
});

Deno.test("README: the Uploads sample runs with its run line and prints what it says", async () => {
  const runLine = /runs as `(deno run [^`]*uploads\.ts)`/.exec(README)?.[1];
  assert.ok(runLine, "the README gives the Uploads sample's run line");
  const [out] = await runSample({ "uploads.ts": block("### Uploads", "ts") }, [runLine]);
  assert.equal(out!.code, 0, out!.stderr);
  assert.deepEqual(out!.stdout.trim().split("\n"), ["6553600", "5"]);
});

Deno.test("README: the Streams as step inputs sample runs with its run line and prints what it says", async () => {
  const runLine = /runs as `(deno run [^`]*inputs\.ts)`/.exec(README)?.[1];
  assert.ok(runLine, "the README gives the sample's run line");
  const [out] = await runSample({ "inputs.ts": block("### Streams as step inputs", "ts") }, [
    runLine,
  ]);
  assert.equal(out!.code, 0, out!.stderr);
  assert.equal(out!.stdout.trim(), '{ count: 3, longest: "bbb" }');
});

Deno.test("README: the 3-node cluster of its commands answers its request from a node without functions", async () => {
  const lines = block("## Clusters", "sh").split("\n").filter((line) =>
    line.startsWith("deno run")
  );
  const servers = lines.filter((line) => line.includes(" server.ts "));
  const call = lines.find((line) => line.includes(" client.ts "));
  assert.equal(servers.length, 3, "three nodes");
  assert.ok(call, "and a call");
  const ports = new Map<string, string>();
  const mapped = (text: string) =>
    text.replace(/ws:\/\/127\.0\.0\.1:(\d+)/g, (_, port: string) => {
      const real = ports.get(port);
      assert.ok(real, `port ${port} is used before its node is started`);
      return `ws://127.0.0.1:${real}`;
    });
  const nodes: ServerProcess[] = [];
  try {
    for (const line of servers) {
      const args = mapped(line).split(" ").slice(4); // after "deno run -A server.ts"
      const at = args.indexOf("--port");
      const port = args[at + 1]!;
      args[at + 1] = "0";
      const node = new ServerProcess(args);
      nodes.push(node);
      ports.set(port, new URL(await node.url).port);
    }
    const entry = nodes[2]!;
    const http = (await entry.url).replace("ws://", "http://");
    await waitFor(
      async () => {
        const view = await (await fetch(`${http}/cluster`)).json() as {
          functions: Record<string, string[]>;
        };
        return ["add", "multiply", "format"].every((fun) => (view.functions[fun]?.length ?? 0) > 0);
      },
      15_000,
      "the third node to learn the functions of the others",
    );
    const args = mapped(call).split(" ").slice(4); // after "deno run -A client.ts"
    const result = await runScript("client.ts", args);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { final: "Final Answer: 150" });
  } finally {
    for (const node of nodes) await node.stop();
  }
});
