// Copyright 2026 the mpreg authors. MIT license.
/**
 * Links to members and seeds: dialing a member's URLs with backoff, joining
 * and rejoining through the seeds (Consul's `retry_join`), and refusing
 * `ws://` URLs under `requireTls`. Private to the cluster layer.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { backoffDelay, DEFAULT_BACKOFF } from "../transport/backoff.ts";
import type { ClusterNodeOptions } from "./cluster_node_types.ts";
import type { Membership, MemberView } from "./membership.ts";
import { seedTargets, systemResolver } from "./_seeds.ts";
import { PeerLink, type PeerLinkHost } from "./peer_link.ts";
import { notStarted } from "./_step_errors.ts";
import { DUPLICATE_NAME } from "./peer_protocol.ts";

const log = getLogger(["mpreg", "cluster"]);

interface DialState {
  attempt: number;
  notBefore: number;
  pending: Promise<PeerLink> | null;
  /** Why the last dial failed, for the errors of calls made while backing off. */
  failure: string;
}

/** Dials members and seeds for a {@linkcode ClusterNode}; shares its link tables. */
export class Dialer {
  readonly #host: PeerLinkHost;
  readonly #options: ClusterNodeOptions;
  readonly #membership: Membership;
  readonly #links: ReadonlyMap<string, PeerLink>;
  readonly #allLinks: Set<PeerLink>;
  readonly #dials = new Map<string, DialState>();
  /** `ws://` URLs already reported as refused under `requireTls`. */
  readonly #refusedUrls = new Set<string>();
  #seedTimer: ReturnType<typeof setTimeout> | null = null;
  #seedAttempt = 0;
  #joining = false;
  /** When to go back to the seeds that are not live members. */
  #nextSeedCheck = 0;
  /** The member that answered at each seed URL dialed. */
  readonly #seedMembers = new Map<string, string>();
  /** URLs dialed that turned out to reach this node itself. */
  readonly #selfUrls = new Set<string>();
  #stopped = false;

  /**
   * @param host The node, host of the links dialed.
   * @param options The node's settings.
   * @param membership The node's membership.
   * @param links The node's ready links by member name.
   * @param allLinks Every link of the node, which new links join.
   */
  constructor(
    host: PeerLinkHost,
    options: ClusterNodeOptions,
    membership: Membership,
    links: ReadonlyMap<string, PeerLink>,
    allLinks: Set<PeerLink>,
  ) {
    this.#host = host;
    this.#options = options;
    this.#membership = membership;
    this.#links = links;
    this.#allLinks = allLinks;
  }

  /** When to go back to the seeds that are not live members. */
  get nextSeedCheck(): number {
    return this.#nextSeedCheck;
  }

