// Copyright 2026 the mpreg authors. MIT license.
/**
 * The client program: `deno run -A client.ts --url URL call FUN [ARG ...]`
 * or `... request FILE`. It reaches the runtime through a small structural
 * interface so the client stays type-checkable with DOM libraries only.
 *
 * @module
 */
import { FlagError, type FlagSpec, type ParseArgs, readFlags } from "../_util/cli_flags.ts";
import { RpcError } from "../protocol/errors.ts";
import type { FunctionDescription } from "../protocol/function_description.ts";
import { apiDeclarations, descriptionOf, signatureOf, typeOfSchema } from "./api_types.ts";
import { Client, type StepInput } from "./client.ts";

/** The parts of the Deno runtime the CLI uses. */
export interface CliRuntime {
  /** The command-line arguments. */
  readonly args: string[];
  /** Reads a text file. */
  readTextFile(path: string): Promise<string>;
  /** Writes a text file (`types --out`); without it, `--out` is refused. */
  writeTextFile?(path: string, text: string): Promise<void>;
  /** Ends the process. */
  exit(code: number): never;
  /** Environment variables (`MPREG_URL`); without it, none are read. */
  readonly env?: { get(name: string): string | undefined };
}

/** Where the CLI writes. */
export interface CliOutput {
  /** Writes a line of results. */
  out(line: string): void;
  /** Writes a line of diagnostics. */
  err(line: string): void;
}

/** The deadline of a call when `--timeout` is not given, in milliseconds. */
const DEFAULT_TIMEOUT_MS = 30_000;

/** The `--help` text of the client program. */
export const CLIENT_USAGE: string = `Usage: mpreg [--url URL] [OPTIONS] COMMAND
   (or: deno run -A client.ts [--url URL] [OPTIONS] COMMAND)

Commands:
  call FUN [ARG ...]   call FUN; each ARG is parsed as JSON, else taken as a string
  request FILE         run the steps in a YAML or JSON file: a list of
                       {name, fun, args, kwargs, locs}, or {steps: [...], all: true}
  status               print the cluster's members and functions as tables
  functions            list the functions the cluster offers, with their members
                       and the resources each member offers them with
  describe FUN         one function: every member offering it, its state, URL
                       and resources, then its parameters, types and doc
  types                write the cluster's functions as a TypeScript .d.ts
                       (export interface Api { add(a: number, b: number): number })
                       to stdout, or to the file given by --out

Each flag takes its value as "--flag value" or "--flag=value".

Flags:
  --url URL            node to connect to (ws:// or wss://); repeat to give
                       fallbacks (default: $MPREG_URL, URLs separated by commas)
  --locs A,B           resources the node running the call must offer (call only)
  --kwargs JSON        keyword arguments as a JSON object (call only)
  --all                return every step's result, not only the sinks' (request only)
  --timeout MS         deadline in milliseconds (default: ${DEFAULT_TIMEOUT_MS})
  --                   the rest are arguments, even if they start with --
  --encoding ENC       msgpack or json (default: msgpack)
  --out FILE           where types writes the .d.ts (types only; default: stdout)
  -h, --help           print this help
`;

class CliUsageError extends Error {
  override name = "CliUsageError";
}

interface CliArgs {
  urls: string[];
  locs: string[];
  kwargs: Record<string, unknown> | undefined;
  all: boolean;
  timeoutMs: number;
  encoding: "msgpack" | "json";
  help: boolean;
  out: string | undefined;
  positional: string[];
}

/** The client's flags: how each is read (the rules are those of `cli_flags.ts`). */
const FLAGS: Record<string, { spec: FlagSpec; apply: (args: CliArgs, value: string) => void }> = {
  url: { spec: { type: "string" }, apply: (args, value) => args.urls.push(value) },
  locs: {
    spec: { type: "string" },
    apply: (args, value) => {
      args.locs = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
    },
  },
  kwargs: {
    spec: { type: "string" },
    apply: (args, value) => {
      const parsed = parseArg(value);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new CliUsageError(`--kwargs: expected a JSON object, got ${JSON.stringify(value)}`);
      }
      args.kwargs = parsed as Record<string, unknown>;
    },
  },
  all: { spec: { type: "boolean" }, apply: (args) => args.all = true },
  out: { spec: { type: "string" }, apply: (args, value) => args.out = value },
  timeout: {
    spec: { type: "string" },
    apply: (args, value) => {
      const ms = Number(value);
      if (!(ms > 0) || !Number.isFinite(ms)) {
        throw new CliUsageError(
          `--timeout: expected a positive number of milliseconds, got ${JSON.stringify(value)}`,
        );
      }
      args.timeoutMs = ms;
    },
  },
  encoding: {
    spec: { type: "string" },
    apply: (args, value) => {
      if (value !== "msgpack" && value !== "json") {
        throw new CliUsageError(
          `--encoding: expected one of msgpack, json, got ${JSON.stringify(value)}`,
        );
      }
      args.encoding = value;
    },
  },
};

