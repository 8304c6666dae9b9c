// Copyright 2026 the mpreg authors. MIT license.
/**
 * Seed URLs to dial: a `ws://` seed whose host is a name stands for every
 * address the name resolves to at the time (a Kubernetes headless service
 * names every pod), so it is resolved again on every attempt.
 *
 * @module
 */
import { lookup } from "node:dns/promises";

/**
 * Resolves a host name to its addresses (IPv4 and IPv6), or throws.
 *
 * @example
 * ```ts ignore
 * const fixed: HostResolver = (name) => Promise.resolve(name === "seeds" ? ["10.0.0.1"] : []);
 * ```
 */
export type HostResolver = (hostname: string) => Promise<string[]>;

/**
 * The system's resolver (`getaddrinfo`: `/etc/hosts`, then DNS), every
 * address it returns.
 *
 * @param hostname The name.
 * @returns Its addresses.
 */
export async function systemResolver(hostname: string): Promise<string[]> {
  const found = await lookup(hostname, { all: true, verbatim: true });
  return found.map((a) => a.address);
}

/** The seeds as URLs to dial, and the names that did not resolve. */
export interface SeedTargets {
  /** URLs to dial, without duplicates, in the order of the seeds. */
  urls: string[];
  /** One reason per seed that did not resolve. */
  failures: string[];
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * The URLs to dial for `seeds`. A `ws://` seed whose host is a name becomes
 * one URL per address the name resolves to now, with the same port and path;
 * a `wss://` seed is dialed by its name (its certificate names the host, not
 * an address), and a seed whose host is an address as it is.
 *
 * @param seeds The configured seed URLs.
 * @param resolve Resolves a name to its addresses.
 * @returns The URLs, and the seeds whose names did not resolve.
 */
export async function seedTargets(
  seeds: readonly string[],
  resolve: HostResolver,
): Promise<SeedTargets> {
  const urls = new Set<string>();
  const failures: string[] = [];
  const expanded = await Promise.all(seeds.map(async (seed): Promise<string[] | string> => {
    let url: URL;
    try {
      url = new URL(seed);
    } catch {
      return `invalid seed URL "${seed}"`;
    }
    const host = url.hostname;
    if (url.protocol !== "ws:" || IPV4.test(host) || host.startsWith("[")) return [seed];
    let addresses: string[];
    try {
      addresses = await resolve(host);
    } catch (err) {
      return `cannot resolve "${host}" (seed ${seed}): ${err instanceof Error ? err.message : err}`;
    }
    if (addresses.length === 0) return `"${host}" (seed ${seed}) resolves to no address`;
    // As written: no path when the seed had none (advertised URLs have none).
    const path = url.pathname === "/" && !/^[a-z]+:\/\/[^/]+\//i.test(seed) ? "" : url.pathname;
    const port = url.port === "" ? "" : `:${url.port}`;
    return addresses.map((address) => {
      const host = address.includes(":") ? `[${address}]` : address;
      return `${url.protocol}//${host}${port}${path}${url.search}`;
    });
  }));
  for (const result of expanded) {
    if (typeof result === "string") failures.push(result);
    else for (const url of result) urls.add(url);
  }
  return { urls: [...urls], failures };
}
