// Per-request L7 handling at the waypoint: route decision → local reply, redirect or forward with header edits,
// rewrites, fault delay, mirrors, retries (with backoff) and timeouts (request, per try, gRPC deadline); then the
// request metrics and one access-log line.
//
// User-facing choices (Envoy's, so Istio users see the same behaviour):
// - Local replies carry Envoy's texts ("no healthy upstream", "upstream request timeout", "upstream connect error or
//   disconnect/reset before headers") and response flags (NR, UH, UF, UO, UT, URX, FI, DC, NC). gRPC callers get
//   HTTP 200 with grpc-status (503 → 14 UNAVAILABLE, 504 → 4 DEADLINE_EXCEEDED, 404 → 12 UNIMPLEMENTED …).
// - A retry replays the request body, buffered up to 1 MiB while it streams to the first attempt; a larger body is
//   not retried. Retries pick another endpoint when there is one; backoff is fully jittered exponential from the
//   route's base (25 ms default), capped at 10× the base.
// - `grpc-timeout` from the client bounds the request like Envoy with max_grpc_timeout 0 (the smaller deadline wins).
// - The upstream speaks what the destination Service port declares (appProtocol/name: http → HTTP/1.1, http2/grpc →
//   h2c), else what the client spoke.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { describeError, findCause } from '../lib/errors.js';
import { formatSpiffeId } from '../lib/certs/spiffe-id.js';
import { StreamRefusedError } from '../hbone/proxy-errors.js';
import type { WorkloadRecord } from '../lib/xds/workload-records.js';
import { applyHeaderEdits, decideHttp, type Backend, type ForwardDecision, type HeaderEdits, type HttpDecision, type RetryPolicy, type RouteTable, type Target } from '../routing/index.js';
import type { DecisionSink } from '../lib/telemetry/decision-record.js';
import type { Exchange, Headers } from './exchange.js';
import type { Endpoint, MeshView } from './mesh-view.js';
import type { RequestLabels, WaypointMetrics } from './metrics.js';
import type { PeerFacts } from './peer.js';
import { destinationLabels, sourceLabels } from './peer.js';
import { endpointKey, tlsOriginationOf, type TlsOrigination, type Upstreams } from './upstream.js';
import { h1Response, h2Response, type BodySink, type UpstreamResponse } from './upstream-response.js';
import type { WaypointAuthorization } from './authorization.js';
import type { ExtAuthz } from './ext-authz.js';
import type { RequestTrace, WaypointTracing } from './tracing.js';
import { ACCESS_DENIED_BODY, authenticateRequest, type KeySource, type RequestAuth } from '../authz/index.js';

const RETRY_BUFFER_LIMIT = 1024 * 1024;
const NO_EDITS: HeaderEdits = { set: [], add: [], remove: [] };

/** What the waypoint knows about the downstream (per HBONE CONNECT stream). */
export interface Downstream {
  peer: PeerFacts;
  /** The HBONE peer's IP (the source pod's, as its ztunnel dials from it). */
  sourceIp: string;
  /** What the client dialled: the CONNECT authority (a service VIP or a pod IP, and the port). */
  destination: { ip: string; port: number };
  /** The bound service and port the client dialled, or undefined for pod-addressed traffic. */
  target?: Target;
  /** Pod-addressed traffic: the workload and port dialled. */
  workload?: { workload: WorkloadRecord; ip: string; port: number };
  /** Protocol the upstream should speak when the destination port does not say. */
  downstreamProtocol: 'http1' | 'h2';
  /** The client's connection was TLS (an ingress HTTPS listener): x-forwarded-proto https. */
  tls?: boolean;
  /**
   * A client outside the mesh (an ingress listener): the upstream protocol follows the backend Service's port
   * (HTTP/2 for appProtocol http2/grpc, else HTTP/1.1), not the client's.
   */
  external?: boolean;
}

interface HttpProxyDeps {
  table(): RouteTable;
  authz(): WaypointAuthorization;
  /** Issuers' keys for RequestAuthentication (inline, or fetched and cached). */
  keys: KeySource;
  /** The external authorizers of CUSTOM policies. */
  extAuthz: ExtAuthz;
  /** Spans per request (off unless a Telemetry turns tracing on). */
  tracing: WaypointTracing;
  view(): MeshView;
  upstreams: Upstreams;
  metrics: WaypointMetrics;
  accessLog: Logger;
  /** The control plane's live decisions table (one record per request). */
  decisions?: DecisionSink;
  random?: () => number;
}

