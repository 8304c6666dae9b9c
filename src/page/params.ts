// Copyright 2026 the mpreg authors. MIT license.
/**
 * What the call form knows of a function from its catalog description
 * (its signature is the client's `signatureOf`): a valid example of its
 * arguments, and a check of typed arguments against the JSON Schemas, so that the page
 * refuses a wrong argument before sending it. The check covers the JSON
 * Schema keywords the schema libraries emit for plain data (`type`,
 * `properties`, `required`, `additionalProperties: false`, `items`,
 * `prefixItems`, `enum`, `const`, `anyOf`/`oneOf`, `minimum`/`maximum`,
 * `exclusiveMinimum`/`exclusiveMaximum`, `minLength`/`maxLength`,
 * `minItems`/`maxItems`, `pattern`); a keyword it does not know is left to
 * the node, which validates every call with the schema itself.
 *
 * @module
 */
import { typeOfSchema } from "../client/api_types.ts";
import type { FunctionDescription } from "../protocol/function_description.ts";

export type { FunctionDescription };

/** A JSON Schema, or a subschema of one (`true`/`false` allowed there). */
type JsonSchema = boolean | { readonly [keyword: string]: unknown };

type SchemaObject = { readonly [keyword: string]: unknown };

function asObject(schema: JsonSchema | undefined): SchemaObject | null {
  return schema !== undefined && typeof schema === "object" && schema !== null ? schema : null;
}

function typesOf(schema: SchemaObject): string[] {
  const type = schema.type;
  if (typeof type === "string") return [type];
  if (Array.isArray(type)) return type.filter((t): t is string => typeof t === "string");
  return [];
}

/**
 * A value that the schema accepts: its `default`, first `examples` entry,
 * `const` or first `enum` value, else one built from its type and bounds.
 *
 * @param schema The schema.
 * @returns The example (`null` when the schema says nothing).
 */
export function exampleOf(schema: JsonSchema | undefined): unknown {
  const s = asObject(schema);
  if (s === null) return null;
  if ("default" in s) return s.default;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const union = (Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : null) as
    | JsonSchema[]
    | null;
  if (union !== null && union.length > 0) return exampleOf(union[0]);
  const type = typesOf(s).find((t) => t !== "null") ?? typesOf(s)[0];
  switch (type) {
    case "number":
    case "integer": {
      const low = typeof s.minimum === "number"
        ? s.minimum
        : typeof s.exclusiveMinimum === "number"
        ? s.exclusiveMinimum + 1
        : 0;
      const high = typeof s.maximum === "number" ? s.maximum : Infinity;
      return Math.min(type === "integer" ? Math.ceil(low) : low, high);
    }
    case "string": {
      const min = typeof s.minLength === "number" ? s.minLength : 0;
      return "text".padEnd(min, "x");
    }
    case "boolean":
      return false;
    case "null":
      return null;
    case "array": {
      if (Array.isArray(s.prefixItems)) return (s.prefixItems as JsonSchema[]).map(exampleOf);
      const min = typeof s.minItems === "number" ? s.minItems : 0;
      return Array.from({ length: min }, () => exampleOf(s.items as JsonSchema | undefined));
    }
    case "object": {
      const properties = asObject(s.properties as JsonSchema | undefined) ?? {};
      const required = Array.isArray(s.required) ? s.required as string[] : [];
      const out: Record<string, unknown> = {};
      for (const key of required) out[key] = exampleOf(properties[key] as JsonSchema | undefined);
      return out;
    }
    default:
      return null;
  }
}

/**
 * Example arguments: one per required parameter (and none for optional or
 * rest ones).
 *
 * @param description The function's description.
 * @returns The arguments.
 */
export function exampleArgs(description: FunctionDescription): unknown[] {
  return description.params.filter((p) => !p.optional && !p.rest).map((p) => exampleOf(p.schema));
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "bigint") return "integer";
  return typeof value;
}

function fitsType(value: unknown, type: string): boolean {
  const kind = kindOf(value);
  if (type === "integer") {
    return (kind === "number" && Number.isInteger(value)) || kind === "integer";
  }
  if (type === "number") return kind === "number" || kind === "integer";
  return kind === type;
}

/**
 * The first way `value` breaks `schema`, as `path: problem`, or `null`.
 *
 * @param schema The schema.
 * @param value The value.
 * @param path Where the value sits, for the message.
 * @returns The problem, or `null` when the value fits.
 */
