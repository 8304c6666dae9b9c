// Copyright 2026 the mpreg authors. MIT license.
/**
 * Frame codecs: how messages become WebSocket frames and back.
 *
 * Three encodings exist, chosen by the WebSocket subprotocol:
 * - `mpreg.msgpack.v1`: msgpack in binary frames;
 * - `mpreg.json.v1`: JSON in text frames;
 * - no subprotocol: the original MPREG JSON, accepted in text or binary
 *   frames and sent as binary frames holding UTF-8 JSON (`legacy`, the
 *   node's side; `mpreg-json`, a client's side, speaks exactly the original
 *   protocol to an original Python server).
 *
 * In the JSON encodings an integer beyond 2^53 is exact both ways: it is
 * read as a `BigInt`, and a `BigInt` is written as its digits.
 *
 * This module is browser-safe: it imports only the pure-JS msgpackr entries.
 *
 * @module
 */
import { Packr, RESERVE_START_SPACE } from "msgpackr/pack";
import { Unpackr } from "msgpackr/unpack";
import { ascii, msgpackStr, uintSize, writeBytes, writeUint } from "./msgpack_envelope.ts";
import { LimitExceededError, ProtocolError } from "./errors.ts";
import { scanJson, scanMsgpack } from "./scan.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { parseExactJson, stringifyExactJson } from "./_exact_json.ts";
import { MpregJsonCodec } from "./_mpreg_json_codec.ts";
import { EncodedValue, PACK_OPTIONS, packAfter, unpackOptions } from "./encoded_value.ts";

/** The subprotocol for msgpack in binary frames. */
export const MSGPACK_PROTOCOL = "mpreg.msgpack.v1";
/** The subprotocol for JSON in text frames. */
export const JSON_PROTOCOL = "mpreg.json.v1";

/**
 * The prefix of the subprotocol entry that carries a client's token:
 * `mpreg.auth.<token>` (browsers cannot set headers on a WebSocket). The
 * node never echoes it.
 */
export const AUTH_PROTOCOL_PREFIX = "mpreg.auth.";

/**
 * The name of an encoding. `legacy` is the original MPREG JSON as a node
 * serves it; `mpreg-json` is the original protocol as a client speaks it to
 * an original (Python) server.
 */
export type Encoding = "msgpack" | "json" | "legacy" | "mpreg-json";

/** A frame as a WebSocket delivers it. */
export type Frame = string | ArrayBuffer | Uint8Array;

/**
 * Encodes messages to frames and decodes frames to messages.
 *
 * @example Round-trip a message
 * ```ts
 * import { createCodec } from "./codec.ts";
 * const codec = createCodec("msgpack");
 * const frame = codec.encode({ u: 1, r: "hi", error: null });
 * console.log(codec.decode(frame)); // { u: 1, r: "hi", error: null }
 * ```
 */
export interface Codec {
  /** The encoding's name. */
  readonly encoding: Encoding;
  /** The subprotocol to offer or echo, or `null` for the original format. */
  readonly protocol: string | null;
  /**
   * Encodes one message. In msgpack `undefined` becomes nil (`null` once
   * decoded), as in a JSON array.
   *
   * @param message The message.
   * @returns A frame: a string for text frames, bytes for binary frames.
   */
  encode(message: unknown): string | Uint8Array<ArrayBuffer>;
  /**
   * Joins messages already encoded by {@linkcode Codec.encode} into one
   * batch frame: an array of the messages. Only the `mpreg.*` encodings
   * batch; the original MPREG JSON does not.
   *
   * @param parts Frames from `encode`, of this codec.
   * @returns One frame holding them all, in order.
   */
  encodeBatch(parts: Array<string | Uint8Array<ArrayBuffer>>): string | Uint8Array<ArrayBuffer>;
  /**
   * Encodes a call of one step, `{ role: "rpc", u, timeout, cmds: [{ name,
   * fun, args }] }`: the message {@linkcode Codec.encode} would write for it,
   * faster (msgpack writes everything but `args` itself).
   *
   * @param u The request id.
   * @param name The step's name.
   * @param fun The function.
   * @param args Its arguments.
   * @param timeout The deadline in milliseconds.
   * @returns The frame.
   */
  encodeCall(
    u: number,
    name: string,
    fun: string,
    args: unknown[],
    timeout: number,
  ): string | Uint8Array<ArrayBuffer>;
  /**
   * Encodes a successful answer, `{ u, r, error: null }`: the message
   * {@linkcode Codec.encode} would write for it, faster (msgpack writes
   * everything but `r` itself).
   *
   * @param u The request id.
   * @param r The result.
   * @returns The frame.
   */
  encodeAnswer(u: string | number, r: unknown): string | Uint8Array<ArrayBuffer>;
  /**
   * Encodes one chunk of a stream, `{ u, chunk }`. A chunk given as an
   * {@linkcode EncodedValue} (relayed from the member that produced it) goes
   * into a msgpack frame as the same bytes, without being decoded; the
   * other encodings decode it.
   *
   * @param u The request id.
   * @param chunk The chunk, or its encoding.
   * @returns The frame.
   */
  encodeChunk(u: string | number, chunk: unknown): string | Uint8Array<ArrayBuffer>;
  /** Whether this encoding carries batches (`mpreg.msgpack.v1` and `mpreg.json.v1`). */
  readonly batches: boolean;
  /**
   * Whether the peer understands a `cancel` message. The original protocol
   * has none: a client speaking it cancels locally and drops the late answer.
   */
  readonly cancels: boolean;
  /**
   * Decodes one frame, checking it against the limits first. Binary values
   * (msgpack `bin`) of a frame given as an ArrayBuffer view that buffer; of
   * a frame given as a Uint8Array they are copied, so the caller may reuse
   * its bytes once this returns.
   *
   * @param frame The frame.
   * @returns The message.
   * @throws {LimitExceededError} when the frame is over a limit.
   * @throws {ProtocolError} when the frame is not valid for the encoding.
   */
  decode(frame: Frame): unknown;
}

