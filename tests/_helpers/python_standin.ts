// Copyright 2026 the mpreg authors. MIT license.
// A stand-in for the original Python MPREG server (mattsta/mpreg at 1b0914f,
// see shared/reference/mpreg-python.md §1-§2, §7), as strict as it is on the
// client's side of the wire:
// - it never selects a subprotocol (the Python server ignores them);
// - it reads text and binary frames, and answers in binary frames of UTF-8
//   JSON `{"r":…,"error":…,"u":…}`, in the original's field order;
// - it validates each message as pydantic does: `{"role":"rpc","cmds":[{name,
//   fun,args=[],kwargs={},locs=[]}],"u":<string>}`. Anything it cannot read
//   (not UTF-8, not JSON, an integer past 64 bits, a non-object, a failed
//   validation, a numeric `u`) closes the connection WITHOUT an answer; an
//   unknown role is answered with 1004 "Invalid RPC request role: X";
// - it serves one connection's requests strictly one at a time;
// - it is exact with numbers as orjson is: every number keeps its source text
//   (`1.0` stays `1.0`, `9007199254740993` stays exact);
// - dependent steps as the original: references found in `args` only
//   (recursively, exact or `name.path`), levels, substitution in args and
//   kwargs, and only the deepest level returned;
// - every failure is 1003 "RPC execution failed" with a traceback in details.
// Functions: echo(arg), echos(*args), add(a, b), sleep(seconds) (which holds
// the connection, as a synchronous Python function would).
// Server-to-server roles (server, internal-rpc, internal-answer, gossip) are
// not implemented: a message with one of them closes the connection.

/** One frame as the stand-in received it. */
export interface ReceivedFrame {
  /** The frame's text (binary frames decoded as UTF-8). */
  text: string;
  /** Whether it came as a binary frame. */
  binary: boolean;
}

/** A running stand-in. */
export interface PythonStandin extends AsyncDisposable {
  /** `ws://127.0.0.1:PORT`. */
  readonly url: string;
  /** Every frame received, on every connection, in order. */
  readonly received: ReceivedFrame[];
  /** The subprotocols each upgrade request offered. */
  readonly offered: string[][];
  /** The most requests one connection ever had in hand at once (the original: 1). */
  readonly maxConcurrent: number;
  /** Connections closed by the stand-in without an answer, with why. */
  readonly refused: string[];
  /** Resolves when the stand-in has refused a connection `n` times in all. */
  refusedCount(n: number): Promise<void>;
  /** Stops the server and closes every connection. */
  close(): Promise<void>;
}

type Json = { rawJSON: string };
type JsonApi = {
  parse(text: string, reviver: (k: string, v: unknown, c: { source?: string }) => unknown): unknown;
  rawJSON(text: string): Json;
  isRawJSON(value: unknown): value is Json;
};
const json = JSON as unknown as JsonApi;

/** A Python exception: its class name and message, for the traceback. */
class PyError extends Error {
  constructor(readonly type: string, message: string) {
    super(message);
  }
}

/** Why a message was refused (the connection is closed without an answer). */
class Invalid extends Error {}

const INT_MIN = -(2n ** 63n);
const UINT_MAX = 2n ** 64n - 1n;

