// Copyright 2026 the mpreg authors. MIT license.
/**
 * Function-name globs for grants: `*` matches any run of characters, `?`
 * one character; everything else matches itself. A character is a Unicode
 * code point, so a character outside the Basic Multilingual Plane (two
 * UTF-16 units, like `𝑥`) is one character: `wipe?` matches `wipe𝑥`.
 *
 * @module
 */

/**
 * Compiles a glob into an anchored regular expression.
 *
 * @param glob The pattern, e.g. `"admin_*"`.
 * @returns The expression.
 *
 * @example
 * ```ts
 * import { globToRegExp } from "./glob.ts";
 * console.log(globToRegExp("admin_*").test("admin_reset")); // true
 * ```
 */
export function globToRegExp(glob: string): RegExp {
  let source = "";
  for (const c of glob) {
    if (c === "*") source += ".*";
    else if (c === "?") source += ".";
    else source += c.replace(/[.+^${}()|[\]\\/]/g, "\\$&");
  }
  // `u`: `.` and literals match code points, never half of a surrogate pair.
  return new RegExp(`^${source}$`, "su");
}

/**
 * A compiled list of globs.
 *
 * @example
 * ```ts
 * import { GlobList } from "./glob.ts";
 * const list = new GlobList(["echo*", "add"]);
 * console.log(list.matches("echos"), list.matches("mul")); // true false
 * ```
 */
export class GlobList {
  /** The patterns as given. */
  readonly patterns: readonly string[];
  readonly #compiled: RegExp[];

  /**
   * Compiles the patterns.
   *
   * @param patterns The globs.
   */
  constructor(patterns: readonly string[]) {
    this.patterns = [...patterns];
    this.#compiled = patterns.map(globToRegExp);
  }

  /**
   * Whether any pattern matches the whole name.
   *
   * @param name A function name.
   * @returns True on a match.
   */
  matches(name: string): boolean {
    return this.#compiled.some((re) => re.test(name));
  }
}
