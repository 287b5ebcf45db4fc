// Resolves the names ztunnel must dial itself: endpoints of a ServiceEntry with `resolution: DNS` (the entry's host,
// or hostname endpoints) reached through the entry's VIP. Istio's ztunnel does the same with its own resolver.
//
// The nameservers are ztunnel's own (its resolv.conf: in the sandbox the node's, which names the cluster
// nameserver). Answers are cached for their TTL (at least 1 s, at most 5 min) and concurrent lookups of one name
// share a query; A records first, AAAA when a name has none. A failure names the host and the resolver's reason.
import { promises as dns } from 'node:dns';
import { MeshError } from '../../lib/errors.js';

const MIN_TTL_MS = 1000;
const MAX_TTL_MS = 300_000;

class HostnameResolutionError extends MeshError {
  constructor(hostname: string, reason: string, options?: { cause?: unknown }) {
    super('UPSTREAM_RESOLVE', `cannot resolve ${hostname}: ${reason}`, options);
  }
}

/** name → the first address it resolves to. */
export type ResolveHostname = (hostname: string) => Promise<string>;

interface CacheEntry {
  address: string;
  expires: number;
}

/** A resolver with a TTL cache over `lookup` (injectable for tests; default: Node's c-ares resolver). */
export function createHostnameResolver(opts: { now?: () => number; lookup?: (name: string) => Promise<Array<{ address: string; ttl: number }>> } = {}): ResolveHostname {
  const now = opts.now ?? Date.now;
  const lookup = opts.lookup ?? defaultLookup();
  const cache = new Map<string, CacheEntry>();
  const inflight = new Map<string, Promise<string>>();
  return async (hostname) => {
    const name = hostname.toLowerCase();
    const hit = cache.get(name);
    if (hit && hit.expires > now()) return hit.address;
    const pending = inflight.get(name);
    if (pending) return pending;
    const query = (async () => {
      let answers: Array<{ address: string; ttl: number }>;
      try {
        answers = await lookup(name);
      } catch (err) {
        throw new HostnameResolutionError(hostname, (err as NodeJS.ErrnoException).code ?? String(err), { cause: err });
      }
      const first = answers[0];
      if (!first) throw new HostnameResolutionError(hostname, 'no address records');
      cache.set(name, { address: first.address, expires: now() + Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, first.ttl * 1000)) });
      return first.address;
    })();
    inflight.set(name, query);
    try {
      return await query;
    } finally {
      inflight.delete(name);
    }
  };
}

function defaultLookup(): (name: string) => Promise<Array<{ address: string; ttl: number }>> {
  const resolver = new dns.Resolver({ timeout: 2000, tries: 2 });
  return async (name) => {
    try {
      const v4 = await resolver.resolve4(name, { ttl: true });
      if (v4.length) return v4;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== dns.NODATA) throw err;
    }
    return resolver.resolve6(name, { ttl: true });
  };
}
