// Copyright 2026 the mpreg authors. MIT license.
import assert from "node:assert/strict";
import {
  FunctionError,
  InternalError,
  PermissionDeniedError,
  UnavailableError,
} from "../../src/protocol/errors.ts";
import { normalizePermissions } from "../../src/sandbox/permissions.ts";
import { Sandbox } from "../../src/sandbox/sandbox.ts";
import { context, DATA, FIXTURES, FUNCTIONS, HELLO, rejection } from "./_helpers.ts";

/** Asserts `err` is a PermissionDeniedError for `step`/`fun` whose `denied` matches. */
function assertDenied(err: unknown, step: string, fun: string, denied: string): void {
  assert.ok(err instanceof PermissionDeniedError, `expected a PermissionDeniedError, got ${err}`);
  assert.equal(err.code, 1009);
  assert.deepEqual(err.details, { step, fun, denied });
  assert.ok(err.message.startsWith(`Step "${step}" (${fun}) was denied ${denied}`), err.message);
}

/** A local HTTP server on port 0 that answers "pong". */
function pongServer(): { port: number; close(): Promise<void> } {
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen() {} },
    () => new Response("pong"),
  );
  return {
    port: server.addr.port,
    async close() {
      controller.abort();
      await server.finished;
    },
  };
}

Deno.test("Sandbox: read allowed in one folder reads its file but not /etc/passwd", async () => {
  const sandbox = new Sandbox();
  try {
    const permissions = normalizePermissions({ read: ["./data"] }, FIXTURES);
    assert.deepEqual(permissions, { read: [DATA] });
    const readData = sandbox.load("readData", { module: FUNCTIONS }, permissions);
    const readPasswd = sandbox.load("readPasswd", { module: FUNCTIONS }, permissions);
    await sandbox.ready();
    assert.equal(await readData(context(), [HELLO], undefined), "hello from the sandbox\n");

    assertDenied(
      await rejection(readPasswd(context("pw"), [], undefined)),
      "pw",
      "readPasswd",
      'read access to "/etc/passwd"',
    );
    assertDenied(
      await rejection(readData(context("pw2"), ["/etc/passwd"], undefined)),
      "pw2",
      "readData",
      'read access to "/etc/passwd"',
    );
    // The pool is healthy: the next call works.
    assert.equal(await readData(context(), [HELLO], undefined), "hello from the sandbox\n");
    const stats = sandbox.stats();
    assert.equal(stats.pools, 1);
    assert.equal(stats.denials, 2);
    assert.equal(stats.calls, 4);
    assert.equal(stats.inFlight, 0);
  } finally {
    await sandbox.close();
  }
});

Deno.test("Sandbox: without net a function cannot fetch; with net to one host:port it can", async () => {
  const server = pongServer();
  const other = pongServer();
  const sandbox = new Sandbox();
  try {
    const url = `http://127.0.0.1:${server.port}/`;
    const noNet = sandbox.load("fetchUrl", { module: FUNCTIONS }, {});
    assertDenied(
      await rejection(noNet(context("get"), [url], undefined)),
      "get",
      "fetchUrl",
      `net access to "127.0.0.1:${server.port}"`,
    );
    const add = sandbox.load("add", { module: FUNCTIONS }, {});
    assert.equal(await add(context(), [2, 3], undefined), 5);

    const withNet = sandbox.load("fetchUrl", { module: FUNCTIONS }, {
      net: [`127.0.0.1:${server.port}`],
    });
    assert.equal(await withNet(context(), [url], undefined), "pong");
    // Only that host:port.
    assertDenied(
      await rejection(withNet(context("other"), [`http://127.0.0.1:${other.port}/`], undefined)),
      "other",
      "fetchUrl",
      `net access to "127.0.0.1:${other.port}"`,
    );
    assert.equal(await withNet(context(), [url], undefined), "pong");
    assert.equal(sandbox.stats().pools, 2);
  } finally {
    await sandbox.close();
    await server.close();
    await other.close();
  }
});

Deno.test("Sandbox: without run a function cannot spawn; with run it can", async () => {
  const sandbox = new Sandbox();
  try {
    const denied = sandbox.load("spawn", { module: FUNCTIONS }, {});
    assertDenied(
      await rejection(denied(context("sh"), [], undefined)),
      "sh",
      "spawn",
      'run access to "true"',
    );
    const add = sandbox.load("add", { module: FUNCTIONS }, {});
    assert.equal(await add(context(), [1, 1], undefined), 2);
    const allowed = sandbox.load("spawn", { module: FUNCTIONS }, { run: ["true"] });
    assert.equal(await allowed(context(), [], undefined), 0);
  } finally {
    await sandbox.close();
  }
});

