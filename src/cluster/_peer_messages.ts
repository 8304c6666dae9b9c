// Copyright 2026 the mpreg authors. MIT license.
/**
 * Checks and conversions of peer messages: grant-check steps, run errors and
 * the limits announced in the handshake. Private to the cluster layer.
 *
 * @module
 */
import { RpcError, type WireError } from "../protocol/errors.ts";
import { isCredit } from "../protocol/messages.ts";
import { isByteCredit } from "../protocol/chunk_size.ts";
import type {
  AuthorizedMessage,
  AuthorizeMessage,
  HeldMessage,
  HopDoneMessage,
  HopFailedMessage,
  HopMessage,
  PeerLimits,
  ProgressMessage,
  RunErrorMessage,
  RunMessage,
} from "./peer_protocol.ts";
import { Unstarted } from "./peer_link_host.ts";
import { isInputsOf } from "./_stream_inputs.ts";

/** Whether a `run` message is well-formed. */
export function isRunMessage(message: RunMessage): boolean {
  return !(
    typeof message.id !== "number" || typeof message.fun !== "string" ||
    typeof message.step !== "string" || !Array.isArray(message.args) ||
    typeof message.timeout !== "number" ||
    (message.grants !== undefined && typeof message.grants !== "string") ||
    (message.kwargs !== undefined &&
      (typeof message.kwargs !== "object" || message.kwargs === null)) ||
    (message.locs !== undefined && !Array.isArray(message.locs)) ||
    (message.stream !== undefined && !isCredit(message.stream)) ||
    (message.streamBytes !== undefined &&
      (message.stream === undefined || !isByteCredit(message.streamBytes))) ||
    (message.progress !== undefined && message.progress !== true) ||
    (message.keep !== undefined && message.keep !== true) ||
    (message.held !== undefined && !isHeldOf(message)) ||
    !isInputsOf(message)
  );
}

/**
 * Whether a run's `held` is well-formed: at most 64 positions, each one
 * that exists, holds `null`, and is not taken twice; each with a member
 * name and a numeric reference.
 */
function isHeldOf(message: RunMessage): boolean {
  const held = message.held;
  if (!Array.isArray(held) || held.length === 0 || held.length > 64) return false;
  const seen = new Set<string>();
  for (const at of held) {
    if (typeof at !== "object" || at === null) return false;
    if (typeof at.from !== "string" || typeof at.ref !== "number") return false;
    let key: string;
    if ("arg" in at) {
      if (!Number.isInteger(at.arg) || message.args[at.arg] !== null) return false;
      key = `a${at.arg}`;
    } else if ("kwarg" in at && typeof at.kwarg === "string") {
      const kwargs = message.kwargs;
      if (kwargs === undefined || !Object.hasOwn(kwargs, at.kwarg) || kwargs[at.kwarg] !== null) {
        return false;
      }
      key = `k${at.kwarg}`;
    } else return false;
    if (seen.has(key)) return false;
    seen.add(key);
  }
  return true;
}

/** Whether a place for a value is well-formed and exists in `args`/`kwargs`. */
function isPlace(
  at: unknown,
  args: readonly unknown[],
  kwargs: Record<string, unknown> | undefined,
): boolean {
  if (typeof at !== "object" || at === null) return false;
  const place = at as Record<string, unknown>;
  if ("arg" in place) {
    return Number.isInteger(place.arg) && (place.arg as number) >= 0 &&
      (place.arg as number) < args.length;
  }
  return typeof place.kwarg === "string" && kwargs !== undefined &&
    Object.hasOwn(kwargs, place.kwarg);
}

/** Whether the step fields shared by a hop and the steps after it are well-formed. */
function isHopStepFields(step: Record<string, unknown>): boolean {
  return typeof step.step === "string" && typeof step.fun === "string" &&
    Array.isArray(step.args) &&
    (step.kwargs === undefined || (typeof step.kwargs === "object" && step.kwargs !== null &&
      !Array.isArray(step.kwargs))) &&
    (step.locs === undefined ||
      (Array.isArray(step.locs) && step.locs.every((l) => typeof l === "string")));
}

/** Whether a place list names at most 64 places, each existing in the step. */
function arePlaces(at: unknown, step: Record<string, unknown>): boolean {
  return Array.isArray(at) && at.length > 0 && at.length <= 64 &&
    at.every((place) =>
      isPlace(place, step.args as unknown[], step.kwargs as Record<string, unknown> | undefined)
    );
}