const SPECS: Record<string, FlagSpec> = Object.fromEntries(
  Object.entries(FLAGS).map(([name, flag]) => [name, flag.spec]),
);

async function readArgs(args: readonly string[]): Promise<CliArgs> {
  const out: CliArgs = {
    urls: [],
    locs: [],
    kwargs: undefined,
    all: false,
    timeoutMs: DEFAULT_TIMEOUT_MS,
    encoding: "msgpack",
    help: false,
    out: undefined,
    positional: [],
  };
  // Imported here, not at the top: the browser bundle of the client holds
  // this file and must not import a node: module when it loads.
  const { parseArgs } = await import("node:util");
  try {
    const read = readFlags(args, SPECS, parseArgs as ParseArgs, true, ({ name, value }) => {
      FLAGS[name]!.apply(out, value === true ? "" : value);
    });
    out.help = read.help;
    out.positional = [...read.positionals];
  } catch (err) {
    if (err instanceof FlagError) throw new CliUsageError(err.message);
    throw err;
  }
  return out;
}

/**
 * Refuses a URL that is not a node's (`ws://` or `wss://`) at once, naming it:
 * without the check, `localhost:9001` would fail only when dialed.
 */
function checkNodeUrl(url: string): string {
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    // Reported below.
  }
  if (parsed !== null && (parsed.protocol === "ws:" || parsed.protocol === "wss:")) return url;
  const hint = /^[\w.-]+:\d+$/.test(url) || /^\[[\da-f:]+\]:\d+$/i.test(url)
    ? ` (did you mean "ws://${url}"?)`
    : parsed !== null && (parsed.protocol === "http:" || parsed.protocol === "https:")
    ? ` (did you mean "${parsed.protocol === "https:" ? "wss" : "ws"}://${parsed.host}"?)`
    : "";
  throw new CliUsageError(
    `"${url}" is not a node URL: expected ws://host:port or wss://host:port${hint}`,
  );
}

