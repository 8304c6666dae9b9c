// Copyright 2026 the mpreg authors. MIT license.
/**
 * Callers and what they may do: tokens (stored hashed) map to principals,
 * principals hold grants, and every request is checked against its
 * principal's grant before any step runs.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "../_util/canonical_json.ts";
import { PermissionDeniedError } from "../protocol/errors.ts";
import type { PermissionKind } from "../sandbox/permissions.ts";
import { GlobList } from "./glob.ts";

/**
 * What a principal may do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type Grant, PermissionDeniedError, Server } from "@mpreg/mpreg";
 * const ops: Grant = { allow: ["*"], deny: ["admin_*"], permissions: [] };
 * await using server = await new Server({ port: 0, auth: { anonymous: ops } })
 *   .register("status", () => "up")
 *   .register("admin_reset", () => "reset")
 *   .start();
 * await using client = new Client(server.url);
 * assert.equal(await client.call("status"), "up");
 * await assert.rejects(client.call("admin_reset"), PermissionDeniedError);
 * ```
 */
export interface Grant {
  /**
   * Function-name globs it may call.
   *
   * @default {["*"]}
   */
  allow: string[];
  /**
   * Function-name globs it may not call; deny wins over allow.
   *
   * @default {[]}
   */
  deny: string[];
  /**
   * The permission kinds its requests may exercise: a step may call a
   * function only if every kind the function declares is here.
   *
   * @default {[]}
   */
  permissions: PermissionKind[];
}

/**
 * A token, by the SHA-256 of its text (hex), and whose it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashToken, type TokenEntry } from "@mpreg/mpreg";
 * const entry: TokenEntry = { sha256: await hashToken("s3cret"), principal: "alice" };
 * assert.match(entry.sha256, /^[0-9a-f]{64}$/);
 * ```
 */
export interface TokenEntry {
  /** Lower-case hex SHA-256 of the token (see {@linkcode hashToken}). */
  sha256: string;
  /** The principal the token authenticates. */
  principal: string;
}

/**
 * Authentication and authorization settings of a node.
 *
 * @example Tokens, principals and a closed door for anonymous callers
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type AuthOptions,
 *   Client,
 *   hashToken,
 *   Server,
 *   UnauthenticatedError,
 * } from "@mpreg/mpreg";
 * const auth: AuthOptions = {
 *   tokens: [{ sha256: await hashToken("ops-token"), principal: "ops" }],
 *   principals: { ops: { allow: ["*"], deny: ["drop_*"] } },
 *   anonymous: false,
 * };
 * await using server = await new Server({ port: 0, auth }).register("ping", () => "pong").start();
 * await using ops = new Client(server.url, { token: "ops-token" });
 * assert.equal(await ops.call("ping"), "pong");
 * await using stranger = new Client(server.url);
 * await assert.rejects(stranger.call("ping"), UnauthenticatedError);
 * ```
 */
export interface AuthOptions {
  /**
   * Accepted tokens, stored hashed.
   *
   * @default {[]}
   */
  tokens?: TokenEntry[];
  /**
   * Principals by name; missing grant fields take the {@linkcode Grant} defaults.
   *
   * @default {{}}
   */
  principals?: Record<string, Partial<Grant>>;
  /**
   * The grant of callers without a token, or `false` to refuse them (1010).
   *
   * @default {{ allow: ["*"], deny: [], permissions: [] }}
   */
  anonymous?: Partial<Grant> | false;
  /**
   * Most requests in flight per principal on this node; more get 1011.
   *
   * @default {4096}
   */
  maxInFlightPerPrincipal?: number;
}

/** The name of the principal of callers without a token. */
export const ANONYMOUS = "anonymous";

/**
 * Who is calling: a principal's name and its compiled grant.
 *
 * @example
 * ```ts
 * import { Authenticator } from "./authenticator.ts";
 * const auth = new Authenticator({});
 * const who = await auth.authenticate(null);
 * console.log("name" in who ? [who.name, who.authenticated] : who.error); // [ "anonymous", false ]
 * ```
 */
export class Principal {
  /** The principal's name (`anonymous` for callers without a token). */
  readonly name: string;
  /** Whether a token authenticated it. */
  readonly authenticated: boolean;
  /** The grant as configured. */
  readonly grant: Readonly<Grant>;
  readonly #allow: GlobList;
  readonly #deny: GlobList;
  readonly #kinds: ReadonlySet<string>;
  readonly #decisions = new Map<string, boolean>();

  /**
   * Compiles a grant.
   *
   * @param name The principal's name.
   * @param grant Its grant; missing fields take the defaults.
   * @param authenticated Whether a token authenticated it.
   */
  constructor(name: string, grant: Partial<Grant>, authenticated: boolean) {
    this.name = name;
    this.authenticated = authenticated;
    this.grant = Object.freeze({
      allow: [...(grant.allow ?? ["*"])],
      deny: [...(grant.deny ?? [])],
      permissions: [...(grant.permissions ?? [])],
    });
    this.#allow = new GlobList(this.grant.allow);
    this.#deny = new GlobList(this.grant.deny);
    this.#kinds = new Set(this.grant.permissions);
  }