/** Envoy's HTTP → gRPC status mapping for local replies. */
function grpcStatusFor(status: number): number {
  switch (status) {
    case 400: return 13;
    case 401: return 16;
    case 403: return 7;
    case 404: return 12;
    case 429: case 502: case 503: return 14;
    case 504: return 4;
    default: return 2;
  }
}

function isGrpc(headers: Headers): boolean {
  const ct = headers['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc');
}

/** `grpc-timeout: 100m` → 100 (ms), or undefined. */
function grpcTimeoutMs(v: Headers[string] | undefined): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }[m[2] as 'H'];
  return Math.max(1, Math.ceil(n * unit));
}

/** Request-body tee: streams to the current attempt while keeping a copy (up to a limit) for retries and mirrors. */
class RequestBody {
  readonly chunks: Buffer[] = [];
  size = 0;
  complete = false;
  overflow = false;
  #sink: BodySink | undefined;
  readonly #src: Exchange['body'] | undefined;
  readonly #waiters: Array<() => void> = [];

  /** A finished copy of `body` (for a mirror request). */
  static replayOf(body: RequestBody): RequestBody {
    const copy = new RequestBody(undefined);
    copy.chunks.push(...body.chunks);
    copy.size = body.size;
    copy.complete = true;
    return copy;
  }

