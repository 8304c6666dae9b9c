// Copyright 2026 the mpreg authors. MIT license.
/**
 * The runner's side of forwarded steps: steps and grant checks that peers
 * send to this node, answered over their link, and cancelled with it.
 * Private to the cluster layer.
 *
 * @module
 */
import { IdTable } from "../_util/id_table.ts";
import {
  CancelledError,
  ConnectionError,
  PermissionDeniedError,
  RpcError,
  toRpcError,
  UnavailableError,
  type WireError,
} from "../protocol/errors.ts";
import { publicError } from "../protocol/public_error.ts";
import type { LocalRunner } from "./cluster_node_types.ts";
import type { PeerLink } from "./peer_link.ts";
import type {
  AuthorizeMessage,
  FetchMessage,
  InputEndMessage,
  InputErrorMessage,
  InputMessage,
  RunMessage,
} from "./peer_protocol.ts";
import { InputSource } from "./_stream_inputs.ts";
import { HeldStore } from "./_held_store.ts";
import { atLeastBytes, HANDOFF_MIN_BYTES, splitHeld } from "./held_value.ts";
import { isRefusedUnstarted } from "./refused.ts";
import { logStepEnded } from "./_step_log.ts";
import { noRoute } from "./_step_errors.ts";
import { isStreamSource, type StreamSource } from "../registry/stream_source.ts";
import { ProtocolError } from "../protocol/errors.ts";

/** Runs and grant checks that peers send to a {@linkcode ClusterNode}. */
export class RunsForPeers {
  readonly #node: { readonly name: string };
  readonly #local: LocalRunner;
  /** The digest of this node's grants. */
  readonly #grants: string;
  /** The runs in flight for each link, to cancel them with it. */
  readonly #incoming = new Map<PeerLink, IdTable<AbortController>>();
  /** The streamed runs in flight for each link, to pass their credit on. */
  readonly #streams = new Map<PeerLink, IdTable<StreamSource>>();
  /** The input streams of the runs in flight for each link. */
  readonly #inputs = new Map<PeerLink, IdTable<InputSource[]>>();
  /** The ready link to a member, for fetching the values it holds. */
  readonly #linkTo: (name: string) => Promise<PeerLink>;
  /** The values this node holds for direct handoff. */
  readonly #held = new HeldStore<PeerLink>();

  /**
   * @param node The node (for its name).
   * @param local Runs the steps.
   * @param grants The digest of this node's grants.
   * @param linkTo The ready link to a member, dialed if need be (to fetch held values).
   */
  constructor(
    node: { readonly name: string },
    local: LocalRunner,
    grants: string,
    linkTo: (name: string) => Promise<PeerLink> = (name) =>
      Promise.reject(new Error(`no link to ${name}`)),
  ) {
    this.#node = node;
    this.#local = local;
    this.#grants = grants;
    this.#linkTo = linkTo;
  }

  /** How many values this node holds for direct handoff. */
  get held(): number {
    return this.#held.size;
  }

  /** This node's name. */
  get name(): string {
    return this.#node.name;
  }

