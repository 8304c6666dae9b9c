// Copyright 2026 the mpreg authors. MIT license.
/**
 * The read-only view of a cluster: its members, what each offers, and
 * look-ups in the catalog.
 *
 * @module
 */
import { type FunctionRegistry, satisfies } from "../registry/registry.ts";

/** The state of a member as this node sees it. */
export type MemberState = "alive" | "suspect" | "dead" | "left";

/**
 * One member of the cluster, as plain data (the shape `GET /cluster` returns).
 *
 * @example
 * ```ts
 * import type { MemberInfo } from "@mpreg/mpreg";
 * const m: MemberInfo = {
 *   name: "n1", urls: ["ws://127.0.0.1:9001"], state: "alive", self: true,
 *   resources: ["gpu"], functions: { echo: [] }, lastHeard: Date.now(),
 * };
 * console.log(m.name);
 * ```
 */
export interface MemberInfo {
  /** The member's name. */
  name: string;
  /** The URLs it advertises. */
  urls: string[];
  /** Its state. */
  state: MemberState;
  /** Whether it is the node answering. */
  self: boolean;
  /** The node-level resources it offers. */
  resources: string[];
  /** Its functions, each with its own extra resources. */
  functions: Record<string, string[]>;
  /** When it was last heard from, in milliseconds since the epoch. */
  lastHeard: number;
}

/** What a {@linkcode Cluster} reads its data from. */
export interface ClusterSource {
  /** The local node's name. */
  readonly name: string;
  /** The local node's advertised URLs. */
  urls(): readonly string[];
  /** The local node's resources. */
  readonly resources: ReadonlySet<string>;
  /** The local function registry. */
  readonly registry: FunctionRegistry;
}

/**
 * A read-only view of the cluster as this node sees it.
 *
 * @example List what a node offers
 * ```ts
 * import { Server } from "@mpreg/mpreg";
 * const server = new Server({ name: "n1", port: 0, resources: ["gpu"] });
 * server.register("infer", (x: number) => x * 2, { resources: ["model-a"] });
 * console.log(server.cluster.functions()); // { echo: [ "n1" ], echos: [ "n1" ], infer: [ "n1" ] }
 * console.log(server.cluster.lookup("infer", ["gpu", "model-a"]).map((m) => m.name)); // [ "n1" ]
 * ```
 */
export class Cluster {
  #source: ClusterSource;

  /**
   * Creates a view over a source.
   *
   * @param source Where the view reads from.
   */
  constructor(source: ClusterSource) {
    this.#source = source;
  }

  /** The local member. */
  get self(): MemberInfo {
    const s = this.#source;
    const functions: Record<string, string[]> = {};
    for (const entry of s.registry.entries()) functions[entry.name] = [...entry.resources];
    return {
      name: s.name,
      urls: [...s.urls()],
      state: "alive",
      self: true,
      resources: [...s.resources],
      functions,
      lastHeard: Date.now(),
    };
  }

  /**
   * Every member known, the local one first.
   *
   * @returns The members.
   */
  members(): MemberInfo[] {
    return [this.self];
  }

  /**
   * Every function offered in the cluster, with the members offering it.
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
   * The live members that offer `fun` with every resource in `locs`.
   *
   * @param fun The function name.
   * @param locs The required resources.
   * @returns The candidates.
   */
  lookup(fun: string, locs: readonly string[] = []): MemberInfo[] {
    return this.members().filter((member) => {
      const own = member.functions[fun];
      if (member.state !== "alive" || own === undefined) return false;
      return satisfies(new Set([...member.resources, ...own]), locs);
    });
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