  constructor(src: Exchange['body'] | undefined) {
    this.#src = src;
    if (!src) return;
    src.on('data', (c: Buffer) => {
      if (!this.overflow) {
        this.chunks.push(c);
        this.size += c.length;
        if (this.size > RETRY_BUFFER_LIMIT) {
          this.overflow = true;
          this.chunks.length = 0;
        }
      }
      if (this.#sink && !this.#sink.write(c)) {
        src.pause();
        this.#sink.onDrain(() => src.resume());
      }
    });
    src.once('end', () => {
      this.complete = true;
      this.#sink?.end();
      for (const w of this.#waiters.splice(0)) w();
    });
    src.on('error', () => undefined);
  }

  /** Whether another attempt can be given the whole body. */
  get replayable(): boolean {
    return !this.overflow;
  }

  /** Sends what was received so far to `sink`, then everything that follows, then the end. */
  attach(sink: BodySink): void {
    this.#sink = sink;
    for (const c of this.chunks) sink.write(c);
    if (this.complete) sink.end();
    else this.#src?.resume();
  }

  detach(): void {
    this.#sink = undefined;
  }

  /** Resolves once the client finished sending the body. */
  whenComplete(): Promise<void> {
    return this.complete ? Promise.resolve() : new Promise((r) => this.#waiters.push(r));
  }
}

type AttemptFailure = { kind: 'connect' | 'reset' | 'timeout' | 'refused'; error: unknown };

/** The per-request outcome the metrics and the access log read. */
interface Outcome {
  status: number;
  grpcStatus?: string;
  flags: string[];
  endpoint?: Endpoint;
  backend?: Backend;
  attempts: number;
  detail?: string;
  /** Refused by authorization: the policy (namespace/name) when one matched, '' when none allowed it. */
  deniedBy?: string;
  requestBytes: number;
  trace?: RequestTrace;
}

export class HttpProxy {
  readonly #d: HttpProxyDeps;
  readonly #random: () => number;

  constructor(deps: HttpProxyDeps) {
    this.#d = deps;
    this.#random = deps.random ?? Math.random;
  }

  /** Handles one request; never throws. */
  async handle(ds: Downstream, ex: Exchange): Promise<void> {
    const started = performance.now();
    const grpc = isGrpc(ex.headers);
    const outcome: Outcome = { status: 0, flags: [], attempts: 0, requestBytes: 0, trace: this.#d.tracing.start(ex) };
    const body = new RequestBody(ex.body);
    body.detach();
    ex.body.pause();
    ex.body.on('data', (c: Buffer) => (outcome.requestBytes += c.length));
    let decision: HttpDecision | undefined;
    try {
      // Authentication, then AuthorizationPolicy, before the router (Envoy's filter order): a refused request is never
      // routed. A waypoint without any policy skips both.
      if (!this.#d.authz().empty) {
        const auth = await this.#authenticate(ds, ex, grpc, outcome);
        if (auth === false || !(await this.#authorized(ds, ex, grpc, outcome, auth))) {
          ex.body.resume();
          this.#record(ds, ex, grpc, undefined, outcome, performance.now() - started);
          outcome.trace?.end(outcome.status);
          return;
        }
      }
      decision = this.#decide(ds, ex);
      if (decision.action === 'respond') {
        if (decision.faultDelayMs) await sleep(decision.faultDelayMs);
        outcome.flags.push(decision.flag === 'DR' ? '-' : decision.flag);
        this.#localReply(ex, grpc, decision.status, decision.body, outcome, decision.grpcStatus, decision.responseHeaders);
      } else if (decision.action === 'redirect') {
        outcome.flags.push('-');
        const headers: Headers = { location: decision.location };
        applyHeaderEdits(headers, decision.responseHeaders);
        outcome.status = decision.status;
        ex.respond(decision.status, headers, true);
      } else {
        if (decision.faultDelayMs) {
          outcome.flags.push('DI');
          await sleep(decision.faultDelayMs);
        }
        await this.#forward(ds, ex, decision, body, grpc, outcome);
      }
    } catch (err) {
      outcome.detail = describeError(err);
      if (!ex.headersSent) this.#localReply(ex, grpc, 500, 'internal error', outcome);
      else ex.reset();
    }
    // A request answered without forwarding still has its body pending: drain it, or the HTTP/2 stream (and a
    // graceful close of its session) would wait for it forever.
    ex.body.resume();
    if (ex.aborted && !outcome.flags.includes('DC')) outcome.flags.push('DC');
    this.#record(ds, ex, grpc, decision, outcome, performance.now() - started);
    outcome.trace?.end(outcome.status, outcome.flags.some((f) => f !== '-') ? outcome.detail : undefined);
  }

  /**
   * RequestAuthentication: the JWT's identity (undefined: no token, or no policy), or false once a refused token was
   * answered here (401 with Envoy's reason, gRPC UNAUTHENTICATED). The token and spoofable claim headers are removed
   * from what is forwarded, as the rule says.
   */
  async #authenticate(ds: Downstream, ex: Exchange, grpc: boolean, outcome: Outcome): Promise<RequestAuth | undefined | false> {
    const policies = this.#d.authz().authnFor(ds);
    if (!policies.length) return undefined;
    const r = await authenticateRequest(policies, { path: ex.path, headers: ex.headers }, this.#d.keys);
    if (r.kind === 'none') return undefined;
    if (r.kind === 'refused') {
      outcome.flags.push('-');
      outcome.detail = `jwt_authn_access_denied{${r.reason}}${r.policy ? ` (${r.policy})` : ''}`;
      const challenge = `Bearer realm="http://${ex.authority}${ex.path.split('?')[0]}", error="invalid_token"`;
      this.#localReply(ex, grpc, 401, r.reason, outcome, undefined, { set: [{ name: 'www-authenticate', value: challenge }], add: [], remove: [] });
      return false;
    }
    for (const h of r.removeHeaders) delete ex.headers[h];
    Object.assign(ex.headers, r.setHeaders);
    return r.auth;
  }

  /**
   * Evaluates the policies that apply — a matching CUSTOM policy's external authorizer first — and answers a denial
   * here (403 `RBAC: access denied`, gRPC PERMISSION_DENIED; or the authorizer's own answer).
   */
  async #authorized(ds: Downstream, ex: Exchange, grpc: boolean, outcome: Outcome, auth: RequestAuth | undefined): Promise<boolean> {
    const authz = this.#d.authz();
    const custom = authz.customFor(ds, ex, auth);
    if (custom) {
      const v = await this.#d.extAuthz.check(custom.name, custom.provider, ex, { sourceIdentity: ds.peer.identity, sourceIp: ds.sourceIp, destination: ds.destination });
      if (!v.allowed) {
        outcome.flags.push('UAEX');
        outcome.detail = `ext_authz_denied: ${v.reason} (policy ${custom.policy})`;
        outcome.deniedBy = custom.policy;
        this.#localReply(ex, grpc, v.status, v.body, outcome, undefined, { set: Object.entries(v.headers).map(([name, value]) => ({ name, value })), add: [], remove: [] });
        return false;
      }
      for (const h of v.removeHeaders) delete ex.headers[h];
      Object.assign(ex.headers, v.upstreamHeaders);
    }
    const { decision, dryRun } = authz.decide(ds, ex, auth, custom !== undefined);
    const request = { 'src.identity': ds.peer.identity, method: ex.method, path: ex.path, authority: ex.authority };
    if (dryRun) this.#d.accessLog.info({ ...request, wouldAllow: dryRun.allowed, policy: dryRun.policy, reason: dryRun.reason }, 'authorization dry run');
    if (!decision) return true;
    if (decision.audit.length) this.#d.accessLog.info({ ...request, audit: decision.audit, allowed: decision.allowed }, 'request audited');
    if (decision.allowed) return true;
    outcome.flags.push('-');
    outcome.detail = `rbac_access_denied_matched_policy[${decision.policy ? `${decision.policy} rule ${decision.rule}` : 'none'}]: ${decision.reason}`;
    outcome.deniedBy = decision.policy ?? '';
    this.#localReply(ex, grpc, 403, ACCESS_DENIED_BODY, outcome);
    return false;
  }

  #decide(ds: Downstream, ex: Exchange): HttpDecision {
    if (ds.target) {
      return decideHttp(this.#d.table(), ds.target, { method: ex.method, authority: ex.authority, path: ex.path, headers: ex.headers }, this.#random);
    }
    // Pod-addressed traffic takes no routes: it goes to the pod it was sent to.
    const w = ds.workload!;
    return {
      action: 'forward', backend: { namespace: w.workload.namespace, hostname: '', port: w.port }, requestHeaders: NO_EDITS, responseHeaders: NO_EDITS,
      mirrors: [], timeouts: {}, retry: { attempts: 0, retryOn: [], codes: [], backoffMs: 25 },
    };
  }

  async #forward(ds: Downstream, ex: Exchange, d: ForwardDecision, body: RequestBody, grpc: boolean, outcome: Outcome): Promise<void> {
    outcome.backend = d.backend;
    const headers: Headers = { ...ex.headers };
    applyHeaderEdits(headers, d.requestHeaders);
    if (!headers['x-request-id']) headers['x-request-id'] = randomUUID();
    headers['x-forwarded-proto'] ??= ds.tls ? 'https' : 'http';
    outcome.trace?.injectUpstream(headers);
    const path = d.rewritePath ?? ex.path;
    const authority = d.rewriteHost ?? ex.authority;
    const requestTimeout = minDefined(d.timeouts.requestMs || undefined, grpc ? grpcTimeoutMs(ex.headers['grpc-timeout']) : undefined);
    const deadline = requestTimeout !== undefined ? performance.now() + requestTimeout : undefined;
    const perTry = d.retry.perTryTimeoutMs ?? d.timeouts.backendRequestMs;
    const retry = d.retry;
    const tried = new Set<string>();
    const origination = ds.workload ? undefined : tlsOriginationOf(d.upstream, d.backend.hostname);
    let aborted = false;
    ex.onAbort(() => (aborted = true));

    for (const m of d.mirrors) void this.#mirror(ds, ex, m, headers, path, authority, body);

    for (let attempt = 0; ; attempt++) {
      outcome.attempts = attempt + 1;
      const ep = ds.workload
        ? { workload: ds.workload.workload, ip: ds.workload.ip, port: ds.workload.port }
        : this.#d.upstreams.pick(d.backend, d.upstream, hashKeyOf(d, ds), tried);
      if ('flag' in ep) {
        outcome.flags.push(ep.flag);
        outcome.detail = ep.reason;
        this.#localReply(ex, grpc, 503, ep.flag === 'UO' ? 'upstream connect error or disconnect/reset before headers. reset reason: overflow' : 'no healthy upstream', outcome);
        return;
      }
      outcome.endpoint = ep;
      tried.add(endpointKey(ep));
      const remaining = deadline !== undefined ? deadline - performance.now() : undefined;
      if (remaining !== undefined && remaining <= 0) return this.#timedOut(ex, grpc, outcome);
      const tryTimeout = minDefined(perTry, remaining);
      const done = ds.workload ? () => undefined : this.#d.upstreams.begin(d.backend, ep);
      const result = await this.#attempt(ds, ep, ds.workload ? undefined : d.backend, origination, ex.method, path, authority, headers, body, attempt, tryTimeout, grpc);
      if (aborted) {
        if ('status' in result) result.discard();
        done();
        outcome.flags.push('DC');
        return;
      }
      const od = d.upstream?.outlierDetection;
      if (!('status' in result)) {
        done();
        this.#d.upstreams.report(ep, od, 'connect-failure');
        const retriable = attempt < retry.attempts && body.replayable && failureRetriable(retry, result);
        if (retriable) {
          await sleep(backoffMs(retry, attempt, this.#random));
          continue;
        }
        if (result.kind === 'timeout') {
          if (deadline !== undefined && performance.now() >= deadline - 1) return this.#timedOut(ex, grpc, outcome);
          outcome.flags.push(attempt > 0 ? 'URX' : 'UT');
          outcome.detail = 'upstream per-try timeout';
          this.#localReply(ex, grpc, 504, 'upstream request timeout', outcome);
          return;
        }
        outcome.flags.push(attempt > 0 ? 'URX' : result.kind === 'connect' || result.kind === 'refused' ? 'UF' : 'UC');
        outcome.detail = describeError(result.error);
        this.#localReply(ex, grpc, 503, `upstream connect error or disconnect/reset before headers. reset reason: ${result.kind === 'connect' ? 'connection failure' : 'remote reset'}`, outcome);
        return;
      }
      this.#d.upstreams.report(ep, od, result.status);
      if (attempt < retry.attempts && body.replayable && responseRetriable(retry, result)) {
        result.discard();
        done();
        await sleep(backoffMs(retry, attempt, this.#random));
        continue;
      }
      if (attempt > 0 && attempt >= retry.attempts && responseRetriable(retry, result)) outcome.flags.push('URX');
      // Commit: the response goes to the client as it arrives.
      const respHeaders = { ...result.headers };
      applyHeaderEdits(respHeaders, d.responseHeaders);
      outcome.status = result.status;
      const grpcStatus = result.headers['grpc-status'];
      if (typeof grpcStatus === 'string') outcome.grpcStatus = grpcStatus;
      // A trailers-only answer (a gRPC status and no message) goes on as one HEADERS frame, as it came.
      ex.respond(result.status, respHeaders, result.endStream, grpc || ds.downstreamProtocol === 'h2');
      try {
        if (!result.endStream) {
          const trailers = await result.relay(ex);
          if (trailers && typeof trailers['grpc-status'] === 'string') outcome.grpcStatus = trailers['grpc-status'];
          ex.end(trailers);
        }
      } catch (err) {
        outcome.flags.push(aborted ? 'DC' : 'UR');
        outcome.detail = describeError(err);
        ex.reset();
      } finally {
        done();
      }
      if (!outcome.flags.length) outcome.flags.push('-');
      return;
    }
  }

  /** One upstream try: opens the transport, sends the request (body replayed), waits for the response head. */
  async #attempt(ds: Downstream, ep: Endpoint, backend: Backend | undefined, origination: TlsOrigination | undefined, method: string, path: string, authority: string, headers: Headers, body: RequestBody, attempt: number, timeoutMs: number | undefined, grpc: boolean): Promise<UpstreamResponse | AttemptFailure> {
    const useH2 = this.#upstreamH2(ds, grpc, backend);
    const h = attempt > 0 ? { ...headers, 'x-envoy-attempt-count': String(attempt + 1) } : headers;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<AttemptFailure>((resolve) => {
      if (timeoutMs !== undefined) timer = setTimeout(() => resolve({ kind: 'timeout', error: new Error(`no response within ${timeoutMs} ms`) }), timeoutMs);
    });
    let cancel: () => void = () => undefined;
    const attemptP = (async (): Promise<UpstreamResponse | AttemptFailure> => {
      try {
        if (useH2) {
          const session = await this.#d.upstreams.h2Session(ep, origination);
          const s = session.request({ ':method': method, ':path': path, ':authority': authority, ':scheme': origination ? 'https' : 'http', ...h }, { endStream: false });
          cancel = () => s.close(0x8);
          return await h2Response(s, body);
        }
        return await h1Response(this.#d.upstreams.h1Agent(ep, origination), method, path, authority, h, body, (req) => (cancel = () => req.destroy()));
      } catch (err) {
        const refused = findCause(err, StreamRefusedError) !== undefined;
        return { kind: refused ? 'refused' : (err as { phase?: string }).phase === 'response' ? 'reset' : 'connect', error: err };
      }
    })();
    const result = await Promise.race([attemptP, timeout]);
    clearTimeout(timer);
    if (!('status' in result) && result.kind === 'timeout') {
      cancel();
      void attemptP.then((r) => 'status' in r && r.discard());
    }
    body.detach();
    return result;
  }

  /**
   * Whether the upstream speaks HTTP/2: gRPC always; else what the Service port declares — the backend's for a
   * client outside the mesh (HTTP/1.1 when it declares nothing), the dialled service's for mesh traffic (the
   * client's own protocol when it declares nothing).
   */
  #upstreamH2(ds: Downstream, grpc: boolean, backend: Backend | undefined): boolean {
    if (grpc) return true;
    const declared = ds.external
      ? backend && this.#declaredProtocol(`${backend.namespace}/${backend.hostname}`, backend.port)
      : ds.target && this.#declaredProtocol(ds.target.serviceKey, ds.target.port);
    if (declared === 'HTTP2' || declared === 'GRPC') return true;
    if (declared === 'HTTP11' || ds.external) return false;
    return ds.downstreamProtocol === 'h2';
  }

  #declaredProtocol(serviceKey: string, port: number): string | undefined {
    return this.#d.view().service(serviceKey)?.ports.find((x) => x.servicePort === port)?.appProtocol;
  }

  async #mirror(ds: Downstream, ex: Exchange, m: Backend, headers: Headers, path: string, authority: string, body: RequestBody): Promise<void> {
    try {
      await body.whenComplete();
      if (!body.replayable) return;
      const ep = this.#d.upstreams.pick(m, undefined, undefined, new Set());
      if ('flag' in ep) return;
      const shadow = RequestBody.replayOf(body);
      const host = authority.replace(/^([^:]+)/, '$1-shadow');
      const r = await this.#attempt({ ...ds, workload: undefined }, ep, m, undefined, ex.method, path, host, headers, shadow, 0, 10_000, isGrpc(headers));
      if ('status' in r) r.discard();
    } catch (err) {
      this.#d.accessLog.debug({ error: describeError(err) }, 'mirror request failed');
    }
  }

  #timedOut(ex: Exchange, grpc: boolean, outcome: Outcome): void {
    outcome.flags.push('UT');
    outcome.detail = 'request timeout';
    this.#localReply(ex, grpc, 504, 'upstream request timeout', outcome);
  }

  #localReply(ex: Exchange, grpc: boolean, status: number, text: string, outcome: Outcome, grpcStatus?: number, edits: HeaderEdits = NO_EDITS): void {
    outcome.status = grpc ? 200 : status;
    if (ex.headersSent) {
      ex.reset();
      return;
    }
    if (grpc) {
      const code = grpcStatus ?? grpcStatusFor(status);
      outcome.grpcStatus = String(code);
      const headers: Headers = { 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(text) };
      applyHeaderEdits(headers, edits);
      ex.respond(200, headers, true);
      return;
    }
    const headers: Headers = { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(text)) };
    applyHeaderEdits(headers, edits);
    ex.respond(status, headers, false);
    ex.write(Buffer.from(text));
    ex.end();
  }

