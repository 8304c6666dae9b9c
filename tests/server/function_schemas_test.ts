// Copyright 2026 the mpreg authors. MIT license.
// Functions that describe themselves (issue 17): argument, kwargs and result
// schemas from zod and valibot (any Standard Schema), checked on the node
// that runs the function (here b, called through a), with transforms
// applied, and described in the catalog other members see.
import assert from "node:assert/strict";
import * as z from "npm:zod@4.6.7";
import * as v from "valibot";
import { toStandardJsonSchema } from "npm:@valibot/to-json-schema@1.8.0";
import { Client, ErrorCode, Server } from "../../mod.ts";
import { converged, FAST, known } from "../_helpers/cluster.ts";
import { rpcFailure, startServer, waitFor } from "../_helpers/mod.ts";

/** b offers the schema'd functions; a knows them only from gossip. */
async function withPair(fn: (a: Server, b: Server) => Promise<void>): Promise<void> {
  const b = await startServer({ name: "b", ...FAST });
  const a = await startServer({ name: "a", ...FAST, peers: [b.url] });
  try {
    b.register("zadd", (x: number, y: number) => `${typeof x}:${x + y}`, {
      args: [z.coerce.number(), z.number().default(10)],
      result: z.string(),
      doc: "Adds two numbers (zod).",
    });
    b.register("zuser", (rec: { user: { id: number } }) => rec.user.id, {
      args: [z.object({ user: z.object({ id: z.number() }) })],
    });
    b.register("zscale", (x: number, opts: { scale: number }) => x * opts.scale, {
      args: [z.number()],
      kwargs: z.object({ scale: z.number().default(3) }),
    });
    b.register("zbad", () => "not a number", { result: z.number() });
    b.register("vadd", (x: number, y: number) => x + y, {
      args: [toStandardJsonSchema(v.number()), toStandardJsonSchema(v.optional(v.number(), 5))],
      result: toStandardJsonSchema(v.number()),
    });
    b.register("vtrim", (s: string) => `[${s}]`, { args: [v.pipe(v.string(), v.trim())] });
    b.register("vpos", (n: number) => n, {
      args: [v.pipeAsync(v.number(), v.checkAsync((n) => Promise.resolve(n > 0), "must be > 0"))],
    });
    b.register("plain", (first: number, second = 2) => first + second);
    await converged([a, b]);
    await known([a], "plain", "b");
    await fn(a, b);
  } finally {
    await a.stop({ drainTimeoutMs: 0 });
    await b.stop({ drainTimeoutMs: 0 });
  }
}

Deno.test("schemas: valid calls through another member pass, transformed as the schemas say", async () => {
  await withPair(async (a) => {
    await using client = new Client(a.url);
    // z.coerce turns "2" into 2; y's default fills the missing argument.
    assert.equal(await client.call("zadd", ["2"]), "number:12");
    assert.equal(await client.call("zuser", [{ user: { id: 7 } }]), 7);
    assert.equal(await client.call("zscale", [2]), 6, "kwargs default applies");
    assert.equal(await client.call("zscale", [2], { kwargs: { scale: 5 } }), 10);
    assert.equal(await client.call("vadd", [1]), 6, "valibot default applies");
    assert.equal(await client.call("vtrim", ["  x  "]), "[x]", "valibot transform applies");
    assert.equal(await client.call("vpos", [4]), 4, "async schema");
  });
});

Deno.test("schemas: an invalid argument is a 1004 naming the function, the step and the path", async () => {
  await withPair(async (a) => {
    await using client = new Client(a.url);
    const nested = await rpcFailure(client.call("zuser", [{ user: { id: "7" } }]));
    assert.equal(nested.code, ErrorCode.Protocol);
    assert.match(
      nested.message,
      /"zuser" \(step "zuser"\): args\[0\]\.user\.id: .*expected number/,
    );
    const details = nested.details as Record<string, unknown>;
    assert.equal(details.step, "zuser");
    assert.equal(details.fun, "zuser");
    assert.equal(details.check, "arguments");
    assert.equal(details.path, "args[0].user.id");
    assert.ok(Array.isArray(details.issues) && details.issues.length === 1);

    const second = await rpcFailure(client.call("zadd", [1, "x"]));
    assert.equal(second.code, ErrorCode.Protocol);
    assert.equal((second.details as { path: string }).path, "args[1]");

    const kwargs = await rpcFailure(client.call("zscale", [2], { kwargs: { scale: "big" } }));
    assert.equal(kwargs.code, ErrorCode.Protocol);
    assert.equal((kwargs.details as { path: string }).path, "kwargs.scale");

    const valibot = await rpcFailure(client.call("vadd", ["1"]));
    assert.equal(valibot.code, ErrorCode.Protocol);
    assert.match(valibot.message, /args\[0\]: Invalid type: Expected number but received "1"/);

    const async = await rpcFailure(client.call("vpos", [-1]));
    assert.equal(async.code, ErrorCode.Protocol);
    assert.match(async.message, /args\[0\]: must be > 0/);
  });
});

Deno.test("schemas: a result that breaks its schema is a 1003 with kind result", async () => {
  await withPair(async (a) => {
    await using client = new Client(a.url);
    const err = await rpcFailure(client.call("zbad"));
    assert.equal(err.code, ErrorCode.Function);
    assert.match(
      err.message,
      /Result of "zbad" \(step "zbad"\) does not match its schema: result: /,
    );
    const details = err.details as Record<string, unknown>;
    assert.equal(details.kind, "result");
    assert.equal(details.path, "result");
  });
});

