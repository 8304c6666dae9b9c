// Copyright 2026 the mpreg authors. MIT license.
/**
 * Shape checks of what arrives from peers: updates, records and messages.
 * Private to membership.
 *
 * @module
 */
import type { GossipMessage, MemberState, NodeRecord, Update } from "./membership_types.ts";

/** State precedence at equal incarnation: `left` > `dead` > `suspect` > `alive`. */
export const RANK: Readonly<Record<MemberState, number>> = {
  alive: 0,
  suspect: 1,
  dead: 2,
  left: 3,
};

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === "string");
}

/** Whether `x` is a finite number. */
export function isFiniteNumber(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Whether `x` has the shape of an `Update`. */
export function isUpdate(x: unknown): x is Update {
  if (!isObject(x)) return false;
  return typeof x.name === "string" && isFiniteNumber(x.incarnation) &&
    isFiniteNumber(x.catalogVersion) && typeof x.state === "string" && x.state in RANK &&
    (x.deadlineIn === undefined || (isFiniteNumber(x.deadlineIn) && x.deadlineIn >= 0)) &&
    (x.by === undefined || isStringArray(x.by));
}

/**
 * Whether a value has the shape of a {@linkcode NodeRecord} (used on
 * everything that arrives from a peer).
 *
 * @param x The value.
 * @returns True when it is a record.
 */
export function isNodeRecord(x: unknown): x is NodeRecord {
  return isRecord(x);
}

/** Whether `x` has the shape of a `NodeRecord`. */
export function isRecord(x: unknown): x is NodeRecord {
  if (!isObject(x)) return false;
  if (typeof x.name !== "string" || !isFiniteNumber(x.incarnation)) return false;
  if (!isFiniteNumber(x.catalogVersion) || !isStringArray(x.urls)) return false;
  if (!isStringArray(x.resources) || !isObject(x.functions)) return false;
  if (!Object.values(x.functions).every(isStringArray)) return false;
  if (x.grants != null && typeof x.grants !== "string") return false;
  if (x.idempotent !== undefined && !isStringArray(x.idempotent)) return false;
  if (x.described !== undefined && !isDescribed(x.described)) return false;
  return x.permissions === undefined ||
    (isObject(x.permissions) && Object.values(x.permissions).every(isStringArray));
}

/** Whether `x` maps function names to descriptions (`{ params: [{ name }], … }`). */
function isDescribed(x: unknown): boolean {
  if (!isObject(x)) return false;
  return Object.values(x).every((d) =>
    isObject(d) && Array.isArray(d.params) &&
    d.params.every((p: unknown) => isObject(p) && typeof p.name === "string") &&
    (d.doc === undefined || typeof d.doc === "string")
  );
}

/** Whether `x` has the shape of a `GossipMessage`. */
export function isMessage(x: unknown): x is GossipMessage {
  if (!isObject(x) || typeof x.from !== "string") return false;
  switch (x.t) {
    case "ping":
    case "ack":
      return isFiniteNumber(x.seq) && typeof x.view === "string" && Array.isArray(x.updates);
    case "ping-req":
      return isFiniteNumber(x.seq) && typeof x.target === "string" && Array.isArray(x.updates);
    case "gossip":
      return Array.isArray(x.updates);
    case "sync":
      return Array.isArray(x.digest) && typeof x.reply === "boolean";
    case "pull":
      return isStringArray(x.names);
    case "records":
      return Array.isArray(x.records);
    default:
      return false;
  }
}
