// Copyright 2026 the mpreg authors. MIT license.
/**
 * Functions that describe themselves: the argument, options and result
 * schemas a function is registered with (any library implementing
 * [Standard Schema](https://standardschema.dev): zod, valibot, arktype, …),
 * and the description the catalog carries for it: its parameter names, its
 * doc, and JSON Schema where the library can produce it (the Standard JSON
 * Schema `~standard.jsonSchema` converter: zod 4.2+ has it; wrap a valibot
 * schema in `toStandardJsonSchema` from `@valibot/to-json-schema`).
 *
 * @module
 */
import type { StandardJSONSchemaV1 } from "@standard-schema/spec";
import type {
  FunctionDescription,
  JsonSchema,
  ParamDescription,
} from "../protocol/function_description.ts";
import { type ParameterName, parameterNames } from "./arity.ts";

/**
 * Any schema implementing [Standard Schema](https://standardschema.dev) v1
 * (zod, valibot, arktype, …): what `register()` takes as `args`, `kwargs`
 * and `result`. Only `~standard.validate` is used to check values, and
 * `~standard.jsonSchema` (Standard JSON Schema), when present, to describe
 * them in the catalog.
 *
 * @example A valibot schema is a Standard Schema
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StandardSchema } from "@mpreg/mpreg";
 * import * as v from "valibot";
 * const id: StandardSchema = v.pipe(v.number(), v.integer());
 * assert.equal(id["~standard"].vendor, "valibot");
 * ```
 */
export interface StandardSchema {
  /** The Standard Schema properties. */
  readonly "~standard": {
    /** The version of the spec: 1. */
    readonly version: 1;
    /** The library's name. */
    readonly vendor: string;
    /** Validates a value: `{ value }` or `{ issues }`, or a promise of either. */
    readonly validate: (value: unknown) => unknown;
  };
}

/**
 * The schemas and doc of a registered function. Each schema is any value
 * implementing Standard Schema v1; the node validates the arguments and
 * `kwargs` with them before the call and the result after it, and the
 * function receives what the schemas output (coerced values, defaults).
 *
 * @example
 * ```ts
 * import type { FunctionSchemas } from "./function_schemas.ts";
 * import * as v from "valibot";
 * const schemas: FunctionSchemas = {
 *   args: [v.number(), v.number()],
 *   result: v.number(),
 *   doc: "Adds two numbers.",
 * };
 * console.log(schemas.args?.length); // 2
 * ```
 */
export interface FunctionSchemas {
  /**
   * One schema per positional parameter, in order. An argument past the
   * last schema is passed as sent; a missing one is validated as
   * `undefined` (so a schema's default applies).
   *
   * @default {undefined (arguments are not checked)}
   */
  args?: readonly StandardSchema[];
  /**
   * The schema of the trailing options object that carries a step's
   * `kwargs`. With it, the options object is always passed (`{}` validated
   * when the step has no `kwargs`).
   *
   * @default {undefined (kwargs are not checked)}
   */
  kwargs?: StandardSchema;
  /**
   * The schema of the value the function returns (or resolves to).
   *
   * @default {undefined (the result is not checked)}
   */
  result?: StandardSchema;
  /**
   * What the function does, shown in the catalog, `client.ts describe` and
   * the cluster page.
   *
   * @default {undefined}
   */
  doc?: string;
}

/**
 * The bounds of the descriptions a node gossips, in bytes of JSON: one
 * function's description, and all of a member's together. Over the first,
 * the function's JSON Schemas are dropped (its doc cut to 256 characters); over the
 * second, so are those of every further function (in name order).
 *
 * @example
 * ```ts
 * import { DESCRIPTION_LIMITS } from "./function_schemas.ts";
 * console.log(DESCRIPTION_LIMITS.functionBytes); // 8192
 * ```
 */
