// Copyright 2026 the mpreg authors. MIT license.
/**
 * Checking a call against its function's schemas: the arguments and
 * `kwargs` before the call (a failure is a 1004 `ProtocolError`), the
 * result after it (a failure is a 1003 `FunctionError` with
 * `details.kind: "result"`: the function broke its own contract). Each
 * names the function, the step, the path inside the value
 * (`args[1].user.id`) and the schema library's message. Validation may be
 * asynchronous (a schema whose `validate` returns a promise) and may
 * transform: the function receives, and the caller gets, what the schemas
 * output.
 *
 * @module
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { isPromise, type MaybePromise } from "../_util/maybe_promise.ts";
import { FunctionError, ProtocolError } from "../protocol/errors.ts";
import type { FunctionSchemas } from "./function_schemas.ts";

/** Where a check runs: the step and its function, for error messages. */
export interface CheckSite {
  /** The step's name. */
  readonly step: string;
  /** The function's name. */
  readonly fun: string;
}

/** The checked arguments of a call. */
export interface CheckedInput {
  /** The positional arguments, as the schemas output them. */
  readonly args: unknown[];
  /** The options object to pass (`undefined`: none). */
  readonly kwargs: Record<string, unknown> | undefined;
}

/** One issue as reported in an error's `details.issues`. */
export interface IssueDetail {
  /** The library's message. */
  message: string;
  /** Where, from the checked value (`args[1].user.id`, `kwargs.limit`, `result`). */
  path: string;
}

const MAX_ISSUES = 8;

type Result = StandardSchemaV1.Result<unknown>;

/**
 * The checks of one registered function, built once at registration from
 * its schemas; a function without schemas has none (and costs nothing).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as v from "valibot";
 * import { FunctionChecks } from "./validation.ts";
 * const checks = FunctionChecks.of({ args: [v.pipe(v.string(), v.toNumber())] })!;
 * const site = { step: "s", fun: "f" };
 * assert.deepEqual(checks.input(["42"], undefined, site), { args: [42], kwargs: undefined });
 * assert.throws(() => checks.input([1], undefined, site), /args\[0\]/);
 * ```
 */
export class FunctionChecks {
  readonly #args: readonly StandardSchemaV1[];
  readonly #kwargs: StandardSchemaV1 | undefined;
  readonly #result: StandardSchemaV1 | undefined;

  private constructor(schemas: FunctionSchemas) {
    // Registration checked they are Standard Schemas (see `checkSchemas`).
    this.#args = (schemas.args ?? []) as readonly StandardSchemaV1[];
    this.#kwargs = schemas.kwargs as StandardSchemaV1 | undefined;
    this.#result = schemas.result as StandardSchemaV1 | undefined;
  }

  /**
   * The checks of a function with these schemas.
   *
   * @param schemas Its schemas.
   * @returns The checks, or `undefined` when it has no schema.
   */
  static of(schemas: FunctionSchemas): FunctionChecks | undefined {
    const none = (schemas.args === undefined || schemas.args.length === 0) &&
      schemas.kwargs === undefined && schemas.result === undefined;
    return none ? undefined : new FunctionChecks(schemas);
  }

  /** Whether the result is checked. */
  get checksResult(): boolean {
    return this.#result !== undefined;
  }