/** Options for {@linkcode createCodec}. */
export interface CodecOptions {
  /**
   * Limits checked before decoding. Without them no limit is checked, which
   * suits a client reading its own server's answers.
   *
   * @default {undefined}
   */
  limits?: Pick<Limits, "maxFrameBytes" | "maxDepth" | "maxElements" | "maxStringBytes">;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function frameSize(frame: Frame): number {
  return typeof frame === "string" ? frame.length : frame.byteLength;
}

function checkSize(frame: Frame, max: number): void {
  const size = frameSize(frame);
  if (size > max) {
    throw new LimitExceededError(`Frame of ${size} bytes is over the limit of ${max}`, {
      details: { limit: "maxFrameBytes", max },
    });
  }
}

function parseJson(text: string): unknown {
  try {
    return parseExactJson(text);
  } catch (err) {
    throw new ProtocolError("Frame is not valid JSON", { cause: err });
  }
}

function textOf(frame: Frame): string {
  if (typeof frame === "string") return frame;
  try {
    return decoder.decode(frame);
  } catch (err) {
    throw new ProtocolError("Frame is not valid UTF-8", { cause: err });
  }
}

// The envelopes `encodeCall` and `encodeAnswer` write: msgpack maps whose
// keys come in this order, so the one part msgpackr encodes comes last.
// `{ role: "rpc", u, timeout, cmds: [{ name, fun, args }] }`:
const CALL_U = Uint8Array.of(0x84, 0xa4, ...ascii("role"), 0xa3, ...ascii("rpc"), 0xa1, 0x75);
const CALL_TIMEOUT = Uint8Array.of(0xa7, ...ascii("timeout"));
const CALL_STEP_NAME = Uint8Array.of(0xa4, ...ascii("cmds"), 0x91, 0x83, 0xa4, ...ascii("name"));
const CALL_FUN = Uint8Array.of(0xa3, ...ascii("fun"));
const CALL_ARGS = Uint8Array.of(0xa4, ...ascii("args"));
const CALL_FIXED_BYTES = CALL_U.length + CALL_TIMEOUT.length + CALL_STEP_NAME.length +
  CALL_FUN.length + CALL_ARGS.length;
// `{ u, error: null, r }`:
const ANSWER_U = Uint8Array.of(0x83, 0xa1, 0x75);
const ANSWER_ERROR_R = Uint8Array.of(0xa5, ...ascii("error"), 0xc0, 0xa1, 0x72);
// `{ u, chunk }`:
const CHUNK_U = Uint8Array.of(0x82, 0xa1, 0x75);
const CHUNK_CHUNK = Uint8Array.of(0xa5, ...ascii("chunk"));

class MsgpackCodec implements Codec {
  readonly encoding = "msgpack" as const;
  readonly protocol = MSGPACK_PROTOCOL;
  // `undefined` (and a function, which msgpackr packs as `undefined`) goes
  // out as nil: msgpackr's default, an extension, is refused by the
  // pre-scan, and other msgpack implementations do not know it.
  #packr = new Packr(PACK_OPTIONS);
  // Binary values view the frame they came in: fine for an ArrayBuffer,
  // which the message owns; a Uint8Array may view a buffer that its reader
  // reuses, so they are copied out of it. Both unpackers have the same
  // options in the same order, so msgpackr's reads of them stay monomorphic.
  #unpackr = new Unpackr(unpackOptions(false));
  #copying = new Unpackr(unpackOptions(true));
  #limits: CodecOptions["limits"];

