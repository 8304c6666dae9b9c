// Copyright 2026 the mpreg authors. MIT license.
/**
 * One sandbox process, as its pool sees it: a child `deno run` holding
 * exactly a profile's permission flags, spoken to in frames (see
 * `_frames.ts`) over a Unix socket of its own, which it connects to when it
 * starts. Its stdout is the node's; its stderr is forwarded to the node's
 * stderr, and its last lines explain an exit.
 *
 * A Unix socket rather than the process's stdin and stdout: Deno reads a
 * child's stdin on a blocking thread, and the same exchange of frames cost
 * the process twice the CPU over stdin as over a socket (measured here:
 * ~75 against ~35 µs a round trip).
 *
 * Everything the process sends is untrusted: frames are limited in size and
 * pre-scanned like a client's, and a frame that is not a batch of messages
 * the protocol defines ends the process (its pool fails its calls and
 * replaces it). This side never throws because of what the process sends.
 *
 * @module
 */
import { join } from "node:path";
import { concatBytes } from "../_util/concat.ts";
import { createCodec } from "../protocol/codec.ts";
import type { Limits } from "../protocol/limits.ts";
import { FramePacker, FrameReader } from "./_frames.ts";
import { EXIT_MARKER, type FromWorker, type HostArgs, type ToWorker } from "./_protocol.ts";