/** orjson.loads: numbers keep their source text; integers past 64 bits are an error. */
function loads(text: string): unknown {
  return json.parse(text, (_key, value, context) => {
    if (typeof value !== "number") return value;
    const source = context.source!;
    if (/^-?\d+$/.test(source)) {
      const n = BigInt(source);
      if (n < INT_MIN || n > UINT_MAX) throw new Invalid(`Integer ${source} exceeds 64-bit range`);
    }
    return json.rawJSON(source);
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) &&
    !json.isRawJSON(value);
}

interface Command {
  name: string;
  fun: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** pydantic's RPCRequest.model_validate, lax mode (no str coercion in pydantic v2). */
function validateRequest(message: Record<string, unknown>): { cmds: Command[]; u: string } {
  const { cmds, u } = message;
  if (typeof u !== "string") throw new Invalid("u: Input should be a valid string");
  if (!Array.isArray(cmds)) throw new Invalid("cmds: Input should be a valid tuple");
  const out = cmds.map((cmd, i): Command => {
    if (!isObject(cmd)) throw new Invalid(`cmds.${i}: Input should be a valid dictionary`);
    const { name, fun, args = [], kwargs = {}, locs = [] } = cmd;
    if (typeof name !== "string") throw new Invalid(`cmds.${i}.name: should be a valid string`);
    if (typeof fun !== "string") throw new Invalid(`cmds.${i}.fun: should be a valid string`);
    if (!Array.isArray(args)) throw new Invalid(`cmds.${i}.args: should be a valid tuple`);
    if (!isObject(kwargs)) throw new Invalid(`cmds.${i}.kwargs: should be a valid dictionary`);
    if (!Array.isArray(locs) || locs.some((l) => typeof l !== "string")) {
      throw new Invalid(`cmds.${i}.locs: should be a valid frozenset of strings`);
    }
    return { name, fun, args, kwargs };
  });
  return { cmds: out, u };
}

/** A number's value: a BigInt for an integer token, a number for a float token. */
function numberOf(value: unknown): bigint | number | null {
  if (!json.isRawJSON(value)) return null;
  const source = value.rawJSON;
  return /^-?\d+$/.test(source) ? BigInt(source) : Number(source);
}

/** How orjson writes a Python float (an integral float keeps `.0`). */
function pyFloat(x: number): Json {
  const s = String(x);
  return json.rawJSON(/^-?\d+$/.test(s) ? `${s}.0` : s);
}

function pyType(value: unknown): string {
  if (typeof value === "string") return "str";
  if (Array.isArray(value)) return "list";
  if (json.isRawJSON(value)) return /^-?\d+$/.test(value.rawJSON) ? "int" : "float";
  if (value === null) return "NoneType";
  if (typeof value === "boolean") return "bool";
  return "dict";
}

type PyFunction = (args: unknown[], kwargs: Record<string, unknown>) => unknown;

function positional(
  fun: string,
  names: string[],
  args: unknown[],
  kwargs: Record<string, unknown>,
) {
  const extra = Object.keys(kwargs).find((k) => !names.includes(k));
  if (extra !== undefined) {
    throw new PyError("TypeError", `${fun}() got an unexpected keyword argument '${extra}'`);
  }
  const values = names.map((name, i) => i < args.length ? args[i] : kwargs[name]);
  const missing = names.filter((_, i) => values[i] === undefined);
  if (args.length > names.length) {
    throw new PyError(
      "TypeError",
      `${fun}() takes ${names.length} positional argument${
        names.length === 1 ? "" : "s"
      } but ${args.length} were given`,
    );
  }
  if (missing.length > 0) {
    throw new PyError(
      "TypeError",
      `${fun}() missing ${missing.length} required positional argument: '${missing[0]}'`,
    );
  }
  return values;
}

const FUNCTIONS: Record<string, PyFunction> = {
  echo: (args, kwargs) => positional("echo", ["arg"], args, kwargs)[0],
  echos: (args, kwargs) => {
    positional("echos", [], [], kwargs);
    return args;
  },
  add: (args, kwargs) => {
    const [a, b] = positional("add", ["a", "b"], args, kwargs);
    const x = numberOf(a);
    const y = numberOf(b);
    if (x !== null && y !== null) {
      if (typeof x === "bigint" && typeof y === "bigint") {
        const sum = x + y;
        // orjson cannot write it: a BigInt makes JSON.stringify throw, and the reply is dropped.
        return sum < INT_MIN || sum > UINT_MAX ? sum : json.rawJSON(sum.toString());
      }
      return pyFloat(Number(x) + Number(y));
    }
    if (typeof a === "string" && typeof b === "string") return a + b;
    if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
    throw new PyError(
      "TypeError",
      `unsupported operand type(s) for +: '${pyType(a)}' and '${pyType(b)}'`,
    );
  },
  sleep: async (args, kwargs) => {
    const [seconds] = positional("sleep", ["seconds"], args, kwargs);
    const n = numberOf(seconds);
    if (n === null) throw new PyError("TypeError", "'str' object cannot be interpreted as a float");
    await new Promise((resolve) => setTimeout(resolve, Number(n) * 1000));
    return seconds;
  },
};

/** The steps an argument refers to (§2.2): exact names and `name.path`, in args only. */
function dependencies(value: unknown, names: Set<string>, out: Set<string>): void {
  if (typeof value === "string") {
    if (names.has(value)) out.add(value);
    else if (value.includes(".") && names.has(value.split(".")[0]!)) out.add(value.split(".")[0]!);
  } else if (Array.isArray(value)) {
    for (const item of value) dependencies(item, names, out);
  } else if (isObject(value)) {
    for (const item of Object.values(value)) dependencies(item, names, out);
  }
}

/** Substitution against the results so far (§2.5). */
function resolve(value: unknown, results: Map<string, unknown>): unknown {
  if (typeof value === "string") {
    if (!value.includes(".")) return results.has(value) ? results.get(value) : value;
    const [base, ...path] = value.split(".");
    if (!results.has(base!)) return value;
    let at = results.get(base!);
    for (const key of path) {
      if (!isObject(at) || !Object.hasOwn(at, key)) return value;
      at = at[key];
    }
    return at;
  }
  if (Array.isArray(value)) return value.map((item) => resolve(item, results));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, results)]));
  }
  return value;
}