  constructor(options: CodecOptions) {
    this.#limits = options.limits;
  }

  readonly batches = true;
  readonly cancels = true;

  encode(message: unknown): Uint8Array<ArrayBuffer> {
    return this.#packr.pack(message) as Uint8Array<ArrayBuffer>;
  }

  encodeCall(
    u: number,
    name: string,
    fun: string,
    args: unknown[],
    timeout: number,
  ): Uint8Array<ArrayBuffer> {
    const uBytes = uintSize(u);
    const timeoutBytes = uintSize(timeout);
    const nameStr = msgpackStr(name);
    const funStr = msgpackStr(fun);
    const head = CALL_FIXED_BYTES + uBytes + timeoutBytes + (nameStr?.length ?? 256) +
      (funStr?.length ?? 256);
    // msgpackr reserves at most 255 bytes; other ids and timeouts are rare.
    if (uBytes === 0 || timeoutBytes === 0 || head > 255) {
      return this.encode({ role: "rpc", u, cmds: [{ name, fun, args }], timeout });
    }
    // msgpackr leaves `head` bytes free before `args` for the envelope.
    const out = this.#packr.pack(args, RESERVE_START_SPACE | head) as Uint8Array<ArrayBuffer>;
    let at = writeBytes(out, 0, CALL_U);
    at = writeUint(out, at, u, uBytes);
    at = writeBytes(out, at, CALL_TIMEOUT);
    at = writeUint(out, at, timeout, timeoutBytes);
    at = writeBytes(out, at, CALL_STEP_NAME);
    at = writeBytes(out, at, nameStr!);
    at = writeBytes(out, at, CALL_FUN);
    at = writeBytes(out, at, funStr!);
    writeBytes(out, at, CALL_ARGS);
    return out;
  }

  encodeAnswer(u: string | number, r: unknown): Uint8Array<ArrayBuffer> {
    const uBytes = uintSize(u);
    if (uBytes === 0) return this.encode({ u, r, error: null });
    const head = ANSWER_U.length + uBytes + ANSWER_ERROR_R.length;
    const out = this.#packr.pack(r, RESERVE_START_SPACE | head) as Uint8Array<ArrayBuffer>;
    const at = writeUint(out, writeBytes(out, 0, ANSWER_U), u as number, uBytes);
    writeBytes(out, at, ANSWER_ERROR_R);
    return out;
  }

  encodeChunk(u: string | number, chunk: unknown): Uint8Array<ArrayBuffer> {
    const uBytes = uintSize(u);
    const encoded = chunk instanceof EncodedValue;
    if (uBytes === 0) return this.encode({ u, chunk: encoded ? chunk.decode() : chunk });
    const head = CHUNK_U.length + uBytes + CHUNK_CHUNK.length;
    let out: Uint8Array<ArrayBuffer>;
    if (encoded) {
      // The member's bytes, never decoded here: in the frame they came in
      // when it has room for this envelope, else copied once.
      out = chunk.framed(head);
    } else {
      out = packAfter(chunk, head);
    }
    writeBytes(out, writeUint(out, writeBytes(out, 0, CHUNK_U), u as number, uBytes), CHUNK_CHUNK);
    return out;
  }

  encodeBatch(parts: Array<string | Uint8Array<ArrayBuffer>>): Uint8Array<ArrayBuffer> {
    const n = parts.length;
    const head = n < 16 ? 1 : n < 0x10000 ? 3 : 5;
    let size = head;
    for (const part of parts) size += (part as Uint8Array).byteLength;
    const out = new Uint8Array(size);
    if (head === 1) {
      out[0] = 0x90 | n;
    } else if (head === 3) {
      out[0] = 0xdc;
      out[1] = n >> 8;
      out[2] = n & 0xff;
    } else {
      out[0] = 0xdd;
      new DataView(out.buffer).setUint32(1, n);
    }
    let at = head;
    for (const part of parts) {
      out.set(part as Uint8Array, at);
      at += (part as Uint8Array).byteLength;
    }
    return out;
  }

