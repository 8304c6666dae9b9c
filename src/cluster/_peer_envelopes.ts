// Copyright 2026 the mpreg authors. MIT license.
/**
 * The two peer messages a forwarded step sends most, `run` and `result`,
 * written by hand around one msgpackr encoding of their one free part (the
 * arguments, the value), as `Codec.encodeCall` and `Codec.encodeAnswer` do
 * for clients: packing the envelope through msgpackr walked its keys on
 * every step (msgpackr's generic `pack` was a fifth of a node's time with
 * 100 forwarded calls in flight). A message these cannot write (a field
 * other than the usual ones, a long name) returns `null`, and the caller
 * encodes it as usual. Private to the cluster layer.
 *
 * @module
 */
import { packAfter } from "../protocol/encoded_value.ts";
import { ascii, msgpackStr, uintSize, writeBytes, writeUint } from "../protocol/_envelope.ts";
import type { RunMessage } from "./peer_protocol.ts";

/** msgpackr reserves at most this many bytes before the part it encodes. */
const MAX_HEAD = 255;

// `{ t: "result", id, value }`:
const RESULT_ID = Uint8Array.of(0x83, 0xa1, 0x74, 0xa6, ...ascii("result"), 0xa2, ...ascii("id"));
const VALUE = Uint8Array.of(0xa5, ...ascii("value"));

/**
 * Encodes `{ t: "result", id, value }`.
 *
 * @param id The run's id.
 * @param value The step's value.
 * @returns The frame, or `null` for an id that is not a 32-bit unsigned integer.
 * @throws what msgpackr throws for a value it cannot encode.
 */
export function encodeResult(id: number, value: unknown): Uint8Array<ArrayBuffer> | null {
  const idBytes = uintSize(id);
  if (idBytes === 0) return null;
  const head = RESULT_ID.length + idBytes + VALUE.length;
  const out = packAfter(value, head);
  writeBytes(out, writeUint(out, writeBytes(out, 0, RESULT_ID), id, idBytes), VALUE);
  return out;
}

// `{ t: "run", id, step, fun, timeout, request?, principal?, args }`:
const T_RUN = Uint8Array.of(0xa1, 0x74, 0xa3, ...ascii("run"));
const ID = Uint8Array.of(0xa2, ...ascii("id"));
const STEP = Uint8Array.of(0xa4, ...ascii("step"));
const FUN = Uint8Array.of(0xa3, ...ascii("fun"));
const TIMEOUT = Uint8Array.of(0xa7, ...ascii("timeout"));
const REQUEST = Uint8Array.of(0xa7, ...ascii("request"));
const PRINCIPAL = Uint8Array.of(0xa9, ...ascii("principal"));
const ARGS = Uint8Array.of(0xa4, ...ascii("args"));
/** The fields written here; any other present sends the message the usual way. */
const KNOWN = new Set(["t", "id", "step", "fun", "timeout", "request", "principal", "args"]);

/**
 * Encodes a `run` message of the usual shape: `t`, `id`, `step`, `fun`,
 * `timeout`, `args` and, when present, `request` and `principal`.
 *
 * @param message The message.
 * @returns The frame, or `null` when it has another field, or a value
 *   these cannot write (the caller encodes it as usual).
 * @throws what msgpackr throws for arguments it cannot encode.
 */
export function encodeRun(message: RunMessage): Uint8Array<ArrayBuffer> | null {
  for (const key in message) {
    if (!KNOWN.has(key) && (message as unknown as Record<string, unknown>)[key] !== undefined) {
      return null;
    }
  }
  const idBytes = uintSize(message.id);
  const timeoutBytes = uintSize(message.timeout);
  const step = typeof message.step === "string" ? msgpackStr(message.step) : null;
  const fun = typeof message.fun === "string" ? msgpackStr(message.fun) : null;
  if (idBytes === 0 || timeoutBytes === 0 || step === null || fun === null) return null;
  const { request, principal } = message;
  let requestStr: Uint8Array | null = null;
  let requestBytes = 0;
  if (typeof request === "string") {
    requestStr = msgpackStr(request);
    if (requestStr === null) return null;
    requestBytes = REQUEST.length + requestStr.length;
  } else if (request !== undefined) {
    const size = uintSize(request);
    if (size === 0) return null;
    requestBytes = REQUEST.length + size;
  }
  let principalStr: Uint8Array | null = null;
  if (principal !== undefined) {
    principalStr = typeof principal === "string" ? msgpackStr(principal) : null;
    if (principalStr === null) return null;
  }
  const head = 1 + T_RUN.length + ID.length + idBytes + STEP.length + step.length + FUN.length +
    fun.length + TIMEOUT.length + timeoutBytes + requestBytes +
    (principalStr === null ? 0 : PRINCIPAL.length + principalStr.length) + ARGS.length;
  if (head > MAX_HEAD) return null;
  const out = packAfter(message.args, head);
  const fields = 6 + (request === undefined ? 0 : 1) + (principalStr === null ? 0 : 1);
  out[0] = 0x80 | fields;
  let at = writeBytes(out, 1, T_RUN);
  at = writeUint(out, writeBytes(out, at, ID), message.id, idBytes);
  at = writeBytes(out, writeBytes(out, at, STEP), step);
  at = writeBytes(out, writeBytes(out, at, FUN), fun);
  at = writeUint(out, writeBytes(out, at, TIMEOUT), message.timeout, timeoutBytes);
  if (requestStr !== null) at = writeBytes(out, writeBytes(out, at, REQUEST), requestStr);
  else if (request !== undefined) {
    at = writeUint(out, writeBytes(out, at, REQUEST), request as number, uintSize(request));
  }
  if (principalStr !== null) at = writeBytes(out, writeBytes(out, at, PRINCIPAL), principalStr);
  writeBytes(out, at, ARGS);
  return out;
}
