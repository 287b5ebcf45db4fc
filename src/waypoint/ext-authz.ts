// External authorization for CUSTOM AuthorizationPolicies: the waypoint asks the mesh config's provider about a
// request, as Envoy's ext_authz filter does. `envoyExtAuthzGrpc`: a unary envoy.service.auth.v3.Authorization/Check
// with the request's attributes (method, path, host, headers, id, both peers' addresses and the caller's SPIFFE
// identity); status OK allows (adding and removing the headers `ok_response` names), anything else denies with the
// `denied_response` (default 403). `envoyExtAuthzHttp`: The check is a request with the original method
// and `pathPrefix` + path, no body (`content-length: 0`), the original host, the headers the provider lists
// (`includeRequestHeadersInCheck`, exact or `prefix*`/`*suffix`) and its fixed ones (`includeAdditionalHeadersInCheck`).
// A 2xx answer allows, copying `headersToUpstreamOnAllow` onto the request; any other answer is the denial the caller
// gets (status, body, `headersToDownstreamOnDeny`). No answer within `timeout` (Istio's default: 10m) or a failed
// check: allowed when `failOpen`, else `statusOnError` (default 403). A provider naming a mesh service is reached
// through the mesh (HBONE with the waypoint's identity); any other host directly.
import http from 'node:http';
import http2 from 'node:http2';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { CheckRequestSchema, CheckResponseSchema } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import type { Logger } from 'pino';
import { describeError } from '../lib/errors.js';
import type { GrpcExtAuthzProvider, HttpExtAuthzProvider } from '../api/mesh-config.js';
import { parseIstioDurationMs } from '../api/kinds/checks.js';
import type { ExtensionProviderRecord } from '../lib/xds/waypoint-records.js';
import type { Exchange } from './exchange.js';
import type { Upstreams } from './upstream.js';
import { sideRequest, type SideAnswer } from './side-request.js';
import { stringMatches } from '../authz/index.js';

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const MAX_DENIAL_BODY = 64 * 1024;

/** Who is on each side, for a gRPC check's attributes. */
interface CheckPeers {
  sourceIdentity: string;
  sourceIp: string;
  destination: { ip: string; port: number };
}

type ExtAuthzVerdict =
  | { allowed: true; upstreamHeaders: Record<string, string>; removeHeaders: string[]; reason: string }
  | { allowed: false; status: number; body: string; headers: Record<string, string>; reason: string };

function durationMs(text: string | undefined): number {
  return parseIstioDurationMs(text ?? '') ?? DEFAULT_TIMEOUT_MS;
}

/** Header-name patterns as Istio writes them: exact, `prefix*`, `*suffix` (case-insensitive). */
function nameMatches(patterns: readonly string[] | undefined, name: string): boolean {
  return (patterns ?? []).some((p) => stringMatches(p, name, true));
}

export class ExtAuthz {
  readonly #upstreams: Upstreams;
  readonly #namespace: string;
  readonly #log: Logger;

  constructor(opts: { upstreams: Upstreams; namespace: string; log: Logger }) {
    this.#upstreams = opts.upstreams;
    this.#namespace = opts.namespace;
    this.#log = opts.log;
  }

  /** Asks `name`'s provider about the request in `ex`; never throws. */
  async check(name: string, provider: ExtensionProviderRecord | undefined, ex: Exchange, peers: CheckPeers): Promise<ExtAuthzVerdict> {
    const refuse = (reason: string): ExtAuthzVerdict => ({ allowed: false, status: 403, body: '', headers: {}, reason });
    if (!provider) return refuse(`provider ${JSON.stringify(name)} is not in the mesh config: denied (fail closed)`);
    if (provider.envoyExtAuthzGrpc) return this.#checkGrpc(name, provider.envoyExtAuthzGrpc as unknown as GrpcExtAuthzProvider, ex, peers);
    if (!provider.envoyExtAuthzHttp) return refuse(`provider ${JSON.stringify(name)} is ${provider.unsupported ?? 'of an unknown type'}, which is not an authorizer: denied (fail closed)`);
    const p = provider.envoyExtAuthzHttp as unknown as HttpExtAuthzProvider;
    const headers: http.OutgoingHttpHeaders = { host: ex.authority, 'content-length': '0' };
    for (const [k, v] of Object.entries(ex.headers)) if (v !== undefined && nameMatches(p.includeRequestHeadersInCheck, k)) headers[k] = v;
    for (const [k, v] of Object.entries(p.includeAdditionalHeadersInCheck ?? {})) headers[k.toLowerCase()] = v;
    try {
      const res = await this.#ask(p, ex.method, `${(p.pathPrefix ?? '').replace(/\/$/, '')}${ex.path}`, headers);
      const pick = (patterns: string[] | undefined) => Object.fromEntries(Object.entries(res.headers)
        .filter(([k, v]) => typeof v === 'string' && nameMatches(patterns, k)) as Array<[string, string]>);
      if (res.status >= 200 && res.status < 300) return { allowed: true, upstreamHeaders: pick(p.headersToUpstreamOnAllow), removeHeaders: [], reason: `allowed by ${name}` };
      return { allowed: false, status: res.status, body: res.body, headers: pick(p.headersToDownstreamOnDeny), reason: `denied by ${name} (${res.status})` };
    } catch (err) {
      return this.#failed(name, p, err);
    }
  }