  #record(ds: Downstream, ex: Exchange, grpc: boolean, d: HttpDecision | undefined, o: Outcome, ms: number): void {
    const flags = [...new Set(o.flags.filter((f) => f !== '-'))];
    const flagText = flags.length ? flags.join(',') : '-';
    const view = this.#d.view();
    const svc = ds.target ? view.service(ds.target.serviceKey) : undefined;
    const backendSvc = o.backend?.hostname ? view.service(`${o.backend.namespace}/${o.backend.hostname}`) : undefined;
    const dstWorkload = o.endpoint?.workload ?? ds.workload?.workload;
    const labels: RequestLabels = {
      reporter: 'waypoint',
      ...sourceLabels(ds.peer),
      ...destinationLabels(backendSvc ?? svc, dstWorkload),
      request_protocol: grpc ? 'grpc' : 'http',
      response_code: String(o.status || 0),
      grpc_response_status: o.grpcStatus ?? (grpc ? '2' : ''),
      response_flags: flagText,
      connection_security_policy: 'mutual_tls',
    };
    const m = this.#d.metrics;
    m.requests.inc(labels);
    m.duration.observe(labels, ms);
    m.requestBytes.observe(labels, o.requestBytes);
    m.responseBytes.observe(labels, ex.bytesSent);
    const route = d && 'route' in d && d.route ? `${d.route.kind}/${d.route.namespace}/${d.route.name}#${d.route.ruleName ?? d.route.rule}` : '-';
    const line = {
      method: ex.method,
      path: ex.path,
      protocol: ex.protocol,
      response_code: o.status,
      response_flags: flagText,
      ...(o.grpcStatus !== undefined ? { grpc_status: o.grpcStatus } : {}),
      authority: ex.authority,
      'src.addr': ds.peer.address,
      'src.identity': ds.peer.identity,
      'src.workload': ds.peer.workload ?? '-',
      'dst.service': labels.destination_service,
      'upstream.host': o.endpoint ? endpointKey(o.endpoint) : '-',
      'dst.identity': dstWorkload ? formatSpiffeId(dstWorkload) : '-',
      route,
      attempts: o.attempts,
      bytes_received: o.requestBytes,
      bytes_sent: ex.bytesSent,
      duration: `${Math.round(ms)}ms`,
      'x-request-id': ex.headers['x-request-id'] ?? '-',
      ...(o.detail ? { detail: o.detail } : {}),
    };
    this.#d.decisions?.record({
      timeMs: Date.now(), reporter: 'waypoint', protocol: grpc ? 'grpc' : 'http',
      source: { address: ds.peer.address, workload: ds.peer.workload, namespace: ds.peer.namespace || undefined, identity: ds.peer.identity || undefined },
      destination: {
        address: o.endpoint ? endpointKey(o.endpoint) : ex.authority, service: known(labels.destination_service),
        workload: known(labels.destination_workload), namespace: known(labels.destination_workload_namespace) ?? known(labels.destination_service_namespace),
        identity: known(labels.destination_principal),
      },
      verdict: o.deniedBy !== undefined ? 'denied' : o.status >= 500 || flags.length ? 'failed' : 'allowed',
      policy: o.deniedBy || undefined, reason: o.detail, responseCode: o.status, durationMs: Math.round(ms),
      bytesSent: ex.bytesSent, bytesReceived: o.requestBytes, mutualTls: true, method: ex.method, path: ex.path, responseFlags: flagText,
    });
    if (o.status >= 500 || flags.length) this.#d.accessLog.warn(line, 'request complete');
    else this.#d.accessLog.info(line, 'request complete');
  }
}

