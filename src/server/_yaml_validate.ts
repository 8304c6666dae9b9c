// Copyright 2026 the mpreg authors. MIT license.
/**
 * Validates a parsed YAML document against the valibot schema of the node
 * config, and turns the first fault, in document order, into one message
 * with its line and key path: `key "functions[1].module": expected ...,
 * got "x"`, `unknown key "log.colour"`, `duplicate key "name"`,
 * `missing required key "tls.key"`.
 *
 * valibot checks the values; what it cannot see in plain data (unknown and
 * duplicate keys, keys that are not names, the lines) is read here from the
 * YAML nodes, guided by the same schema.
 *
 * @module
 */
import * as v from "valibot";
import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  type LineCounter,
  type Node as YamlNode,
} from "yaml";
import { configSchema, type YamlConfig } from "./config_schema.ts";

/** A parsed YAML document and where it came from. */
export interface YamlDoc {
  /** The file, as given. */
  readonly file: string;
  /** The parsed document, without errors. */
  readonly doc: Document.Parsed;
  /** Its line counter. */
  readonly lines: LineCounter;
}

/** Makes the error of a fault: its reason, its line and its key path. */
export type MakeFault = (reason: string, line: number | null, key: string | null) => Error;

/**
 * A fault and where it is in the text, to report the first one: `at` is
 * the offset of the fault, or of the alias (`*name`) that brought it in,
 * and `inner` its offset inside the anchored node.
 */
interface Fault {
  readonly at: number;
  readonly inner: number;
  readonly reason: string;
  readonly line: number | null;
  readonly key: string | null;
}

type Path = ReadonlyArray<string | number>;

/** The parts of a valibot schema the walk reads. */
interface SchemaShape {
  readonly type: string;
  readonly wrapped?: SchemaShape;
  readonly entries?: Readonly<Record<string, SchemaShape>>;
  readonly item?: SchemaShape;
  readonly value?: SchemaShape;
  readonly options?: readonly SchemaShape[];
  readonly message?: unknown;
}

/**
 * Validates the document of a node config.
 *
 * @param yaml The parsed document.
 * @param makeFault Makes the error thrown for the first fault.
 * @returns The config as the schema returns it.
 * @throws {Error} from `makeFault`, for the first fault in document order.
 *
 * @example
 * ```ts ignore
 * const raw = validateYaml({ file, doc, lines }, (reason, line, key) => new ConfigError(file, reason, { line, key }));
 * ```
 */
export function validateYaml(yaml: YamlDoc, makeFault: MakeFault): YamlConfig {
  const root = yaml.doc.contents;
  const schema = configSchema(yaml.file);
  // An empty document, or one of only comments, is an empty config.
  if (root === null || (isScalar(root) && root.value === null)) return v.parse(schema, {});
  const shape = schema as unknown as SchemaShape;
  const structural = walk(yaml, root, shape, [], lineOf(yaml, root, 1));
  const result = v.safeParse(schema, toPlain(yaml, root, new Map()), { abortEarly: false });
  if (result.success && structural === null) return result.output;
  const faults = structural === null ? [] : [structural];
  for (const issue of result.issues ?? []) faults.push(faultOf(yaml, root, issue, []));
  // The first in the text; on a tie the structural fault (found first) wins.
  const first = faults.reduce((a, b) =>
    b.at < a.at || (b.at === a.at && b.inner < a.inner) ? b : a
  );
  throw makeFault(first.reason, first.line, first.key);
}

/**
 * The line of the node at a key path, or `null` when there is none.
 *
 * @param yaml The parsed document.
 * @param path The key path, like `["peers", 1]`.
 * @returns The 1-based line.
 */
export function lineAt(yaml: YamlDoc, path: Path): number | null {
  const root = yaml.doc.contents;
  const node = isNode(root) && isMap(root) ? asNode(root.getIn(path, true)) : null;
  return lineOf(yaml, node, null);
}

/** `a.b[0].c` */
function format(path: Path): string {
  let out = "";
  for (const key of path) {
    out = typeof key === "number" ? `${out}[${key}]` : out === "" ? key : `${out}.${key}`;
  }
  return out;
}