export const DESCRIPTION_LIMITS: { readonly functionBytes: number; readonly memberBytes: number } =
  Object.freeze({ functionBytes: 8 * 1024, memberBytes: 64 * 1024 });

const DOC_CHARS_WHEN_TRUNCATED = 256;

/**
 * Whether `x` implements Standard Schema v1 (`x["~standard"].validate`).
 *
 * @example
 * ```ts
 * import { isStandardSchema } from "./function_schemas.ts";
 * import * as v from "valibot";
 * console.log(isStandardSchema(v.string()), isStandardSchema({})); // true false
 * ```
 *
 * @param x Any value.
 * @returns True when it is a Standard Schema.
 */
export function isStandardSchema(x: unknown): x is StandardSchema {
  if ((typeof x !== "object" && typeof x !== "function") || x === null) return false;
  const props = (x as Record<string, unknown>)["~standard"] as Record<string, unknown> | undefined;
  return typeof props === "object" && props !== null && typeof props.validate === "function";
}

/**
 * Refuses schemas that are not Standard Schemas, naming the function and
 * the option.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSchemas } from "./function_schemas.ts";
 * assert.throws(() => checkSchemas("f", { args: [{} as never] }), /args\[0\] is not a Standard Schema/);
 * ```
 *
 * @param name The function's name.
 * @param schemas Its schemas.
 * @throws {TypeError} naming the first bad option.
 */
export function checkSchemas(name: string, schemas: FunctionSchemas): void {
  const bad = (what: string) =>
    new TypeError(
      `Cannot register "${name}": ${what} is not a Standard Schema (a zod, valibot, arktype, … ` +
        "schema with a ~standard.validate function)",
    );
  if (schemas.args !== undefined) {
    if (!Array.isArray(schemas.args)) {
      throw new TypeError(`Cannot register "${name}": args must be an array of schemas`);
    }
    schemas.args.forEach((s, i) => {
      if (!isStandardSchema(s)) throw bad(`args[${i}]`);
    });
  }
  if (schemas.kwargs !== undefined && !isStandardSchema(schemas.kwargs)) throw bad("kwargs");
  if (schemas.result !== undefined && !isStandardSchema(schemas.result)) throw bad("result");
  if (schemas.doc !== undefined && typeof schemas.doc !== "string") {
    throw new TypeError(`Cannot register "${name}": doc must be a string`);
  }
}

/**
 * The JSON Schema of a Standard Schema's input or output, from its
 * Standard JSON Schema converter (`~standard.jsonSchema`); `undefined` when
 * it has none or the converter refuses (a transform, a custom check).
 *
 * @example
 * ```ts
 * import { jsonSchemaOf } from "./function_schemas.ts";
 * import * as v from "valibot";
 * console.log(jsonSchemaOf(v.string(), "input")); // undefined: valibot needs toStandardJsonSchema
 * ```
 *
 * @param schema The schema.
 * @param io Which side: what it accepts (`input`) or produces (`output`).
 * @returns The JSON Schema (draft 2020-12, without `$schema`), or `undefined`.
 */
export function jsonSchemaOf(
  schema: StandardSchema,
  io: "input" | "output",
): JsonSchema | undefined {
  const props = schema["~standard"] as Partial<StandardJSONSchemaV1.Props>;
  const convert = props.jsonSchema?.[io];
  if (typeof convert !== "function") return undefined;
  try {
    const json = convert({ target: "draft-2020-12" });
    if (typeof json !== "object" || json === null) return undefined;
    const { $schema: _, ...rest } = json as JsonSchema;
    // Only plain JSON survives gossip: a converter's odd values are dropped here.
    return JSON.parse(JSON.stringify(rest)) as JsonSchema;
  } catch {
    return undefined;
  }
}

