// Copyright 2026 the mpreg authors. MIT license.
// Functions that describe themselves, seen from the client CLI (issue 17):
// `functions` and `describe FUN` print the parameters with their types and
// docs, and `types` writes a .d.ts from a running node's catalog that the
// compiler holds code to: a right call compiles, a wrong one does not.
import assert from "node:assert/strict";
import * as z from "npm:zod@4.6.7";
import { clientMain, type CliRuntime } from "../../src/client/cli.ts";
import type { Server } from "../../mod.ts";
import { converged, FAST, known } from "../_helpers/cluster.ts";
import { startServer } from "../_helpers/mod.ts";

const runtime: CliRuntime = {
  args: [],
  readTextFile: (path) => Deno.readTextFile(path),
  writeTextFile: (path, text) => Deno.writeTextFile(path, text),
  exit: (code: number): never => {
    throw new Error(`exit ${code}`);
  },
};

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await clientMain(args, runtime, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** b offers described functions; the CLI asks a, which knows them from gossip. */
async function withPair(fn: (a: Server) => Promise<void>): Promise<void> {
  const b = await startServer({ name: "b", ...FAST });
  const a = await startServer({ name: "a", ...FAST, peers: [b.url] });
  try {
    b.register("add", (x: number, y: number) => x + y, {
      args: [z.number(), z.number()],
      result: z.number(),
      doc: "Adds two numbers.",
    });
    b.register("greet", (who: { name: string; title?: string }) => `Hello ${who.name}`, {
      args: [z.object({ name: z.string(), title: z.enum(["dr", "ms"]).optional() })],
      result: z.string(),
    });
    b.register("scale", (x: number, opts: { factor: number }) => [x * opts.factor], {
      args: [z.number()],
      kwargs: z.object({ factor: z.number() }),
      result: z.array(z.number()),
    });
    b.register("plain", (first: unknown, second = 2) => [first, second]);
    await converged([a, b]);
    await known([a], "plain", "b");
    await fn(a);
  } finally {
    await a.stop({ drainTimeoutMs: 0 });
    await b.stop({ drainTimeoutMs: 0 });
  }
}

async function denoCheck(dir: string, files: string[]): Promise<{ code: number; text: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", ...files],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, text: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

Deno.test("client CLI: types writes a .d.ts the compiler holds calls to", async () => {
  await withPair(async (a) => {
    const dir = await Deno.makeTempDir({ prefix: "mpreg-types-" });
    try {
      const written = await run(["--url", a.url, "types", "--out", `${dir}/api.d.ts`]);
      assert.equal(written.code, 0, written.err);
      const api = await Deno.readTextFile(`${dir}/api.d.ts`);
      assert.match(api, /export interface Api \{/);
      assert.match(api, /\/\*\* Adds two numbers\. \*\/\n {2}add\(x: number, y: number\): number;/);
      assert.match(api, /greet\(who: \{ name: string; title\?: "dr" \| "ms" \}\): string;/);
      assert.match(api, /scale\(x: number, kwargs: \{ factor: number \}\): number\[\];/);
      assert.match(api, /plain\(first: unknown, second\?: unknown\): unknown;/);

      await Deno.writeTextFile(
        `${dir}/good.ts`,
        [
          'import type { Api } from "./api.d.ts";',
          "export function use(api: Api): [number, string, number[], unknown] {",
          "  return [",
          "    api.add(1, 2),",
          '    api.greet({ name: "Ada", title: "dr" }),',
          "    api.scale(2, { factor: 3 }),",
          "    api.plain(1),",
          "  ];",
          "}",
        ].join("\n"),
      );
      const misuses = [
        'api.add("1", 2);', // a wrong argument type
        "api.nope();", // an unknown function
        'api.greet({ name: "Ada", title: "prof" });', // a value outside the enum
        "const s: string = api.add(1, 2);", // a wrong result type
        "api.scale(2);", // missing required kwargs
      ];
      // One file, one misuse a line: each must be an error of its own.
      await Deno.writeTextFile(
        `${dir}/bad.ts`,
        [
          'import type { Api } from "./api.d.ts";',
          "export function use(api: Api) {",
          ...misuses.map((misuse) => `  ${misuse}`),
          "}",
        ].join("\n"),
      );
      // One deno check for both files (each run costs seconds).
      const bad = await denoCheck(dir, ["good.ts", "bad.ts"]);
      assert.notEqual(bad.code, 0, bad.text);
      assert.doesNotMatch(bad.text, /good\.ts:\d+/, "the right calls compile");
      const lines = new Set([...bad.text.matchAll(/bad\.ts:(\d+):/g)].map((m) => Number(m[1])));
      assert.deepEqual([...lines].sort(), misuses.map((_, i) => i + 3), bad.text);

      const stdout = await run(["--url", a.url, "types"]);
      assert.equal(stdout.code, 0, stdout.err);
      assert.equal(stdout.out.trim(), api.trim());
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("client CLI: functions and describe FUN print parameters, types and docs", async () => {
  await withPair(async (a) => {
    const list = await run(["--url", a.url, "functions"]);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /\nSIGNATURES\n/);
    assert.match(list.out, /\nadd\(x: number, y: number\): number\n {4}Adds two numbers\.\n/);
    assert.match(list.out, /\nplain\(first: unknown, second\?: unknown\): unknown/);
    assert.match(list.out, /\necho\(/, "the built-ins too");

    const one = await run(["--url", a.url, "describe", "scale"]);
    assert.equal(one.code, 0, one.err);
    assert.match(one.out, /^scale: offered by 1 member/);
    assert.match(one.out, /\nscale\(x: number, kwargs: \{ factor: number \}\): number\[\]\n/);
    assert.match(one.out, /PARAMETER\s+TYPE\s+REQUIRED\s+JSON SCHEMA/);
    assert.match(one.out, /\nx\s+number\s+yes\s+\{"type":"number"\}/);
    assert.match(one.out, /\nkwargs\s+\{ factor: number \}\s+-\s+\{"type":"object"/);
    assert.match(one.out, /\nResult: number\[\]\s+\{"type":"array","items":\{"type":"number"\}\}/);
  });
});
