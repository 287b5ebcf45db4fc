// The keys RequestAuthentication verifies tokens with (a KeySource): inline `jwks`, or a `jwksUri` fetched and cached.
// A URI naming a mesh service is fetched through the mesh (HBONE to one of its endpoints, with the waypoint's
// identity, so a STRICT JWKS pod accepts it); any other URI directly. Every fetch is bounded (the rule's `timeout`,
// 5 s by default; 256 KiB); a set is kept for 5 minutes, and fetched again early — at most once per 5 s — when a token
// names a key it does not have (a rotation). A failed fetch keeps serving the last good set.
import type { JSONWebKeySet } from 'jose';
import type { Logger } from 'pino';
import { describeError } from '../lib/errors.js';
import { KeyFetchError, type JwtRuleSpec, type KeySource } from '../authz/index.js';
import { parseIstioDurationMs } from '../api/kinds/checks.js';
import type { Upstreams } from './upstream.js';
import { sideRequest } from './side-request.js';

const MAX_JWKS_BYTES = 256 * 1024;
const DEFAULT_TIMEOUT_MS = 5000;
const CACHE_MS = 5 * 60_000;
const MIN_REFRESH_MS = 5000;

interface Cached {
  keys?: JSONWebKeySet;
  fetchedAt: number;
  inflight?: Promise<JSONWebKeySet>;
}

/** `5s`, `250ms`, `1m` (Istio durations) → ms. */
function durationMs(text: string | undefined): number {
  return parseIstioDurationMs(text ?? '') ?? DEFAULT_TIMEOUT_MS;
}

function asKeySet(body: string, uri: string): JSONWebKeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new KeyFetchError(`${uri} did not answer JSON`);
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray((doc as { keys?: unknown }).keys)) throw new KeyFetchError(`${uri} did not answer a JWKS ({"keys": […]})`);
  return doc as JSONWebKeySet;
}

export class JwksFetcher {
  readonly #cache = new Map<string, Cached>();
  readonly #upstreams: Upstreams;
  readonly #namespace: string;
  readonly #now: () => number;
  readonly #log: Logger;

  constructor(opts: { upstreams: Upstreams; namespace: string; log: Logger; now?: () => number }) {
    this.#log = opts.log;
    this.#upstreams = opts.upstreams;
    this.#namespace = opts.namespace;
    this.#now = opts.now ?? Date.now;
  }

  readonly keys: KeySource = async (rule: JwtRuleSpec, refresh: boolean) => {
    if (rule.jwks !== undefined) return asKeySet(rule.jwks, 'the inline jwks');
    const uri = rule.jwksUri;
    if (!uri) throw new KeyFetchError(`no jwks or jwksUri for issuer ${rule.issuer}`);
    const c = this.#cache.get(uri) ?? { fetchedAt: 0 };
    this.#cache.set(uri, c);
    const age = this.#now() - c.fetchedAt;
    const wanted = !c.keys || age > CACHE_MS || (refresh && age > MIN_REFRESH_MS);
    if (!wanted) return c.keys!;
    c.inflight ??= this.#fetch(uri, durationMs(rule.timeout)).then(
      ({ keys, via }) => {
        c.keys = keys;
        c.fetchedAt = this.#now();
        this.#log.info({ jwksUri: uri, via, kids: keys.keys.map((k) => k.kid ?? '') }, 'JWKS fetched');
        return keys;
      },
      (err: unknown) => {
        this.#log.warn({ jwksUri: uri, error: describeError(err), keptPrevious: c.keys !== undefined }, 'JWKS fetch failed');
        if (c.keys) return c.keys;
        throw err instanceof KeyFetchError ? err : new KeyFetchError(`${uri}: ${(err as Error).message}`);
      },
    ).finally(() => (c.inflight = undefined));
    return c.inflight;
  };

  async #fetch(uri: string, timeoutMs: number): Promise<{ keys: JSONWebKeySet; via: 'mesh' | 'direct' }> {
    const url = new URL(uri);
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const ep = url.protocol === 'http:' ? this.#upstreams.endpointForHost(url.hostname, port, this.#namespace) : undefined;
    if (!ep) {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
      if (!res.ok) throw new KeyFetchError(`${uri} answered ${res.status}`);
      const body = await res.text();
      if (body.length > MAX_JWKS_BYTES) throw new KeyFetchError(`${uri} answered more than ${MAX_JWKS_BYTES} bytes`);
      return { keys: asKeySet(body, uri), via: 'direct' };
    }
    const res = await sideRequest({
      method: 'GET', path: `${url.pathname}${url.search}`, headers: { host: url.host, accept: 'application/json' },
      agent: this.#upstreams.h1Agent(ep), timeoutMs, maxBytes: MAX_JWKS_BYTES, failOverMax: true,
    });
    if (res.status !== 200) throw new KeyFetchError(`${uri} answered ${res.status}`);
    const body = res.body;
    return { keys: asKeySet(body, uri), via: 'mesh' };
  }
}