  decode(frame: Frame): unknown {
    if (typeof frame === "string") throw new ProtocolError("Expected a binary msgpack frame");
    const view = frame instanceof Uint8Array;
    const bytes = view ? frame : new Uint8Array(frame);
    if (this.#limits) {
      checkSize(bytes, this.#limits.maxFrameBytes);
      scanMsgpack(bytes, this.#limits);
    }
    try {
      return (view ? this.#copying : this.#unpackr).unpack(bytes);
    } catch (err) {
      throw new ProtocolError("Frame is not valid msgpack", { cause: err });
    }
  }
}

class JsonCodec implements Codec {
  readonly encoding: "json" | "legacy";
  readonly protocol: string | null;
  #limits: CodecOptions["limits"];

  constructor(encoding: "json" | "legacy", options: CodecOptions) {
    this.encoding = encoding;
    this.protocol = encoding === "json" ? JSON_PROTOCOL : null;
    this.#limits = options.limits;
  }

  get batches(): boolean {
    return this.encoding === "json";
  }

  get cancels(): boolean {
    return this.encoding === "json";
  }

  encodeBatch(parts: Array<string | Uint8Array<ArrayBuffer>>): string {
    if (this.encoding !== "json") throw new TypeError("The original MPREG JSON has no batches");
    return `[${parts.join(",")}]`;
  }

  encodeCall(
    u: number,
    name: string,
    fun: string,
    args: unknown[],
    timeout: number,
  ): string | Uint8Array<ArrayBuffer> {
    return this.encode({ role: "rpc", u, cmds: [{ name, fun, args }], timeout });
  }

  encodeAnswer(u: string | number, r: unknown): string | Uint8Array<ArrayBuffer> {
    return this.encode({ u, r, error: null });
  }

  encodeChunk(u: string | number, chunk: unknown): string | Uint8Array<ArrayBuffer> {
    return this.encode({ u, chunk: chunk instanceof EncodedValue ? chunk.decode() : chunk });
  }

  encode(message: unknown): string | Uint8Array<ArrayBuffer> {
    const text = stringifyExactJson(message);
    // The original MPREG server sends UTF-8 JSON in binary frames.
    return this.encoding === "legacy" ? encoder.encode(text) : text;
  }

  decode(frame: Frame): unknown {
    if (this.#limits) checkSize(frame, this.#limits.maxFrameBytes);
    const text = textOf(frame);
    if (this.#limits) scanJson(text, this.#limits);
    return parseJson(text);
  }
}

/**
 * Creates a codec for an encoding.
 *
 * @param encoding `"msgpack"`, `"json"`, `"legacy"` or `"mpreg-json"`.
 * @param options Limits to check while decoding.
 * @returns The codec.
 *
 * @example A limited JSON codec
 * ```ts
 * import { DEFAULT_LIMITS } from "@mpreg/mpreg";
 * import { createCodec } from "./codec.ts";
 * const codec = createCodec("json", { limits: DEFAULT_LIMITS });
 * console.log(codec.decode('{"role":"rpc"}'));
 * ```
 */
export function createCodec(encoding: Encoding, options: CodecOptions = {}): Codec {
  if (encoding === "msgpack") return new MsgpackCodec(options);
  if (encoding === "mpreg-json") return new MpregJsonCodec();
  return new JsonCodec(encoding, options);
}

/**
 * Picks the codec for a connection from the subprotocols a client offered:
 * the first offered protocol mpreg speaks wins; no offer means the original
 * MPREG JSON.
 *
 * @param offered The subprotocols in the client's order.
 * @param options Limits to check while decoding.
 * @returns The codec, or `null` when protocols were offered but none is known.
 *
 * @example
 * ```ts
 * import { negotiateCodec } from "./codec.ts";
 * console.log(negotiateCodec(["x", "mpreg.json.v1"])?.encoding); // json
 * console.log(negotiateCodec([])?.encoding); // legacy
 * ```
 */
export function negotiateCodec(
  offered: readonly string[],
  options: CodecOptions = { limits: DEFAULT_LIMITS },
): Codec | null {
  if (offered.length === 0) return createCodec("legacy", options);
  for (const protocol of offered) {
    if (protocol === MSGPACK_PROTOCOL) return createCodec("msgpack", options);
    if (protocol === JSON_PROTOCOL) return createCodec("json", options);
  }
  return null;
}