/** How a sandbox process is started and what it may send. */
export interface SandboxProcessOptions {
  /** The Deno executable. */
  deno: string;
  /** `deno run` flags: permissions, V8 flags, and the like. */
  flags: readonly string[];
  /** The main module (a `data:` URL). */
  main: string;
  /** A private folder for the process's socket. */
  dir: string;
  /** The largest frame the process may send. */
  maxFrameBytes: number;
  /** The socket grants the process needs besides its profile (revoked once connected). */
  revoke: HostArgs["revoke"];
  /** The environment of the process; nothing else is inherited. */
  env: Record<string, string>;
  /** Limits on what the process sends. */
  limits: Pick<Limits, "maxFrameBytes" | "maxDepth" | "maxElements" | "maxStringBytes">;
  /** A batch of messages arrived (the first is always the process's `ready`). */
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
/** How long a process may take to connect. */
const CONNECT_TIMEOUT_MS = 30_000;

const decoder = new TextDecoder();
let sockets = 0;

function isMessage(message: unknown): boolean {
  if (Array.isArray(message)) return message.length === 2 && typeof message[0] === "number";
  if (message === null || typeof message !== "object") return false;
  const m = message as Record<string, unknown>;
  if ("id" in m) {
    const error = m.error as Record<string, unknown> | null;
    return typeof m.id === "number" && error !== null && typeof error === "object" &&
      typeof error.name === "string" && typeof error.message === "string";
  }
  // A progress report: `{ progress: id, value }`.
  if ("progress" in m) return typeof m.progress === "number" && "value" in m;
  if ("chunk" in m) return typeof m.chunk === "number";
  if ("stream" in m) return typeof m.stream === "number";
  if ("more" in m) return typeof m.more === "number" && typeof m.k === "number";
  if ("drop" in m) return typeof m.drop === "number" && typeof m.k === "number";
  return false;
}

function newToken(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16)).join("");
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
  readonly #listener: Deno.UnixListener;
  readonly #path: string;
  readonly #token = newToken();
  readonly #packer = new FramePacker();
  readonly #options: SandboxProcessOptions;
  #conn: Deno.UnixConn | null = null;
  /** Frames to write: before the process connects, and while a write is under way. */
  #queued: Uint8Array[] = [];
  #writing = false;
  #stderrTail = "";
  /** Why this side ended the process, when it did. */
  #killedBecause: string | null = null;
  #killed = false;

  /**
   * Starts the process.
   *
   * @param options How, and where its messages go.
   * @throws {Deno.errors.NotCapable} when this process may not run `deno`
   *   or listen on a socket in `options.dir`.
   * @throws {Deno.errors.NotFound} when the executable does not exist.
   */
  constructor(options: SandboxProcessOptions) {
    this.#options = options;
    this.#path = join(options.dir, `${++sockets}.sock`);
    this.#listener = Deno.listen({ transport: "unix", path: this.#path });
    const args: HostArgs = {
      maxFrameBytes: options.maxFrameBytes,
      socket: this.#path,
      token: this.#token,
      revoke: options.revoke,
    };
    const grants = socketGrants(this.#path, options.revoke);
    try {
      this.#child = new Deno.Command(options.deno, {
        args: ["run", ...options.flags, ...grants, options.main, JSON.stringify(args)],
        env: options.env,
        clearEnv: true,
        stdin: "null",
        stdout: "inherit",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      this.#closeListener();
      throw err;
    }
    this.pid = this.#child.pid;
    // A process that ends before it connects must not leave accept() waiting.
    this.#child.status.then(() => this.#closeListener());
    this.ended = Promise.all([this.#child.status, this.#serve(), this.#readStderr()])
      .then(([status]) => options.onExit(this.#killedBecause ?? this.#explain(status)));
  }

  /**
   * Sends a batch of messages (queued in order behind earlier ones, and
   * until the process has connected).
   *
   * @param batch The messages.
   * @throws {Error} when a message cannot be encoded; nothing is sent then.
   */
  send(batch: ToWorker[]): void {
    this.#queued.push(this.#packer.pack(batch));
    if (this.#conn !== null && !this.#writing) void this.#drain(this.#conn);
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
    this.#queued = [];
    this.#closeListener();
    try {
      this.#conn?.close();
    } catch {
      // Already closed.
    }
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }

  #closeListener(): void {
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    try {
      Deno.removeSync(this.#path);
    } catch {
      // Already removed.
    }
  }

  /** Accepts the process's connection, then reads its frames until it closes. */
  async #serve(): Promise<void> {
    const timer = setTimeout(
      () => this.kill(`did not connect within ${CONNECT_TIMEOUT_MS} ms`),
      CONNECT_TIMEOUT_MS,
    );
    let conn: Deno.UnixConn;
    try {
      conn = await this.#listener.accept();
    } catch {
      return; // Killed before it connected.
    } finally {
      clearTimeout(timer);
      this.#closeListener();
    }
    if (this.#killed) {
      conn.close();
      return;
    }
    this.#conn = conn;
    const { limits, onMessages } = this.#options;
    const reader = new FrameReader(limits.maxFrameBytes);
    const codec = createCodec("msgpack", { limits });
    const buffer = new Uint8Array(256 * 1024);
    let ready = false;
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        // Every frame of this chunk is decoded (copied out) before the next read reuses the buffer.
        for (const frame of reader.push(buffer.subarray(0, n))) {
          const batch = codec.decode(frame);
          if (!Array.isArray(batch) || batch.length === 0) {
            throw new TypeError("sent a frame that is not a batch of protocol messages");
          }
          if (!ready) {
            // The first message proves which process is on the other end.
            const first = batch[0] as { ready?: unknown } | null;
            if (first?.ready !== this.#token) {
              throw new TypeError("connected without its token");
            }
            ready = true;
          } else if (!batch.every(isMessage)) {
            throw new TypeError("sent a frame that is not a batch of protocol messages");
          }
          if (batch.length > 1 && !batch.slice(1).every(isMessage)) {
            throw new TypeError("sent a frame that is not a batch of protocol messages");
          }
          onMessages(batch as FromWorker[]);
          if (this.#killed) return;
        }
        if (!this.#writing && this.#queued.length > 0) void this.#drain(conn);
      }
    } catch (err) {
      const why = err instanceof TypeError
        ? err.message
        : `broke the protocol: ${err instanceof Error ? err.message : err}`;
      if (!this.#killed) this.kill(why);
    } finally {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  /** Writes the queued frames, those queued meanwhile going out together. */
  async #drain(conn: Deno.UnixConn): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queued.length > 0) {
        const frames = this.#queued;
        this.#queued = [];
        const bytes = frames.length === 1 ? frames[0]! : concatBytes(frames);
        for (let at = 0; at < bytes.byteLength;) at += await conn.write(bytes.subarray(at));
      }
    } catch {
      // The process is gone: its exit explains why.
      this.#queued = [];
    }
    this.#writing = false;
  }

  async #readStderr(): Promise<void> {
    for await (const chunk of this.#child.stderr) {
      await Deno.stderr.write(chunk).catch(() => 0);
      this.#stderrTail = (this.#stderrTail + decoder.decode(chunk, { stream: true }))
        .slice(-STDERR_TAIL_BYTES);
    }
  }

  #explain(status: Deno.CommandStatus): string {
    const tail = this.#stderrTail;
    const said = tail.lastIndexOf(EXIT_MARKER);
    if (said >= 0) {
      const end = tail.indexOf("\n", said);
      return tail.slice(said + EXIT_MARKER.length, end < 0 ? undefined : end);
    }
    if (/Fatal JavaScript out of memory|JavaScript heap out of memory/.test(tail)) {
      return OUT_OF_MEMORY;
    }
    const how = status.signal !== null
      ? `was killed by ${status.signal}`
      : `exited with code ${status.code}`;
    if (this.#conn !== null) return how;
    // It never connected: what it printed last says why (Deno's own error).
    const lines = tail.split("\n").map((line) => line.trim()).filter((line) => line !== "");
    const last = lines.find((line) => /error/i.test(line)) ?? lines.at(-1);
    return last === undefined
      ? `${how} before it was ready`
      : `${how} before it was ready: ${last.slice(0, 300)}`;
  }
}

/** The flags that let a process connect to its socket (those it does not hold already). */
function socketGrants(path: string, revoke: HostArgs["revoke"]): string[] {
  return revoke.map((name) =>
    name === "net" ? `--allow-net=unix:${path}` : `--allow-${name}=${path}`
  );
}