/** `run_rpc`: the levels in turn; the deepest level's results. */
async function run(cmds: Command[]): Promise<Record<string, unknown>> {
  // `{cmd.name: cmd}`: a duplicate name keeps its first place and the last command.
  const steps = new Map<string, Command>();
  for (const cmd of cmds) steps.set(cmd.name, cmd);
  if (steps.size === 0) {
    throw new PyError("UnboundLocalError", "cannot access local variable 'level_results'");
  }
  const names = new Set(steps.keys());
  const deps = new Map<string, Set<string>>();
  for (const [name, cmd] of steps) {
    const found = new Set<string>();
    dependencies(cmd.args, names, found);
    deps.set(name, found);
  }
  // graphlib.TopologicalSorter, one batch of ready nodes at a time.
  const levels: string[][] = [];
  const done = new Set<string>();
  while (done.size < steps.size) {
    const ready = [...steps.keys()].filter((n) =>
      !done.has(n) && [...deps.get(n)!].every((d) => done.has(d))
    );
    if (ready.length === 0) {
      const cycle = [...steps.keys()].filter((n) => !done.has(n));
      throw new PyError("CycleError", `('nodes are in a cycle', ${JSON.stringify(cycle)})`);
    }
    for (const n of ready) done.add(n);
    levels.push(ready);
  }
  const results = new Map<string, unknown>();
  for (const level of levels) {
    for (const name of level) {
      const cmd = steps.get(name)!;
      const fn = FUNCTIONS[cmd.fun];
      if (fn === undefined) throw new PyError("ValueError", `Command ${cmd.fun} not found.`);
      const args = resolve(cmd.args, results) as unknown[];
      const kwargs = resolve(cmd.kwargs, results) as Record<string, unknown>;
      results.set(name, await fn(args, kwargs));
    }
  }
  return Object.fromEntries(levels.at(-1)!.map((name) => [name, results.get(name)]));
}

function traceback(err: unknown): string {
  const type = err instanceof PyError ? err.type : "Exception";
  const message = err instanceof Error ? err.message : String(err);
  return `Traceback (most recent call last):\n  File "mpreg/server.py", line 651, in run\n` +
    `${type}: ${message}\n`;
}