export function schemaProblem(
  schema: JsonSchema | undefined,
  value: unknown,
  path: string,
): string | null {
  if (schema === false) return `${path}: no value is allowed here`;
  const s = asObject(schema);
  if (s === null) return null;
  if ("const" in s && JSON.stringify(s.const) !== JSON.stringify(value)) {
    return `${path}: expected ${JSON.stringify(s.const)}`;
  }
  if (Array.isArray(s.enum) && !s.enum.some((v) => JSON.stringify(v) === JSON.stringify(value))) {
    return `${path}: expected one of ${s.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  const union = (Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : null) as
    | JsonSchema[]
    | null;
  if (union !== null) {
    const problems = union.map((u) => schemaProblem(u, value, path));
    if (!problems.includes(null)) return problems[0] ?? `${path}: fits no alternative`;
  }
  const types = typesOf(s);
  if (types.length > 0 && !types.some((t) => fitsType(value, t))) {
    const got = kindOf(value);
    if (types.includes("integer") && got === "number") return `${path}: expected an integer`;
    return `${path}: expected ${typeOfSchema(s)}, got ${got}`;
  }
  if (typeof value === "number") {
    if (typeof s.minimum === "number" && value < s.minimum) {
      return `${path}: expected at least ${s.minimum}`;
    }
    if (typeof s.maximum === "number" && value > s.maximum) {
      return `${path}: expected at most ${s.maximum}`;
    }
    if (typeof s.exclusiveMinimum === "number" && value <= s.exclusiveMinimum) {
      return `${path}: expected more than ${s.exclusiveMinimum}`;
    }
    if (typeof s.exclusiveMaximum === "number" && value >= s.exclusiveMaximum) {
      return `${path}: expected less than ${s.exclusiveMaximum}`;
    }
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (typeof s.minLength === "number" && length < s.minLength) {
      return `${path}: expected at least ${s.minLength} characters`;
    }
    if (typeof s.maxLength === "number" && length > s.maxLength) {
      return `${path}: expected at most ${s.maxLength} characters`;
    }
    if (typeof s.pattern === "string") {
      let pattern: RegExp | null = null;
      try {
        pattern = new RegExp(s.pattern, "u");
      } catch {
        // A pattern this browser cannot read is left to the node.
      }
      if (pattern !== null && !pattern.test(value)) {
        return `${path}: expected text matching /${s.pattern}/`;
      }
    }
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === "number" && value.length < s.minItems) {
      return `${path}: expected at least ${s.minItems} items`;
    }
    if (typeof s.maxItems === "number" && value.length > s.maxItems) {
      return `${path}: expected at most ${s.maxItems} items`;
    }
    const prefix = Array.isArray(s.prefixItems) ? s.prefixItems as JsonSchema[] : [];
    for (let i = 0; i < value.length; i++) {
      const item = i < prefix.length ? prefix[i] : s.items as JsonSchema | undefined;
      const problem = schemaProblem(item, value[i], `${path}[${i}]`);
      if (problem !== null) return problem;
    }
  }
  if (kindOf(value) === "object") {
    const record = value as Record<string, unknown>;
    const properties = asObject(s.properties as JsonSchema | undefined) ?? {};
    for (const key of Array.isArray(s.required) ? s.required as string[] : []) {
      if (!Object.hasOwn(record, key)) return `${path}.${key}: required`;
    }
    for (const [key, inner] of Object.entries(record)) {
      if (Object.hasOwn(properties, key)) {
        const problem = schemaProblem(properties[key] as JsonSchema, inner, `${path}.${key}`);
        if (problem !== null) return problem;
      } else if (s.additionalProperties === false) {
        return `${path}.${key}: not allowed`;
      }
    }
  }
  return null;
}

/**
 * The first way a call's arguments break the function's description: a
 * missing required argument, one too many, or an argument (or kwargs) its
 * schema refuses. `null` when they fit as far as the page can tell.
 *
 * @param description The function's description.
 * @param args The positional arguments.
 * @param kwargs The options object, or `null`.
 * @returns The problem, naming the argument's path (`args[1].id`), or `null`.
 */
export function argumentsProblem(
  description: FunctionDescription,
  args: readonly unknown[],
  kwargs: Record<string, unknown> | null,
): string | null {
  const params = description.params;
  const rest = params.find((p) => p.rest);
  const required = params.filter((p) => !p.optional && !p.rest).length;
  const max = rest === undefined ? params.length : Infinity;
  if (args.length < required) {
    const missing = params[args.length]!;
    return `args[${args.length}] (${missing.name}): required`;
  }
  if (args.length > max) return `args[${max}]: the function takes ${max} argument(s)`;
  for (let i = 0; i < args.length; i++) {
    const param = params[Math.min(i, params.length - 1)]!;
    const schema = param.rest
      ? asObject(param.schema)?.items as JsonSchema | undefined
      : param.schema;
    const problem = schemaProblem(schema, args[i], `args[${i}]`);
    if (problem !== null) return `${problem} (${param.name})`;
  }
  if (kwargs !== null && description.kwargs !== undefined) {
    return schemaProblem(description.kwargs, kwargs, "kwargs");
  }
  return null;
}
