// Copyright 2026 the mpreg authors. MIT license.
/**
 * A map for entries that come and go at a high rate: requests and calls in
 * flight, keyed by their id.
 *
 * ## Why not `Map`
 *
 * When V8 rehashes a `Map` or `Set` (it does so every few hundred inserts
 * once deleted entries fill the table), the old table keeps a pointer to
 * the new one, so that live iterators can follow. A table that is dead but
 * was already promoted to the old generation therefore keeps the next table
 * alive through every young-generation collection, which keeps the one after
 * it alive, and so on, together with every entry those tables held: the
 * calls in flight, their promises, their arguments. Under load this chain
 * made each scavenge copy 4–13 MB and take 5–10 ms; garbage collection took
 * a sixth of a node's time with sandboxed calls in flight and about as much
 * of a client's with 100 calls in flight (measured with
 * `--v8-flags=--trace-gc-nvp`). It starts at random, so runs were bimodal.
 *
 * This table keeps ids that are unsigned 32-bit integers (mpreg's own ids
 * are) in two plain arrays, keys and values, indexed by `id & mask`: since
 * ids are handed out in sequence, the entries in flight sit in consecutive
 * slots and a lookup is one array read, with nothing allocated except when
 * the arrays grow or shrink (the old arrays are then simply garbage). An id
 * whose slot is taken by an older entry still in flight goes to an overflow
 * object. Other keys (strings, fractions, negative numbers: ids other
 * clients may choose) go to objects in dictionary mode, which are replaced,
 * not chained, when they resize. `1` and `"1"` stay different keys, as in a
 * `Map`.
 *
 * @module
 */

/** The smallest number of slots (a power of two). */
const MIN_CAPACITY = 16;
/** Tables up to this many slots never shrink. */
const SHRINK_ABOVE = 1024;

/**
 * The id after `id` for a counter that stays in the table's fast range: it
 * wraps from 2^32 - 1 back to 1 (an id comes back after four billion others,
 * long after any call that used it has ended).
 *
 * @example
 * ```ts
 * import { nextId } from "./id_table.ts";
 * console.log(nextId(1), nextId(0xffff_ffff)); // 2 1
 * ```
 *
 * @param id The current id.
 * @returns The next one.
 */
export function nextId(id: number): number {
  return id >= 0xffff_ffff ? 1 : id + 1;
}

/** Keys an {@linkcode IdTable} accepts. */
export type Id = string | number;

/**
 * A map from request ids to values, for entries added and removed at a high
 * rate. Values must not be `undefined`.
 *
 * @example
 * ```ts
 * import { IdTable } from "./id_table.ts";
 * const calls = new IdTable<{ name: string }>();
 * calls.set(1, { name: "echo" });
 * calls.set("1", { name: "other" });
 * console.log(calls.size, calls.get(1)?.name); // 2 "echo"
 * calls.delete(1);
 * console.log(calls.has(1), calls.size); // false 1
 * ```
 */
export class IdTable<V> {
  #keys = new Uint32Array(MIN_CAPACITY);
  #values: (V | undefined)[] = new Array<V | undefined>(MIN_CAPACITY).fill(undefined);
  #mask = MIN_CAPACITY - 1;
  /** Entries in the arrays. */
  #slotted = 0;
  /** Integer ids whose slot was taken, by id. */
  #overflow: Record<number, V | undefined> = Object.create(null);
  #overflowed = 0;
  /** Keys that are not unsigned 32-bit integers. */
  #numbers: Record<string, V | undefined> = Object.create(null);
  #strings: Record<string, V | undefined> = Object.create(null);
  #others = 0;

  /** How many entries the table holds. */
  get size(): number {
    return this.#slotted + this.#overflowed + this.#others;
  }

  /**
   * The value for `id`.
   *
   * @param id The key.
   * @returns The value, or `undefined` when there is none.
   */
  get(id: Id): V | undefined {
    if (typeof id === "number" && id >>> 0 === id) {
      const slot = id & this.#mask;
      if (this.#keys[slot] === id) {
        const value = this.#values[slot];
        if (value !== undefined) return value;
      }
      return this.#overflowed === 0 ? undefined : this.#overflow[id];
    }
    return this.#other(id)[id as string];
  }

  /**
   * Whether the table holds `id`.
   *
   * @param id The key.
   * @returns True when it does.
   */
  has(id: Id): boolean {
    return this.get(id) !== undefined;
  }

