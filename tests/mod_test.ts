// Copyright 2026 the mpreg authors. MIT license.
// The public API: what each entry point exports, and that every export has an
// example that runs and asserts. Adding or removing an export is a semver
// decision, so the lists below change only on purpose.
import assert from "node:assert/strict";
import { repoPath } from "./_helpers/process.ts";

const ERRORS = [
  "AppError",
  "CancelledError",
  "ClusterMismatchError",
  "ConnectionError",
  "ErrorCode",
  "FunctionError",
  "FunctionNotFoundError",
  "GraphError",
  "InternalError",
  "LimitExceededError",
  "NotStartedError",
  "OverloadedError",
  "PermissionDeniedError",
  "ProtocolError",
  "RpcError",
  "RpcErrorOptions",
  "TimeoutError",
  "UnauthenticatedError",
  "UnavailableError",
  "WireError",
];

const CLIENT = [
  "BackoffOptions",
  "CallOptions",
  "Client",
  "ClientOptions",
  "RequestOptions",
  "StepInput",
  "StreamOptions",
  "literal",
  // Typed calls and typed requests.
  "Arg",
  "Calls",
  "PathOf",
  "Ref",
  "RefNames",
  "Refs",
  "StepCall",
  "Typed",
  "TypedRequest",
  ...ERRORS,
];

const MOD = [
  ...CLIENT,
  // The node and what its methods take and return.
  "Server",
  "ServerOptions",
  "SandboxSettings",
  "FunctionOptions",
  "ModuleOptions",
  "StopOptions",
  "NodeStats",
  "FunctionStats",
  "EventLoopStats",
  "ClusterStats",
  "SandboxStats",
  "WorkerPoolStats",
  "DEFAULT_LIMITS",
  "Limits",
  // Functions.
  "CallContext",
  "FunctionDescription",
  "JsonSchema",
  "ParamDescription",
  "StandardSchema",
  "RpcFunction",
  "RequestId",
  "FunctionPermissions",
  "PermissionKind",
  "PermissionValue",
  // The cluster view.
  "Cluster",
  "ClusterEventDetail",
  "ClusterEventType",
  "MemberInfo",
  "MemberState",
  // Authentication.
  "AuthOptions",
  "Grant",
  "TokenEntry",
  "hashToken",
  // Config.
  "ConfigError",
  "ConfigErrorOptions",
  "FunctionModuleConfig",
  "LogConfig",
  "LogFormat",
  "LogLevel",
  "NodeConfig",
  "TlsFiles",
  "loadConfig",
  "parseConfig",
  "SandboxPolicyError",
];

interface DocTag {
  kind: string;
  doc?: string;
}
interface DocSymbol {
  name: string;
  declarations: Array<{
    jsDoc?: { tags?: DocTag[] };
    location: { filename: string; line: number };
  }>;
}

/** The symbols `deno doc` lists for an entry point. */
async function documented(entry: string): Promise<DocSymbol[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", repoPath(entry)],
    cwd: repoPath("."),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const json = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    nodes: Record<string, { symbols?: DocSymbol[] }>;
  };
  return Object.values(json.nodes).flatMap((node) => node.symbols ?? []);
}

const sorted = (names: Iterable<string>): string[] => [...new Set(names)].sort();

Deno.test("mod.ts exports the curated API and nothing else", async () => {
  assert.deepEqual(sorted((await documented("mod.ts")).map((s) => s.name)), sorted(MOD));
});

Deno.test("client.ts exports only client things", async () => {
  assert.deepEqual(sorted((await documented("client.ts")).map((s) => s.name)), sorted(CLIENT));
});

Deno.test("server.ts is the program and exports nothing", async () => {
  assert.deepEqual(await documented("server.ts"), []);
});

Deno.test("every public export has an example that runs and asserts", async () => {
  const faults: string[] = [];
  for (const symbol of await documented("mod.ts")) {
    // A name may be declared twice (ErrorCode is a value and a type): one example is enough.
    const examples = symbol.declarations.flatMap((d) =>
      (d.jsDoc?.tags ?? []).filter((t) => t.kind === "example").map((t) => t.doc ?? "")
    );
    if (examples.length === 0) faults.push(`${symbol.name}: no @example`);
    for (const example of examples) {
      const fence = example.match(/```(\S*)([^\n]*)/);
      if (fence === null || !["ts", "js", "tsx"].includes(fence[1]!)) continue;
      if (/\bignore\b/.test(fence[2]!)) faults.push(`${symbol.name}: an ignored example`);
      if (!/\bassert\b/.test(example)) faults.push(`${symbol.name}: an example without assert`);
      if (/console\.log/.test(example)) faults.push(`${symbol.name}: an example that logs`);
    }
  }
  assert.deepEqual(faults, []);
});
