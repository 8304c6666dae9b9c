// Copyright 2026 the mpreg authors. MIT license.
/**
 * How many arguments a registered function takes, read from the function
 * itself, so that a call with too few or too many is refused with a clear
 * error (1004) instead of running with `undefined`s or silently dropping
 * arguments.
 *
 * `required` is the function's `length` (its parameters before the first
 * one with a default, or a rest parameter). `max` counts every declared
 * parameter, read from the function's source text; it is `Infinity` when the
 * function has a rest parameter, reads `arguments`, or its source cannot be
 * read (a bound or native function). A step's `kwargs` arrive as one more
 * argument after the positional ones (the function's options object), so
 * they count against `max` too.
 *
 * @module
 */

/**
 * The arguments a function accepts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { arityOf } from "./arity.ts";
 * assert.deepEqual(arityOf((a: number, b = 1) => a + b), { required: 1, max: 2 });
 * ```
 */
export interface Arity {
  /** Arguments a call must pass (`fn.length`). */
  readonly required: number;
  /**
   * Most arguments it can use, counting the options object that carries
   * `kwargs`; `Infinity` when unknown or unbounded.
   */
  readonly max: number;
}

/**
 * Reads how many arguments `fn` accepts (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { arityOf } from "./arity.ts";
 * assert.deepEqual(arityOf((...xs: number[]) => xs.length), { required: 0, max: Infinity });
 * assert.deepEqual(arityOf(async function (a: string, { x }: { x: number }) {
 *   return a + x;
 * }), { required: 2, max: 2 });
 * ```
 *
 * @param fn The function.
 * @returns Its required and maximum argument counts.
 */
export function arityOf(fn: (...args: never[]) => unknown): Arity {
  const required = fn.length;
  let source: string;
  try {
    source = Function.prototype.toString.call(fn);
  } catch {
    return { required, max: Infinity };
  }
  const params = parameterText(source);
  if (params === undefined) return { required, max: Infinity };
  const { text, end } = params;
  if (/^\s*$/.test(text)) {
    return { required, max: usesArguments(source.slice(end)) ? Infinity : 0 };
  }
  const top = topLevel(text);
  if (top.includes("...")) return { required, max: Infinity };
  if (usesArguments(source.slice(end))) return { required, max: Infinity };
  // A trailing comma declares no parameter.
  const count = top.split(",").filter((part, i, all) => i < all.length - 1 || part.trim() !== "")
    .length;
  return { required, max: Math.max(count, required) };
}

/**
 * What is wrong with a call of `argCount` positional arguments (plus an
 * options object when `hasKwargs`) to a function of this arity, or
 * `undefined` when nothing is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { arityProblem } from "./arity.ts";
 * assert.equal(arityProblem({ required: 2, max: 2 }, 2, false), undefined);
 * assert.match(arityProblem({ required: 2, max: 2 }, 1, false)!, /expects 2 arguments/);
 * assert.match(arityProblem({ required: 2, max: 2 }, 2, true)!, /no options object/);
 * ```
 *
 * @param arity The function's arity.
 * @param argCount Positional arguments sent.
 * @param hasKwargs Whether the step has `kwargs`.
 * @returns A sentence saying what is wrong, or `undefined`.
 */
export function arityProblem(
  arity: Arity,
  argCount: number,
  hasKwargs: boolean,
): string | undefined {
  const sent = argCount + (hasKwargs ? 1 : 0);
  if (sent >= arity.required && sent <= arity.max) return undefined;
  const expected = arity.max === arity.required
    ? `${arity.required}`
    : arity.max === Infinity
    ? `at least ${arity.required}`
    : `${arity.required} to ${arity.max}`;
  const received = `received ${argCount}${hasKwargs ? " and kwargs" : ""}`;
  const noun = plural(arity.max === Infinity ? arity.required : arity.max);
  if (hasKwargs && argCount >= arity.max) {
    return `expects ${expected} ${noun} and no options object for kwargs, ${received}`;
  }
  return `expects ${expected} ${noun}, ${received}`;
}

/**
 * One declared parameter of a function, as read from its source.
 *
 * @example
 * ```ts
 * import type { ParameterName } from "./arity.ts";
 * const p: ParameterName = { name: "b", optional: true };
 * console.log(p.name);
 * ```
 */