  /**
   * Sets the value for `id`.
   *
   * @param id The key.
   * @param value The value (not `undefined`).
   */
  set(id: Id, value: V): void {
    if (value === undefined) throw new TypeError("IdTable values cannot be undefined");
    if (typeof id === "number" && id >>> 0 === id) {
      const slot = id & this.#mask;
      const current = this.#values[slot];
      if (current === undefined || this.#keys[slot] === id) {
        if (this.#overflowed !== 0 && this.#overflow[id] !== undefined) {
          this.#overflow[id] = value;
          return;
        }
        this.#keys[slot] = id;
        this.#values[slot] = value;
        if (current === undefined) this.#slotted++;
      } else {
        if (this.#overflow[id] === undefined) this.#overflowed++;
        this.#overflow[id] = value;
      }
      const capacity = this.#values.length;
      if ((this.#slotted + this.#overflowed) * 2 > capacity) this.#resize(capacity * 2);
      return;
    }
    const store = this.#other(id);
    if (store[id as string] === undefined) this.#others++;
    store[id as string] = value;
  }

  /**
   * Removes `id`.
   *
   * @param id The key.
   * @returns True when it was there.
   */
  delete(id: Id): boolean {
    if (typeof id === "number" && id >>> 0 === id) {
      const slot = id & this.#mask;
      if (this.#keys[slot] === id && this.#values[slot] !== undefined) {
        this.#values[slot] = undefined;
        this.#slotted--;
      } else if (this.#overflowed !== 0 && this.#overflow[id] !== undefined) {
        delete this.#overflow[id];
        this.#overflowed--;
      } else {
        return false;
      }
      // Small tables never shrink, so a load that swings does not resize
      // back and forth; a big one shrinks once it is mostly empty.
      const capacity = this.#values.length;
      if (capacity > SHRINK_ABOVE && (this.#slotted + this.#overflowed) * 16 < capacity) {
        this.#resize(capacity / 2);
      }
      return true;
    }
    const store = this.#other(id);
    if (store[id as string] === undefined) return false;
    delete store[id as string];
    this.#others--;
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.#emptySlots(MIN_CAPACITY);
    this.#numbers = Object.create(null);
    this.#strings = Object.create(null);
    this.#others = 0;
  }

  /**
   * The values, in no particular order, as a snapshot: the table may change
   * while the result is used.
   *
   * @returns The values.
   */
  values(): V[] {
    return this.entries().map((entry) => entry[1]);
  }

  /**
   * The entries, in no particular order, as a snapshot.
   *
   * @returns `[id, value]` pairs.
   */
  entries(): [Id, V][] {
    const entries: [Id, V][] = [];
    const values = this.#values;
    for (let i = 0; i < values.length; i++) {
      if (values[i] !== undefined) entries.push([this.#keys[i]!, values[i]!]);
    }
    for (const key in this.#overflow) entries.push([Number(key), this.#overflow[key]!]);
    for (const key in this.#numbers) entries.push([Number(key), this.#numbers[key]!]);
    for (const key in this.#strings) entries.push([key, this.#strings[key]!]);
    return entries;
  }

  #other(id: Id): Record<string, V | undefined> {
    return typeof id === "number" ? this.#numbers : this.#strings;
  }

  /** Replaces the slots and their overflow with empty ones of `capacity`. */
  #emptySlots(capacity: number): void {
    this.#keys = new Uint32Array(capacity);
    this.#values = new Array<V | undefined>(capacity).fill(undefined);
    this.#mask = capacity - 1;
    this.#slotted = 0;
    this.#overflow = Object.create(null);
    this.#overflowed = 0;
  }

  #resize(capacity: number): void {
    const keys = this.#keys;
    const values = this.#values;
    const overflow = this.#overflow;
    this.#emptySlots(capacity);
    const put = (id: number, value: V): void => {
      const slot = id & this.#mask;
      if (this.#values[slot] === undefined) {
        this.#keys[slot] = id;
        this.#values[slot] = value;
        this.#slotted++;
      } else {
        this.#overflow[id] = value;
        this.#overflowed++;
      }
    };
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value !== undefined) put(keys[i]!, value);
    }
    for (const key in overflow) put(Number(key), overflow[key]!);
  }
}