/** A metric label value as a decision field: `unknown` becomes absent. */
function known(v: string): string | undefined {
  return v && v !== 'unknown' ? v : undefined;
}

function minDefined(...xs: Array<number | undefined>): number | undefined {
  const v = xs.filter((x): x is number => x !== undefined && x > 0);
  return v.length ? Math.min(...v) : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function backoffMs(r: RetryPolicy, attempt: number, random: () => number): number {
  const base = r.backoffMs || 25;
  return Math.floor(random() * Math.min(base * 2 ** attempt, base * 10));
}

function hashKeyOf(d: ForwardDecision, ds: Downstream): string | undefined {
  const lb = d.upstream?.loadBalancer;
  if (!lb || lb.policy !== 'CONSISTENT_HASH') return undefined;
  return lb.on === 'sourceIp' ? ds.peer.address.replace(/:\d+$/, '') : lb.key;
}

const GRPC_RETRY_ON: Record<string, string> = { cancelled: '1', 'deadline-exceeded': '4', 'resource-exhausted': '8', unavailable: '14', internal: '13' };

function responseRetriable(r: RetryPolicy, res: UpstreamResponse): boolean {
  const on = new Set(r.retryOn);
  const s = res.status;
  if (on.has('5xx') && s >= 500) return true;
  if (on.has('gateway-error') && (s === 502 || s === 503 || s === 504)) return true;
  if (on.has('retriable-status-codes') && r.codes.includes(s)) return true;
  if (r.retryOn.length === 0 && r.codes.includes(s)) return true;
  const g = res.headers['grpc-status'];
  if (typeof g === 'string') for (const [name, code] of Object.entries(GRPC_RETRY_ON)) if (on.has(name) && g === code) return true;
  return false;
}

function failureRetriable(r: RetryPolicy, f: AttemptFailure): boolean {
  const on = new Set(r.retryOn);
  if (f.kind === 'refused') return on.has('refused-stream') || on.has('connect-failure') || on.has('5xx') || on.has('reset') || on.has('gateway-error');
  if (f.kind === 'connect') return on.has('connect-failure') || on.has('5xx') || on.has('gateway-error') || on.has('reset');
  if (f.kind === 'reset') return on.has('reset') || on.has('5xx');
  return on.has('5xx') || on.has('gateway-error') || on.has('reset');
}
