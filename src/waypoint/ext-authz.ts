// External authorization for CUSTOM AuthorizationPolicies: the waypoint asks the mesh config's `envoyExtAuthzHttp`
// provider about a request, as Envoy's HTTP ext_authz filter does. The check is a request with the original method
// and `pathPrefix` + path, no body (`content-length: 0`), the original host, the headers the provider lists
// (`includeRequestHeadersInCheck`, exact or `prefix*`/`*suffix`) and its fixed ones (`includeAdditionalHeadersInCheck`).
// A 2xx answer allows, copying `headersToUpstreamOnAllow` onto the request; any other answer is the denial the caller
// gets (status, body, `headersToDownstreamOnDeny`). No answer within `timeout` (Istio's default: 10m) or a failed
// check: allowed when `failOpen`, else `statusOnError` (default 403). A provider naming a mesh service is reached
// through the mesh (HBONE with the waypoint's identity); any other host directly.
import http from 'node:http';
import type { Logger } from 'pino';
import { describeError } from '../lib/errors.js';
import type { HttpExtAuthzProvider } from '../api/mesh-config.js';
import type { ExtensionProviderRecord } from '../lib/xds/waypoint-records.js';
import type { Exchange } from './exchange.js';
import type { MeshView } from './mesh-view.js';
import type { Upstreams } from './upstream.js';

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const MAX_DENIAL_BODY = 64 * 1024;

type ExtAuthzVerdict =
  | { allowed: true; upstreamHeaders: Record<string, string>; reason: string }
  | { allowed: false; status: number; body: string; headers: Record<string, string>; reason: string };

function durationMs(text: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text ?? '');
  return m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms'] : DEFAULT_TIMEOUT_MS;
}

/** Header-name patterns as Istio writes them: exact, `prefix*`, `*suffix` (case-insensitive). */
function nameMatches(patterns: readonly string[] | undefined, name: string): boolean {
  return (patterns ?? []).some((raw) => {
    const p = raw.toLowerCase();
    if (p.endsWith('*')) return name.startsWith(p.slice(0, -1));
    if (p.startsWith('*')) return name.endsWith(p.slice(1));
    return name === p;
  });
}

export class ExtAuthz {
  readonly #view: () => MeshView;
  readonly #upstreams: Upstreams;
  readonly #namespace: string;
  readonly #log: Logger;

  constructor(opts: { view: () => MeshView; upstreams: Upstreams; namespace: string; log: Logger }) {
    this.#view = opts.view;
    this.#upstreams = opts.upstreams;
    this.#namespace = opts.namespace;
    this.#log = opts.log;
  }

  /** Asks `name`'s provider about the request in `ex`; never throws. */
  async check(name: string, provider: ExtensionProviderRecord | undefined, ex: Exchange): Promise<ExtAuthzVerdict> {
    const refuse = (reason: string): ExtAuthzVerdict => ({ allowed: false, status: 403, body: '', headers: {}, reason });
    if (!provider) return refuse(`provider ${JSON.stringify(name)} is not in the mesh config: denied (fail closed)`);
    if (!provider.envoyExtAuthzHttp) return refuse(`provider ${JSON.stringify(name)} is ${provider.unsupported ?? 'of an unknown type'}, which Ambit does not support: denied (fail closed)`);
    const p = provider.envoyExtAuthzHttp as unknown as HttpExtAuthzProvider;
    const headers: http.OutgoingHttpHeaders = { host: ex.authority, 'content-length': '0' };
    for (const [k, v] of Object.entries(ex.headers)) if (v !== undefined && nameMatches(p.includeRequestHeadersInCheck, k)) headers[k] = v;
    for (const [k, v] of Object.entries(p.includeAdditionalHeadersInCheck ?? {})) headers[k.toLowerCase()] = v;
    try {
      const res = await this.#ask(p, ex.method, `${(p.pathPrefix ?? '').replace(/\/$/, '')}${ex.path}`, headers);
      const pick = (patterns: string[] | undefined) => Object.fromEntries(Object.entries(res.headers)
        .filter(([k, v]) => typeof v === 'string' && nameMatches(patterns, k)) as Array<[string, string]>);
      if (res.status >= 200 && res.status < 300) return { allowed: true, upstreamHeaders: pick(p.headersToUpstreamOnAllow), reason: `allowed by ${name}` };
      return { allowed: false, status: res.status, body: res.body, headers: pick(p.headersToDownstreamOnDeny), reason: `denied by ${name} (${res.status})` };
    } catch (err) {
      const why = `external authorizer ${name} (${p.service}:${p.port}) did not answer: ${describeError(err)}`;
      this.#log.warn({ provider: name, error: describeError(err), failOpen: p.failOpen === true }, 'external authorization failed');
      if (p.failOpen) return { allowed: true, upstreamHeaders: {}, reason: `${why}; allowed (failOpen)` };
      return { allowed: false, status: Number(p.statusOnError ?? 403), body: '', headers: {}, reason: `${why}; denied (fail closed)` };
    }
  }

  #ask(p: HttpExtAuthzProvider, method: string, path: string, headers: http.OutgoingHttpHeaders): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    const timeoutMs = durationMs(p.timeout);
    const key = this.#view().serviceKeyByHost(p.service, this.#namespace);
    let agent: http.Agent | undefined;
    if (key) {
      const slash = key.indexOf('/');
      const ep = this.#upstreams.pick({ namespace: key.slice(0, slash), hostname: key.slice(slash + 1), port: p.port }, undefined, undefined, new Set());
      if ('flag' in ep) return Promise.reject(new Error(ep.reason));
      agent = this.#upstreams.h1Agent(ep);
    }
    return new Promise((resolve, reject) => {
      const req = http.request({ method, path, headers, setHost: false, ...(agent ? { agent } : { host: p.service, port: p.port }) }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_DENIAL_BODY) chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }
}
