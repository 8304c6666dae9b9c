// Copyright 2026 the mpreg authors. MIT license.
/**
 * The catalog's description of a function, as `GET /cluster` shows it in
 * `members[].described[fun]` and members gossip it: its parameters, the
 * JSON Schemas of its arguments, `kwargs` and result, its doc. Plain data,
 * shared by the node (which builds it, see `registry/function_schemas.ts`)
 * and the client (which prints it and generates types from it).
 *
 * @module
 */

/**
 * A JSON Schema, as a schema library produced it (draft 2020-12, without
 * `$schema`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { JsonSchema } from "@mpreg/mpreg";
 * const id: JsonSchema = { type: "integer", minimum: 1 };
 * assert.equal(id.type, "integer");
 * ```
 */
export type JsonSchema = Record<string, unknown>;

/**
 * One parameter of a described function.
 *
 * @example The parameters of a function registered without schemas
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ParamDescription, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ port: 0 })
 *   .register("greet", (name: string, punctuation = "!") => `Hello ${name}${punctuation}`)
 *   .start();
 * const params: ParamDescription[] = server.cluster.self.described?.greet?.params ?? [];
 * assert.deepEqual(params, [{ name: "name" }, { name: "punctuation", optional: true }]);
 * ```
 */
export interface ParamDescription {
  /** Its name as declared (a destructuring pattern as written), or `argN` when unreadable. */
  name: string;
  /** The JSON Schema of the values it accepts (the schema's input), when known. */
  schema?: JsonSchema;
  /** It has a default value, so callers may leave it out. */
  optional?: true;
  /** It is a rest parameter: it takes every remaining argument. */
  rest?: true;
}

/**
 * What the catalog says about one function: see the module doc. Gossiped
 * with the member's record (`members[].described[fun]` in `GET /cluster`),
 * bounded by `DESCRIPTION_LIMITS` (8 KiB of JSON per function, 64 KiB per member): over a bound the JSON Schemas
 * are dropped and `truncated` is set.
 *
 * @example What the catalog says about a function with schemas
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FunctionDescription, Server } from "@mpreg/mpreg";
 * import * as v from "valibot";
 * // A plain valibot schema checks but has no JSON Schema converter: wrap it in
 * // toStandardJsonSchema (from @valibot/to-json-schema) to publish one; zod 4 has
 * // one built in. Without it, the names and the doc still show.
 * const number = v.number();
 * await using server = await new Server({ port: 0 })
 *   .register("add", (a: number, b: number) => a + b, {
 *     args: [number, number],
 *     doc: "Adds two numbers.",
 *   })
 *   .start();
 * const add: FunctionDescription | undefined = server.cluster.self.described?.add;
 * assert.deepEqual(add, { params: [{ name: "a" }, { name: "b" }], doc: "Adds two numbers." });
 * ```
 */
export interface FunctionDescription {
  /** Its positional parameters, in order (the options object for `kwargs` excluded when described). */
  params: ParamDescription[];
  /** The JSON Schema of its `kwargs` (the options object), when known. */
  kwargs?: JsonSchema;
  /** The JSON Schema of its result (the schema's output), when known. */
  result?: JsonSchema;
  /** Its doc. */
  doc?: string;
  /** Set when a bound dropped its JSON Schemas (or shortened its doc). */
  truncated?: true;
}
