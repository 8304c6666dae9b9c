// Copyright 2026 the mpreg authors. MIT license.
// Runs the repo's programs (server.ts, client.ts) as real subprocesses.

const ROOT = new URL("../../", import.meta.url);

/** The absolute path of a file in the repo. */
export function repoPath(path: string): string {
  return new URL(path, ROOT).pathname;
}

/** The result of a finished program. */
export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A <script> ...args` to completion. */
export async function runScript(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Finished> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", repoPath(script), ...args],
    cwd: repoPath("."),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** Calls `onLine` with each line of `stream` (without its newline) until it ends. */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  }
}

/** A server program running in the background. */
export class ServerProcess {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly url: Promise<string>;
  readonly #done: Promise<void>;

  /** Writes `lines` as the YAML config at `path`, then starts `server.ts` with it (and `args`). */
  static async fromYaml(
    path: string,
    lines: string[],
    args: string[] = [],
  ): Promise<ServerProcess> {
    await Deno.writeTextFile(path, lines.join("\n"));
    return new ServerProcess(["--config", path, ...args]);
  }

  /** Starts `server.ts` with JSON logs and waits for nothing yet. */
  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", repoPath("server.ts"), "--log-format", "json", ...args],
      cwd: repoPath("."),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    this.url = promise;
    const onLine = (line: string) => {
      this.lines.push(line);
      try {
        const url = JSON.parse(line)?.properties?.url;
        if (typeof url === "string") resolve(url);
      } catch {
        // not a JSON line
      }
    };
    this.#done = Promise.all([
      readLines(this.child.stdout, onLine),
      readLines(this.child.stderr, onLine),
    ])
      .then(() => reject(new Error(`server exited early:\n${this.lines.join("\n")}`)));
  }

  /** Sends a signal and waits for the exit status. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // already exited
    }
    const status = await this.child.status;
    await this.#done;
    this.url.catch(() => {});
    return status;
  }
}

/**
 * Starts a member in a process of its own (so a test can kill it): named
 * `name`, joined to `seed`, offering resource `name` and, with it, the
 * functions of `fixture` (a repo path), inline; its YAML goes in `dir`.
 * Resolves once it listens.
 */
export async function memberProcess(
  dir: string,
  name: string,
  seed: string,
  fixture: string,
): Promise<ServerProcess> {
  const member = await ServerProcess.fromYaml(`${dir}/${name}.yaml`, [
    `name: ${name}`,
    "port: 0",
    `peers: [${seed}]`,
    "gossip_interval: 0.15",
    `resources: [${name}]`,
    "functions:",
    `  - module: ${repoPath(fixture)}`,
    `    resources: [${name}]`,
    "    trusted: true",
  ]);
  await member.url;
  return member;
}

/** The lines of a marker file that a fixture appends to (one per run), none when it is absent. */
export async function markerLines(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}