function lineOf(yaml: YamlDoc, node: YamlNode | null, fallback: number | null): number | null {
  const start = node?.range?.[0];
  return start === undefined ? fallback : yaml.lines.linePos(start).line;
}

/** The items of parsed maps and lists are nodes (or null for a missing key or value). */
function asNode(value: unknown): YamlNode | null {
  return isNode(value) ? value : null;
}

/** Follows an alias (`*name`) to its anchored node. */
function deref(yaml: YamlDoc, node: YamlNode | null): YamlNode | null {
  if (node !== null && isAlias(node)) return node.resolve(yaml.doc) ?? null;
  return node;
}

function describe(node: YamlNode | null): string {
  if (node === null) return "nothing";
  if (isMap(node)) return "a map";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const value = node.value;
    if (value === null) return "nothing";
    if (typeof value !== "string") return String(value);
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  return "an alias";
}

/** A map key as the config reads it: its string, else how it looks. */
function keyOf(yaml: YamlDoc, keyNode: YamlNode | null): { name: string; isString: boolean } {
  const target = deref(yaml, keyNode);
  const value = target !== null && isScalar(target) ? target.value : undefined;
  return typeof value === "string"
    ? { name: value, isString: true }
    : { name: describe(keyNode), isString: false };
}

/** The document as plain data for valibot (aliases shared, the first of duplicate keys kept). */
function toPlain(yaml: YamlDoc, node: YamlNode | null, seen: Map<YamlNode, unknown>): unknown {
  const target = deref(yaml, node);
  if (target === null) return null;
  if (isScalar(target)) return target.value;
  const known = seen.get(target);
  if (known !== undefined) return known;
  if (isSeq(target)) {
    const out: unknown[] = [];
    seen.set(target, out);
    for (const item of target.items) out.push(toPlain(yaml, asNode(item), seen));
    return out;
  }
  if (isMap(target)) {
    const out: Record<string, unknown> = {};
    seen.set(target, out);
    for (const pair of target.items) {
      const key = keyOf(yaml, asNode(pair.key)).name;
      if (Object.hasOwn(out, key)) continue;
      // Defined, not assigned: a key "__proto__" stays a key.
      Object.defineProperty(out, key, {
        value: toPlain(yaml, asNode(pair.value), seen),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return null;
}

function unwrap(schema: SchemaShape): SchemaShape {
  let s = schema;
  while (s.type === "optional" && s.wrapped !== undefined) s = s.wrapped;
  return s;
}

function where(path: Path): string {
  return path.length === 0 ? "the top level" : `key "${format(path)}"`;
}

/**
 * Walks the YAML nodes along the schema, in document order, for what plain
 * data cannot show: keys the schema does not know, duplicate keys, and map
 * keys that are not names. Returns the first such fault, or `null`.
 */
function walk(
  yaml: YamlDoc,
  node: YamlNode | null,
  schema: SchemaShape,
  path: Path,
  line: number | null,
  aliasAt: number | null = null,
): Fault | null {
  const target = deref(yaml, node);
  const s = unwrap(schema);
  const via = aliasAt ?? (node !== null && isAlias(node) ? node.range?.[0] ?? null : null);
  const place = (offset: number) => ({ at: via ?? offset, inner: offset });
  if (target === null) return null;
  if (isSeq(target) && (s.type === "object" || s.type === "record")) {
    // valibot takes an array for an object: a list where a map belongs is caught here.
    const reason = `${where(path)}: ${String(s.message)}, got a list`;
    const key = path.length === 0 ? null : format(path);
    return { ...place(target.range?.[0] ?? 0), reason, line, key };
  }
  if (isMap(target) && (s.type === "object" || s.type === "record")) {
    const seen = new Set<string>();
    for (const pair of target.items) {
      const keyNode = asNode(pair.key);
      const valueNode = asNode(pair.value);
      const keyLine = lineOf(yaml, keyNode, line);
      const at = place(keyNode?.range?.[0] ?? target.range?.[0] ?? 0);
      const key = keyOf(yaml, keyNode);
      const keyPath = [...path, key.name];
      let child: SchemaShape | undefined;
      if (s.type === "object") {
        child = key.isString && s.entries !== undefined && Object.hasOwn(s.entries, key.name)
          ? s.entries[key.name]
          : undefined;
        if (child === undefined) {
          const name = format(keyPath);
          return { ...at, reason: `unknown key "${name}"`, line: keyLine, key: name };
        }
      } else {
        if (!key.isString || key.name === "" || key.name === "__proto__") {
          const reason = `${where(path)}: expected names as keys, got ${describe(keyNode)}`;
          return { ...at, reason, line: keyLine, key: path.length === 0 ? null : format(path) };
        }
        child = s.value;
      }
      if (seen.has(key.name)) {
        const name = format(keyPath);
        return { ...at, reason: `duplicate key "${name}"`, line: keyLine, key: name };
      }
      seen.add(key.name);
      if (child === undefined) continue;
      const fault = walk(yaml, valueNode, child, keyPath, lineOf(yaml, valueNode, keyLine), via);
      if (fault !== null) return fault;
    }
  } else if (isSeq(target) && s.type === "array" && s.item !== undefined) {
    for (const [i, item] of target.items.entries()) {
      const child = asNode(item);
      const fault = walk(yaml, child, s.item, [...path, i], lineOf(yaml, child, line), via);
      if (fault !== null) return fault;
    }
  } else if (s.type === "union") {
    // The option of the node's kind: a map's, or a list's.
    const kinds = isMap(target) ? ["object", "record"] : isSeq(target) ? ["array"] : [];
    const option = s.options?.find((o) => kinds.includes(unwrap(o).type));
    if (option !== undefined) return walk(yaml, node, option, path, line, aliasAt);
  }
  return null;
}

/** Where a key path leads in the document: its node and line, or the map that lacks its last key. */
function locate(
  yaml: YamlDoc,
  root: YamlNode,
  path: Path,
): { node: YamlNode | null; line: number | null; at: number; inner: number; missing: boolean } {
  let node = deref(yaml, root);
  let line = lineOf(yaml, root, 1);
  let at = root.range?.[0] ?? 0;
  let via: number | null = null;
  const through = (child: YamlNode | null) => {
    if (via === null && child !== null && isAlias(child)) via = child.range?.[0] ?? null;
  };
  for (const key of path) {
    if (node !== null && isMap(node)) {
      const pair = node.items.find((p) => keyOf(yaml, asNode(p.key)).name === key);
      if (pair === undefined) {
        const end = node.range?.[1] ?? at;
        return { node, line, at: via ?? end, inner: end, missing: true };
      }
      const keyNode = asNode(pair.key);
      const value = asNode(pair.value);
      const keyLine = lineOf(yaml, keyNode, line);
      line = lineOf(yaml, value, keyLine);
      at = value?.range?.[0] ?? keyNode?.range?.[0] ?? at;
      through(value);
      node = deref(yaml, value);
    } else if (node !== null && isSeq(node) && typeof key === "number") {
      const child = asNode(node.items[key]);
      line = lineOf(yaml, child, line);
      at = child?.range?.[0] ?? at;
      through(child);
      node = deref(yaml, child);
    } else {
      break;
    }
  }
  return { node, line, at: via ?? at, inner: at, missing: false };
}

/** The fault of a valibot issue, at its place in the document. */
function faultOf(yaml: YamlDoc, root: YamlNode, issue: v.BaseIssue<unknown>, base: Path): Fault {
  const path = [...base, ...(issue.path ?? []).map((item) => item.key as string | number)];
  // A union none of whose options fit: when the option of the value's kind
  // failed deeper down, report that fault, not "expected A or B".
  if (issue.type === "union") {
    const deeper = issue.issues?.find((sub) => (sub.path?.length ?? 0) > 0);
    if (deeper !== undefined) return faultOf(yaml, root, deeper, path);
  }
  const found = locate(yaml, root, path);
  const name = format(path);
  if (found.missing) {
    const reason = `missing required key "${name}"`;
    return { at: found.at, inner: found.inner, reason, line: found.line, key: name };
  }
  return {
    at: found.at,
    inner: found.inner,
    reason: `${where(path)}: ${issue.message}, got ${describe(found.node)}`,
    line: found.line,
    key: path.length === 0 ? null : name,
  };
}
