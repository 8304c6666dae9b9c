// Copyright 2026 the mpreg authors. MIT license.
/**
 * TypeScript from the catalog: each function's signature, read from its
 * description (`members[].described` of `GET /cluster`), and the `.d.ts`
 * that `client.ts types` writes: `export interface Api { add(a: number,
 * b: number): number; … }`, the shape a typed client takes. JSON Schema is
 * converted for the subset schema libraries emit (`type`, `properties`,
 * `required`, `additionalProperties`, `items`, `prefixItems`, `enum`,
 * `const`, `anyOf`/`oneOf`/`allOf`, `nullable`); anything else is
 * `unknown`.
 *
 * @module
 */
import type { FunctionDescription, JsonSchema } from "../protocol/function_description.ts";

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * The TypeScript type of the values a JSON Schema accepts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { typeOfSchema } from "./api_types.ts";
 * assert.equal(
 *   typeOfSchema({
 *     type: "object",
 *     properties: { id: { type: "integer" }, tags: { type: "array", items: { type: "string" } } },
 *     required: ["id"],
 *   }),
 *   "{ id: number; tags?: string[] }",
 * );
 * assert.equal(typeOfSchema({ enum: ["a", "b"] }), '"a" | "b"');
 * assert.equal(typeOfSchema({ $ref: "#/x" }), "unknown");
 * ```
 *
 * @param schema A JSON Schema (or `true`/`false`).
 * @returns A TypeScript type expression.
 */
export function typeOfSchema(schema: unknown): string {
  return convert(schema, 0);
}

function convert(schema: unknown, depth: number): string {
  if (schema === true) return "unknown";
  if (schema === false) return "never";
  if (typeof schema !== "object" || schema === null || depth > 32) return "unknown";
  const s = schema as JsonSchema;
  const base = convertBase(s, depth + 1);
  return s.nullable === true && base !== "unknown" ? union([base, "null"]) : base;
}

function convertBase(s: JsonSchema, depth: number): string {
  if ("const" in s) return literal(s.const);
  if (Array.isArray(s.enum)) return union(s.enum.map(literal));
  const variants = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : null;
  if (variants !== null) return union(variants.map((v) => convert(v, depth)));
  if (Array.isArray(s.allOf)) {
    const parts = s.allOf.map((v) => convert(v, depth)).filter((t) => t !== "unknown");
    return parts.length === 0 ? "unknown" : parts.map(parenthesize).join(" & ");
  }
  if (Array.isArray(s.type)) {
    return union(s.type.map((type) => convertBase({ ...s, type }, depth)));
  }
  switch (s.type) {
    case "string":
      return "string";
    case "number":
    case "integer":
      return "number";
    case "boolean":
      return "boolean";
    case "null":
      return "null";
    case "array":
      return arrayType(s, depth);
    case "object":
      return objectType(s, depth);
    default:
      if (s.properties !== undefined) return objectType(s, depth);
      return "unknown";
  }
}

function arrayType(s: JsonSchema, depth: number): string {
  if (Array.isArray(s.prefixItems)) {
    const items = s.prefixItems.map((item) => convert(item, depth));
    const rest = s.items === undefined || s.items === false ? [] : [
      `...${parenthesize(convert(s.items, depth))}[]`,
    ];
    return `[${[...items, ...rest].join(", ")}]`;
  }
  // Draft-07 tuples: `items` as an array.
  if (Array.isArray(s.items)) return `[${s.items.map((item) => convert(item, depth)).join(", ")}]`;
  return `${parenthesize(s.items === undefined ? "unknown" : convert(s.items, depth))}[]`;
}

function objectType(s: JsonSchema, depth: number): string {
  const properties = typeof s.properties === "object" && s.properties !== null
    ? s.properties as Record<string, unknown>
    : {};
  const required = new Set(Array.isArray(s.required) ? s.required.map(String) : []);
  const members = Object.entries(properties).map(([key, value]) =>
    `${propertyKey(key)}${required.has(key) ? "" : "?"}: ${convert(value, depth)}`
  );
  const extra = s.additionalProperties;
  if (extra !== undefined && extra !== false) {
    members.push(`[key: string]: ${extra === true ? "unknown" : convert(extra, depth)}`);
  }
  if (members.length === 0) {
    return extra === false ? "Record<string, never>" : "Record<string, unknown>";
  }
  return `{ ${members.join("; ")} }`;
}

function propertyKey(key: string): string {
  return IDENTIFIER.test(key) ? key : JSON.stringify(key);
}

function literal(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return JSON.stringify(value);
  }
  return "unknown";
}

function union(types: string[]): string {
  const unique = [...new Set(types)];
  if (unique.includes("unknown")) return "unknown";
  if (unique.length === 0) return "never";
  return unique.map(parenthesize).join(" | ");
}

/** Wraps a union, intersection or function type in parentheses where it would bind wrongly. */
function parenthesize(type: string): string {
  let depth = 0;
  for (const c of type) {
    if (c === "{" || c === "[" || c === "(" || c === "<") depth++;
    else if (c === "}" || c === "]" || c === ")" || c === ">") depth--;
    else if (depth === 0 && (c === "|" || c === "&")) return `(${type})`;
  }
  return type;
}

/**
 * A function's signature as a method of an interface: its parameters by
 * name with their types, and its result (`unknown` where the description
 * has no JSON Schema). Parameters with a default are optional; `kwargs`
 * become a trailing `kwargs` parameter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signatureOf } from "./api_types.ts";
 * assert.equal(
 *   signatureOf("add", {
 *     params: [{ name: "a", schema: { type: "number" } }, { name: "b", optional: true }],
 *     result: { type: "number" },
 *   }),
 *   "add(a: number, b?: unknown): number",
 * );
 * ```
 *
 * @param name The function's name.
 * @param description Its description, or `undefined` for a member that sent none.
 * @returns The signature, e.g. `add(a: number, b: number): number`.
 */
