// Copyright 2026 the mpreg authors. MIT license.
/**
 * The call table: the calls in flight on a connection, by id, with their
 * deadlines and cancel signals. The client, both directions of a peer link
 * and a node's client connection keep their calls in one.
 *
 * @module
 */
import { DeadlineQueue } from "../_util/deadline_queue.ts";
import { type Id, IdTable, nextId } from "../_util/id_table.ts";

/** The listener options of every call's abort (one object for all). */
const ONCE: AddEventListenerOptions = { once: true };

/**
 * A call in a {@linkcode CallTable}. The table keeps its bookkeeping on the
 * call itself (no wrapper object per call).
 */
export interface Call {
  /** When it expires, in milliseconds since the epoch; `Infinity` for never. */
  readonly at: number;
  /** Called once when `at` has passed and the call is still in the table. */
  expire(): void;
  /** The table's handle of its deadline (0 for none). */
  deadline: number;
  /** The signal that cancels it, if any. */
  signal?: AbortSignal;
  /** What the signal's abort runs. */
  onAbort?: () => void;
}

/**
 * Calls in flight by id: an {@linkcode IdTable} (ids are small integers
 * that wrap at 2^32), one timer for every deadline (a
 * {@linkcode DeadlineQueue}), and the abort listeners, all removed together
 * when a call ends.
 *
 * @example Track a call until its answer
 * ```ts ignore
 * const calls = new CallTable<Call & { resolve(v: unknown): void }>();
 * const id = calls.nextId();
 * const call = { at: Date.now() + 1000, expire() {}, deadline: 0, resolve: console.log };
 * calls.add(id, call);
 * // ... the answer to `id` arrives:
 * calls.get(id)?.resolve("done");
 * calls.delete(id, call);
 * ```
 */
export class CallTable<C extends Call> {
  readonly #calls = new IdTable<C>();
  readonly #deadlines: DeadlineQueue;
  readonly #ownDeadlines: boolean;
  #next = 1;

  /**
   * Creates a table.
   *
   * @param deadlines The deadline timer, when several tables share one
   *   (a node's connections); by default the table's own.
   */
  constructor(deadlines?: DeadlineQueue) {
    this.#ownDeadlines = deadlines === undefined;
    this.#deadlines = deadlines ?? new DeadlineQueue();
  }

  /** How many calls are in the table. */
  get size(): number {
    return this.#calls.size;
  }

  /**
   * A new id for an outgoing call: 1, 2, … wrapping from 2^32 - 1 to 1.
   *
   * @returns The id.
   */
  nextId(): number {
    const id = this.#next;
    this.#next = nextId(id);
    return id;
  }

  /**
   * Adds a call: its deadline starts, and `onAbort` runs once if `signal`
   * aborts first.
   *
   * @param id Its id.
   * @param call The call.
   * @param signal Cancels the call.
   * @param onAbort What the abort runs.
   */
  add(id: Id, call: C, signal?: AbortSignal, onAbort?: () => void): void {
    this.#calls.set(id, call);
    if (call.at !== Infinity) call.deadline = this.#deadlines.add(call);
    if (signal !== undefined && onAbort !== undefined) {
      call.signal = signal;
      call.onAbort = onAbort;
      signal.addEventListener("abort", onAbort, ONCE);
    }
  }

  /**
   * The call with this id.
   *
   * @param id The id.
   * @returns The call, or `undefined`.
   */
  get(id: Id): C | undefined {
    return this.#calls.get(id);
  }

  /**
   * Whether a call has this id.
   *
   * @param id The id.
   * @returns True when it is in the table.
   */
  has(id: Id): boolean {
    return this.#calls.has(id);
  }

  /**
   * Removes a call with its deadline and abort listener.
   *
   * @param id Its id.
   * @param call The call.
   */
  delete(id: Id, call: C): void {
    this.#calls.delete(id);
    if (call.deadline !== 0) this.#deadlines.delete(call.deadline);
    if (call.onAbort !== undefined) call.signal!.removeEventListener("abort", call.onAbort);
  }

  /**
   * Forgets every call (without ending them) and stops the deadline timer
   * when it is the table's own.
   */
  clear(): void {
    for (const call of this.#calls.values()) {
      if (call.onAbort !== undefined) call.signal!.removeEventListener("abort", call.onAbort);
    }
    this.#calls.clear();
    if (this.#ownDeadlines) this.#deadlines.clear();
  }

  /** @returns The calls, in a new array (safe to change the table while reading it). */
  values(): C[] {
    return this.#calls.values();
  }

  /** @returns The ids and calls, in a new array. */
  entries(): [Id, C][] {
    return this.#calls.entries();
  }
}
