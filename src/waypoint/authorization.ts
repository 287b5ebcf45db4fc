// The waypoint's AuthorizationPolicies (attached with targetRefs, delivered in its WaypointConfig): which apply to a
// request (those bound to the service it was sent to, and those for the whole waypoint), the facts they judge, and
// the verdict. Rebuilt on every config update and swapped in: the next request, or the next stream, sees the new
// policies while open connections stay up. Dry-run policies (`istio.io/dry-run: "true"`) are evaluated alongside
// and only reported: what the decision would have been with them enforced.
import { customMatches, evaluateL7, type L7Decision, type L7Policy, type RequestAuth, type RequestAuthnPolicy, type RequestFacts } from '../authz/index.js';
import type { AttachedResourceRecord, ExtensionProviderRecord, WaypointConfigRecord } from '../lib/xds/waypoint-records.js';
import type { Exchange } from './exchange.js';
import type { Downstream } from './http-proxy.js';

interface Scoped<P> {
  whole: P[];
  byService: Map<string, P[]>;
}

function index<P extends L7Policy | RequestAuthnPolicy>(list: readonly AttachedResourceRecord[]): Scoped<P> {
  const s: Scoped<P> = { whole: [], byService: new Map() };
  for (const a of list) {
    const p = { namespace: a.namespace, name: a.name, spec: a.spec } as unknown as P;
    if (!a.services.length) s.whole.push(p);
    for (const key of a.services) s.byService.set(key, [...(s.byService.get(key) ?? []), p]);
  }
  return s;
}

/** Policies for what the client dialled: its service's, plus the waypoint-wide ones; pod-addressed: waypoint-wide. */
function applicable<P>(s: Scoped<P>, ds: Downstream): P[] {
  const own = ds.target ? s.byService.get(ds.target.serviceKey) ?? [] : [];
  return own.length ? [...s.whole, ...own] : s.whole;
}

interface AuthorizationVerdict {
  /** The enforced decision; undefined when no policy applies (allowed). */
  decision?: L7Decision;
  /** With the dry-run policies enforced too; undefined when none applies. */
  dryRun?: L7Decision;
}

export class WaypointAuthorization {
  readonly #enforced: Scoped<L7Policy>;
  readonly #dryRun: Scoped<L7Policy>;
  readonly #authn: Scoped<RequestAuthnPolicy>;
  readonly #providers: Map<string, ExtensionProviderRecord>;
  /** No AuthorizationPolicy and no RequestAuthentication: nothing to evaluate for any request. */
  readonly empty: boolean;

  constructor(config: WaypointConfigRecord | undefined) {
    const all = config?.authorizationPolicies ?? [];
    this.#enforced = index(all.filter((a) => !a.dryRun));
    this.#dryRun = index(all.filter((a) => a.dryRun));
    this.#authn = index(config?.requestAuthentications ?? []);
    this.#providers = new Map((config?.extensionProviders ?? []).map((p) => [p.name, p]));
    this.empty = !config?.authorizationPolicies.length && !config?.requestAuthentications.length;
  }

  /**
   * The first matching CUSTOM policy's provider, whose external authorizer must allow the request before the other
   * policies are evaluated; undefined when none matches.
   */
  customFor(ds: Downstream, ex: Exchange, auth?: RequestAuth): { name: string; provider: ExtensionProviderRecord | undefined; policy: string } | undefined {
    const enforced = applicable(this.#enforced, ds);
    if (!enforced.some((p) => p.spec.action === 'CUSTOM')) return undefined;
    const m = customMatches(enforced, { ...requestFacts(ds, ex), ...(auth ? { auth } : {}) })[0];
    return m ? { name: m.provider, provider: this.#providers.get(m.provider), policy: m.policy } : undefined;
  }

  /** The RequestAuthentications for what the client dialled. */
  authnFor(ds: Downstream): RequestAuthnPolicy[] {
    return applicable(this.#authn, ds);
  }

  /**
   * Judges a request (`ex`, with the identity its JWT gave it) or, without one, a TCP stream. `customChecked`: the
   * external authorizer of the matching CUSTOM policy allowed it (else a matching CUSTOM policy denies).
   */
  decide(ds: Downstream, ex?: Exchange, auth?: RequestAuth, customChecked = false): AuthorizationVerdict {
    const enforced = applicable(this.#enforced, ds);
    const dry = applicable(this.#dryRun, ds);
    if (!enforced.length && !dry.length) return {};
    const facts = { ...requestFacts(ds, ex), ...(auth ? { auth } : {}) };
    return {
      ...(enforced.length ? { decision: evaluateL7(enforced, facts, { customChecked }) } : {}),
      ...(dry.length ? { dryRun: evaluateL7([...enforced, ...dry], facts, { customChecked }) } : {}),
    };
  }
}

/** What a policy sees of a request (`ex`) or, without one, of a TCP stream. */
function requestFacts(ds: Downstream, ex?: Exchange): RequestFacts {
  return {
    sourceIdentity: ds.peer.identity || undefined,
    sourceIp: ds.sourceIp,
    destinationIp: ds.destination.ip,
    destinationPort: ds.destination.port,
    ...(ex ? { http: { host: ex.authority, method: ex.method, path: ex.path, headers: ex.headers } } : {}),
  };
}