export interface ParameterName {
  /** The name, or the destructuring pattern (`{ verbose }`) as written. */
  readonly name: string;
  /** It has a default value. */
  readonly optional?: true;
  /** It is a rest parameter (`...xs`). */
  readonly rest?: true;
}

/**
 * The parameters `fn` declares, read from its source text (type annotations
 * are gone at run time); `undefined` when the source cannot be read (a
 * bound or native function).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parameterNames } from "./arity.ts";
 * assert.deepEqual(parameterNames((a: number, b = 1, ...rest: number[]) => a + b + rest.length), [
 *   { name: "a" },
 *   { name: "b", optional: true },
 *   { name: "rest", rest: true },
 * ]);
 * ```
 *
 * @param fn The function.
 * @returns Its parameters, in order.
 */
export function parameterNames(fn: (...args: never[]) => unknown): ParameterName[] | undefined {
  let source: string;
  try {
    source = Function.prototype.toString.call(fn);
  } catch {
    return undefined;
  }
  const params = parameterText(source);
  if (params === undefined) return undefined;
  const names: ParameterName[] = [];
  for (const part of splitTopLevel(params.text)) {
    let text = part.trim();
    if (text === "") continue;
    const rest = text.startsWith("...");
    if (rest) text = text.slice(3).trim();
    const eq = topLevelIndex(text, "=");
    const optional = eq >= 0;
    if (optional) text = text.slice(0, eq).trim();
    const name = text.replace(/\s+/g, " ");
    names.push({ name, ...(optional ? { optional: true } : {}), ...(rest ? { rest: true } : {}) });
  }
  return names;
}

/** `text` cut at its top-level commas. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let from = 0;
  scanCode(text, 0, (c, i) => {
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(from, i));
      from = i + 1;
    }
    return false;
  });
  parts.push(text.slice(from));
  return parts;
}

/** The index of the first top-level `char` in `text`, or -1. */
function topLevelIndex(text: string, char: string): number {
  let depth = 0;
  let at = -1;
  scanCode(text, 0, (c, i) => {
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (c === char && depth === 0) at = i;
    return at >= 0;
  });
  return at;
}

function plural(n: number): string {
  return n === 1 ? "argument" : "arguments";
}

/** `arguments` read in the body (a conservative test: any mention counts). */
function usesArguments(body: string): boolean {
  return /\barguments\b/.test(body);
}

/**
 * The text between a function's parameter parentheses, and where the body
 * starts; a single unparenthesized arrow parameter (`x => …`) is returned
 * as is. `undefined` when the source is not a function's (native code).
 */
function parameterText(source: string): { text: string; end: number } | undefined {
  if (source.includes("[native code]")) return undefined;
  const arrow = /^\s*(?:async\s+)?([\p{L}\p{Nl}$_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}$_]*)\s*=>/u
    .exec(source);
  if (arrow !== null) return { text: arrow[1]!, end: arrow[0].length };
  const open = source.indexOf("(");
  if (open < 0) return undefined;
  let depth = 0;
  let close = -1;
  scanCode(source, open, (c, i) => {
    if (c === "(" || c === "[" || c === "{") depth++;
    else if ((c === ")" || c === "]" || c === "}") && --depth === 0) close = i;
    return close >= 0;
  });
  return close < 0 ? undefined : { text: source.slice(open + 1, close), end: close + 1 };
}

/**
 * Calls `visit` with each character of `text` from `start` that is code
 * (not inside a string, template or comment) until it returns true.
 */
function scanCode(text: string, start: number, visit: (c: string, i: number) => boolean): void {
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' || c === "'" || c === "`") {
      i = skipString(text, i);
    } else if (c === "/" && (text[i + 1] === "/" || text[i + 1] === "*")) {
      const close = text[i + 1] === "/" ? "\n" : "*/";
      const at = text.indexOf(close, i + 2);
      i = at < 0 ? text.length : at + close.length - 1;
    } else if (visit(c, i)) {
      return;
    }
  }
}

/** The index of the quote that closes the string opened at `start`. */
function skipString(source: string, start: number): number {
  const quote = source[start];
  for (let i = start + 1; i < source.length; i++) {
    if (source[i] === "\\") i++;
    else if (source[i] === quote) return i;
  }
  return source.length;
}

/** `text` with everything inside brackets, strings and comments removed. */
function topLevel(text: string): string {
  let out = "";
  let depth = 0;
  scanCode(text, 0, (c) => {
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (depth === 0) out += c;
    return false;
  });
  return out;
}