export function signatureOf(name: string, description: FunctionDescription | undefined): string {
  const key = IDENTIFIER.test(name) ? name : JSON.stringify(name);
  if (description === undefined) return `${key}(...args: unknown[]): unknown`;
  const params = description.params;
  const parts: { text: string; optional: boolean }[] = params.map((p, i) => {
    const pname = IDENTIFIER.test(p.name) && !RESERVED.has(p.name) ? p.name : `arg${i}`;
    const type = p.schema === undefined ? "unknown" : typeOfSchema(p.schema);
    if (p.rest) return { text: `...${pname}: ${parenthesize(type)}[]`, optional: false };
    const optional = p.optional === true ||
      (p.schema !== undefined && Object.hasOwn(p.schema, "default"));
    return { text: `${pname}: ${type}`, optional };
  });
  if (description.kwargs !== undefined) {
    const required = Array.isArray(description.kwargs.required) &&
      description.kwargs.required.length > 0;
    parts.push({ text: `kwargs: ${typeOfSchema(description.kwargs)}`, optional: !required });
  }
  // Only a run of optional parameters at the end may be left out.
  let tail = parts.length;
  while (tail > 0 && parts[tail - 1]!.optional) tail--;
  const texts = parts.map((part, i) => {
    if (!part.optional) return part.text;
    const colon = part.text.indexOf(": ");
    const [head, type] = [part.text.slice(0, colon), part.text.slice(colon + 2)];
    return i >= tail ? `${head}?: ${type}` : `${head}: ${union([type, "undefined"])}`;
  });
  const result = description.result === undefined ? "unknown" : typeOfSchema(description.result);
  return `${key}(${texts.join(", ")}): ${result}`;
}

const RESERVED = new Set([
  "arguments",
  "break",
  "case",
  "catch",
  "class",
  "const",
  "continue",
  "debugger",
  "default",
  "delete",
  "do",
  "else",
  "enum",
  "eval",
  "export",
  "extends",
  "false",
  "finally",
  "for",
  "function",
  "if",
  "import",
  "in",
  "instanceof",
  "new",
  "null",
  "return",
  "super",
  "switch",
  "this",
  "throw",
  "true",
  "try",
  "typeof",
  "var",
  "void",
  "while",
  "with",
]);

/** The parts of `GET /cluster` type generation reads. */
export interface CatalogView {
  /** The answering node's name. */
  self: string;
  /** The members, each with its descriptions. */
  members: Array<{
    name: string;
    state: string;
    described?: Record<string, FunctionDescription>;
  }>;
  /** Function name → the members offering it. */
  functions: Record<string, string[]>;
}

/**
 * The description of `fun` the catalog holds: the answering node's own,
 * else that of the first live member (by name) that offers it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { descriptionOf } from "./api_types.ts";
 * const view = {
 *   self: "a",
 *   members: [{ name: "b", state: "alive", described: { f: { params: [] } } }],
 *   functions: { f: ["b"] },
 * };
 * assert.deepEqual(descriptionOf(view, "f"), { params: [] });
 * ```
 *
 * @param view The catalog.
 * @param fun The function.
 * @returns Its description, or `undefined` when no member describes it.
 */
export function descriptionOf(view: CatalogView, fun: string): FunctionDescription | undefined {
  const offering = new Set(view.functions[fun] ?? []);
  const members = view.members
    .filter((m) => offering.has(m.name) && m.described?.[fun] !== undefined)
    .sort((a, b) =>
      Number(b.name === view.self) - Number(a.name === view.self) ||
      Number(b.state === "alive") - Number(a.state === "alive") ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    );
  return members[0]?.described?.[fun];
}

/**
 * The `.d.ts` of every function the cluster offers: `export interface Api`
 * with one method per function, its doc as JSDoc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { apiDeclarations } from "./api_types.ts";
 * const text = apiDeclarations({
 *   self: "a",
 *   members: [{
 *     name: "a",
 *     state: "alive",
 *     described: { add: { params: [{ name: "a", schema: { type: "number" } }], doc: "Adds." } },
 *   }],
 *   functions: { add: ["a"] },
 * }, "ws://127.0.0.1:9001");
 * assert.match(text, /export interface Api \{\n  \/\*\* Adds\. \*\/\n  add\(a: number\): unknown;\n\}/);
 * ```
 *
 * @param view The catalog (`GET /cluster`).
 * @param source Where it came from, named in the header comment.
 * @returns The file's text.
 */
export function apiDeclarations(view: CatalogView, source: string): string {
  const lines = [
    `// Generated by \`client.ts types\` from ${source}: the functions the cluster offers.`,
    "// Do not edit; generate it again when the functions change.",
    "",
    "/** The cluster's functions: give it to a typed client. */",
    "export interface Api {",
  ];
  for (const fun of Object.keys(view.functions).sort()) {
    const description = descriptionOf(view, fun);
    if (description?.doc !== undefined) lines.push(`  ${jsDoc(description.doc)}`);
    lines.push(`  ${signatureOf(fun, description)};`);
  }
  lines.push("}", "");
  return lines.join("\n");
}

function jsDoc(doc: string): string {
  const text = doc.replaceAll("*/", "*\\/").replace(/\s+/g, " ").trim();
  return `/** ${text} */`;
}
