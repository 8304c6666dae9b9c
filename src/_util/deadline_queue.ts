// Copyright 2026 the mpreg authors. MIT license.
/**
 * Deadlines for many requests with one timer.
 *
 * A timer per request costs a `setTimeout` and a `clearTimeout` on every
 * call, about as much as encoding the message. Almost every request finishes
 * long before its deadline, so this queue keeps a single timer armed for the
 * earliest deadline it has seen and leaves it armed when requests finish:
 * adding and removing a request is a hash-table operation, and the timer is only
 * re-armed for a deadline earlier than the armed one. When it fires it
 * expires what is due and re-arms for the next deadline, if any. Entries are
 * kept in an {@linkcode IdTable} under a handle, not in a `Set` (see there
 * why).
 *
 * The timer is unref'd where the runtime allows it: it never keeps a process
 * alive by itself (a pending request always has an open socket or a
 * reconnect timer that does). `clear()` stops it.
 *
 * @module
 */

import { IdTable, nextId } from "./id_table.ts";

/** A request waiting for its deadline. */
export interface Deadline {
  /** When it expires, in milliseconds since the epoch. */
  readonly at: number;
  /** Called once when `at` has passed and the entry is still queued. */
  expire(): void;
}

/** One timer serving any number of deadlines. */
export class DeadlineQueue {
  #entries = new IdTable<Deadline>();
  #nextHandle = 1;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #armedAt = Infinity;

  /** How many deadlines are queued. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Queues a deadline.
   *
   * @param entry The deadline.
   * @returns A handle for {@linkcode DeadlineQueue.delete}.
   */
  add(entry: Deadline): number {
    const handle = this.#nextHandle;
    this.#nextHandle = nextId(handle);
    this.#entries.set(handle, entry);
    if (entry.at < this.#armedAt) this.#arm(entry.at);
    return handle;
  }

  /**
   * Removes a deadline; it will not expire.
   *
   * @param handle What {@linkcode DeadlineQueue.add} returned.
   */
  delete(handle: number): void {
    this.#entries.delete(handle);
  }

  /** Removes every deadline without expiring them. */
  clear(): void {
    this.#entries.clear();
    this.#disarm();
  }

  #arm(at: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - Date.now()));
    unref(this.#timer);
  }

  #disarm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#armedAt = Infinity;
  }

  #fire(): void {
    this.#timer = null;
    this.#armedAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    const due: Deadline[] = [];
    for (const [handle, entry] of this.#entries.entries()) {
      if (entry.at <= now) {
        due.push(entry);
        this.#entries.delete(handle);
      } else if (entry.at < next) {
        next = entry.at;
      }
    }
    if (next !== Infinity) this.#arm(next);
    for (const entry of due) entry.expire();
  }
}

function unref(timer: ReturnType<typeof setTimeout>): void {
  // Deno and Node return a Timeout object with unref(); browsers a number.
  const t = timer as unknown as { unref?: () => void };
  if (typeof t === "object" && typeof t.unref === "function") t.unref();
}