  /** The authorizer did not answer: allowed with `failOpen`, else `statusOnError` (403). */
  #failed(name: string, p: { service: string; port: number; failOpen?: boolean; statusOnError?: string }, err: unknown): ExtAuthzVerdict {
    const why = `external authorizer ${name} (${p.service}:${p.port}) did not answer: ${describeError(err)}`;
    this.#log.warn({ provider: name, error: describeError(err), failOpen: p.failOpen === true }, 'external authorization failed');
    if (p.failOpen) return { allowed: true, upstreamHeaders: {}, removeHeaders: [], reason: `${why}; allowed (failOpen)` };
    return { allowed: false, status: Number(p.statusOnError ?? 403), body: '', headers: {}, reason: `${why}; denied (fail closed)` };
  }

  async #checkGrpc(name: string, p: GrpcExtAuthzProvider, ex: Exchange, peers: CheckPeers): Promise<ExtAuthzVerdict> {
    const timeoutMs = durationMs(p.timeout);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(ex.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : String(v);
    const request = create(CheckRequestSchema, {
      attributes: {
        source: { address: { socketAddress: { address: peers.sourceIp } }, principal: peers.sourceIdentity },
        destination: { address: { socketAddress: { address: peers.destination.ip, portValue: peers.destination.port } } },
        request: {
          time: { seconds: BigInt(Math.floor(Date.now() / 1000)) },
          http: { id: String(ex.headers['x-request-id'] ?? ''), method: ex.method, path: ex.path, host: ex.authority, scheme: 'http', headers, protocol: ex.protocol, size: -1n },
        },
      },
    });
    let session: http2.ClientHttp2Session | undefined;
    let owned = false;
    try {
      const ep = this.#upstreams.endpointForHost(p.service, p.port, this.#namespace);
      if (ep) session = await this.#upstreams.h2Session(ep);
      else {
        session = http2.connect(`http://${p.service}:${p.port}`);
        // Its failure reaches the call (the stream closes without a status); the session's own error is noise.
        session.on('error', (err) => this.#log.debug({ provider: name, error: describeError(err) }, 'authorizer connection failed'));
        owned = true;
      }
      const bytes = await unaryGrpc(session, '/envoy.service.auth.v3.Authorization/Check', toBinary(CheckRequestSchema, request), timeoutMs);
      const res = fromBinary(CheckResponseSchema, bytes);
      const pairs = (list: Array<{ header?: { key: string; value: string } }>) => Object.fromEntries(list.filter((h) => h.header).map((h) => [h.header!.key.toLowerCase(), h.header!.value]));
      if ((res.status?.code ?? 0) === 0) {
        const ok = res.httpResponse.case === 'okResponse' ? res.httpResponse.value : undefined;
        return { allowed: true, upstreamHeaders: pairs(ok?.headers ?? []), removeHeaders: (ok?.headersToRemove ?? []).map((h) => h.toLowerCase()), reason: `allowed by ${name}` };
      }
      const denied = res.httpResponse.case === 'deniedResponse' ? res.httpResponse.value : undefined;
      return { allowed: false, status: denied?.status?.code || 403, body: denied?.body ?? '', headers: pairs(denied?.headers ?? []), reason: `denied by ${name} (code ${res.status?.code}${res.status?.message ? `: ${res.status.message}` : ''})` };
    } catch (err) {
      return this.#failed(name, p, err);
    } finally {
      if (owned) session?.close();
    }
  }

  #ask(p: HttpExtAuthzProvider, method: string, path: string, headers: http.OutgoingHttpHeaders): Promise<SideAnswer> {
    const ep = this.#upstreams.endpointForHost(p.service, p.port, this.#namespace);
    return sideRequest({
      method, path, headers, timeoutMs: durationMs(p.timeout), maxBytes: MAX_DENIAL_BODY,
      ...(ep ? { agent: this.#upstreams.h1Agent(ep) } : { host: p.service, port: p.port }),
    });
  }

}

/** One unary gRPC call on an h2 session: the answer's message bytes, or a rejection (a non-OK grpc-status too). */
function unaryGrpc(session: http2.ClientHttp2Session, path: string, message: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m` });
    const timer = setTimeout(() => s.close(http2.constants.NGHTTP2_CANCEL), timeoutMs);
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let grpcMessage = '';
    const note = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) grpcMessage = decodeURIComponent(String(h['grpc-message']));
    };
    s.on('response', note);
    s.on('trailers', note);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (err) => reject(err));
    s.on('close', () => {
      clearTimeout(timer);
      const body = Buffer.concat(chunks);
      if (status === undefined) return reject(new Error(`the Check call ended without a grpc-status (code ${s.rstCode})`));
      if (status !== '0') return reject(new Error(`the Check call failed: grpc-status ${status}${grpcMessage ? ` ${grpcMessage}` : ''}`));
      if (body.length < 5) return reject(new Error('the Check call answered no message'));
      resolve(body.subarray(5, 5 + body.readUInt32BE(1)));
    });
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    Buffer.from(message).copy(frame, 5);
    s.end(frame);
  });
}
