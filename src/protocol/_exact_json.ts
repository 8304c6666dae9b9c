// Copyright 2026 the mpreg authors. MIT license.
/**
 * JSON with integers beyond 2^53 kept exact, as Python (orjson) keeps them:
 * an integer token that is not a safe integer is parsed to a `BigInt`, and a
 * `BigInt` is written as its digits.
 *
 * Floats follow JavaScript: a number that is an integer is written without
 * `.0`, so Python's `1.0` comes back from a JavaScript peer as `1`.
 *
 * @module
 */

/** `JSON.parse` with the source text of each primitive (ES2026), as V8 implements it. */
type Reviver = (key: string, value: unknown, context: { source?: string }) => unknown;
type JsonWithSource = {
  parse(text: string, reviver?: Reviver): unknown;
  rawJSON(text: string): unknown;
};
const json = JSON as unknown as JsonWithSource;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Whether the text holds a run of 16 digits (no shorter integer token can be
 * past 2^53). Such a run covers one of every 16th character, so only those
 * are read first: about 1/16 of an ordinary message (a regular expression
 * cost a third of `JSON.parse`).
 */
export function hasLongDigitRun(text: string): boolean {
  const end = text.length;
  for (let i = 15; i < end; i += 16) {
    if (!isDigit(text.charCodeAt(i))) continue;
    let start = i;
    while (start > 0 && isDigit(text.charCodeAt(start - 1))) start--;
    let stop = i + 1;
    while (stop < end && isDigit(text.charCodeAt(stop))) stop++;
    if (stop - start >= 16) return true;
  }
  return false;
}

const INTEGER_TOKEN = /^-?\d+$/;

function reviveBigInt(_key: string, value: unknown, context: { source?: string }): unknown {
  if (typeof value !== "number" || Number.isSafeInteger(value)) return value;
  const source = context.source;
  return source !== undefined && INTEGER_TOKEN.test(source) ? BigInt(source) : value;
}

/**
 * Parses JSON; an integer token outside the safe range (±(2^53 − 1))
 * becomes a `BigInt`. Text without a run of 16 digits takes plain
 * `JSON.parse`, which is as fast as before.
 *
 * @param text The JSON text.
 * @returns The value.
 * @throws {SyntaxError} when the text is not JSON.
 */
export function parseExactJson(text: string): unknown {
  return hasLongDigitRun(text) ? json.parse(text, reviveBigInt) : JSON.parse(text);
}

function writeBigInt(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? json.rawJSON(value.toString()) : value;
}

/**
 * Writes JSON; a `BigInt` is written as its digits. A value without one
 * takes plain `JSON.stringify` (only a value that holds a `BigInt` is
 * written a second time, with a replacer).
 *
 * @param value The value.
 * @returns The JSON text (`undefined` for a value JSON cannot hold, as `JSON.stringify`).
 * @throws {TypeError} for a cycle.
 */
export function stringifyExactJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof TypeError) || !/BigInt/i.test(err.message)) throw err;
    return JSON.stringify(value, writeBigInt);
  }
}
