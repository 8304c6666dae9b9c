// Copyright 2026 the mpreg authors. MIT license.
/**
 * The page's lenient input: its text areas take JSON, or YAML (the `yaml`
 * package, YAML 1.2 core schema), so steps read as people write them:
 * `- { name: a, fun: echo, args: [1] }`, or `- name: a` with indented
 * `key: value` lines, bare words and `#` comments.
 *
 * @module
 */
import { parseDocument } from "yaml";

/** A mistake in what the user typed, shown next to the form. */
export class InputError extends Error {
  /**
   * @param message What is wrong.
   * @param options The cause, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InputError";
  }
}

function checkKeys(value: unknown): void {
  if (Array.isArray(value)) value.forEach(checkKeys);
  else if (value !== null && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (key === "__proto__") throw new InputError("The key __proto__ is not allowed");
      checkKeys(inner);
    }
  }
}

/**
 * Reads JSON or YAML.
 *
 * @param text What the user typed.
 * @param empty What blank text (or only comments) means; without it, blank text is an error.
 * @returns The value.
 * @throws {InputError} when the text is neither JSON nor YAML, is blank
 * without `empty`, or uses the key `__proto__`.
 */
export function parseLoose(text: string, empty?: unknown): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const doc = parseDocument(text, { logLevel: "error" });
    const error = doc.errors[0];
    if (error !== undefined) throw new InputError(error.message, { cause: error });
    if (doc.contents === null) {
      if (empty !== undefined) return empty;
      throw new InputError("Nothing to send");
    }
    value = doc.toJS();
  }
  checkKeys(value);
  return value;
}

/** A step as the page sends it. */
export interface PageStep {
  /** The step's name. */
  name: string;
  /** The function it calls. */
  fun: string;
  /** Its arguments. */
  args?: unknown[];
  /** Anything else the user wrote (`kwargs`, `locs`), passed on as is. */
  [key: string]: unknown;
}

/**
 * Reads the steps of a request: a non-empty list of mappings with a `name`
 * and a `fun`. A single argument that is not a list becomes one.
 *
 * @param text What the user typed.
 * @returns The steps.
 * @throws {InputError} when the text is not such a list.
 */
export function parseSteps(text: string): PageStep[] {
  const steps = parseLoose(text);
  if (!Array.isArray(steps) || steps.length === 0) {
    throw new InputError("Steps must be a non-empty list of { name, fun, args, kwargs, locs }");
  }
  return steps.map((step: unknown, i): PageStep => {
    if (step === null || typeof step !== "object" || Array.isArray(step)) {
      throw new InputError("Step " + (i + 1) + " is not a mapping");
    }
    const out = step as Record<string, unknown>;
    if (typeof out.name !== "string" || typeof out.fun !== "string") {
      throw new InputError("Step " + (i + 1) + " needs a name and a fun");
    }
    if (out.args === null) delete out.args;
    if (out.args !== undefined && !Array.isArray(out.args)) out.args = [out.args];
    return out as PageStep;
  });
}
