// Copyright 2026 the mpreg authors. MIT license.
/**
 * A member's record data (URLs, resources, functions, permissions,
 * idempotent functions, grants),
 * frozen so that views and messages share it. Private to membership.
 *
 * @module
 */
import type { FunctionDescription } from "../protocol/function_description.ts";
import type { NodeRecord } from "./membership_types.ts";

/** A record's data, frozen so it can be shared with views and messages. */
export interface RecordData {
  readonly urls: readonly string[];
  readonly resources: readonly string[];
  readonly functions: Readonly<Record<string, readonly string[]>>;
  readonly permissions: Readonly<Record<string, readonly string[]>>;
  readonly idempotent: readonly string[];
  readonly described: Readonly<Record<string, FunctionDescription>>;
  readonly grants: string | undefined;
}

type DataFields =
  | "urls"
  | "resources"
  | "functions"
  | "permissions"
  | "idempotent"
  | "described"
  | "grants";

/** The descriptions of a record that carries none. */
const NO_DESCRIPTIONS: Readonly<Record<string, FunctionDescription>> = Object.freeze({});

/** The permissions of a record that declares none. */
export const NO_PERMISSIONS: Readonly<Record<string, readonly string[]>> = Object.freeze({});

function frozenList(list: readonly string[]): readonly string[] {
  return Object.isFrozen(list) ? list : Object.freeze([...list]);
}

function frozenMap(
  map: Readonly<Record<string, readonly string[]>>,
): Readonly<Record<string, readonly string[]>> {
  if (Object.isFrozen(map)) return map;
  return Object.freeze(Object.fromEntries(Object.entries(map).map(([k, v]) => [k, frozenList(v)])));
}

/** Freezes a record's data, copying what is not frozen yet (so callers' arrays are never frozen). */
export function freezeData(record: Pick<NodeRecord, DataFields>): RecordData {
  return {
    urls: frozenList(record.urls),
    resources: frozenList(record.resources),
    functions: frozenMap(record.functions),
    permissions: record.permissions === undefined ? NO_PERMISSIONS : frozenMap(record.permissions),
    idempotent: frozenList(record.idempotent ?? []),
    described: record.described === undefined || Object.keys(record.described).length === 0
      ? NO_DESCRIPTIONS
      : Object.freeze({ ...record.described }),
    grants: typeof record.grants === "string" ? record.grants : undefined,
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}

function sameMap(
  a: Readonly<Record<string, readonly string[]>>,
  b: Readonly<Record<string, readonly string[]>>,
): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => {
    const other = b[k];
    return other !== undefined && sameList(a[k]!, other);
  });
}

/** Whether two records hold the same data. */
export function sameData(a: RecordData, b: RecordData): boolean {
  if (!sameList(a.urls, b.urls) || !sameList(a.resources, b.resources)) return false;
  if (a.grants !== b.grants || !sameList(a.idempotent, b.idempotent)) return false;
  if (a.described !== b.described && JSON.stringify(a.described) !== JSON.stringify(b.described)) {
    return false;
  }
  return sameMap(a.functions, b.functions) && sameMap(a.permissions, b.permissions);
}

/** A record's data as the fields of a record or a view (shared, frozen arrays). */
export function dataFields(d: RecordData): Pick<NodeRecord, DataFields> {
  return {
    urls: d.urls as string[],
    resources: d.resources as string[],
    functions: d.functions as Record<string, string[]>,
    ...permissionsOf(d),
    ...(d.idempotent.length === 0 ? {} : { idempotent: d.idempotent as string[] }),
    ...describedOf(d),
    ...(d.grants === undefined ? {} : { grants: d.grants }),
  };
}

/** The descriptions of a record, left out when there are none. */
export function describedOf(
  d: RecordData,
): { described?: Record<string, FunctionDescription> } {
  return d.described === NO_DESCRIPTIONS
    ? {}
    : { described: d.described as Record<string, FunctionDescription> };
}

/** The permissions map of a record, left out when empty. */
export function permissionsOf(d: RecordData): { permissions?: Record<string, string[]> } {
  return d.permissions === NO_PERMISSIONS || Object.keys(d.permissions).length === 0
    ? {}
    : { permissions: d.permissions as Record<string, string[]> };
}