/** Whether a `hop` (a step of a relayed chain) is well-formed: at most 64 steps after it. */
export function isHopMessage(message: HopMessage): boolean {
  const hop = message as unknown as Record<string, unknown>;
  if (
    typeof message.request !== "string" || typeof message.coordinator !== "string" ||
    typeof message.principal !== "string" || typeof message.grants !== "string" ||
    typeof message.timeout !== "number" ||
    (message.trace !== undefined && typeof message.trace !== "string") ||
    !isHopStepFields(hop) || (message.at !== undefined && !arePlaces(message.at, hop))
  ) return false;
  const then = message.then;
  if (then === undefined) return true;
  return Array.isArray(then) && then.length > 0 && then.length <= 64 &&
    then.every((step) =>
      typeof step === "object" && step !== null && typeof step.node === "string" &&
      (step.urls === undefined ||
        (Array.isArray(step.urls) && step.urls.length <= 8 &&
          step.urls.every((url) => typeof url === "string"))) &&
      isHopStepFields(step as unknown as Record<string, unknown>) &&
      arePlaces(step.at, step as unknown as Record<string, unknown>)
    );
}

/** Whether a `hop-done` or `hop-failed` is well-formed. */
export function isHopAnswer(message: HopDoneMessage | HopFailedMessage): boolean {
  if (typeof message.request !== "string" || typeof message.step !== "string") return false;
  if (message.t === "hop-done") return true;
  return typeof message.started === "boolean" && typeof message.error === "object" &&
    message.error !== null;
}

/** Whether a `held` answer is well-formed. */
export function isHeldMessage(message: HeldMessage): boolean {
  return typeof message.id === "number" && typeof message.ref === "number" &&
    typeof message.size === "number";
}

/** Whether a `progress` message is well-formed. */
export function isProgressMessage(message: ProgressMessage): boolean {
  return typeof message.id === "number" && "value" in message;
}

/** Whether an `authorize` message (a grant check) is well-formed. */
export function isAuthorizeMessage(message: AuthorizeMessage): boolean {
  return !(
    typeof message.id !== "number" || typeof message.principal !== "string" ||
    !Array.isArray(message.steps) || !message.steps.every(isAuthorizeStep)
  );
}

/** Whether an `authorized` message (a grant check's answer) is well-formed. */
export function isAuthorizedMessage(message: AuthorizedMessage): boolean {
  return !(
    typeof message.grants !== "string" || !Array.isArray(message.verdicts) ||
    !message.verdicts.every((v) => v === null || (typeof v === "object" && v !== null))
  );
}

/** Whether `x` is a well-formed step of a grant check. */
function isAuthorizeStep(x: unknown): boolean {
  if (typeof x !== "object" || x === null) return false;
  const step = x as Record<string, unknown>;
  return typeof step.step === "string" && typeof step.fun === "string" &&
    (step.locs === undefined ||
      (Array.isArray(step.locs) && step.locs.every((l) => typeof l === "string")));
}

/** The error a run's `error` answer stands for: {@linkcode Unstarted} when it did not start. */
export function runError(message: RunErrorMessage): unknown {
  const error = RpcError.fromWire(message.error as WireError);
  return message.started ? error : new Unstarted(error);
}

/** `limits` less one level of depth: a small answer may share a batch frame, one level deeper. */
export function forAnswers(limits: PeerLimits): PeerLimits {
  return { ...peerLimitsOf(limits), maxDepth: limits.maxDepth - 1 };
}

/** The four limits a node announces in its handshake, and nothing else. */
export function peerLimitsOf(limits: PeerLimits): PeerLimits {
  const { maxFrameBytes, maxDepth, maxElements, maxStringBytes } = limits;
  return { maxFrameBytes, maxDepth, maxElements, maxStringBytes };
}

/** The limits a peer announced, when they are well-formed. */
export function readPeerLimits(x: unknown): PeerLimits | null {
  if (typeof x !== "object" || x === null) return null;
  const limits = x as Record<string, unknown>;
  const keys = ["maxFrameBytes", "maxDepth", "maxElements", "maxStringBytes"] as const;
  for (const key of keys) {
    const value = limits[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) return null;
  }
  return peerLimitsOf(limits as unknown as PeerLimits);
}
