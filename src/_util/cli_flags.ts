// Copyright 2026 the mpreg authors. MIT license.
/**
 * The flag rules of both programs (`server.ts` and `client.ts`), on top of
 * `node:util`'s `parseArgs`, which splits the arguments:
 *
 * - a flag takes its value as `--flag value` or `--flag=value`; a value
 *   may not be empty (unless the flag says so) and, given as the next
 *   argument, may not start with `--` (`missing value for --flag`);
 * - a flag without a value (`--all`, `--help`) takes none (`--all takes no value`);
 * - an unknown flag is refused: `unknown flag "--prot" (see --help)`;
 * - `-h` or `--help` stops the reading: what follows is ignored;
 * - a program with arguments takes them anywhere among the flags, a lone
 *   `-x` (a negative number) included, and all after `--`; a program
 *   without refuses them: `unexpected argument "x" (see --help)`.
 *
 * Programs give the exit code 2 for such an error. `parseArgs` is passed
 * in, so that this module (in the client's module graph) imports no
 * `node:` module: a browser bundle of the client must not import one.
 *
 * @module
 */

/** A flag: whether it takes a value, its one-letter form. */
export interface FlagSpec {
  /** `"string"`: it takes a value; `"boolean"`: it takes none. */
  readonly type: "string" | "boolean";
  /**
   * Its one-letter form, like `h` for `-h`.
   *
   * @default {undefined}
   */
  readonly short?: string;
  /**
   * Whether its value may be empty (`--resources=`).
   *
   * @default {false}
   */
  readonly mayBeEmpty?: boolean;
}

/** A token of `node:util`'s `parseArgs` (with `tokens: true`). */
export type ArgToken =
  | {
    kind: "option";
    name: string;
    rawName: string;
    index: number;
    value?: string | undefined;
    inlineValue?: boolean | undefined;
  }
  | { kind: "positional"; index: number; value: string }
  | { kind: "option-terminator"; index: number };

/** The signature of `node:util`'s `parseArgs` as used here. */
export type ParseArgs = (config: {
  args: string[];
  options: Record<string, { type: "string" | "boolean"; short?: string }>;
  strict: false;
  tokens: true;
  allowPositionals: true;
}) => { tokens?: ArgToken[] };

/** A flag given, with its value (`true` for a flag that takes none). */
export interface FlagValue {
  /** The flag's name, without dashes. */
  readonly name: string;
  /** Its value. */
  readonly value: string | true;
}

/** What {@linkcode readFlags} read. */
export interface ReadFlags {
  /** `-h` or `--help` was given (the reading stopped there). */
  readonly help: boolean;
  /** The flags given, in order (`help` aside). */
  readonly flags: readonly FlagValue[];
  /** The arguments that are not flags, in order. */
  readonly positionals: readonly string[];
}

/** A command line that breaks the rules; its message is one line. */
export class FlagError extends Error {
  /** Always `"FlagError"`. */
  override readonly name = "FlagError";
}

const HELP: FlagSpec = { type: "boolean", short: "h" };

/**
 * Reads a command line by the rules of the module doc.
 *
 * @param args The arguments, without the program's name.
 * @param specs The flags, by name without dashes (`help` is added).
 * @param parseArgs `parseArgs` of `node:util`.
 * @param positionals Whether the program takes arguments besides flags.
 * @param onFlag Called with each flag as it is read, before the next is
 *   (what it throws stops the reading: a bad value is reported before a
 *   bad flag after it).
 * @returns The flags and arguments given.
 * @throws {FlagError} when a rule is broken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs } from "node:util";
 * import { type ParseArgs, readFlags } from "./cli_flags.ts";
 * const specs = { port: { type: "string" }, peer: { type: "string" } } as const;
 * assert.deepEqual(readFlags(["--port=1", "--peer", "ws://a"], specs, parseArgs as ParseArgs, false), {
 *   help: false,
 *   flags: [{ name: "port", value: "1" }, { name: "peer", value: "ws://a" }],
 *   positionals: [],
 * });
 * ```
 */
export function readFlags(
  args: readonly string[],
  specs: Readonly<Record<string, FlagSpec>>,
  parseArgs: ParseArgs,
  positionals: boolean,
  onFlag: (flag: FlagValue) => void = () => {},
): ReadFlags {
  const all: Record<string, FlagSpec> = { ...specs, help: HELP };
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  const shorts = new Set<string>();
  for (const [name, spec] of Object.entries(all)) {
    options[name] = spec.short === undefined
      ? { type: spec.type }
      : { type: spec.type, short: spec.short };
    if (spec.short !== undefined) shorts.add(`-${spec.short}`);
  }
  const { tokens = [] } = parseArgs({
    args: [...args],
    options,
    strict: false,
    tokens: true,
    allowPositionals: true,
  });
  const flags: FlagValue[] = [];
  const rest: string[] = [];
  let lastIndex = -1;
  for (const token of tokens) {
    if (token.kind === "option-terminator") {
      if (!positionals) throw new FlagError('unknown flag "--" (see --help)');
      rest.push(...args.slice(token.index + 1));
      break;
    }
    const raw = args[token.index] ?? "";
    if (token.kind === "positional") {
      if (!positionals) throw new FlagError(`unexpected argument "${raw}" (see --help)`);
      rest.push(token.value);
      continue;
    }
    // A group of one-letter flags (`-abc`) is one argument, read once.
    if (token.index === lastIndex) continue;
    lastIndex = token.index;
    const short = !token.rawName.startsWith("--");
    if (short && !shorts.has(raw)) {
      // `-5` or `-x`: an argument (a negative number) where arguments are taken.
      if (positionals) {
        rest.push(raw);
        continue;
      }
      throw new FlagError(`unknown flag "${raw}" (see --help)`);
    }
    const spec = Object.hasOwn(all, token.name) ? all[token.name] : undefined;
    if (spec === undefined) throw new FlagError(`unknown flag "${token.rawName}" (see --help)`);
    if (spec.type === "boolean") {
      if (token.inlineValue) throw new FlagError(`${token.rawName} takes no value`);
      if (token.name === "help") return { help: true, flags, positionals: rest };
      flags.push({ name: token.name, value: true });
      onFlag(flags.at(-1)!);
      continue;
    }
    const value = token.value;
    const missing = value === undefined ||
      (!token.inlineValue && value.startsWith("--")) ||
      (value === "" && spec.mayBeEmpty !== true);
    if (missing) throw new FlagError(`missing value for ${token.rawName}`);
    flags.push({ name: token.name, value });
    onFlag(flags.at(-1)!);
  }
  return { help: false, flags, positionals: rest };
}