/**
 * Describes a function for the catalog: its parameter names (read from its
 * source), their JSON Schemas, its `kwargs`, result and doc, within
 * {@linkcode DESCRIPTION_LIMITS.functionBytes}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeFunction } from "./function_schemas.ts";
 * assert.deepEqual(describeFunction((a: number, b = 2) => a + b, {}), {
 *   params: [{ name: "a" }, { name: "b", optional: true }],
 * });
 * ```
 *
 * @param fn The function (its source gives the names; a placeholder gives none).
 * @param schemas Its schemas and doc.
 * @returns The description.
 */
export function describeFunction(
  fn: (...args: never[]) => unknown,
  schemas: FunctionSchemas,
): FunctionDescription {
  const declared: ParameterName[] = parameterNames(fn) ?? [];
  const argSchemas = schemas.args ?? [];
  // The options object that carries kwargs is described as `kwargs`.
  const positional = schemas.kwargs !== undefined && declared.length > argSchemas.length
    ? declared.slice(0, -1)
    : declared;
  const params: ParamDescription[] = [];
  const count = Math.max(positional.length, argSchemas.length);
  for (let i = 0; i < count; i++) {
    const p = positional[i];
    const param: ParamDescription = { name: p?.name ?? `arg${i}` };
    const schema = argSchemas[i] === undefined ? undefined : jsonSchemaOf(argSchemas[i]!, "input");
    if (schema !== undefined) param.schema = schema;
    if (p?.optional) param.optional = true;
    if (p?.rest) param.rest = true;
    params.push(param);
  }
  const description: FunctionDescription = { params };
  const kwargs = schemas.kwargs && jsonSchemaOf(schemas.kwargs, "input");
  if (kwargs !== undefined) description.kwargs = kwargs;
  const result = schemas.result && jsonSchemaOf(schemas.result, "output");
  if (result !== undefined) description.result = result;
  if (schemas.doc !== undefined && schemas.doc !== "") description.doc = schemas.doc;
  return jsonBytes(description) > DESCRIPTION_LIMITS.functionBytes
    ? withoutSchemas(description)
    : description;
}

/**
 * A node's descriptions as gossiped: every function's, within
 * {@linkcode DESCRIPTION_LIMITS.memberBytes} in all (functions in name
 * order; past the bound, their JSON Schemas are dropped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { boundDescriptions } from "./function_schemas.ts";
 * const table = boundDescriptions([["one", { params: [] }]]);
 * assert.deepEqual(table, { one: { params: [] } });
 * ```
 *
 * @param entries Function name → description.
 * @returns Plain data, keys sorted.
 */
export function boundDescriptions(
  entries: Iterable<readonly [string, FunctionDescription]>,
): Record<string, FunctionDescription> {
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const table: Record<string, FunctionDescription> = {};
  let total = 2;
  for (const [name, description] of sorted) {
    let kept = description;
    let size = jsonBytes(name) + 2 + jsonBytes(kept);
    if (total + size > DESCRIPTION_LIMITS.memberBytes) {
      kept = withoutSchemas(description);
      size = jsonBytes(name) + 2 + jsonBytes(kept);
      if (total + size > DESCRIPTION_LIMITS.memberBytes) {
        kept = { params: [], truncated: true };
        size = jsonBytes(name) + 2 + jsonBytes(kept);
      }
    }
    table[name] = kept;
    total += size;
  }
  return table;
}

/** The description without its JSON Schemas, its doc cut short, marked `truncated`. */
function withoutSchemas(description: FunctionDescription): FunctionDescription {
  const params = description.params.map(({ schema: _, ...rest }) => rest);
  const out: FunctionDescription = { params, truncated: true };
  if (description.doc !== undefined) {
    out.doc = description.doc.length > DOC_CHARS_WHEN_TRUNCATED
      ? description.doc.slice(0, DOC_CHARS_WHEN_TRUNCATED) + "…"
      : description.doc;
  }
  return out;
}

const encoder = new TextEncoder();

function jsonBytes(x: unknown): number {
  return encoder.encode(JSON.stringify(x)).length;
}
