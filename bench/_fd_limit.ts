// Copyright 2026 the mpreg authors. MIT license.
/**
 * The open-file limit (`ulimit -n`, RLIMIT_NOFILE) of this process, checked
 * before a figure that needs many descriptors.
 *
 * Deno raises its own soft limit to the hard limit at startup, and child
 * processes inherit it, so the soft limit is already as high as an
 * unprivileged process can make it: when it is still too low, only the hard
 * limit (`ulimit -Hn`, raised as root) helps, and the error says so.
 *
 * @module
 */

/** A soft and a hard limit; `Infinity` for unlimited. */
export interface FileLimit {
  /** The limit in force (`ulimit -n`). */
  soft: number;
  /** How far an unprivileged process may raise it (`ulimit -Hn`). */
  hard: number;
}

function parse(value: string): number {
  return value === "unlimited" ? Infinity : Number(value);
}

/**
 * Reads this process's open-file limit from /proc/self/limits.
 *
 * @returns The limit, or `null` where /proc is not available.
 */
export function readFileLimit(): FileLimit | null {
  try {
    const text = Deno.readTextFileSync("/proc/self/limits");
    const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
    if (match === null) return null;
    return { soft: parse(match[1]!), hard: parse(match[2]!) };
  } catch {
    return null;
  }
}

/**
 * Makes sure this process (and so the children it spawns) may hold `needed`
 * open files.
 *
 * @param needed How many descriptors the figure needs in one process.
 * @param why What needs them, for the error.
 * @returns The limit, or `null` where it cannot be read (then the figure just tries).
 * @throws {Error} naming the limit and how to raise it, when it is too low.
 */
export function ensureFileLimit(needed: number, why: string): FileLimit | null {
  const limit = readFileLimit();
  if (limit === null || limit.soft >= needed) return limit;
  throw new Error(
    `${why} needs ${needed} open files per process, but ulimit -n is ${limit.soft} ` +
      `(hard limit ${limit.hard}; Deno already raised the soft limit as far as it may): ` +
      `raise the hard limit (as root: ulimit -Hn ${needed} && ulimit -n ${needed}, or ` +
      `LimitNOFILE= in a systemd unit, or /etc/security/limits.conf) or run with --quick`,
  );
}