Deno.test("Sandbox: write is denied unless declared, and then only where declared", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mpreg_sandbox_" });
  const sandbox = new Sandbox();
  try {
    const file = `${dir}/out.txt`;
    const denied = sandbox.load("writeData", { module: FUNCTIONS }, { read: [dir] });
    assertDenied(
      await rejection(denied(context("w"), [file, "x"], undefined)),
      "w",
      "writeData",
      `write access to "${file}"`,
    );
    const allowed = sandbox.load("writeData", { module: FUNCTIONS }, { write: [dir] });
    await allowed(context(), [file, "written"], undefined);
    assert.equal(await Deno.readTextFile(file), "written");
  } finally {
    await sandbox.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Sandbox: a sandbox process holds exactly its profile, whatever this process holds", async () => {
  const sandbox = new Sandbox();
  try {
    const none = sandbox.load("permissionStates", { module: FUNCTIONS }, {});
    const states = await none(context(), [], undefined) as Record<string, string>;
    for (const [kind, state] of Object.entries(states)) assert.notEqual(state, "granted", kind);
    const some = sandbox.load("permissionStates", { module: FUNCTIONS }, { net: true, sys: true });
    assert.deepEqual(await some(context(), [], undefined), {
      net: "granted",
      read: "prompt",
      write: "prompt",
      env: "prompt",
      run: "prompt",
      ffi: "prompt",
      sys: "granted",
    });
  } finally {
    await sandbox.close();
  }
});

Deno.test("Sandbox: a denial wrapped by the function (as a cause) is still a permission error", async () => {
  const sandbox = new Sandbox();
  try {
    const wrapped = sandbox.load("wrapped", { module: FUNCTIONS }, {});
    assertDenied(
      await rejection(wrapped(context("w"), [], undefined)),
      "w",
      "wrapped",
      'read access to "/etc/passwd"',
    );
  } finally {
    await sandbox.close();
  }
});

Deno.test("Sandbox: a function that throws gives a FunctionError like an inline one", async () => {
  const sandbox = new Sandbox();
  const debug = new Sandbox({ debug: true });
  try {
    const boom = sandbox.load("boom", { module: FUNCTIONS }, {});
    const err = await rejection(boom(context("b"), [], undefined));
    assert.ok(err instanceof FunctionError);
    assert.equal(err.code, 1003);
    assert.equal(err.message, 'Step "b" (boom) failed: TypeError: boom');
    assert.deepEqual(err.details, { step: "b", fun: "boom", name: "TypeError", message: "boom" });
    assert.ok(err.cause instanceof Error);

    const boomDebug = debug.load("boom", { module: FUNCTIONS }, {});
    const withStack = await rejection(boomDebug(context("b"), [], undefined));
    assert.ok(withStack instanceof FunctionError);
    assert.match((withStack.details as { stack: string }).stack, /functions\.ts/);

    const thrower = sandbox.load("thrower", { source: "() => { throw 'a string'; }" });
    const notError = await rejection(thrower(context("t"), [], undefined));
    assert.ok(notError instanceof FunctionError);
    assert.deepEqual(notError.details, {
      step: "t",
      fun: "thrower",
      name: "string",
      message: "a string",
    });
  } finally {
    await sandbox.close();
    await debug.close();
  }
});

Deno.test("Sandbox: source functions run in the sandbox process; closures are not available", async () => {
  const sandbox = new Sandbox();
  try {
    const plain = sandbox.load("mul", {
      source: function mul(a: number, b: number): number {
        return a * b;
      }.toString(),
    });
    const arrow = sandbox.load("inc", { source: ((x: number): number => x + 1).toString() });
    const asyncFn = sandbox.load("later", {
      source: (async (x: string): Promise<string> => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return x.toUpperCase();
      }).toString(),
    });
    const methods = {
      where(this: { node: string; step: string }): string {
        return `${this.step}@${this.node}`;
      },
    };
    const method = sandbox.load("where", { source: methods.where.toString() });
    const kw = sandbox.load("kw", {
      source: ((a: number, options: { times: number }): number => a * options.times).toString(),
    });
    assert.equal(await plain(context(), [6, 7], undefined), 42);
    assert.equal(await arrow(context(), [1], undefined), 2);
    assert.equal(await asyncFn(context(), ["up"], undefined), "UP");
    assert.equal(await method(context("here"), [], undefined), "here@n1");
    assert.equal(await kw(context(), [3], { times: 5 }), 15);

    const outer = 10;
    const closure = sandbox.load("closure", {
      source: ((x: number): number => x + outer).toString(),
    });
    const err = await rejection(closure(context("c"), [1], undefined));
    assert.ok(err instanceof FunctionError);
    assert.equal((err.details as { name: string }).name, "ReferenceError");
    assert.equal(sandbox.stats().pools, 1);

    assert.throws(
      () => sandbox.load("bad", { source: "function (" }),
      /^TypeError: Cannot compile a sandboxed function from source/,
    );
    const notFunction = sandbox.load("notFunction", { source: "42" });
    const loadErr = await rejection(notFunction(context("n"), [], undefined));
    assert.ok(loadErr instanceof InternalError);
    assert.match(loadErr.message, /could not be loaded: TypeError: .*not a function/);
  } finally {
    await sandbox.close();
  }
});

