// Copyright 2026 the mpreg authors. MIT license.
/**
 * The two messages of a forwarded step, `run` and `result`, written by hand
 * around one msgpackr encoding of their one free part (the arguments, the
 * value), as `Codec.encodeCall` and `Codec.encodeAnswer` do for clients:
 * packed through msgpackr, their fields went key by key through the
 * generic `pack` on every step (the largest part of the coordinator's time
 * in a profile of 100 forwarded calls in flight). Every string is written
 * here as ASCII, without a cache or a `TextEncoder`: the request's id
 * differs on every step. A message of another shape, or with a string that
 * is not short ASCII, returns `null`, and the caller encodes it as usual.
 * Private to the cluster layer.
 *
 * @module
 */
import { packAfter } from "../protocol/encoded_value.ts";
import { ascii, uintSize, writeBytes, writeUint } from "../protocol/msgpack_envelope.ts";
import type { RunMessage } from "./peer_protocol.ts";

/** msgpackr reserves at most this many bytes before the part it encodes. */
const MAX_HEAD = 255;

// `{ t: "run", id, step, fun, timeout, request?, principal?, args }`:
const T_RUN = Uint8Array.of(0xa1, 0x74, 0xa3, ...ascii("run"));
const ID = Uint8Array.of(0xa2, ...ascii("id"));
const STEP = Uint8Array.of(0xa4, ...ascii("step"));
const FUN = Uint8Array.of(0xa3, ...ascii("fun"));
const TIMEOUT = Uint8Array.of(0xa7, ...ascii("timeout"));
const REQUEST = Uint8Array.of(0xa7, ...ascii("request"));
const PRINCIPAL = Uint8Array.of(0xa9, ...ascii("principal"));
const ARGS = Uint8Array.of(0xa4, ...ascii("args"));
/** The fields every message written here has: `t`, `id`, `step`, `fun`, `timeout`, `args`. */
const ALWAYS = 6;
const ALWAYS_BYTES = 1 + T_RUN.length + ID.length + STEP.length + FUN.length + TIMEOUT.length +
  ARGS.length;

/** The size of `s` as a msgpack string when it is ASCII and under 256 characters, else -1. */
function asciiStrSize(s: unknown): number {
  if (typeof s !== "string") return -1;
  const n = s.length;
  if (n > 0xff) return -1;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return -1;
  return n < 32 ? 1 + n : 2 + n;
}

/** Writes ASCII `s` (checked by {@linkcode asciiStrSize}) as a msgpack string. */
function writeAscii(out: Uint8Array, at: number, s: string): number {
  const n = s.length;
  if (n < 32) {
    out[at++] = 0xa0 | n;
  } else {
    out[at++] = 0xd9;
    out[at++] = n;
  }
  for (let i = 0; i < n; i++) out[at++] = s.charCodeAt(i);
  return at;
}

/**
 * Encodes a `run` message of the usual shape: `t`, `id`, `step`, `fun`,
 * `timeout`, `args` and, when present, `request` and `principal`; its
 * fields in that order, `args` last.
 *
 * @example
 * ```ts ignore
 * const frame = encodeRun(message) ?? codec.encode(message);
 * ```
 *
 * @param message The message.
 * @returns The frame, or `null` when it has another field, or a value
 *   written here that is not of the usual kind (the caller encodes it as usual).
 * @throws what msgpackr throws for arguments it cannot encode.
 */
export function encodeRun(message: RunMessage): Uint8Array<ArrayBuffer> | null {
  const { id, step, fun, timeout, request, principal, args } = message;
  const fields = ALWAYS + (request === undefined ? 0 : 1) + (principal === undefined ? 0 : 1);
  // Any other field (kwargs, a stream, a trace, ...) leaves it to the codec.
  let keys = 0;
  for (const _ in message) keys++;
  if (keys !== fields || message.t !== "run" || !Array.isArray(args)) return null;
  const idBytes = uintSize(id);
  const timeoutBytes = uintSize(timeout);
  const stepBytes = asciiStrSize(step);
  const funBytes = asciiStrSize(fun);
  if (idBytes === 0 || timeoutBytes === 0 || stepBytes < 0 || funBytes < 0) return null;
  let requestBytes = 0;
  if (request !== undefined) {
    const size = typeof request === "number" ? uintSize(request) : asciiStrSize(request);
    if (size <= 0) return null;
    requestBytes = REQUEST.length + size;
  }
  let principalBytes = 0;
  if (principal !== undefined) {
    const size = asciiStrSize(principal);
    if (size < 0) return null;
    principalBytes = PRINCIPAL.length + size;
  }
  const head = ALWAYS_BYTES + idBytes + stepBytes + funBytes + timeoutBytes + requestBytes +
    principalBytes;
  if (head > MAX_HEAD) return null;
  const out = packAfter(args, head);
  out[0] = 0x80 | fields;
  let at = writeBytes(out, 1, T_RUN);
  at = writeUint(out, writeBytes(out, at, ID), id, idBytes);
  at = writeAscii(out, writeBytes(out, at, STEP), step);
  at = writeAscii(out, writeBytes(out, at, FUN), fun);
  at = writeUint(out, writeBytes(out, at, TIMEOUT), timeout, timeoutBytes);
  if (typeof request === "number") {
    at = writeUint(out, writeBytes(out, at, REQUEST), request, uintSize(request));
  } else if (request !== undefined) {
    at = writeAscii(out, writeBytes(out, at, REQUEST), request);
  }
  if (principal !== undefined) at = writeAscii(out, writeBytes(out, at, PRINCIPAL), principal);
  writeBytes(out, at, ARGS);
  return out;
}

// `{ t: "result", id, value }`:
const RESULT_ID = Uint8Array.of(0x83, 0xa1, 0x74, 0xa6, ...ascii("result"), 0xa2, ...ascii("id"));
const VALUE = Uint8Array.of(0xa5, ...ascii("value"));

/**
 * Encodes `{ t: "result", id, value }`.
 *
 * @example
 * ```ts ignore
 * const frame = encodeResult(id, value) ?? codec.encode({ t: "result", id, value });
 * ```
 *
 * @param id The run's id.
 * @param value The step's value.
 * @returns The frame, or `null` for an id that is not a 32-bit unsigned integer.
 * @throws what msgpackr throws for a value it cannot encode.
 */
export function encodeResult(id: number, value: unknown): Uint8Array<ArrayBuffer> | null {
  const idBytes = uintSize(id);
  if (idBytes === 0) return null;
  const out = packAfter(value, RESULT_ID.length + idBytes + VALUE.length);
  writeBytes(out, writeUint(out, writeBytes(out, 0, RESULT_ID), id, idBytes), VALUE);
  return out;
}