Deno.test("schemas: the other member's catalog and GET /cluster show the JSON Schemas", async () => {
  await withPair(async (a) => {
    const described = a.cluster.member("b")?.described;
    assert.ok(described !== undefined, "b's descriptions reached a");
    assert.deepEqual(described.zadd, {
      params: [
        { name: "x", schema: { type: "number" } },
        { name: "y", schema: { type: "number", default: 10 } },
      ],
      result: { type: "string" },
      doc: "Adds two numbers (zod).",
    });
    const user = described.zuser?.params[0]?.schema as {
      properties: { user: { properties: { id: { type: string } } } };
    };
    assert.equal(user.properties.user.properties.id.type, "number");
    assert.deepEqual(described.zscale?.params.map((p) => p.name), ["x"]);
    assert.equal((described.zscale?.kwargs as { type: string }).type, "object");
    assert.deepEqual(described.vadd?.params[1], {
      name: "y",
      schema: { type: "number", default: 5 },
    });
    assert.deepEqual(described.vadd?.result, { type: "number" });
    // Without a converter (a plain valibot schema), the names still show.
    assert.deepEqual(described.vtrim, { params: [{ name: "s" }] });
    assert.deepEqual(described.plain, {
      params: [{ name: "first" }, { name: "second", optional: true }],
    });

    const http = a.url.replace(/^ws/, "http").replace(/\/?$/, "/cluster");
    const view = await (await fetch(http)).json() as {
      members: { name: string; described?: Record<string, unknown> }[];
    };
    const b = view.members.find((m) => m.name === "b");
    assert.deepEqual(b?.described?.zadd, described.zadd);
  });
});

Deno.test("schemas: a sandboxed function's arguments are checked and coerced on the node", async () => {
  await using node = await startServer({ name: "s" });
  node.register("square", function (x: number) {
    return typeof x === "number" ? x * x : `got ${typeof x}`;
  }, { sandbox: true, args: [z.coerce.number()], result: z.number() });
  await using client = new Client(node.url);
  assert.equal(await client.call("square", ["3"]), 9);
  const err = await rpcFailure(client.call("square", [{}]));
  assert.equal(err.code, ErrorCode.Protocol);
  assert.equal((err.details as { path: string }).path, "args[0]");
});

Deno.test("schemas: a description is gossiped again when it changes", async () => {
  await withPair(async (a, b) => {
    b.register("plain", (only: string) => only, { doc: "Now one parameter." });
    await waitFor(
      () => a.cluster.member("b")?.described?.plain?.doc === "Now one parameter.",
      10_000,
      "the new description to reach a",
    );
    assert.deepEqual(a.cluster.member("b")?.described?.plain?.params, [{ name: "only" }]);
  });
});

Deno.test("schemas: register refuses a schema that is not a Standard Schema", async () => {
  await using node = await startServer({ name: "r" });
  assert.throws(
    () => node.register("f", (x: number) => x, { args: [{ parse: () => 1 } as never] }),
    /Cannot register "f": args\[0\] is not a Standard Schema/,
  );
});

Deno.test("schemas: a trusted module's schemas export describes and checks its functions", async () => {
  await using node = await startServer({ name: "m" });
  const module = new URL("../fixtures/schema_functions.ts", import.meta.url).href;
  await node.registerModule(module, { trusted: true });
  await using client = new Client(node.url);
  assert.equal(await client.call("repeat", ["ab", "3"]), "ababab");
  assert.equal(await client.call("repeat", ["ab"]), "abab");
  const err = await rpcFailure(client.call("repeat", [""]));
  assert.equal((err.details as { path: string }).path, "args[0]");
  const described = node.cluster.self.described;
  assert.equal(described?.repeat?.doc, "Repeats a word.");
  assert.deepEqual(described?.repeat?.params[0]?.schema, { type: "string", minLength: 1 });
  assert.deepEqual(described?.echoBoth, { params: [{ name: "left" }, { name: "right" }] });
});

Deno.test("schemas: a YAML functions entry of a trusted module applies its schemas export", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const module = new URL("../fixtures/schema_functions.ts", import.meta.url).pathname;
    await Deno.writeTextFile(
      `${dir}/node.yaml`,
      ["name: y", "functions:", `  - module: ${module}`, "    trusted: true"].join("\n"),
    );
    await using node = await (await Server.fromConfig(`${dir}/node.yaml`, { port: 0 })).start();
    await using client = new Client(node.url);
    assert.equal(await client.call("repeat", ["x", "2"]), "xx", "coerced by the schema");
    const err = await rpcFailure(client.call("repeat", [3]));
    assert.equal(err.code, ErrorCode.Protocol);
    assert.equal(node.cluster.self.described?.repeat?.doc, "Repeats a word.");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("schemas: a schemas export naming a function the module lacks is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/fns.ts`,
      "export const one = () => 1;\nexport const schemas = { two: { doc: 'missing' } };\n",
    );
    await using node = await startServer({ name: "x" });
    await assert.rejects(
      node.registerModule(`file://${dir}/fns.ts`, { trusted: true }),
      /"schemas" describes "two", which it does not export as a function/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("schemas: a streamed function's arguments are checked (and coerced), its chunks are not checked as a result", async () => {
  await using server = await startServer({ name: "s" });
  server.register(
    "count",
    async function* (n: number) {
      for (let i = 0; i < n; i++) yield i;
    },
    { args: [z.coerce.number().int().min(1)], result: z.number() },
  );
  await using client = new Client(server.url);
  const chunks = await Array.fromAsync(client.stream("count", ["3"]));
  assert.deepEqual(chunks, [0, 1, 2]);
  const reader = client.stream("count", [0]).getReader();
  const error = await rpcFailure(reader.read());
  assert.equal(error.code, 1004);
  assert.match(error.message, /args\[0\]/);
});