/** Each ARG is parsed as JSON, else taken as a string. */
function parseArg(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function readSteps(
  runtime: CliRuntime,
  path: string,
): Promise<{ steps: StepInput[]; all: boolean }> {
  const { parse } = await import("yaml");
  let doc: unknown;
  try {
    doc = parse(await runtime.readTextFile(path));
  } catch (err) {
    throw new CliUsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const body = Array.isArray(doc) ? { steps: doc } : doc as { steps?: unknown; all?: unknown };
  if (body === null || typeof body !== "object" || !Array.isArray(body.steps)) {
    throw new CliUsageError(`${path}: expected a list of steps or {steps: [...]}`);
  }
  return { steps: body.steps as StepInput[], all: body.all === true };
}

interface ClusterView {
  self: string;
  members: Array<{
    name: string;
    state: string;
    urls: string[];
    resources: string[];
    functions: Record<string, string[]>;
    idempotent?: string[];
    described?: Record<string, FunctionDescription>;
    lastHeard: number;
  }>;
  functions: Record<string, string[]>;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Fetches `GET /cluster` from the node behind a `ws://`/`wss://` URL. */
async function clusterView(url: string): Promise<ClusterView> {
  const http = new URL(url);
  http.protocol = http.protocol === "wss:" ? "https:" : "http:";
  http.pathname = "/cluster";
  const response = await fetch(http);
  if (!response.ok) throw new Error(`GET ${http} answered ${response.status}`);
  return await response.json() as ClusterView;
}

/** The resources `member` offers `fun` with: its own and the function's. */
function resourcesOf(member: ClusterView["members"][number], fun: string): string {
  const all = [...new Set([...member.resources, ...(member.functions[fun] ?? [])])].sort();
  return all.join(",") || "-";
}

/** The `functions` table: each function, its members and their resources. */
function functionsTable(view: ClusterView): string {
  const byName = new Map(view.members.map((m) => [m.name, m]));
  const rows = Object.entries(view.functions).sort(([a], [b]) => a.localeCompare(b)).map((
    [fun, names],
  ) => [
    fun,
    names.join(", "),
    names.map((name) => `${name}: ${resourcesOf(byName.get(name)!, fun)}`).join("; "),
  ]);
  const signatures = Object.keys(view.functions).sort().map((fun) => {
    const description = descriptionOf(view, fun);
    const doc = description?.doc === undefined ? "" : `\n    ${oneLine(description.doc)}`;
    return `${signatureOf(fun, description)}${doc}`;
  });
  return `${table(["FUNCTION", "MEMBERS", "RESOURCES (PER MEMBER)"], rows)}\n\nSIGNATURES\n` +
    signatures.join("\n");
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** The parameters, kwargs, result and doc of a described function, as text. */
function parametersText(view: ClusterView, fun: string): string {
  const description = descriptionOf(view, fun);
  if (description === undefined) return "\n\nIts members describe no parameters.";
  const lines = ["", "", signatureOf(fun, description)];
  if (description.doc !== undefined) lines.push(`    ${oneLine(description.doc)}`);
  const rows = description.params.map((p) => [
    (p.rest ? "..." : "") + p.name,
    p.schema === undefined ? "unknown" : typeOfSchema(p.schema),
    p.optional || (p.schema !== undefined && Object.hasOwn(p.schema, "default")) ? "no" : "yes",
    p.schema === undefined ? "-" : JSON.stringify(p.schema),
  ]);
  if (description.kwargs !== undefined) {
    rows.push([
      "kwargs",
      typeOfSchema(description.kwargs),
      "-",
      JSON.stringify(description.kwargs),
    ]);
  }
  if (rows.length > 0) {
    lines.push("", table(["PARAMETER", "TYPE", "REQUIRED", "JSON SCHEMA"], rows));
  }
  lines.push(
    "",
    `Result: ${
      description.result === undefined
        ? "unknown"
        : `${typeOfSchema(description.result)}  ${JSON.stringify(description.result)}`
    }`,
  );
  if (description.truncated) {
    lines.push("(Its description was over the catalog's bound: its JSON Schemas were left out.)");
  }
  return lines.join("\n");
}

/** The `describe FUN` text, or `null` when no member offers it. */
function describeFunction(view: ClusterView, fun: string): string | null {
  const members = view.members.filter((m) => Object.hasOwn(m.functions, fun));
  if (members.length === 0) return null;
  const rows = members.map((m) => [
    m.name + (m.name === view.self ? " (this node)" : ""),
    m.state,
    m.urls.join(" "),
    resourcesOf(m, fun),
    m.idempotent?.includes(fun) ? "yes" : "no",
  ]);
  return `${fun}: offered by ${members.length} member${members.length === 1 ? "" : "s"}\n\n` +
    table(["MEMBER", "STATE", "URL", "RESOURCES", "IDEMPOTENT"], rows) +
    "\n\nA step of it runs on a live member whose resources include all of the step's locs;" +
    "\nit is sent again after a loss only where it is idempotent." +
    parametersText(view, fun);
}

/** Renders `GET /cluster` as two tables. */
async function statusTables(url: string): Promise<string> {
  const view = await clusterView(url);
  const now = Date.now();
  const members = table(
    ["MEMBER", "STATE", "URL", "RESOURCES", "FUNCTIONS", "LAST HEARD"],
    view.members.map((m) => [
      m.name + (m.name === view.self ? " (this node)" : ""),
      m.state,
      m.urls.join(" "),
      m.resources.join(",") || "-",
      String(Object.keys(m.functions).length),
      `${Math.max(0, Math.round((now - m.lastHeard) / 1000))}s ago`,
    ]),
  );
  const functions = table(
    ["FUNCTION", "MEMBERS"],
    Object.entries(view.functions).sort(([a], [b]) => a.localeCompare(b)).map((
      [fun, names],
    ) => [fun, names.join(", ")]),
  );
  return `${members}\n\n${functions}`;
}

/**
 * Runs the client program.
 *
 * @param args The command-line arguments.
 * @param runtime File access and exit (the Deno namespace fits).
 * @param output Where results and diagnostics go.
 * @returns The exit code: 0 on success, 1 when the call fails, 2 for bad usage.
 */
export async function clientMain(
  args: readonly string[],
  runtime: CliRuntime,
  output: CliOutput,
): Promise<number> {
  let parsed: CliArgs;
  try {
    parsed = await readArgs(args);
    if (parsed.help) {
      output.out(CLIENT_USAGE);
      return 0;
    }
    if (parsed.urls.length === 0) {
      const fromEnv = runtime.env?.get("MPREG_URL") ?? "";
      parsed.urls = fromEnv.split(/[\s,]+/).filter((url) => url !== "");
    }
    if (parsed.urls.length === 0) {
      throw new CliUsageError("no node to call: give --url ws://host:port or set MPREG_URL");
    }
    parsed.urls.forEach(checkNodeUrl);
    if (parsed.positional.length === 0) throw new CliUsageError("a command is required");
  } catch (err) {
    output.err(`error: ${(err as Error).message}\n\n${CLIENT_USAGE}`);
    return 2;
  }
  const [command, ...rest] = parsed.positional;
  const client = new Client(parsed.urls, {
    timeoutMs: parsed.timeoutMs,
    encoding: parsed.encoding,
  });
  try {
    let result: unknown;
    if (command === "call") {
      const [fun, ...callArgs] = rest;
      if (fun === undefined) throw new CliUsageError("call needs a function name");
      result = await client.call(fun, callArgs.map(parseArg), {
        locs: parsed.locs,
        ...(parsed.kwargs ? { kwargs: parsed.kwargs } : {}),
      });
    } else if (command === "status") {
      output.out(await statusTables(parsed.urls[0]!));
      return 0;
    } else if (command === "functions") {
      output.out(functionsTable(await clusterView(parsed.urls[0]!)));
      return 0;
    } else if (command === "describe") {
      const [fun] = rest;
      if (fun === undefined) throw new CliUsageError("describe needs a function name");
      const described = describeFunction(await clusterView(parsed.urls[0]!), fun);
      if (described === null) {
        output.err(`error: no member of the cluster offers "${fun}"`);
        return 1;
      }
      output.out(described);
      return 0;
    } else if (command === "types") {
      const text = apiDeclarations(await clusterView(parsed.urls[0]!), parsed.urls[0]!);
      if (parsed.out === undefined) {
        output.out(text);
      } else {
        if (runtime.writeTextFile === undefined) {
          throw new CliUsageError("--out: this runtime cannot write files");
        }
        await runtime.writeTextFile(parsed.out, text);
        output.err(`Wrote ${parsed.out}`);
      }
      return 0;
    } else if (command === "request") {
      const [file] = rest;
      if (file === undefined) throw new CliUsageError("request needs a file");
      const { steps, all } = await readSteps(runtime, file);
      result = await client.request(steps, { all: all || parsed.all });
    } else {
      throw new CliUsageError(`unknown command ${command}`);
    }
    output.out(JSON.stringify(result, null, 2));
    return 0;
  } catch (err) {
    if (err instanceof CliUsageError) {
      output.err(`error: ${err.message}\n\n${CLIENT_USAGE}`);
      return 2;
    }
    if (err instanceof RpcError) {
      const details = err.details === null ? "" : `\n${JSON.stringify(err.details, null, 2)}`;
      output.err(`error: ${err.name} (${err.code}): ${err.message}${details}`);
      return 1;
    }
    output.err(`error: ${(err as Error).message}`);
    return 1;
  } finally {
    client.close();
  }
}

/** Runs {@linkcode clientMain} with the Deno runtime and exits with its code. */
export async function runCli(): Promise<never> {
  const runtime = (globalThis as unknown as { Deno: CliRuntime }).Deno;
  const code = await clientMain(runtime.args, runtime, {
    // deno-lint-ignore no-console
    out: (line) => console.log(line),
    // deno-lint-ignore no-console
    err: (line) => console.error(line),
  });
  return runtime.exit(code);
}
