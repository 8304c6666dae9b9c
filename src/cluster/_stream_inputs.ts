// Copyright 2026 the mpreg authors. MIT license.
/**
 * Streams as the arguments of a forwarded step (input streams). The
 * coordinator takes every stream source out of the step's top-level
 * arguments ({@linkcode splitInputs}) and feeds each to the member under
 * the credit the member grants ({@linkcode InputFeed}); the member reads
 * each as an {@linkcode InputSource}, a stream source like any other.
 * Nothing is read from a source before the member asks for it, so a step
 * the member refuses unstarted may go to another member with its streams
 * untouched. Private to the cluster layer.
 *
 * @module
 */
import { isStreamSource, type StreamSink, type StreamSource } from "../registry/stream_source.ts";
import { isCredit, MAX_STREAM_CREDIT } from "../protocol/messages.ts";
import { CancelledError, toRpcError } from "../protocol/errors.ts";
import type {
  InputCancelMessage,
  InputCreditMessage,
  InputEndMessage,
  InputErrorMessage,
  InputMessage,
  InputPosition,
  RunMessage,
} from "./peer_protocol.ts";

/** A step's arguments with their streams taken out. */
export interface SplitInputs {
  /** The arguments, `null` where a stream was. */
  args: unknown[];
  /** The keyword arguments, `null` where a stream was. */
  kwargs: Record<string, unknown>;
  /** Where each stream goes. */
  ins: InputPosition[];
  /** The streams, by their index `i`. */
  sources: StreamSource[];
}

/**
 * Takes the stream sources out of a step's top-level arguments.
 *
 * @param args The step's resolved arguments.
 * @param kwargs The step's resolved keyword arguments.
 * @returns The arguments without their streams, or `null` when they hold none.
 */
export function splitInputs(
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
): SplitInputs | null {
  let split: SplitInputs | null = null;
  const take = (source: StreamSource, at: { arg: number } | { kwarg: string }): void => {
    split ??= { args: [...args], kwargs: { ...kwargs }, ins: [], sources: [] };
    const i = split.sources.length;
    split.sources.push(source);
    split.ins.push({ i, ...at });
    if ("arg" in at) split.args[at.arg] = null;
    else split.kwargs[at.kwarg] = null;
  };
  for (let arg = 0; arg < args.length; arg++) {
    const value = args[arg];
    if (isStreamSource(value)) take(value, { arg });
  }
  for (const kwarg in kwargs) {
    const value = kwargs[kwarg];
    if (Object.hasOwn(kwargs, kwarg) && isStreamSource(value)) take(value, { kwarg });
  }
  return split;
}

/**
 * Whether a run's `ins` is well-formed: streams numbered `0..n-1` in order,
 * each at a distinct position that exists and holds `null`; and `may` only
 * with `stream`.
 *
 * @param message The run.
 * @returns True when well-formed (or without input streams).
 */
export function isInputsOf(message: RunMessage): boolean {
  if (message.may !== undefined && (message.may !== true || message.stream === undefined)) {
    return false;
  }
  const ins = message.ins;
  if (ins === undefined) return true;
  if (!Array.isArray(ins) || ins.length === 0 || ins.length > MAX_INPUTS) return false;
  const seen = new Set<string>();
  for (let k = 0; k < ins.length; k++) {
    const at = ins[k] as Record<string, unknown> | null;
    if (typeof at !== "object" || at === null || at.i !== k) return false;
    let key: string;
    if (typeof at.arg === "number" && at.kwarg === undefined) {
      if (!Number.isSafeInteger(at.arg) || at.arg < 0 || at.arg >= message.args.length) {
        return false;
      }
      if (message.args[at.arg] !== null) return false;
      key = `a${at.arg}`;
    } else if (typeof at.kwarg === "string" && at.arg === undefined) {
      const kwargs = message.kwargs;
      if (kwargs === undefined || !Object.hasOwn(kwargs, at.kwarg) || kwargs[at.kwarg] !== null) {
        return false;
      }
      key = `k${at.kwarg}`;
    } else {
      return false;
    }
    if (seen.has(key)) return false;
    seen.add(key);
  }
  return true;
}

