// Copyright 2026 the mpreg authors. MIT license.
// Embedding and the CLI exit at once once the nodes have stopped (issue 16):
// nothing a stopped node leaves behind (a timer, a socket) keeps the process
// alive. Each program runs as a real subprocess; "at once" is judged with a
// bound far above an exit's real cost (tens of milliseconds) and far below
// the 15 s the bug cost, so a slow machine does not fail it.
import assert from "node:assert/strict";
import { readLines, repoPath } from "../_helpers/process.ts";

/** How long a program may live on after it said it stopped. */
const EXIT_BOUND_MS = 5_000;

interface Program {
  child: Deno.ChildProcess;
  output: string[];
  /** Resolves when the output has ended. */
  done: Promise<unknown>;
  /** Resolves when a line of the output matches `marker`. */
  said(marker: RegExp): Promise<void>;
}

function spawn(args: string[]): Program {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: repoPath("."),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const output: string[] = [];
  const waiting: { marker: RegExp; resolve: () => void }[] = [];
  const onLine = (line: string) => {
    output.push(line);
    for (const w of waiting) if (w.marker.test(line)) w.resolve();
  };
  const done = Promise.all([readLines(child.stdout, onLine), readLines(child.stderr, onLine)]);
  return {
    child,
    output,
    done,
    said: (marker) => {
      const { promise, resolve } = Promise.withResolvers<void>();
      if (output.some((line) => marker.test(line))) resolve();
      else waiting.push({ marker, resolve });
      return Promise.race([
        promise,
        child.status.then(() => done).then(() => {
          if (!output.some((line) => marker.test(line))) {
            throw new Error(`exited without ${marker}:\n${output.join("\n")}`);
          }
        }),
      ]);
    },
  };
}

/** Waits for the exit for `EXIT_BOUND_MS` at most: a program still alive then is killed, and fails. */
async function exitsAtOnce(program: Program, what: string): Promise<Deno.CommandStatus> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) =>
    timer = setTimeout(() => resolve("late"), EXIT_BOUND_MS)
  );
  const status = await Promise.race([program.child.status, late]);
  clearTimeout(timer);
  if (status === "late") {
    program.child.kill("SIGKILL");
    await program.child.status;
    assert.fail(`${what}: still running ${EXIT_BOUND_MS} ms later\n${program.output.join("\n")}`);
  }
  await program.done;
  return status;
}

async function embedded(mode: string): Promise<void> {
  const program = spawn(["run", "-A", repoPath("tests/fixtures/stop_exit.ts"), mode]);
  await program.said(/^stopped$/);
  const status = await exitsAtOnce(program, `both stop() resolved (${mode})`);
  assert.equal(status.code, 0, program.output.join("\n"));
}

Deno.test("Server.stop(): the node that dialed stops first, then the other at once: the program exits at once after both resolved", async () => {
  // Deno's idle timer on the listener's side of the link outlived it: 15 s.
  await embedded("dialer-first");
});

Deno.test("Server.stop(): the node that was dialed stops first, then the other at once: the program exits at once after both resolved", async () => {
  await embedded("listener-first");
});

Deno.test("Server.stop(): a peer process killed (no close frame), then the node stopped: the program exits at once", async () => {
  await embedded("peer-killed");
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`server.ts exits at once after its "stopped" line on ${signal}, peer links and a sandbox included`, async () => {
    const first = spawn(["run", "-A", repoPath("server.ts"), "--port", "0", "--name", "a"]);
    const url = (program: Program) =>
      program.said(/listening on/).then(() =>
        program.output.join("\n").match(/ws:\/\/[\d.]+:\d+/)![0]
      );
    const second = spawn([
      "run",
      "-A",
      repoPath("server.ts"),
      ...[
        "--config",
        "examples/node.yaml",
        "--port",
        "0",
        "--name",
        "b",
        "--peer",
        await url(first),
      ],
    ]);
    try {
      // A call runs in a sandbox process, which the stop ends too.
      const call = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          repoPath("client.ts"),
          "--url",
          await url(second),
          "call",
          "add",
          "2",
          "3",
        ],
        cwd: repoPath("."),
        stdin: "null",
      }).output();
      assert.equal(new TextDecoder().decode(call.stdout).trim(), "5");
      for (const program of [second, first]) {
        program.child.kill(signal);
        await program.said(/ stopped/);
        const status = await exitsAtOnce(program, `server.ts after "stopped" on ${signal}`);
        assert.equal(status.code, 0, program.output.join("\n"));
      }
    } finally {
      for (const program of [first, second]) {
        try {
          program.child.kill("SIGKILL");
        } catch {
          // exited
        }
        await program.child.status;
        await program.done;
      }
    }
  });
}
