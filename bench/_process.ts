// Copyright 2026 the mpreg authors. MIT license.
/**
 * Child processes for the bench: a Deno script (or any program) whose stdout
 * is read line by line, whose stdin the bench may write lines to, and which
 * is always stopped and waited for; plus free ports and waiting for a TCP
 * listener.
 *
 * The scripts started this way (`_server.ts`, `_idle_node.ts`,
 * `_nats_responder.ts`) print one JSON line once ready and exit when their
 * stdin closes or they get SIGTERM.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);
/**
 * The bench's processes use the lock of the tests and benchmarks: their
 * dependencies (the NATS client) stay out of the library's `deno.lock`.
 */
const DEV_LOCK = `--lock=${new URL("tests/dev.lock", ROOT).pathname}`;

/** How a child is started. */
export interface SpawnOptions {
  /** What to call it in errors. */
  what: string;
  /** Where its stderr goes: the bench's own stderr, or nowhere. */
  stderr?: "inherit" | "null";
}

/** A running child process with line-oriented stdin and stdout. */
export class LineChild {
  readonly #child: Deno.ChildProcess;
  readonly #what: string;
  readonly #lines: string[] = [];
  readonly #drained: Promise<void>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #ended = false;
  #wake: (() => void) | null = null;
  #stopped: Promise<Deno.CommandStatus> | null = null;

  private constructor(child: Deno.ChildProcess, what: string) {
    this.#child = child;
    this.#what = what;
    this.#writer = child.stdin.getWriter();
    // Keep reading to the end so the pipe never fills, queueing whole lines.
    this.#drained = (async () => {
      let text = "";
      try {
        for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
          text += chunk;
          let nl: number;
          while ((nl = text.indexOf("\n")) >= 0) {
            this.#lines.push(text.slice(0, nl));
            text = text.slice(nl + 1);
          }
          this.#wake?.();
        }
      } catch {
        // The pipe broke: the child is gone.
      }
      this.#ended = true;
      this.#wake?.();
    })();
  }

  /** The child's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Its exit status, once it exits. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#child.status;
  }

  /**
   * Starts a program.
   *
   * @param command The program.
   * @param args Its arguments.
   * @param options Its name in errors and where its stderr goes.
   * @returns The running child.
   */
  static spawn(command: string, args: string[], options: SpawnOptions): LineChild {
    const child = new Deno.Command(command, {
      args,
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: options.stderr ?? "inherit",
    }).spawn();
    return new LineChild(child, options.what);
  }

  /**
   * Starts a Deno script of `bench/` with all permissions.
   *
   * @param script The script's URL.
   * @param args Its arguments.
   * @param denoFlags Flags for `deno run` before the script.
   * @returns The running child.
   */
  static deno(script: URL, args: string[] = [], denoFlags: string[] = []): LineChild {
    const what = script.pathname.slice(script.pathname.lastIndexOf("/bench/") + 1);
    return LineChild.spawn(Deno.execPath(), [
      "run",
      "-A",
      DEV_LOCK,
      ...denoFlags,
      script.href,
      ...args,
    ], {
      what,
    });
  }

  /**
   * The next line the child printed.
   *
   * @param timeoutMs How long to wait for it.
   * @returns The line, without its newline.
   * @throws {Error} when the child exits first or the time runs out.
   */
  async line(timeoutMs = 30_000): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.#ended) throw new Error(`${this.#what} exited before printing a line`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${this.#what} printed nothing in ${timeoutMs} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = null;
    }
    return this.#lines.shift()!;
  }

  /**
   * The next line the child printed, parsed as JSON.
   *
   * @param timeoutMs How long to wait for it.
   * @returns The parsed line.
   */
  async json<T>(timeoutMs?: number): Promise<T> {
    const line = await this.line(timeoutMs);
    try {
      return JSON.parse(line) as T;
    } catch {
      throw new Error(`${this.#what} printed ${JSON.stringify(line)} instead of a JSON line`);
    }
  }

  /**
   * Writes one line to the child's stdin.
   *
   * @param line The line, without its newline.
   */
  async send(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  /**
   * Closes its stdin, sends SIGTERM (SIGKILL after 5 s) and waits for its
   * exit. Safe to call more than once.
   *
   * @returns Its exit status.
   */
  stop(): Promise<Deno.CommandStatus> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<Deno.CommandStatus> {
    try {
      await this.#writer.close();
    } catch {
      // Already closed.
    }
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((resolve) => timer = setTimeout(resolve, 5_000, null));
    const status = await Promise.race([this.#child.status, late]);
    clearTimeout(timer);
    if (status !== null) {
      await this.#drained;
      return status;
    }
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Exited just now.
    }
    const killed = await this.#child.status;
    await this.#drained;
    return killed;
  }
}

/**
 * A TCP port that was free a moment ago on 127.0.0.1 (bound to port 0, then
 * released).
 *
 * @returns The port.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Waits until something accepts TCP connections on 127.0.0.1:`port`.
 *
 * @param port The port.
 * @param timeoutMs How long to keep trying.
 * @param what What to call the listener in the error.
 * @param exited Settles if the listening process exits first.
 * @throws {Error} when nothing listens in time or the process exited.
 */
export async function waitForTcp(
  port: number,
  timeoutMs: number,
  what: string,
  exited?: Promise<unknown>,
): Promise<void> {
  let gone = false;
  exited?.then(() => gone = true, () => gone = true);
  const deadline = performance.now() + timeoutMs;
  while (true) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      if (gone) throw new Error(`${what} exited before listening on port ${port}`);
      if (performance.now() > deadline) {
        throw new Error(`${what} did not listen on port ${port} within ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/** Resolves when stdin reaches its end (the parent closed it or died). */
export async function stdinClosed(): Promise<void> {
  try {
    for await (const _ of Deno.stdin.readable) {
      // Input is ignored; only its end matters.
    }
  } catch {
    // A broken stdin means the parent is gone.
  }
}

/** Resolves on SIGTERM. */
export function sigterm(): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", () => resolve());
  return promise;
}