/**
 * Takes a message of an input stream that came on a link: a member's
 * `in-credit` or `in-cancel` goes to the feed of the run this side sent; a
 * coordinator's `in`, `in-end` or `in-error` to `deliver` (the runs this
 * side runs). Messages for runs that are over are ignored.
 *
 * @param message The message.
 * @param feeds The feeds of a run this side sent, by its id.
 * @param deliver Delivers to a run this side runs; false for a chunk past its credit.
 * @returns Why the link is to be closed (a malformed message, a chunk past
 *   the credit), or `null`.
 */
export function receiveInput(
  message:
    | InputMessage
    | InputEndMessage
    | InputErrorMessage
    | InputCreditMessage
    | InputCancelMessage,
  feeds: (id: number) => readonly InputFeed[] | undefined,
  deliver: (message: InputMessage | InputEndMessage | InputErrorMessage) => boolean,
): string | null {
  if (typeof message.i !== "number") return `malformed ${message.t}`;
  switch (message.t) {
    case "in-credit":
      if (!isCredit(message.n)) return "malformed in-credit";
      feeds(message.id)?.[message.i]?.credit(message.n);
      return null;
    case "in-cancel":
      feeds(message.id)?.[message.i]?.cancel(new CancelledError("Cancelled by its reader"));
      return null;
    case "in-error":
      if (typeof message.error !== "object" || message.error === null) {
        return "malformed in-error";
      }
  }
  // A coordinator keeps to the credit it was given: past it, a node would hold without bound.
  return deliver(message) ? null : "malformed in: past the stream's credit";
}

/** How a link sends a run's input streams to its member. */
export interface InputOut {
  /**
   * Sends chunk `value` of input stream `i` of run `id`; false when the
   * member could not take it and it went as the stream's `in-error` instead.
   */
  chunk(id: number, i: number, value: unknown): boolean;
  /** Sends `in-end` or `in-error`. */
  send(message: InputEndMessage | InputErrorMessage): unknown;
}

/**
 * The feeds of a run's input streams, by index; nothing is read from them
 * before the member's first `in-credit`.
 *
 * @param out Sends to the member.
 * @param id The run's id.
 * @param sources The streams, by index.
 * @returns The feeds.
 */
export function feedInputs(
  out: InputOut,
  id: number,
  sources: readonly StreamSource[],
): InputFeed[] {
  return sources.map((source, i) => {
    const feed: InputFeed = new InputFeed(source, {
      chunk: (value) => {
        // A chunk over the member's limits went as the stream's error.
        if (!out.chunk(id, i, value)) feed.cancel(new CancelledError("Input chunk refused"));
      },
      end: () => out.send({ t: "in-end", id, i }),
      error: (err) => out.send({ t: "in-error", id, i, error: toRpcError(err).toWire() }),
    });
    return feed;
  });
}

/**
 * A run ended: the input streams its member started reading are cancelled
 * (a no-op for those that ended); the others are left untouched, for the
 * member the step goes to next when it did not start there.
 *
 * @param feeds The run's feeds.
 * @param reason Why.
 */
export function endFeeds(feeds: readonly InputFeed[] | undefined, reason: unknown): void {
  if (feeds === undefined) return;
  for (const feed of feeds) if (feed.started) feed.cancel(reason);
}

/** The most input streams one run may have. */
export const MAX_INPUTS = 64;

/**
 * The coordinator's side of one input stream: chunks of its source go to
 * the member only within the credit the member granted (a chunk that comes
 * past it, from a relayed stream's initial credit, waits here: never more
 * than that credit).
 */
export class InputFeed {
  readonly #source: StreamSource;
  readonly #out: StreamSink;
  /** Chunks the member may still be sent. */
  #credit = 0;
  #started = false;
  #over = false;
  readonly #held: unknown[] = [];
  /** The end or failure, held until the held chunks are sent. */
  #ending: { error: unknown } | null | undefined = undefined;

  /**
   * @param source The stream.
   * @param out Sends to the member: `in`, then `in-end` or `in-error`.
   */
  constructor(source: StreamSource, out: StreamSink) {
    this.#source = source;
    this.#out = out;
  }

  /** Whether the member started reading it. */
  get started(): boolean {
    return this.#started;
  }