  /**
   * Whether it may call `fun` at all (allowed by a glob, denied by none).
   *
   * @param fun The function.
   * @returns True when allowed.
   */
  mayCall(fun: string): boolean {
    let allowed = this.#decisions.get(fun);
    if (allowed === undefined) {
      allowed = this.#allow.matches(fun) && !this.#deny.matches(fun);
      // Function names are few; the cap only bounds a caller inventing names.
      if (this.#decisions.size >= 4096) this.#decisions.clear();
      this.#decisions.set(fun, allowed);
    }
    return allowed;
  }

  /**
   * The kinds in `declared` its grant lacks.
   *
   * @param declared The permission kinds a function declares.
   * @returns The missing kinds, empty when none.
   */
  missing(declared: Iterable<string>): string[] {
    const out: string[] = [];
    for (const kind of declared) if (!this.#kinds.has(kind)) out.push(kind);
    return out;
  }

  /**
   * Checks one step: throws when the principal may not run it.
   *
   * @param step The step's name, for the error.
   * @param fun The function.
   * @param declared The permission kinds the function declares.
   * @throws {PermissionDeniedError} naming the step and the missing grant.
   */
  authorize(step: string, fun: string, declared: Iterable<string>): void {
    if (!this.mayCall(fun)) {
      throw new PermissionDeniedError(
        `Step "${step}": principal "${this.name}" may not call "${fun}"`,
        { details: { step, fun, principal: this.name, missing: "call" } },
      );
    }
    // The usual case, nothing missing, allocates nothing.
    for (const kind of declared) {
      if (!this.#kinds.has(kind)) return this.#refuse(step, fun, this.missing(declared));
    }
  }

  #refuse(step: string, fun: string, missing: string[]): never {
    const list = missing.map((k) => `"${k}"`).join(", ");
    throw new PermissionDeniedError(
      `Step "${step}": "${fun}" needs the ${list} permission${
        missing.length > 1 ? "s" : ""
      }, which principal "${this.name}" is not granted`,
      { details: { step, fun, principal: this.name, missing } },
    );
  }
}

/**
 * The SHA-256 of a token, as lower-case hex: what the config stores.
 *
 * @param token The token.
 * @returns Its hash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashToken } from "@mpreg/mpreg";
 * assert.equal(
 *   await hashToken("test"),
 *   "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
 * );
 * ```
 */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The result of presenting credentials: a principal, or why not. */
export type AuthResult = Principal | { error: string };

/**
 * Maps tokens to principals and principals to grants.
 *
 * @example
 * ```ts
 * import { hashToken } from "@mpreg/mpreg";
 * import { Authenticator } from "./authenticator.ts";
 * const auth = new Authenticator({
 *   tokens: [{ sha256: await hashToken("t0ken"), principal: "ops" }],
 *   principals: { ops: { permissions: ["net"] } },
 * });
 * const ops = await auth.authenticate("t0ken");
 * console.log("name" in ops ? ops.name : ops.error); // ops
 * ```
 */
export class Authenticator {
  /** Most requests in flight per principal on this node. */
  readonly maxInFlightPerPrincipal: number;
  /**
   * A digest of the grants (every principal's and the anonymous one, with
   * defaults applied and lists sorted; tokens and limits left out): two
   * nodes whose digests are equal decide alike who may call what. 32 hex
   * digits of a SHA-256.
   */
  readonly grantsDigest: string;
  readonly #tokens = new Map<string, string>();
  readonly #principals = new Map<string, Principal>();
  readonly #anonymous: Principal | null;

  /**
   * Compiles the settings.
   *
   * @param options Tokens, principals and the anonymous grant.
   * @throws {TypeError} when a token names an unknown principal.
   */
  constructor(options: AuthOptions = {}) {
    this.maxInFlightPerPrincipal = options.maxInFlightPerPrincipal ?? 4096;
    for (const [name, grant] of Object.entries(options.principals ?? {})) {
      this.#principals.set(name, new Principal(name, grant, true));
    }
    for (const { sha256, principal } of options.tokens ?? []) {
      if (!this.#principals.has(principal)) {
        throw new TypeError(`A token names the unknown principal "${principal}"`);
      }
      this.#tokens.set(sha256.toLowerCase(), principal);
    }
    const anonymous = options.anonymous ?? {};
    this.#anonymous = anonymous === false ? null : new Principal(ANONYMOUS, anonymous, false);
    this.grantsDigest = grantsDigest(this.#principals, this.#anonymous);
  }

  /** What a caller without a token gets: the anonymous principal, or why not. */
  get anonymous(): AuthResult {
    return this.#anonymous ?? { error: "This node requires a token" };
  }

  /**
   * Finds the principal of a connection.
   *
   * @param token The token presented, or `null` for none.
   * @returns The principal, or `{ error }` for an unknown token or when
   *   anonymous callers are refused.
   */
  async authenticate(token: string | null): Promise<AuthResult> {
    if (token === null) return this.anonymous;
    const name = this.#tokens.get(await hashToken(token));
    const principal = name === undefined ? undefined : this.#principals.get(name);
    return principal ?? { error: "Unknown token" };
  }

  /**
   * A principal by name, for steps forwarded by peers.
   *
   * @param name The name.
   * @returns The principal, or `undefined` when this node does not know it.
   */
  principal(name: string): Principal | undefined {
    if (name === ANONYMOUS) return this.#anonymous ?? undefined;
    return this.#principals.get(name);
  }
}

/** The grants in a canonical form (see {@linkcode Authenticator.grantsDigest}), hashed. */
function grantsDigest(
  principals: ReadonlyMap<string, Principal>,
  anonymous: Principal | null,
): string {
  const canonical = (p: Principal) => ({
    allow: [...new Set(p.grant.allow)].sort(),
    deny: [...new Set(p.grant.deny)].sort(),
    permissions: [...new Set(p.grant.permissions)].sort(),
  });
  // Pairs, not an object: a principal may be named "__proto__".
  const named = [...principals.keys()].sort().map((
    name,
  ) => [name, canonical(principals.get(name)!)]);
  const text = canonicalJson({
    anonymous: anonymous === null ? false : canonical(anonymous),
    principals: named,
  });
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}
