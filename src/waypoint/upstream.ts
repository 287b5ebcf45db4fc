// The waypoint's upstream side: endpoint choice for a backend (subset, DestinationRule load balancing, outlier
// ejection, connection-pool limits) and the transport to it — HBONE with the waypoint's own identity to the
// endpoint's ztunnel (pooled as ztunnel pools), plain TCP for endpoints outside the mesh; HTTP/2 sessions per
// endpoint for h2/gRPC upstreams.
//
// TLS origination (DestinationRule `tls.mode: SIMPLE`, e.g. on an egress waypoint: the app speaks plain HTTP, the
// wire to the external host is TLS): the waypoint wraps the transport in TLS 1.2+ with SNI = `tls.sni`, else the
// backend's host name; the server certificate is verified against Node's roots (plus NODE_EXTRA_CA_CERTS) and its
// name against the SNI, or against `tls.subjectAltNames` when given; `insecureSkipVerify` turns verification off.
// A failed handshake is a connect failure (503 UF) whose detail names the reason.
//
// Load balancing (DestinationRule trafficPolicy.loadBalancer): ROUND_ROBIN by default (Envoy's default is
// LEAST_REQUEST; round robin makes weighted canary tests and demos predictable), LEAST_REQUEST (two random choices,
// fewer active requests wins), RANDOM, CONSISTENT_HASH (header, cookie, query parameter or source IP → same endpoint
// while the endpoint set is unchanged). Subset labels are matched against what the workload API carries of a pod:
// `version`/`app.kubernetes.io/version` (canonical revision) and `app`/`app.kubernetes.io/name` (canonical name).
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { CertificateManager } from '../lib/certs/certificate-manager.js';
import { formatSpiffeId } from '../lib/certs/spiffe-id.js';
import { formatHostPort } from '../lib/ip-address.js';
import type { WorkloadRecord } from '../lib/xds/workload-records.js';
import { connectHbone } from '../hbone/hbone-client.js';
import { HbonePool } from '../hbone/pool.js';
import { IdentityError, UpstreamConnectError } from '../hbone/proxy-errors.js';
import { PORT_HBONE } from '../lib/mesh-contract.js';
import { byteStream } from './byte-stream.js';
import type { Endpoint, MeshView } from './mesh-view.js';
import type { Backend, ConnectionPoolLimits, OutlierDetectionSettings, UpstreamPolicy } from '../routing/index.js';

const SUBSET_LABELS: Record<string, (w: WorkloadRecord) => string> = {
  version: (w) => w.canonicalRevision,
  'app.kubernetes.io/version': (w) => w.canonicalRevision,
  app: (w) => w.canonicalName,
  'app.kubernetes.io/name': (w) => w.canonicalName,
};

const IDLE_UPSTREAM_MS = 4000;

/** Why no endpoint was chosen: no endpoint at all (UH), or the connection-pool limit (UO). */
type PickFailure = { flag: 'UH' | 'UO'; reason: string };

interface EndpointHealth {
  consecutive5xx: number;
  consecutiveGatewayErrors: number;
  ejectedUntil: number;
  ejections: number;
}

/** One upstream cluster (service key + port + subset): its load-balancing and limit state. */
interface ClusterState {
  rr: number;
  active: number;
  perEndpointActive: Map<string, number>;
}

interface UpstreamsOptions {
  view: () => MeshView;
  certs: CertificateManager;
  /** The waypoint's SPIFFE identity (what it presents to destination ztunnels). */
  identity: string;
  connectTimeoutMs: number;
  /** Port of the destination ztunnels' HBONE listeners (15008; tests use others). */
  hbonePort?: number;
  log: Logger;
  random?: () => number;
  now?: () => number;
}

export class Upstreams {
  readonly #opts: UpstreamsOptions;
  readonly #pool: HbonePool;
  readonly #clusters = new Map<string, ClusterState>();
  readonly #health = new Map<string, EndpointHealth>();
  readonly #h2 = new Map<string, Promise<http2.ClientHttp2Session>>();
  readonly #agents = new Map<string, http.Agent>();
  readonly #random: () => number;
  readonly #now: () => number;

