// Copyright 2026 the mpreg authors. MIT license.
/**
 * Routing tables of a cluster node: the candidates for each function and
 * resources, whether one of them agrees without being asked, and the
 * permission kinds other members declare. Cached, and cleared on every
 * membership, catalog or link change. Private to the cluster layer.
 *
 * @module
 */
import { candidatesFor } from "../registry/router.ts";
import type { Membership, MemberView } from "./membership.ts";
import type { PeerLink } from "./peer_link.ts";

/** The candidates for a function and resources, and whether one agrees unasked. */
export interface Route {
  candidates: MemberView[];
  /** Computed on first use: see {@linkcode Routes.agreesUnasked}. */
  unasked: boolean | undefined;
}

/** The cached routes of a {@linkcode ClusterNode}. */
export class Routes {
  readonly #membership: Membership;
  readonly #links: ReadonlyMap<string, PeerLink>;
  /** The digest of this node's grants (fixed for the life of the process). */
  readonly #grants: string;
  /**
   * Candidates by function and resources, and whether one of them agrees
   * without being asked; cleared on every membership, catalog or link change.
   */
  readonly #cache = new Map<string, Route>();
  /** Permission kinds other members declare, by function; cleared with the routes. */
  readonly #declared = new Map<string, readonly string[]>();

  /**
   * @param membership The node's membership.
   * @param links The node's ready links by member name.
   * @param grants The digest of this node's grants.
   */
  constructor(membership: Membership, links: ReadonlyMap<string, PeerLink>, grants: string) {
    this.#membership = membership;
    this.#links = links;
    this.#grants = grants;
  }

  /**
   * The permission kinds other live members declare for `fun`.
   *
   * @param fun The function.
   * @returns The union of their declarations.
   */
  declaredElsewhere(fun: string): readonly string[] {
    let declared = this.#declared.get(fun);
    if (declared === undefined) {
      const kinds = new Set<string>();
      for (const member of this.#membership.members()) {
        if (member.self || member.state === "dead" || member.state === "left") continue;
        for (const kind of member.permissions?.[fun] ?? []) kinds.add(kind);
      }
      declared = [...kinds];
      this.#declared.set(fun, declared);
    }
    return declared;
  }

  /**
   * Whether a step of `fun` with `locs` has a candidate that agrees without
   * being asked: this node, or a member whose open link presented this
   * node's grants. Cached with the route.
   */
  agreesUnasked(fun: string, locs: readonly string[]): boolean {
    const route = this.route(fun, locs);
    if (route.unasked === undefined) {
      route.unasked = route.candidates.some((member) =>
        member.self || this.#links.get(member.name)?.record?.grants === this.#grants
      );
    }
    return route.unasked;
  }

  /** The candidates for `fun` with `locs`: live members, else suspect ones; cached. */
  route(fun: string, locs: readonly string[]): Route {
    const key = locs.length === 0 ? fun : `${fun}\u0000${locs.join("\u0000")}`;
    let route = this.#cache.get(key);
    if (route === undefined) {
      const members = this.#membership.members();
      let candidates = candidatesFor(members, fun, locs, "alive");
      if (candidates.length === 0) candidates = candidatesFor(members, fun, locs, "suspect");
      this.#cache.set(key, route = { candidates, unasked: undefined });
    }
    return route;
  }

  /** Forgets every route: on every membership, catalog or link change. */
  invalidate(): void {
    this.#cache.clear();
    this.#declared.clear();
  }
}