  /** Stops the seed retries; later dials are refused. */
  stop(): void {
    this.#stopped = true;
    if (this.#seedTimer !== null) clearTimeout(this.#seedTimer);
    this.#seedTimer = null;
  }

  /** News that `name` is alive (a refutation, a restart) ends its backoff. */
  alive(name: string): void {
    const dial = this.#dials.get(name);
    if (dial !== undefined) dial.notBefore = dial.attempt = 0;
  }

  /** A link to `name` is ready: its backoff and the seeds' are over. */
  linked(name: string): void {
    const dial = this.#dials.get(name);
    if (dial) {
      dial.attempt = 0;
      dial.notBefore = 0;
    }
    this.#seedAttempt = 0;
  }

  /** A URL dialed reached this node itself (a seed name that resolves to it too). */
  reachedSelf(url: string): void {
    this.#selfUrls.add(url);
  }

  /**
   * A ready link to a member, dialing its URLs when needed.
   *
   * @param name The member.
   * @param urls Its URLs as another member knows them, dialed when this
   *   node does not know the member yet (a relayed chain's next member: the
   *   coordinator knows it, and gossip may not have brought it here yet).
   */
  linkTo(name: string, urls?: readonly string[]): Promise<PeerLink> {
    const link = this.#links.get(name);
    if (link?.ready) return Promise.resolve(link);
    let dial = this.#dials.get(name);
    if (dial === undefined) {
      this.#dials.set(name, dial = { attempt: 0, notBefore: 0, pending: null, failure: "" });
    }
    if (dial.pending) return dial.pending;
    const member = this.#membership.member(name);
    if (!this.#stopped && member === undefined && urls !== undefined && urls.length > 0) {
      const state = dial;
      state.pending = this.#dialUrls(urls).then((link) => {
        state.pending = null;
        if (link.peer !== name) {
          throw notStarted(`Member "${name}" is not at ${urls.join(", ")} (${link.peer} is)`);
        }
        return link;
      }, (err) => {
        state.pending = null;
        throw err;
      });
      return state.pending;
    }
    if (this.#stopped || member === undefined || member.state === "left") {
      return Promise.reject(notStarted(`Member "${name}" is not reachable`));
    }
    // A member held dead is only sent the membership's reconnection tries,
    // on the reconnect interval: they are not held back by the backoff.
    if (member.state !== "dead" && Date.now() < dial.notBefore) {
      return Promise.reject(
        notStarted(`Member "${name}" is not reachable (backing off after: ${dial.failure})`),
      );
    }
    const state = dial;
    state.pending = this.#dialUrls(member.urls).then(
      (link) => {
        state.pending = null;
        return link;
      },
      (err) => {
        state.pending = null;
        state.notBefore = Date.now() + backoffDelay(state.attempt++, DEFAULT_BACKOFF);
        state.failure = (err as Error).message;
        throw err;
      },
    );
    return state.pending;
  }

  async #dialUrls(urls: readonly string[]): Promise<PeerLink> {
    let last = "no URL";
    for (const url of urls) {
      const link = await this.#dialOne(url);
      if (typeof link !== "string") return link;
      last = link;
    }
    throw notStarted(`Cannot link to ${urls.join(", ")}: ${last}`);
  }

  /** Dials one URL; resolves with the ready link or a reason it failed. */
  async #dialOne(url: string): Promise<PeerLink | string> {
    if (this.#options.requireTls && !url.toLowerCase().startsWith("wss:")) {
      const reason = `refusing to dial "${url}": require_tls is set and it is not a wss:// URL`;
      if (!this.#refusedUrls.has(url)) {
        this.#refusedUrls.add(url);
        log.warn("Refusing to dial {url}: require_tls is set and it is not a wss:// URL", { url });
      }
      return reason;
    }
    let link: PeerLink;
    try {
      link = PeerLink.dial(url, this.#host);
    } catch (err) {
      return String(err);
    }
    this.#allLinks.add(link);
    if (!(await link.handshake)) {
      const reason = link.closeReason || "closed";
      if (reason.includes(DUPLICATE_NAME) && !this.#selfUrls.has(url)) {
        // Dialing again would be refused again, forever: say it once, loudly.
        this.#selfUrls.add(url);
        log.error("Not joining through {url}: {reason}", { url, reason });
      }
      return reason;
    }
    // A duplicate link may have lost to one the peer dialed at the same time.
    return this.#links.get(link.peer!) ?? link;
  }

  /**
   * Dials every seed URL that is not a live member (Consul's `retry_join`),
   * resolving seed names again each time. Alone, the node retries with
   * backoff until one answers; otherwise it comes back every reconnect
   * interval. One attempt at a time.
   */
  joinSeeds(): void {
    if (this.#stopped || this.#joining || this.#options.seeds.length === 0) return;
    this.#joining = true;
    const interval = this.#options.reconnectIntervalMs;
    this.#nextSeedCheck = Date.now() + interval * (0.75 + 0.5 * Math.random());
    this.#dialSeeds().then((reasons) => {
      if (this.#stopped) return;
      if (reasons === null || this.#membership.liveNames().length > 0) {
        this.#joining = false;
        return;
      }
      const delay = backoffDelay(this.#seedAttempt++, DEFAULT_BACKOFF);
      log.warn("Cannot reach any seed ({reason}); retrying in {delay} ms", {
        reason: reasons.join("; "),
        delay,
      });
      this.#seedTimer = setTimeout(() => {
        this.#seedTimer = null;
        this.#joining = false;
        this.joinSeeds();
      }, delay);
    });
  }

  /**
   * Dials the seed URLs that are not live members.
   *
   * @returns `null` when one answered or none had to be dialed, else why each failed.
   */
  async #dialSeeds(): Promise<string[] | null> {
    const { urls, failures } = await seedTargets(
      this.#options.seeds,
      this.#options.resolve ?? systemResolver,
    );
    const own = new Set(this.#membership.self.urls);
    const due = urls.filter((url) =>
      !own.has(url) && !this.#selfUrls.has(url) && !this.#seedIsLive(url)
    );
    if (due.length === 0) return urls.length === 0 ? failures : null;
    const results = await Promise.all(due.map(async (url) => {
      const link = await this.#dialOne(url);
      if (typeof link === "string") return `${url}: ${link}`;
      this.#seedMembers.set(url, link.peer!);
      return null;
    }));
    if (results.includes(null)) return null;
    log.debug("Seeds not reached: {reasons}", { reasons: results.join("; ") });
    return [...failures, ...results as string[]];
  }

  /** Whether a live member advertises `url`, or answered there last time. */
  #seedIsLive(url: string): boolean {
    const live = (m: MemberView | undefined) => m?.state === "alive" || m?.state === "suspect";
    const answered = this.#seedMembers.get(url);
    if (answered !== undefined && live(this.#membership.member(answered))) return true;
    return this.#membership.members().some((m) => !m.self && live(m) && m.urls.includes(url));
  }
}
