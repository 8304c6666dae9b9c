// Copyright 2026 the mpreg authors. MIT license.
/**
 * One sandbox process, as its pool sees it: a child `deno run` holding
 * exactly a profile's permission flags, spoken to in frames over its stdin
 * and stdout (see `_frames.ts`), its stderr forwarded to this process's
 * stderr.
 *
 * Everything the process sends is untrusted: frames are limited in size and
 * pre-scanned like a client's, and a frame that is not a batch of messages
 * the protocol defines ends the process (its pool fails its calls and
 * replaces it). This side never throws because of what the process sends.
 *
 * @module
 */
import { createCodec } from "../protocol/codec.ts";
import type { Limits } from "../protocol/limits.ts";
import { FramePacker, FrameReader } from "./_frames.ts";
import type { FromWorker, ToWorker } from "./_protocol.ts";

/** How a sandbox process is started and what it may send. */
export interface SandboxProcessOptions {
  /** The Deno executable. */
  deno: string;
  /** `deno run` flags: permissions, V8 flags, and the like. */
  flags: readonly string[];
  /** The main module (a `data:` URL). */
  main: string;
  /** `Deno.args[0]` of the process: its {@linkcode HostArgs} as JSON. */
  args: string;
  /** The environment of the process; nothing else is inherited. */
  env: Record<string, string>;
  /** Limits on what the process sends. */
  limits: Pick<Limits, "maxFrameBytes" | "maxDepth" | "maxElements" | "maxStringBytes">;
  /** A batch of messages arrived. */
  onMessages(messages: FromWorker[]): void;
  /**
   * The process ended, or broke the protocol and was killed; called once,
   * after everything it sent before has been delivered.
   */
  onExit(reason: string): void;
}

/** How {@linkcode SandboxProcess} explains a process that hit its V8 heap limit. */
export const OUT_OF_MEMORY = "ran out of memory";

/** The last bytes of stderr kept to explain an exit. */
const STDERR_TAIL_BYTES = 4096;

const decoder = new TextDecoder();

function isMessage(message: unknown): boolean {
  if (Array.isArray(message)) return message.length === 2 && typeof message[0] === "number";
  if (message === null || typeof message !== "object") return false;
  const m = message as Record<string, unknown>;
  if ("id" in m) {
    const error = m.error as Record<string, unknown> | null;
    return typeof m.id === "number" && error !== null && typeof error === "object" &&
      typeof error.name === "string" && typeof error.message === "string";
  }
  if ("ready" in m) return m.ready === true;
  if ("exit" in m) return typeof m.exit === "string";
  return false;
}

/** A running sandbox process. */
export class SandboxProcess {
  /** The process id. */
  readonly pid: number;
  /** When it was started (`performance.now()`). */
  readonly startedAt: number = performance.now();
  /** Resolves once the process has ended and its output has been read. */
  readonly ended: Promise<void>;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #packer = new FramePacker();
  readonly #options: SandboxProcessOptions;
  #stderrTail = "";
  /** Why this side ended the process, when it did. */
  #killedBecause: string | null = null;
  /** Why the process said it ends. */
  #exitMessage: string | null = null;
  #killed = false;

  /**
   * Starts the process.
   *
   * @param options How, and where its messages go.
   * @throws {Deno.errors.NotCapable} when this process may not run `deno`.
   * @throws {Deno.errors.NotFound} when the executable does not exist.
   */
  constructor(options: SandboxProcessOptions) {
    this.#options = options;
    this.#child = new Deno.Command(options.deno, {
      args: ["run", ...options.flags, options.main, options.args],
      env: options.env,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    this.#writer = this.#child.stdin.getWriter();
    // A write fails only when the process is gone; its exit explains why.
    this.#writer.closed.catch(() => {});
    this.ended = Promise.all([this.#child.status, this.#readFrames(), this.#readStderr()])
      .then(([status]) => {
        options.onExit(this.#killedBecause ?? this.#exitMessage ?? this.#explain(status));
      });
  }

  /**
   * Sends a batch of messages (queued in order behind earlier ones).
   *
   * @param batch The messages.
   * @throws {Error} when a message cannot be encoded; nothing is sent then.
   */
  send(batch: ToWorker[]): void {
    const frame = this.#packer.pack(batch);
    this.#writer.write(frame).catch(() => {});
  }

  /**
   * The process's resident memory in bytes, read from `/proc`, or `null`
   * where that cannot be read (not Linux, or no read permission).
   *
   * @returns Bytes, or `null`.
   */
  residentBytes(): number | null {
    try {
      const statm = Deno.readTextFileSync(`/proc/${this.pid}/statm`);
      const pages = Number(statm.split(" ")[1]);
      return Number.isFinite(pages) ? pages * 4096 : null;
    } catch {
      return null;
    }
  }

  /**
   * Ends the process at once (SIGKILL). `onExit` still runs, with `reason`
   * when one is given.
   *
   * @param reason Why, for the calls it held; `undefined` for a plain stop.
   */
  kill(reason?: string): void {
    if (reason !== undefined) this.#killedBecause ??= reason;
    if (this.#killed) return;
    this.#killed = true;
    this.#writer.close().catch(() => {});
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }

  async #readFrames(): Promise<void> {
    const { limits, onMessages } = this.#options;
    const reader = new FrameReader(limits.maxFrameBytes);
    const codec = createCodec("msgpack", { limits });
    try {
      for await (const chunk of this.#child.stdout) {
        for (const frame of reader.push(chunk)) {
          const batch = codec.decode(frame);
          if (!Array.isArray(batch) || batch.length === 0 || !batch.every(isMessage)) {
            throw new TypeError("sent a frame that is not a batch of protocol messages");
          }
          for (const message of batch) {
            if (!Array.isArray(message) && "exit" in message) {
              this.#exitMessage ??= String(message.exit);
            }
          }
          onMessages(batch as FromWorker[]);
        }
      }
    } catch (err) {
      const why = err instanceof TypeError
        ? err.message
        : `broke the protocol: ${err instanceof Error ? err.message : err}`;
      this.kill(why);
      // Drain what is left so the process can exit.
      await this.#child.stdout.cancel().catch(() => {});
    }
  }

  async #readStderr(): Promise<void> {
    for await (const chunk of this.#child.stderr) {
      await Deno.stderr.write(chunk).catch(() => 0);
      this.#stderrTail = (this.#stderrTail + decoder.decode(chunk, { stream: true }))
        .slice(-STDERR_TAIL_BYTES);
    }
  }

  #explain(status: Deno.CommandStatus): string {
    if (/Fatal JavaScript out of memory|JavaScript heap out of memory/.test(this.#stderrTail)) {
      return OUT_OF_MEMORY;
    }
    if (status.signal !== null) return `was killed by ${status.signal}`;
    return `exited with code ${status.code}`;
  }
}