  /**
   * Checks a call's arguments and `kwargs`.
   *
   * @param args The positional arguments sent.
   * @param kwargs The step's `kwargs` (`undefined` when it has none).
   * @param site The step and function.
   * @returns The arguments to call with (a promise when a schema is async).
   * @throws {ProtocolError} (1004) at the first invalid value.
   */
  input(
    args: readonly unknown[],
    kwargs: Record<string, unknown> | undefined,
    site: CheckSite,
  ): MaybePromise<CheckedInput> {
    const schemas = this.#args;
    const count = Math.max(args.length, schemas.length);
    const results: MaybePromise<Result>[] = [];
    let pending = false;
    for (let i = 0; i < schemas.length; i++) {
      const r = schemas[i]!["~standard"].validate(args[i]);
      if (isPromise(r)) pending = true;
      results.push(r);
    }
    let kwargsResult: MaybePromise<Result> | undefined;
    if (this.#kwargs !== undefined) {
      kwargsResult = this.#kwargs["~standard"].validate(kwargs ?? {});
      if (isPromise(kwargsResult)) pending = true;
    }
    const finish = (done: Result[], kw: Result | undefined): CheckedInput => {
      const out: unknown[] = new Array(count);
      for (let i = 0; i < count; i++) {
        if (i >= done.length) {
          out[i] = args[i];
          continue;
        }
        const r = done[i]!;
        if (r.issues !== undefined) throw argumentsError(site, `args[${i}]`, r.issues);
        out[i] = r.value;
      }
      // Trailing arguments the caller left out stay out unless a default filled them.
      let length = count;
      while (length > args.length && out[length - 1] === undefined) length--;
      out.length = length;
      if (kw === undefined) return { args: out, kwargs };
      if (kw.issues !== undefined) throw argumentsError(site, "kwargs", kw.issues);
      const value = kw.value;
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw argumentsError(site, "kwargs", [{ message: "the kwargs schema output no object" }]);
      }
      return { args: out, kwargs: value as Record<string, unknown> };
    };
    if (!pending) return finish(results as Result[], kwargsResult as Result | undefined);
    return Promise.all([Promise.all(results), kwargsResult]).then(([done, kw]) => finish(done, kw));
  }

  /**
   * Checks a function's result.
   *
   * @param value What the function returned (or resolved to).
   * @param site The step and function.
   * @returns The value the schema outputs (a promise when it is async).
   * @throws {FunctionError} (1003, `details.kind: "result"`) when it is invalid.
   */
  output(value: unknown, site: CheckSite): MaybePromise<unknown> {
    const schema = this.#result;
    if (schema === undefined) return value;
    const r = schema["~standard"].validate(value);
    const finish = (done: Result): unknown => {
      if (done.issues !== undefined) throw resultError(site, done.issues);
      return done.value;
    };
    return isPromise(r) ? r.then(finish) : finish(r);
  }
}

/** `args[1].user.id`: a base and an issue's path. */
function pathOf(base: string, path: StandardSchemaV1.Issue["path"]): string {
  let out = base;
  for (const segment of path ?? []) {
    const key = typeof segment === "object" && segment !== null ? segment.key : segment;
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)) out += `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function issueDetails(
  base: string,
  issues: readonly Pick<StandardSchemaV1.Issue, "message" | "path">[],
): IssueDetail[] {
  return issues.slice(0, MAX_ISSUES).map((issue) => ({
    message: String(issue.message),
    path: pathOf(base, issue.path),
  }));
}

function argumentsError(
  site: CheckSite,
  base: string,
  issues: readonly Pick<StandardSchemaV1.Issue, "message" | "path">[],
): ProtocolError {
  const details = issueDetails(base, issues);
  const first = details[0] ?? { message: "invalid", path: base };
  const step = base === "kwargs" ? "kwargs" : "arguments";
  return new ProtocolError(
    `Invalid ${step} for "${site.fun}" (step "${site.step}"): ${first.path}: ${first.message}`,
    { details: { step: site.step, fun: site.fun, check: step, path: first.path, issues: details } },
  );
}

function resultError(
  site: CheckSite,
  issues: readonly StandardSchemaV1.Issue[],
): FunctionError {
  const details = issueDetails("result", issues);
  const first = details[0] ?? { message: "invalid", path: "result" };
  return new FunctionError(
    `Result of "${site.fun}" (step "${site.step}") does not match its schema: ` +
      `${first.path}: ${first.message}`,
    {
      details: {
        step: site.step,
        fun: site.fun,
        kind: "result",
        check: "result",
        path: first.path,
        issues: details,
      },
    },
  );
}