Deno.test("Sandbox: the function gets its CallContext as this, and kwargs last", async () => {
  const sandbox = new Sandbox();
  try {
    const whoami = sandbox.load("whoami", { module: FUNCTIONS });
    const ctx = context("me");
    assert.deepEqual(await whoami(ctx, [], undefined), {
      step: "me",
      requestId: 7,
      node: "n1",
      deadline: ctx.deadline,
      aborted: false,
      signal: true,
    });
    const echo = sandbox.load("echo", { module: FUNCTIONS });
    assert.deepEqual(await echo(context(), [1, "a"], { k: true }), [1, "a", { k: true }]);
    assert.deepEqual(await echo(context(), [1], {}), [1]);
  } finally {
    await sandbox.close();
  }
});

Deno.test("Sandbox: equal profiles share a pool", async () => {
  const sandbox = new Sandbox();
  try {
    sandbox.load("add", { module: FUNCTIONS }, {});
    sandbox.load("boom", { module: FUNCTIONS }, { env: false, read: [] });
    sandbox.load("readData", { module: FUNCTIONS }, { read: [DATA, FIXTURES] });
    sandbox.load("readPasswd", { module: FUNCTIONS }, { read: [FIXTURES, DATA, DATA] });
    sandbox.load("spawn", { module: FUNCTIONS }, { run: ["true"] });
    const stats = sandbox.stats();
    assert.equal(stats.pools, 3);
    assert.deepEqual(stats.profiles.map((p) => p.profile).sort(), [
      "none",
      `read=${JSON.stringify(normalizePermissions({ read: [DATA, FIXTURES] }).read)}`,
      'run=["true"]',
    ]);
    assert.equal(stats.workers, 3);
  } finally {
    await sandbox.close();
  }
});

Deno.test("Sandbox: modules that fail to load fail their own functions only", async () => {
  const sandbox = new Sandbox();
  try {
    const add = sandbox.load("add", { module: FUNCTIONS });
    const envAtImport = sandbox.load("homeDir", { module: `${FIXTURES}denied_at_import.ts` });
    const throws = sandbox.load("f", { module: `${FIXTURES}throws_at_import.ts` });
    const missing = sandbox.load("nope", { module: FUNCTIONS });
    const noFile = sandbox.load("g", { module: `${FIXTURES}does_not_exist.ts` });

    const err = await rejection(sandbox.ready());
    assert.ok(err instanceof InternalError);
    const failures = (err.details as { failures: { fun: string; denied?: string }[] }).failures;
    assert.deepEqual(failures.map((f) => f.fun), ["homeDir", "f", "nope", "g"]);
    assert.equal(failures[0]!.denied, 'env access to "HOME"');
    assert.match(err.message, /"homeDir" from file:\/\/.*denied_at_import\.ts: NotCapable/);

    const denied = await rejection(envAtImport(context("e"), [], undefined));
    assertDenied(denied, "e", "homeDir", 'env access to "HOME"');
    assert.match((denied as Error).message, /while loading its module/);
    const thrown = await rejection(throws(context("t"), [], undefined));
    assert.ok(thrown instanceof InternalError);
    assert.match(
      thrown.message,
      /could not be loaded from .*throws_at_import\.ts: Error: this module cannot be loaded/,
    );
    const noExport = await rejection(missing(context("m"), [], undefined));
    assert.ok(noExport instanceof InternalError);
    assert.match(noExport.message, /no function export "nope"/);
    assert.ok(await rejection(noFile(context("n"), [], undefined)) instanceof InternalError);

    assert.equal(await add(context(), [20, 22], undefined), 42);
    assert.equal(sandbox.stats().workers, 1);
  } finally {
    await sandbox.close();
  }
});

Deno.test("Sandbox: module specs accept paths, URLs and an exportName", async () => {
  const sandbox = new Sandbox();
  try {
    const byPath = sandbox.load("plus", { module: `${FIXTURES}functions.ts`, exportName: "add" });
    const byUrl = sandbox.load("add", { module: new URL(FUNCTIONS) });
    const relative = sandbox.load("mul", {
      module: `./${
        new URL("../fixtures/sandbox/other.ts", import.meta.url).pathname.slice(
          Deno.cwd().length + 1,
        )
      }`,
    });
    assert.equal(await byPath(context(), [1, 2], undefined), 3);
    assert.equal(await byUrl(context(), [3, 4], undefined), 7);
    assert.equal(await relative(context(), [3, 4], undefined), 12);
    assert.throws(() => sandbox.load("x", { module: "" }), TypeError);
    assert.throws(() => sandbox.load("x", {} as { source: string }), TypeError);
  } finally {
    await sandbox.close();
  }
});

Deno.test("Sandbox: close() fails calls in flight and refuses new loads", async () => {
  const sandbox = new Sandbox();
  const slow = sandbox.load("slow", { module: FUNCTIONS });
  const inFlight = slow(context("s"), [60_000], undefined);
  await sandbox.close();
  const err = await rejection(inFlight);
  assert.ok(err instanceof UnavailableError);
  assert.equal(err.code, 1014);
  const after = await rejection(slow(context("s"), [1], undefined));
  assert.ok(after instanceof UnavailableError);
  assert.throws(() => sandbox.load("add", { module: FUNCTIONS }), TypeError);
  assert.equal(sandbox.stats().pools, 0);
});
