// Copyright 2026 the mpreg authors. MIT license.
/**
 * Which members agreed, before a request started, that its principal may run
 * which of its steps there: the members whose grants differ from the
 * coordinator's and that answered a grant check. (A member whose grants
 * equal the coordinator's needs no entry: the coordinator's own check
 * already decided for it.)
 *
 * @module
 */

/**
 * The explicit agreements of one request.
 *
 * @example
 * ```ts ignore
 * import { GrantAgreement } from "./grant_agreement.ts";
 * const agreement = new GrantAgreement();
 * agreement.add("b", "3f2a…", "load");
 * console.log(agreement.covers("b", "3f2a…", "load")); // true
 * ```
 */
export class GrantAgreement {
  readonly #members = new Map<string, { grants: string; steps: Set<string> }>();

  /**
   * Records that `member`, holding the grants of digest `grants`, agreed to
   * run `step`.
   *
   * @param member The member's name.
   * @param grants The digest of its grants it answered with.
   * @param step The step's name.
   */
  add(member: string, grants: string, step: string): void {
    let entry = this.#members.get(member);
    if (entry === undefined || entry.grants !== grants) {
      this.#members.set(member, entry = { grants, steps: new Set() });
    }
    entry.steps.add(step);
  }

  /**
   * Whether `member`, now holding the grants of digest `grants`, agreed to
   * run `step`: a member whose grants changed since has not.
   *
   * @param member The member's name.
   * @param grants The digest of its grants now (from the link the step would travel on).
   * @param step The step's name.
   * @returns True when it agreed under these very grants.
   */
  covers(member: string, grants: string, step: string): boolean {
    const entry = this.#members.get(member);
    return entry !== undefined && entry.grants === grants && entry.steps.has(step);
  }
}