function pyStr(value: unknown): string {
  if (value === undefined || value === null) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/**
 * Starts a stand-in for the original Python MPREG server on a free port.
 *
 * @returns The running stand-in; `close()` (or `await using`) stops it.
 */
export function startPythonStandin(): Promise<PythonStandin> {
  const received: ReceivedFrame[] = [];
  const offered: string[][] = [];
  const refused: string[] = [];
  const refusedWaiters: Array<{ n: number; resolve: () => void }> = [];
  const sockets = new Set<WebSocket>();
  const closedSockets: Promise<void>[] = [];
  let maxConcurrent = 0;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder("utf-8", { fatal: true });

  function refuse(socket: WebSocket, why: string): void {
    refused.push(why);
    for (const w of refusedWaiters) if (refused.length >= w.n) w.resolve();
    // The handler raises, @logger.catch logs it, the handler returns: websockets closes (1000).
    socket.close(1000);
  }

  function answer(socket: WebSocket, body: { r: unknown; error: unknown; u: string }): void {
    let text: string;
    try {
      text = JSON.stringify({ r: body.r, error: body.error, u: body.u });
    } catch {
      // "Client connection error! Dropping reply."
      return;
    }
    if (socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(text));
  }

  /** One message, handled to its end before the next is read. */
  async function handle(socket: WebSocket, data: string | ArrayBuffer): Promise<void> {
    let message: unknown;
    try {
      const text = typeof data === "string" ? data : decoder.decode(data);
      received.push({ text, binary: typeof data !== "string" });
      message = loads(text);
    } catch (err) {
      refuse(socket, `unreadable: ${(err as Error).message}`);
      return;
    }
    if (!isObject(message)) {
      refuse(socket, "not an object");
      return;
    }
    const role = message.role;
    if (role === "rpc") {
      let request: { cmds: Command[]; u: string };
      try {
        request = validateRequest(message);
      } catch (err) {
        refuse(socket, `invalid: ${(err as Error).message}`);
        return;
      }
      try {
        const r = await run(request.cmds);
        answer(socket, { r, error: null, u: request.u });
      } catch (err) {
        answer(socket, {
          r: null,
          error: { code: 1003, message: "RPC execution failed", details: traceback(err) },
          u: request.u,
        });
      }
      return;
    }
    if (
      role === "server" || role === "internal-rpc" || role === "internal-answer" ||
      role === "gossip"
    ) {
      refuse(socket, `server role ${role} (not in the stand-in)`);
      return;
    }
    const u = message.u ?? "unknown";
    if (typeof u !== "string") {
      // RPCResponse(u=…) fails validation while building the error answer.
      refuse(socket, "unknown role with a non-string u");
      return;
    }
    answer(socket, {
      r: null,
      error: { code: 1004, message: `Invalid RPC request role: ${pyStr(role)}`, details: null },
      u,
    });
  }

  function serve(socket: WebSocket): void {
    sockets.add(socket);
    const { promise, resolve } = Promise.withResolvers<void>();
    closedSockets.push(promise);
    socket.binaryType = "arraybuffer";
    const queue: Array<string | ArrayBuffer> = [];
    let busy = false;
    let active = 0;
    const drain = async () => {
      busy = true;
      while (queue.length > 0 && socket.readyState === WebSocket.OPEN) {
        maxConcurrent = Math.max(maxConcurrent, ++active);
        await handle(socket, queue.shift()!);
        active--;
      }
      busy = false;
    };
    socket.onmessage = (event) => {
      queue.push(event.data);
      if (!busy) drain();
    };
    socket.onclose = () => {
      sockets.delete(socket);
      resolve();
    };
    socket.onerror = () => {};
  }

  const { promise, resolve } = Promise.withResolvers<PythonStandin>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => {
      resolve({
        url: `ws://127.0.0.1:${port}`,
        received,
        offered,
        get maxConcurrent() {
          return maxConcurrent;
        },
        refused,
        refusedCount: (n) =>
          refused.length >= n
            ? Promise.resolve()
            : new Promise((done) => refusedWaiters.push({ n, resolve: done })),
        close,
        [Symbol.asyncDispose]: close,
      });
    },
  }, (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Failed to open a WebSocket connection.", { status: 426 });
    }
    offered.push(
      (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim())
        .filter((p) => p !== ""),
    );
    // The Python server is configured with no subprotocols: it never selects one.
    const { socket, response } = Deno.upgradeWebSocket(request);
    serve(socket);
    return response;
  });

  async function close(): Promise<void> {
    for (const socket of sockets) socket.close(1001);
    await Promise.all(closedSockets);
    await server.shutdown();
  }
  return promise;
}
