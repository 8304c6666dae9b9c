// Copyright 2026 the mpreg authors. MIT license.
/**
 * The read-only view of a cluster: its members, what each offers, catalog
 * look-ups, and membership events.
 *
 * @module
 */
import type { FunctionDescription } from "../protocol/function_description.ts";
import { candidatesFor } from "../registry/router.ts";

import type { MemberState } from "./membership.ts";

export type { MemberState } from "./membership.ts";

/**
 * One member of the cluster, as plain data (the shape `GET /cluster` returns).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type MemberInfo, Server } from "@mpreg/mpreg";
 * await using server = await new Server({ name: "n1", port: 0, resources: ["gpu"] }).start();
 * const self: MemberInfo = server.cluster.self;
 * assert.equal(self.name, "n1");
 * assert.equal(self.state, "alive");
 * assert.ok(self.self);
 * assert.deepEqual(self.urls, [server.url]);
 * assert.deepEqual(self.resources, ["gpu"]);
 * ```
 */
export interface MemberInfo {
  /** The member's name. */
  name: string;
  /** The URLs it advertises. */
  urls: string[];
  /** Its state: `alive`, `suspect` (missed probes), `dead`, or `left` (stopped gracefully). */
  state: MemberState;
  /** Whether it is the node answering. */
  self: boolean;
  /** The node-level resources it offers. */
  resources: string[];
  /** Its functions, each with its own extra resources. */
  functions: Record<string, string[]>;
  /** The permission kinds its functions declare (functions declaring none are left out). */
  permissions?: Record<string, string[]>;
  /** Its functions registered idempotent, which may be re-sent (left out when none). */
  idempotent?: string[];
  /**
   * Per function, its description: parameter names, the JSON Schemas of
   * its arguments, `kwargs` and result, its doc (left out when none). See
   * `FunctionDescription` for the shape and its bounds.
   */
  described?: Record<string, FunctionDescription>;
  /**
   * A digest of its grants (principals and anonymous grant); members with
   * equal digests decide alike who may call what.
   */
  grants?: string;
  /** When this node last heard from it, in milliseconds since the epoch. */
  lastHeard: number;
  /** Its incarnation: bumped when it refutes a suspicion or leaves. */
  incarnation: number;
  /** Bumped on every change of its functions, resources or URLs. */
  catalogVersion: number;
}

/**
 * The kinds of membership events.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ClusterEventDetail, type ClusterEventType, Server } from "@mpreg/mpreg";
 * await using a = await new Server({ name: "a", port: 0 }).start();
 * const type: ClusterEventType = "joined";
 * const joined = new Promise<ClusterEventDetail>((resolve) => {
 *   a.cluster.addEventListener(type, (event) => {
 *     resolve((event as CustomEvent<ClusterEventDetail>).detail);
 *   }, { once: true });
 * });
 * await using _b = await new Server({ name: "b", port: 0, peers: [a.url] }).start();
 * assert.equal((await joined).member.name, "b");
 * ```
 */
export type ClusterEventType = "joined" | "alive" | "suspect" | "dead" | "left" | "catalog";

/**
 * What a membership event carries: its type and the member as it is now.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ClusterEventDetail, Server } from "@mpreg/mpreg";
 * await using a = await new Server({ name: "a", port: 0 }).start();
 * const stop = new AbortController();
 * const events = a.cluster.events({ signal: stop.signal });
 * await using _b = await new Server({ name: "b", port: 0, peers: [a.url] }).start();
 * let joined: ClusterEventDetail | undefined;
 * for await (const detail of events) {
 *   if (detail.type === "joined") joined = detail;
 *   if (joined) stop.abort();
 * }
 * assert.deepEqual([joined?.member.name, joined?.member.state], ["b", "alive"]);
 * ```
 */
export interface ClusterEventDetail {
  /** `joined`, `alive` (recovered), `suspect`, `dead`, `left` or `catalog` (its offer changed). */
  type: ClusterEventType;
  /** The member. */
  member: MemberInfo;
}

/** What a {@linkcode Cluster} reads its data from. */
export interface ClusterSource {
  /** The name of the node answering. */
  readonly name: string;
  /** Every member known, this node first. */
  members(): MemberInfo[];
}

