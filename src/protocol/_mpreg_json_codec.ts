// Copyright 2026 the mpreg authors. MIT license.
/**
 * The client's codec for an original (Python) MPREG server: exactly its
 * protocol, nothing more (see `docs/protocol.md`, "The original protocol").
 *
 * - no subprotocol is offered (the original ignores them);
 * - a request is `{"role":"rpc","cmds":[{name,fun,args,kwargs,locs}],"u":"17"}`
 *   in the original's field order: the id is a string (the original closes
 *   the connection on a numeric one), and there is no `timeout`, no `all`,
 *   no trace context (`tp`), no batch and no cancel message (a timeout or
 *   an abort is local only; the late answer is dropped);
 * - answers are read from text or binary frames; their string `u` is turned
 *   back into the client's numeric id;
 * - integers beyond 2^53 are exact both ways (`BigInt`), as orjson's are.
 *
 * @module
 */
import type { Codec, Frame } from "./codec.ts";
import { parseExactJson, stringifyExactJson } from "./_exact_json.ts";
import { ProtocolError } from "./errors.ts";
import { LITERAL_KEY } from "./step.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });
/** A string id the client handed out: a canonical decimal number. */
const DECIMAL_ID = /^(?:0|[1-9]\d{0,15})$/;

interface ClientStep {
  name: string;
  fun: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  locs?: string[];
}

interface ClientRequest {
  role?: unknown;
  u?: unknown;
  cmds?: ClientStep[];
  all?: unknown;
  tp?: unknown;
}

/** Whether `value` holds an object with the key `$literal`. */
function hasLiteralKey(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  if (Array.isArray(value)) return value.some(hasLiteralKey);
  if (Object.hasOwn(value, LITERAL_KEY)) return true;
  return Object.values(value).some(hasLiteralKey);
}

/** The codec `createCodec("mpreg-json")` returns. */
export class MpregJsonCodec implements Codec {
  readonly encoding = "mpreg-json" as const;
  readonly protocol = null;
  readonly batches = false;
  readonly cancels = false;

  encode(message: unknown): string {
    const request = message as ClientRequest;
    if (request === null || typeof request !== "object" || request.role !== "rpc") {
      throw new TypeError("The original MPREG protocol has no such message");
    }
    if (request.all) {
      throw new TypeError(
        "the original MPREG protocol has no `all`: it returns the results of the last level",
      );
    }
    if (request.tp !== undefined) {
      throw new TypeError("the original MPREG protocol has no trace context (`traceparent`)");
    }
    const cmds = (request.cmds ?? []).map((step) => ({
      name: step.name,
      fun: step.fun,
      args: step.args ?? [],
      kwargs: step.kwargs ?? {},
      locs: step.locs ?? [],
    }));
    const text = stringifyExactJson({ role: "rpc", cmds, u: String(request.u) });
    if (text.includes(`"${LITERAL_KEY}"`) && cmds.some((s) => hasLiteralKey([s.args, s.kwargs]))) {
      // The original would pass the wrapper itself to the function.
      throw new TypeError(
        `the original MPREG protocol has no literal wrapper ("${LITERAL_KEY}"); ` +
          "a string that names a step is always read as a reference there",
      );
    }
    return text;
  }

  encodeCall(u: number, name: string, fun: string, args: unknown[]): string {
    return this.encode({ role: "rpc", u, cmds: [{ name, fun, args }] });
  }

  encodeAnswer(u: string | number, r: unknown): string {
    return stringifyExactJson({ r, error: null, u: String(u) });
  }

  encodeChunk(): string {
    throw new TypeError("The original MPREG protocol has no streams");
  }

  encodeBatch(): string {
    throw new TypeError("The original MPREG protocol has no batches");
  }

  decode(frame: Frame): unknown {
    let text: string;
    try {
      text = typeof frame === "string" ? frame : decoder.decode(frame);
    } catch (err) {
      throw new ProtocolError("Frame is not valid UTF-8", { cause: err });
    }
    let message: unknown;
    try {
      message = parseExactJson(text);
    } catch (err) {
      throw new ProtocolError("Frame is not valid JSON", { cause: err });
    }
    // The original echoes the string id the client sent; the client keys
    // its calls by number.
    const u = (message as { u?: unknown } | null)?.u;
    if (typeof u === "string" && DECIMAL_ID.test(u)) (message as { u: unknown }).u = Number(u);
    return message;
  }
}
