// Copyright 2026 the mpreg authors. MIT license.
/**
 * The caller's side of uploads: a `ReadableStream` (or a `Blob`) at a
 * top-level position of a step's arguments travels as a stream the node
 * reads under credit. The request names the positions in `ins` (their
 * values are `null` on the wire); an {@linkcode Upload} reads the caller's
 * stream only as the node grants credit, and cancels it when the node says
 * stop or the call ends first. Browser-safe. Private to the client.
 *
 * @module
 */
import type { WireStep } from "./_steps.ts";

/** Where an upload goes: a step's positional or keyword argument. */
export interface UploadPosition {
  /** The step's name. */
  step: string;
  /** The index of a positional argument. */
  arg?: number;
  /** The name of a keyword argument. */
  kwarg?: string;
}

/** The uploads found in a request's steps. */
export interface TakenUploads {
  /** The steps, each upload's value replaced by `null`. */
  readonly cmds: WireStep[];
  /** The positions, in the order of `streams`. */
  readonly ins: UploadPosition[];
  /** The caller's streams. */
  readonly streams: ReadableStream<unknown>[];
}

/** Whether a value is uploaded: a `ReadableStream`, or a `Blob` (its `stream()`). */
function isUploaded(value: unknown): value is ReadableStream<unknown> | Blob {
  return (typeof ReadableStream !== "undefined" && value instanceof ReadableStream) ||
    (typeof Blob !== "undefined" && value instanceof Blob);
}

/**
 * Finds the streams at top-level positions of the steps' arguments.
 *
 * @param cmds The steps as they would be sent.
 * @returns The steps without them, and where they were; `null` when there is none.
 * @throws {TypeError} for a stream that is locked (another reader has it).
 */
export function takeUploads(cmds: WireStep[]): TakenUploads | null {
  let found: { ins: UploadPosition[]; streams: ReadableStream<unknown>[] } | null = null;
  const out = cmds.map((step) => {
    let args: unknown[] | null = null;
    let kwargs: Record<string, unknown> | null = null;
    const take = (value: ReadableStream<unknown> | Blob, at: UploadPosition): void => {
      const stream = value instanceof ReadableStream ? value : value.stream();
      if (stream.locked) {
        throw new TypeError(`Step "${step.name}": an uploaded ReadableStream is locked`);
      }
      if (found?.streams.includes(stream)) {
        throw new TypeError(`Step "${step.name}": one ReadableStream is uploaded twice`);
      }
      found ??= { ins: [], streams: [] };
      found.ins.push(at);
      found.streams.push(stream);
    };
    step.args.forEach((value, arg) => {
      if (!isUploaded(value)) return;
      take(value, { step: step.name, arg });
      (args ??= step.args.slice())[arg] = null;
    });
    const kw = step.kwargs;
    if (kw !== undefined) {
      for (const kwarg of Object.keys(kw)) {
        const value = kw[kwarg];
        if (!isUploaded(value)) continue;
        take(value, { step: step.name, kwarg });
        (kwargs ??= { ...kw })[kwarg] = null;
      }
    }
    if (args === null && kwargs === null) return step;
    const copy: WireStep = { ...step, args: args ?? step.args };
    if (kwargs !== null) copy.kwargs = kwargs;
    return copy;
  });
  if (found === null) return null;
  const { ins, streams } = found;
  return { cmds: out, ins, streams };
}

/** What an {@linkcode Upload} sends: the rest of an `{role: "in", u, i}` message. */
export type UploadMessage =
  | { chunk: unknown }
  | { bytes: string }
  | { end: true }
  | { error: string };

/**
 * One upload of a call: reads the caller's stream one chunk per unit of
 * credit the node granted, and never ahead of it.
 */
export class Upload {
  readonly #stream: ReadableStream<unknown>;
  readonly #send: (message: UploadMessage) => void;
  /** Send bytes as base64 (`mpreg.json.v1` has no bytes). */
  readonly #base64: boolean;
  #reader: ReadableStreamDefaultReader<unknown> | null = null;
  #credit = 0;
  #pumping = false;
  #done = false;

  /**
   * @param stream The caller's stream.
   * @param send Sends a message of this upload (it may throw: a chunk that cannot be encoded).
   * @param base64 Send byte chunks as base64 in `bytes`.
   */
  constructor(
    stream: ReadableStream<unknown>,
    send: (message: UploadMessage) => void,
    base64: boolean,
  ) {
    this.#stream = stream;
    this.#send = send;
    this.#base64 = base64;
  }

  /**
   * The node lets it send `n` more chunks.
   *
   * @param n How many.
   */
  credit(n: number): void {
    if (this.#done || !(n > 0)) return;
    this.#credit += n;
    this.#pump();
  }

  /**
   * The node reads no more, or the call ended: the caller's stream is
   * cancelled unless it was read to its end.
   *
   * @param reason Why.
   */
  stop(reason: unknown): void {
    if (this.#done) return;
    this.#done = true;
    const reader = this.#reader;
    if (reader !== null) reader.cancel(reason).catch(() => {});
    // A stream someone else locked meanwhile is theirs to cancel.
    else if (!this.#stream.locked) this.#stream.cancel(reason).catch(() => {});
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#credit > 0 && !this.#done) {
        let result: ReadableStreamReadResult<unknown>;
        try {
          // Locked meanwhile by another reader: a failure like any other.
          const reader = this.#reader ??= this.#stream.getReader();
          result = await reader.read();
        } catch (err) {
          if (this.#done) return;
          this.#done = true;
          this.#send({ error: messageOf(err) });
          return;
        }
        if (this.#done) return;
        if (result.done) {
          this.#done = true;
          this.#send({ end: true });
          return;
        }
        this.#credit--;
        try {
          this.#send(this.#message(result.value));
        } catch (err) {
          // A chunk the codec cannot take: the upload fails, on both sides.
          this.#send({ error: `A chunk cannot be encoded: ${messageOf(err)}` });
          this.stop(err);
          return;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  #message(value: unknown): UploadMessage {
    if (value instanceof ArrayBuffer) value = new Uint8Array(value);
    else if (ArrayBuffer.isView(value) && !(value instanceof Uint8Array)) {
      value = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    }
    if (this.#base64 && value instanceof Uint8Array) return { bytes: toBase64(value) };
    return { chunk: value };
  }
}

/** An error's message, short enough for one message. */
function messageOf(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > 1000 ? `${text.slice(0, 1000)}...` : text;
}

/** Base64 of bytes, in browsers without `Uint8Array.prototype.toBase64` too. */
function toBase64(bytes: Uint8Array): string {
  const native = (bytes as { toBase64?: () => string }).toBase64;
  if (typeof native === "function") return native.call(bytes);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