  /**
   * Runs a step a peer sent, or refuses it unstarted.
   *
   * @param link The link it came on.
   * @param message The step.
   */
  run(link: PeerLink, message: RunMessage): void {
    const local = this.#local;
    // An internal failure's text stays in this node's log, under an id.
    const wire = (error: RpcError) =>
      publicError(error, this.name, {
        requestId: message.request === undefined ? undefined : String(message.request),
        step: message.step,
        fun: message.fun,
      }).toWire();
    const refuse = (error: RpcError): void => {
      link.answer({ t: "error", id: message.id, error: wire(error), started: false });
    };
    if (!local.accepting()) {
      return refuse(new UnavailableError(`Node "${this.name}" is shutting down`));
    }
    // The digest the coordinator relied on: stated, or its own from this
    // link's handshake.
    if ((message.grants ?? link.record?.grants) !== this.#grants) {
      return refuse(
        new PermissionDeniedError(
          `Step "${message.step}": node "${this.name}" refused "${message.fun}" unstarted: ` +
            "the request was authorized against other grants than this node holds",
          {
            details: {
              step: message.step,
              fun: message.fun,
              principal: message.principal ?? "anonymous",
              node: this.name,
              missing: "agreement",
            },
          },
        ),
      );
    }
    const locs = message.locs ?? [];
    if (!local.offers(message.fun, locs)) {
      return refuse(
        noRoute({ name: message.step, fun: message.fun, locs }, this.name),
      );
    }
    const denied = local.authorize(message);
    if (denied !== null) return refuse(denied);
    const controller = new AbortController();
    let runs = this.#incoming.get(link);
    if (runs === undefined) this.#incoming.set(link, runs = new IdTable());
    runs.set(message.id, controller);
    if (message.ins !== undefined) message = this.#withInputs(link, message);
    // The node counts the step as in flight until its answer is on the wire,
    // so a drain never closes the link under an answer.
    const answer = (reply: Parameters<PeerLink["answer"]>[0]) => {
      if (message.ins !== undefined) this.#inputs.get(link)?.delete(message.id);
      if (runs.delete(message.id)) link.answer(reply);
      local.answered();
    };
    const fail = (err: unknown) => {
      const error = toRpcError(err);
      const started = !isRefusedUnstarted(err);
      const sent = wire(error);
      // A step that failed here is in this node's log once, under the
      // request's id on the node it entered; a cancel is not a failure.
      logStepEnded(error, started, {
        requestId: message.request,
        origin: link.record?.name,
        node: this.name,
        principal: message.principal ?? "anonymous",
        step: message.step,
        fun: message.fun,
        code: sent.code,
        error: sent.message,
      });
      answer({ t: "error", id: message.id, error: sent, started });
    };
    if (message.held !== undefined) {
      // Direct handoff: the values held elsewhere first, then the call.
      this.#fetchPositions(link, message, controller.signal).then(
        (fetched) => this.#call(link, fetched, controller, runs, answer, fail),
        fail,
      );
      return;
    }
    this.#call(link, message, controller, runs, answer, fail);
  }

  /** Calls the function of a run whose arguments are all here, and answers it. */
  #call(
    link: PeerLink,
    message: RunMessage,
    controller: AbortController,
    runs: IdTable<AbortController>,
    answer: (reply: Parameters<PeerLink["answer"]>[0]) => void,
    fail: (err: unknown) => void,
  ): void {
    const local = this.#local;
    let value: unknown;
    try {
      value = local.run(
        message,
        controller.signal,
        message.progress === true
          ? (v) => {
            // Only while the run is in flight: its answer ends it.
            if (runs.get(message.id) === controller) link.progress(message.id, v);
          }
          : undefined,
      );
    } catch (err) {
      return fail(err);
    }
    const result = message.keep === true
      ? (v: unknown) => {
        // Direct handoff: a large value only other steps take stays here.
        const size = atLeastBytes(v, HANDOFF_MIN_BYTES);
        if (size < 0) return answer({ t: "result", id: message.id, value: v });
        const ref = this.#held.hold(v, link, message.timeout);
        answer({ t: "held", id: message.id, ref, size });
      }
      : (v: unknown) => answer({ t: "result", id: message.id, value: v });
    // A run that may stream answers a plain value as a result.
    const deliver = message.stream === undefined
      ? result
      : (v: unknown) =>
        message.may === true && !isStreamSource(v)
          ? result(v)
          : this.#stream(link, message, v, controller, answer, fail);
    if (value instanceof Promise) value.then(deliver, fail);
    else deliver(value);
  }

  /** A run's message with the values held elsewhere fetched into their places. */
  async #fetchPositions(
    link: PeerLink,
    message: RunMessage,
    signal: AbortSignal,
  ): Promise<RunMessage> {
    const args = [...message.args];
    const kwargs = { ...message.kwargs };
    await Promise.all(message.held!.map(async (at) => {
      const value = await this.#fetchOne(at.from, at.ref, message.step, signal, link);
      if ("arg" in at) args[at.arg] = value;
      else kwargs[at.kwarg] = value;
    }));
    return { ...message, args, kwargs };
  }

  /**
   * One value held on member `from` (this node included) under `ref`; when
   * this node cannot link to `from` (it does not know it yet, or cannot
   * reach it), through `via`, the coordinator's link, when given.
   */
  async #fetchOne(
    from: string,
    ref: number,
    step: string,
    signal: AbortSignal,
    via?: PeerLink,
  ): Promise<unknown> {
    if (from === this.name) {
      const held = this.#held.get(ref);
      if (held !== null) return held.value;
      throw this.#lost(step, from, "it holds it no more (its request ended or timed out)");
    }
    try {
      let link: PeerLink;
      let relay = false;
      try {
        link = await this.#linkTo(from);
      } catch (err) {
        if (via === undefined) throw err;
        link = via;
        relay = true;
      }
      if (signal.aborted) throw signal.reason;
      return await link.fetch(ref, signal, relay ? from : undefined);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw this.#lost(step, from, (err as Error).message);
    }
  }

  /** The error of a step whose held argument could not be fetched (1013: nothing ran). */
  #lost(step: string, from: string, why: string): ConnectionError {
    return new ConnectionError(
      `Step "${step}": the value of an earlier step held on node "${from}" could not be ` +
        `fetched: ${why}`,
      { details: { step, node: from, held: true } },
    );
  }

  /**
   * Fetches the values held elsewhere among a step's arguments, for a step
   * this node runs itself.
   *
   * @param args The positional arguments.
   * @param kwargs The keyword arguments.
   * @param signal Aborting it stops the fetches.
   * @returns The arguments with the values in their places.
   */
  async fetchHeld(
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<{ args: unknown[]; kwargs: Record<string, unknown> }> {
    const split = splitHeld(args, kwargs);
    if (split === null) return { args: [...args], kwargs };
    await Promise.all(split.held.map(async (at) => {
      const value = await this.#fetchOne(at.from, at.ref, "", signal);
      if ("arg" in at) split.args[at.arg] = value;
      else split.kwargs[at.kwarg] = value;
    }));
    return { args: split.args, kwargs: split.kwargs };
  }

  /**
   * Answers a peer's fetch of a value this node holds.
   *
   * @param link The link it came on.
   * @param message The fetch.
   */
  fetch(link: PeerLink, message: FetchMessage): void {
    const from = message.from;
    if (from !== undefined && from !== this.name) {
      // A relay for a member that cannot reach the holder: fetched over
      // this node's own link to it, never relayed again.
      this.#fetchOne(from, message.ref, "", new AbortController().signal).then(
        (value) => link.answer({ t: "result", id: message.id, value }),
        (err) => {
          const error = toRpcError(err).toWire();
          link.answer({ t: "error", id: message.id, error, started: true });
        },
      );
      return;
    }
    const held = this.#held.get(message.ref);
    if (held !== null) return link.answer({ t: "result", id: message.id, value: held.value });
    const error = this.#lost("", this.name, "it holds it no more (its request ended or timed out)");
    link.answer({ t: "error", id: message.id, error: error.toWire(), started: true });
  }

  /**
   * Lets go a value this node holds for the coordinator on `link`.
   *
   * @param link The link the drop came on.
   * @param ref The value's reference.
   */
  drop(link: PeerLink, ref: number): void {
    this.#held.drop(ref, link);
  }

  /**
   * The run with its input streams in their places: each read under the
   * credit this node grants (`in-credit`), cancelled with `in-cancel`.
   */
  #withInputs(link: PeerLink, message: RunMessage): RunMessage {
    const id = message.id;
    const args = [...message.args];
    const kwargs = { ...message.kwargs };
    const sources = message.ins!.map(({ i }) =>
      new InputSource(
        (n) => link.send({ t: "in-credit", id, i, n }),
        () => link.send({ t: "in-cancel", id, i }),
      )
    );
    for (const at of message.ins!) {
      if ("arg" in at) args[at.arg] = sources[at.i];
      else kwargs[at.kwarg] = sources[at.i];
    }
    let inputs = this.#inputs.get(link);
    if (inputs === undefined) this.#inputs.set(link, inputs = new IdTable());
    inputs.set(id, sources);
    return { ...message, args, kwargs };
  }

  /**
   * A chunk, the end or the failure of an input stream of a run a peer sent.
   *
   * @param link The link it came on.
   * @param message The message.
   * @returns False when a chunk came past the credit this node granted.
   */
  input(link: PeerLink, message: InputMessage | InputEndMessage | InputErrorMessage): boolean {
    const source = this.#inputs.get(link)?.get(message.id)?.[message.i];
    if (source === undefined) return true;
    if (message.t === "in") return source.push(message.value);
    if (message.t === "in-end") source.finish(null);
    else source.finish(RpcError.fromWire(message.error as WireError));
    return true;
  }

  /** Sends a streamed run's chunks under the coordinator's credit, then its end. */
  #stream(
    link: PeerLink,
    message: RunMessage,
    value: unknown,
    controller: AbortController,
    answer: (reply: Parameters<PeerLink["answer"]>[0]) => void,
    fail: (err: unknown) => void,
  ): void {
    if (!isStreamSource(value)) return fail(new ProtocolError("The step did not stream"));
    const id = message.id;
    let streams = this.#streams.get(link);
    if (streams === undefined) this.#streams.set(link, streams = new IdTable());
    streams.set(id, value);
    value.start(
      {
        chunk: (chunk) => {
          // A chunk over the coordinator's limits went as the run's error.
          if (!link.chunk(id, chunk)) controller.abort(new CancelledError("Chunk refused"));
        },
        end: () => {
          streams.delete(id);
          answer({ t: "end", id });
        },
        error: (err) => {
          streams.delete(id);
          fail(err);
        },
      },
      message.stream!,
      message.streamBytes,
    );
  }

  /**
   * Passes a coordinator's credit on to the stream of a run it sent.
   *
   * @param link The link it came on.
   * @param id The run's id on that link.
   * @param n How many more chunks.
   * @param bytes How many more bytes.
   */
  creditRun(link: PeerLink, id: number, n: number, bytes?: number): void {
    const stream = this.#streams.get(link)?.get(id);
    if (bytes === undefined) stream?.credit(n);
    else stream?.credit(n, bytes);
  }

  /**
   * Answers a peer's grant check.
   *
   * @param link The link it came on.
   * @param message The check.
   */
  authorize(link: PeerLink, message: AuthorizeMessage): void {
    const local = this.#local;
    const verdicts = message.steps.map((step) => {
      const locs = step.locs ?? [];
      if (!local.accepting()) {
        return new UnavailableError(`Node "${this.name}" is shutting down`).toWire();
      }
      if (!local.offers(step.fun, locs)) {
        return noRoute({ name: step.step, fun: step.fun, locs }, this.name).toWire();
      }
      const denied = local.authorize({
        step: step.step,
        fun: step.fun,
        principal: message.principal,
      });
      return denied === null ? null : denied.toWire();
    });
    link.send({ t: "authorized", id: message.id, grants: this.#grants, verdicts });
  }

  /**
   * Cancels a run a peer sent.
   *
   * @param link The link it came on.
   * @param id The run's id on that link.
   */
  cancelRun(link: PeerLink, id: number): void {
    this.#incoming.get(link)?.get(id)?.abort(
      new CancelledError("Cancelled by the coordinating node"),
    );
  }

  /**
   * Cancels the runs a closed link carried.
   *
   * @param link The link.
   */
  linkClosed(link: PeerLink): void {
    this.#held.linkClosed(link);
    const incoming = this.#incoming.get(link);
    this.#streams.delete(link);
    const inputs = this.#inputs.get(link);
    if (inputs !== undefined) {
      this.#inputs.delete(link);
      const lost = new ConnectionError(
        `Lost the link to node "${link.peer ?? link.address}" that fed a stream`,
        { details: { node: link.peer, address: link.address } },
      );
      for (const sources of inputs.values()) for (const source of sources) source.finish(lost);
    }
    if (incoming) {
      this.#incoming.delete(link);
      for (const controller of incoming.values()) {
        controller.abort(new CancelledError("The coordinating node's link closed"));
      }
    }
  }
}