  constructor(opts: UpstreamsOptions) {
    this.#opts = opts;
    this.#random = opts.random ?? Math.random;
    this.#now = opts.now ?? Date.now;
    this.#pool = new HbonePool({
      log: opts.log,
      connect: async (key) => {
        let cert;
        try {
          cert = await opts.certs.fetch(key.srcIdentity);
        } catch (err) {
          throw new IdentityError(key.srcIdentity, { cause: err });
        }
        const [host, port] = splitHostPort(key.dst);
        const socket = await dial(host, port, opts.connectTimeoutMs);
        socket.allowHalfOpen = false;
        return connectHbone({ socket, certificate: cert, expectedIdentities: key.expectedIdentities, target: key.dst, handshakeTimeoutMs: opts.connectTimeoutMs });
      },
    });
  }

  /**
   * Chooses an endpoint of `backend`, or says why none. `hashKey` is the consistent-hash input the decision
   * computed (or the source IP); `exclude` holds endpoints that already failed this request (retries go elsewhere
   * when another endpoint exists).
   */
  pick(backend: Backend, policy: UpstreamPolicy | undefined, hashKey: string | undefined, exclude: ReadonlySet<string>): Endpoint | PickFailure {
    const key = `${backend.namespace}/${backend.hostname}`;
    const view = this.#opts.view();
    // An ingress gateway reaches a Service labelled istio.io/ingress-use-waypoint through that Service's waypoint.
    const viaWaypoint = view.config?.ingressUseWaypoint?.includes(key) ? view.waypointEndpoints(key, backend.port) : undefined;
    let eps = viaWaypoint ?? view.endpoints(key, backend.port);
    if (!view.service(key)) return { flag: 'UH', reason: `no such service ${key}` };
    if (backend.subset) {
      const labels = backend.subset.labels;
      eps = eps.filter((e) => Object.entries(labels).every(([k, v]) => SUBSET_LABELS[k]?.(e.workload) === v));
    }
    if (!eps.length) return { flag: 'UH', reason: `no healthy upstream for ${key}:${backend.port}${backend.subset ? ` subset ${backend.subset.name}` : ''}` };
    const cluster = this.#cluster(backend);
    const limits = policy?.connectionPool;
    if (limits && overLimit(cluster.active, limits)) {
      return { flag: 'UO', reason: `upstream overflow: ${cluster.active} requests in flight to ${key}:${backend.port} reach the DestinationRule ${policy!.destinationRule} connectionPool limit` };
    }
    const now = this.#now();
    const od = policy?.outlierDetection;
    let live = eps.filter((e) => !exclude.has(endpointKey(e)));
    if (!live.length) live = eps;
    if (od) {
      const notEjected = live.filter((e) => (this.#health.get(endpointKey(e))?.ejectedUntil ?? 0) <= now);
      // Never eject below minHealthPercent / above maxEjectionPercent: fall back to every endpoint (panic mode).
      const ejectedShare = ((live.length - notEjected.length) / live.length) * 100;
      if (notEjected.length && ejectedShare <= od.maxEjectionPercent) live = notEjected;
    }
    const lb = policy?.loadBalancer;
    let chosen: Endpoint;
    if (lb?.policy === 'CONSISTENT_HASH' && hashKey !== undefined) {
      const sorted = [...live].sort((a, b) => endpointKey(a).localeCompare(endpointKey(b)));
      const h = createHash('sha1').update(hashKey).digest().readUInt32BE(0);
      chosen = sorted[h % sorted.length]!;
    } else if (lb?.policy === 'RANDOM' || (lb?.policy === 'CONSISTENT_HASH' && hashKey === undefined)) {
      chosen = live[Math.floor(this.#random() * live.length)]!;
    } else if (lb?.policy === 'LEAST_REQUEST' && live.length > 1) {
      const a = live[Math.floor(this.#random() * live.length)]!;
      const b = live[Math.floor(this.#random() * live.length)]!;
      const n = (e: Endpoint) => cluster.perEndpointActive.get(endpointKey(e)) ?? 0;
      chosen = n(b) < n(a) ? b : a;
    } else {
      const sorted = live.length > 1 ? [...live].sort((a, b) => endpointKey(a).localeCompare(endpointKey(b))) : live;
      chosen = sorted[cluster.rr++ % sorted.length]!;
    }
    return chosen;
  }

  /** Counts a request in flight to `ep` (connection-pool limits, least request); call the returned function once done. */
  begin(backend: Backend, ep: Endpoint): () => void {
    const cluster = this.#cluster(backend);
    const k = endpointKey(ep);
    cluster.active++;
    cluster.perEndpointActive.set(k, (cluster.perEndpointActive.get(k) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      cluster.active--;
      cluster.perEndpointActive.set(k, (cluster.perEndpointActive.get(k) ?? 1) - 1);
    };
  }

  /** Feeds outlier detection: a 5xx (or connect failure) counts towards ejection; a success resets the count. */
  report(ep: Endpoint, od: OutlierDetectionSettings | undefined, status: number | 'connect-failure'): void {
    if (!od) return;
    const k = endpointKey(ep);
    const h = this.#health.get(k) ?? { consecutive5xx: 0, consecutiveGatewayErrors: 0, ejectedUntil: 0, ejections: 0 };
    this.#health.set(k, h);
    const gatewayError = status === 'connect-failure' || status === 502 || status === 503 || status === 504;
    if (status === 'connect-failure' || status >= 500) {
      h.consecutive5xx++;
      if (gatewayError) h.consecutiveGatewayErrors++;
    } else {
      h.consecutive5xx = 0;
      h.consecutiveGatewayErrors = 0;
      return;
    }
    const tripped = (od.consecutive5xxErrors !== undefined && od.consecutive5xxErrors > 0 && h.consecutive5xx >= od.consecutive5xxErrors)
      || (od.consecutiveGatewayErrors !== undefined && od.consecutiveGatewayErrors > 0 && h.consecutiveGatewayErrors >= od.consecutiveGatewayErrors);
    if (tripped && h.ejectedUntil <= this.#now()) {
      h.ejections++;
      h.ejectedUntil = this.#now() + od.baseEjectionTimeMs * h.ejections;
      h.consecutive5xx = 0;
      h.consecutiveGatewayErrors = 0;
      this.#opts.log.info({ endpoint: k, ejectedForMs: od.baseEjectionTimeMs * h.ejections }, 'outlier detection ejected an endpoint');
    }
  }

  /** A transport to `ep` for `origination` (undefined: plaintext): `open()`, wrapped in TLS when asked. */
  async #transport(ep: Endpoint, origination: TlsOrigination | undefined, alpn: string): Promise<Duplex> {
    const stream = await this.open(ep);
    return origination ? originateTls(stream, ep, origination, alpn, this.#opts.connectTimeoutMs) : stream;
  }

  /** A fresh byte stream to the endpoint: an HBONE CONNECT stream for mesh workloads, else TCP. */
  async open(ep: Endpoint, headers: Record<string, string> = {}): Promise<Duplex> {
    const w = ep.workload;
    const target = formatHostPort(ep.ip, ep.port);
    if (w.tunnelProtocol === 'HBONE') {
      const dst = ep.via ? formatHostPort(ep.via.ip, ep.via.port) : formatHostPort(ep.ip, this.#opts.hbonePort ?? PORT_HBONE);
      return this.#pool.openStream(
        { srcIdentity: this.#opts.identity, expectedIdentities: [formatSpiffeId(w)], dst, srcIp: '' },
        target,
        headers,
      );
    }
    return dial(ep.ip, ep.port, this.#opts.connectTimeoutMs);
  }

  /**
   * For the waypoint's own requests (JWKS, external authorizers): an endpoint of the mesh service named `host` (see
   * MeshView.serviceKeyByHost) taking `port`, or undefined when `host` names no mesh service (then it is dialled
   * directly). Throws when the service has no endpoint to take it.
   */
  endpointForHost(host: string, port: number, namespace: string): Endpoint | undefined {
    const key = this.#opts.view().serviceKeyByHost(host, namespace);
    if (!key) return undefined;
    const slash = key.indexOf('/');
    const ep = this.pick({ namespace: key.slice(0, slash), hostname: key.slice(slash + 1), port }, undefined, undefined, new Set());
    if ('flag' in ep) throw new Error(ep.reason);
    return ep;
  }

  /**
   * The HTTP/2 session to `ep` (h2c, or h2 over originated TLS), opened over one stream from `open()` and shared by
   * concurrent requests.
   */
  h2Session(ep: Endpoint, origination?: TlsOrigination): Promise<http2.ClientHttp2Session> {
    const k = transportKey(ep, origination);
    const cached = this.#h2.get(k);
    if (cached) return cached;
    const created = this.#transport(ep, origination, 'h2').then((stream) => new Promise<http2.ClientHttp2Session>((resolve, reject) => {
      const scheme = origination ? 'https' : 'http';
      const session = http2.connect(`${scheme}://${formatHostPort(ep.ip, ep.port)}`, { createConnection: () => stream as unknown as net.Socket });
      const forget = () => {
        if (this.#h2.get(k) === created) this.#h2.delete(k);
      };
      session.once('connect', () => resolve(session));
      session.once('error', (err) => {
        forget();
        reject(new UpstreamConnectError(formatHostPort(ep.ip, ep.port), { cause: err }));
      });
      session.once('close', forget);
      session.once('goaway', forget);
    }));
    created.catch(() => this.#h2.delete(k));
    this.#h2.set(k, created);
    return created;
  }

  /**
   * The keep-alive HTTP/1.1 agent for `ep`: its sockets are HBONE streams (byteStream-wrapped), reused across requests,
   * so a request costs no new CONNECT and no new connection to the app. Idle ones go after 4 s, before a Node
   * server's 5 s keep-alive timeout can close them under a new request.
   */
  h1Agent(ep: Endpoint, origination?: TlsOrigination): http.Agent {
    const k = transportKey(ep, origination);
    let agent = this.#agents.get(k);
    if (!agent) {
      agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxSockets: 256, maxFreeSockets: 64, timeout: IDLE_UPSTREAM_MS });
      const created = agent;
      Object.assign(agent, {
        createConnection: (_opts: unknown, cb: (err: Error | null, socket?: Duplex) => void) => {
          // A TLS socket is already a socket the HTTP client can drive; an HBONE stream needs the adapter.
          this.#transport(ep, origination, 'http/1.1').then((s) => cb(null, s instanceof tls.TLSSocket ? s : byteStream(s)), (err: Error) => cb(Object.assign(err, { phase: 'connect' })));
          return undefined;
        },
      });
      this.#agents.set(k, created);
    }
    return agent;
  }

  close(): void {
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
    for (const s of this.#h2.values()) s.then((x) => x.close(), () => undefined);
    this.#h2.clear();
    this.#pool.close();
  }

  #cluster(b: Backend): ClusterState {
    const k = `${b.namespace}/${b.hostname}:${b.port}/${b.subset?.name ?? ''}`;
    let c = this.#clusters.get(k);
    if (!c) {
      c = { rr: Math.floor(this.#random() * 1000), active: 0, perEndpointActive: new Map() };
      this.#clusters.set(k, c);
    }
    return c;
  }
}

export function endpointKey(e: Endpoint): string {
  return formatHostPort(e.ip, e.port);
}

/** What a DestinationRule asks of the upstream TLS (SIMPLE only; other modes never reach the data path). */
export interface TlsOrigination {
  /** The name sent as SNI and, without `subjectAltNames`, checked against the certificate. */
  serverName: string;
  subjectAltNames?: string[];
  insecureSkipVerify?: boolean;
}

/** The TLS origination `policy` asks for towards `backendHost`, or undefined for plaintext. */
export function tlsOriginationOf(policy: UpstreamPolicy | undefined, backendHost: string): TlsOrigination | undefined {
  const t = policy?.tls;
  if (!t || t.mode !== 'SIMPLE') return undefined;
  return {
    serverName: t.sni ?? backendHost,
    ...(t.subjectAltNames?.length ? { subjectAltNames: t.subjectAltNames } : {}),
    ...(t.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
  };
}

function transportKey(ep: Endpoint, o: TlsOrigination | undefined): string {
  return o ? `${endpointKey(ep)}|tls:${o.serverName}|${(o.subjectAltNames ?? []).join(',')}|${o.insecureSkipVerify ? 'insecure' : ''}` : endpointKey(ep);
}

/** TLS over `stream` towards `ep`; rejects (as a connect failure naming the reason) when the handshake fails. */
function originateTls(stream: Duplex, ep: Endpoint, o: TlsOrigination, alpn: string, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const sans = o.subjectAltNames;
    const socket = tls.connect({
      socket: stream,
      ...(net.isIP(o.serverName) ? {} : { servername: o.serverName }),
      ALPNProtocols: [alpn],
      minVersion: 'TLSv1.2',
      rejectUnauthorized: !o.insecureSkipVerify,
      checkServerIdentity: (host, cert) => {
        if (!sans) return tls.checkServerIdentity(o.serverName || host, cert);
        const names = (cert.subjectaltname ?? '').split(/,\s*/).map((n) => n.replace(/^(DNS|URI|IP Address):/, ''));
        return sans.some((s) => names.includes(s)) ? undefined : new Error(`the certificate names ${names.join(', ') || 'nothing'}, none of the DestinationRule's subjectAltNames ${sans.join(', ')}`);
      },
    });
    const timer = setTimeout(() => socket.destroy(new Error(`TLS handshake timeout after ${timeoutMs} ms`)), timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new UpstreamConnectError(`${formatHostPort(ep.ip, ep.port)} with TLS as ${o.serverName}`, { cause: err }));
    });
  });
}

/** Requests beyond the DestinationRule's limits overflow (Envoy: maxConnections + pending for HTTP/1, maxRequests for HTTP/2). */
function overLimit(active: number, l: ConnectionPoolLimits): boolean {
  const caps: number[] = [];
  if (l.http2MaxRequests !== undefined) caps.push(l.http2MaxRequests);
  if (l.maxConnections !== undefined) caps.push(l.maxConnections + (l.http1MaxPendingRequests ?? 0));
  return caps.length > 0 && active >= Math.min(...caps);
}

function splitHostPort(hp: string): [string, number] {
  const colon = hp.lastIndexOf(':');
  return [hp.slice(0, colon).replace(/^\[|\]$/g, ''), Number(hp.slice(colon + 1))];
}

function dial(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => s.destroy(new Error(`connect timeout after ${timeoutMs} ms`)), timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(new UpstreamConnectError(formatHostPort(host, port), { cause: err }));
    });
  });
}