  /**
   * The member granted `n` more chunks: the first grant starts the source.
   *
   * @param n How many (checked by the link).
   */
  credit(n: number): void {
    if (this.#over) return;
    if (!this.#started) {
      this.#started = true;
      this.#credit = n;
      this.#source.start({
        chunk: (value) => this.#chunk(value),
        end: () => this.#end(null),
        error: (err) => this.#end({ error: err }),
      }, n);
      return;
    }
    let left = n;
    while (left > 0 && this.#held.length > 0) {
      left--;
      this.#out.chunk(this.#held.shift());
    }
    if (this.#held.length === 0 && this.#ending !== undefined) return this.#deliverEnd();
    this.#credit = Math.min(this.#credit + left, MAX_STREAM_CREDIT);
    if (left > 0) this.#source.credit(left);
  }

  /**
   * The member reads no more of it (or its run ended): the source is
   * cancelled and nothing more is sent.
   *
   * @param reason Why.
   */
  cancel(reason: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.#held.length = 0;
    this.#source.cancel(reason);
  }

  #chunk(value: unknown): void {
    if (this.#over) return;
    if (this.#credit > 0 && this.#held.length === 0) {
      this.#credit--;
      this.#out.chunk(value);
    } else {
      this.#held.push(value);
    }
  }

  #end(ending: { error: unknown } | null): void {
    if (this.#over) return;
    this.#ending = ending;
    if (this.#held.length === 0) this.#deliverEnd();
  }

  #deliverEnd(): void {
    if (this.#over) return;
    this.#over = true;
    const ending = this.#ending;
    if (ending === null) this.#out.end();
    else this.#out.error(ending!.error);
  }
}

/**
 * The member's side of one input stream: the chunks the coordinator feeds,
 * read under the credit this side grants (a chunk past it is refused: the
 * link is to be closed).
 */
export class InputSource implements StreamSource {
  /** Marks a stream source. */
  readonly streamSource = true as const;
  readonly #grant: (n: number) => void;
  readonly #stop: () => void;
  #credit = 0;
  #sink: StreamSink | null = null;
  /** `undefined` while it runs; `null` once ended; else the error. */
  #ending: { error: unknown } | null | undefined = undefined;
  #over = false;

  /**
   * @param grant Sends `in-credit` to the coordinator.
   * @param stop Sends `in-cancel` to the coordinator.
   */
  constructor(grant: (n: number) => void, stop: () => void) {
    this.#grant = grant;
    this.#stop = stop;
  }

  /**
   * Starts reading: grants the initial credit.
   *
   * @param sink Where chunks go.
   * @param credit The initial credit.
   */
  start(sink: StreamSink, credit: number): void {
    this.#sink = sink;
    if (this.#ending !== undefined) return this.#deliverEnd();
    this.credit(credit);
  }

  /**
   * Grants `n` more chunks.
   *
   * @param n How many.
   */
  credit(n: number): void {
    if (this.#over || this.#ending !== undefined) return;
    const room = Math.min(n, MAX_STREAM_CREDIT - this.#credit);
    if (!isCredit(room)) return;
    this.#credit += room;
    this.#grant(room);
  }

  /**
   * Reads no more: the coordinator stops the producer.
   *
   * @param _reason Why.
   */
  cancel(_reason: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.#sink = null;
    if (this.#ending === undefined) this.#stop();
  }

  /**
   * A chunk from the coordinator.
   *
   * @param value The chunk.
   * @returns False when it came past the credit granted (the link is to be closed).
   */
  push(value: unknown): boolean {
    if (this.#over || this.#ending !== undefined) return true;
    if (this.#credit <= 0) return false;
    this.#credit--;
    this.#sink?.chunk(value);
    return true;
  }

  /**
   * The stream's end (`null`) or failure, or the loss of the link.
   *
   * @param error Why it failed, or `null`.
   */
  finish(error: unknown): void {
    if (this.#over || this.#ending !== undefined) return;
    this.#ending = error === null ? null : { error };
    if (this.#sink !== null) this.#deliverEnd();
  }

  #deliverEnd(): void {
    const sink = this.#sink;
    const ending = this.#ending;
    if (sink === null || ending === undefined || this.#over) return;
    this.#over = true;
    this.#sink = null;
    if (ending === null) sink.end();
    else sink.error(ending.error);
  }
}