/**
 * A read-only view of the cluster as this node sees it. It is an
 * `EventTarget`: listen for `joined`, `alive`, `suspect`, `dead`, `left` and
 * `catalog` (each a `CustomEvent` whose `detail` is a
 * {@linkcode ClusterEventDetail}), or iterate {@linkcode Cluster.events}.
 *
 * @example List what a node offers
 * ```ts
 * import assert from "node:assert/strict";
 * import { Server } from "@mpreg/mpreg";
 * const server = new Server({ name: "n1", port: 0, resources: ["gpu"] });
 * server.register("infer", (x: number) => x * 2, { resources: ["model-a"] });
 * assert.deepEqual(server.cluster.functions(), { echo: ["n1"], echos: ["n1"], infer: ["n1"] });
 * assert.deepEqual(server.cluster.lookup("infer", ["gpu", "model-a"]).map((m) => m.name), ["n1"]);
 * assert.deepEqual(server.cluster.lookup("infer", ["tpu"]), []);
 * ```
 */
export class Cluster extends EventTarget {
  #source: ClusterSource;

  /**
   * Creates a view over a source.
   *
   * @param source Where the view reads from.
   */
  constructor(source: ClusterSource) {
    super();
    this.#source = source;
  }

  /** The local member. */
  get self(): MemberInfo {
    return this.#source.members()[0]!;
  }

  /**
   * Every member known, the local one first, including suspect members and
   * the tombstones of dead and departed ones until they expire.
   *
   * @returns The members.
   */
  members(): MemberInfo[] {
    return this.#source.members();
  }

  /**
   * A member by name.
   *
   * @param name The member's name.
   * @returns The member, or `undefined`.
   */
  member(name: string): MemberInfo | undefined {
    return this.members().find((m) => m.name === name);
  }

  /**
   * Every function offered by a live member, with the members offering it.
   *
   * @returns Function name → member names.
   */
  functions(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const member of this.members()) {
      if (member.state !== "alive") continue;
      for (const fun of Object.keys(member.functions)) (out[fun] ??= []).push(member.name);
    }
    return out;
  }

  /**
   * The live members that offer `fun` with every resource in `locs`: the
   * candidates a step would be routed to.
   *
   * @param fun The function name.
   * @param locs The required resources.
   * @returns The candidates.
   */
  lookup(fun: string, locs: readonly string[] = []): MemberInfo[] {
    return candidatesFor(this.members(), fun, locs);
  }

  /**
   * Membership events as an async iterator, until `signal` aborts.
   *
   * @param options `signal` ends the iteration.
   * @returns The events, as they happen.
   *
   * @example Wait for a member to join
   * ```ts
   * import assert from "node:assert/strict";
   * import { Server } from "@mpreg/mpreg";
   * await using a = await new Server({ name: "a", port: 0 }).start();
   * const stop = new AbortController();
   * const seen: string[] = [];
   * const done = (async () => {
   *   for await (const { type, member } of a.cluster.events({ signal: stop.signal })) {
   *     seen.push(`${type} ${member.name}`);
   *     if (type === "joined") stop.abort();
   *   }
   * })();
   * await using _b = await new Server({ name: "b", port: 0, peers: [a.url] }).start();
   * await done;
   * assert.ok(seen.includes("joined b"));
   * ```
   */
  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<ClusterEventDetail> {
    const { signal } = options;
    let listener: ((event: Event) => void) | null = null;
    const types: ClusterEventType[] = ["joined", "alive", "suspect", "dead", "left", "catalog"];
    const stop = () => {
      if (listener) { for (const type of types) this.removeEventListener(type, listener); }
      listener = null;
    };
    const stream = new ReadableStream<ClusterEventDetail>({
      start: (controller) => {
        listener = (event) => controller.enqueue((event as CustomEvent<ClusterEventDetail>).detail);
        for (const type of types) this.addEventListener(type, listener);
        signal?.addEventListener("abort", () => {
          stop();
          controller.close();
        }, { once: true });
      },
      cancel: stop,
    });
    return stream.values();
  }

  /**
   * Dispatches a membership event to listeners.
   *
   * @param detail The event.
   */
  emit(detail: ClusterEventDetail): void {
    this.dispatchEvent(new CustomEvent(detail.type, { detail }));
  }

  /**
   * The view as plain data, as `GET /cluster` returns it.
   *
   * @returns `{ self, members, functions }`.
   */
  toJSON(): { self: string; members: MemberInfo[]; functions: Record<string, string[]> } {
    return { self: this.#source.name, members: this.members(), functions: this.functions() };
  }
}
