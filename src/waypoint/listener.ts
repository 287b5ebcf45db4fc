// The waypoint's inbound side: each HBONE CONNECT stream (`:authority` = the VIP:port or pod IP:port the client
// dialled) is matched to a bound service or workload, answered 200, and its inner bytes handed to HTTP/1.1, h2c or
// TCP handling — by the Service port's protocol (appProtocol, then name prefix), else by sniffing.
//
// Sniffing (ports without a declared protocol): the first bytes decide — the HTTP/2 preface → h2c, an HTTP/1.x
// request line with a standard method → HTTP/1.1, anything else → TCP. A client that says nothing for 1 s (a server-first protocol) is
// carried as TCP. A CONNECT for something not bound to this waypoint is refused with 503 and logged: the waypoint
// never forwards traffic it was not configured for.
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { BidirectionalCopy } from '../hbone/copy.js';
import { respondStatus, type HboneStreamRequest } from '../hbone/hbone-server.js';
import { describeError } from '../lib/errors.js';
import type { DecisionPeer, DecisionRecord, DecisionSink, Verdict } from '../lib/telemetry/decision-record.js';
import { formatHostPort } from '../lib/ip-address.js';
import { byteStream } from './byte-stream.js';
import { H1Exchange, H2Exchange } from './exchange.js';
import type { Downstream, HttpProxy } from './http-proxy.js';
import type { WaypointAuthorization } from './authorization.js';
import type { MeshView } from './mesh-view.js';
import type { TcpLabels, WaypointMetrics } from './metrics.js';
import { destinationLabels, peerFacts, sourceLabels } from './peer.js';
import { decideTcp, type RouteTable } from '../routing/index.js';
import type { Upstreams } from './upstream.js';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const SNIFF_TIMEOUT_MS = 1000;
const MAX_REQUEST_LINE = 8192;
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

type Protocol = 'http1' | 'h2' | 'tcp';

interface ListenerDeps {
  view(): MeshView;
  table(): RouteTable;
  authz(): WaypointAuthorization;
  proxy: HttpProxy;
  upstreams: Upstreams;
  metrics: WaypointMetrics;
  log: Logger;
  accessLog: Logger;
  decisions?: DecisionSink;
}

/** What the first bytes say; undefined while more bytes are needed. */
export function classify(buf: Buffer): Protocol | undefined {
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return buf.length >= H2_PREFACE.length ? 'h2' : undefined;
  const eol = buf.indexOf(0x0a);
  const line = buf.subarray(0, eol < 0 ? Math.min(buf.length, MAX_REQUEST_LINE) : eol).toString('latin1');
  if (eol >= 0) return /^[A-Z][A-Z-]{0,19} \S+ HTTP\/1\.[01]\r?$/.test(line) ? 'http1' : 'tcp';
  if (buf.length >= MAX_REQUEST_LINE) return 'tcp';
  // An incomplete request line: wait only while it can still become `<known method> target HTTP/1.x`, so a
  // client's first bytes of another protocol go out as TCP at once.
  const sp = line.indexOf(' ');
  const method = sp < 0 ? line : line.slice(0, sp);
  if (sp < 0) return HTTP_METHODS.some((x) => x.startsWith(method)) ? undefined : 'tcp';
  if (!HTTP_METHODS.includes(method)) return 'tcp';
  const m = /^\S+ \S+ (.*)$/.exec(line);
  if (m) return 'HTTP/1.1'.startsWith(m[1]!) || 'HTTP/1.0'.startsWith(m[1]!) ? undefined : 'tcp';
  return /^\S+ \S*$/.test(line) ? undefined : 'tcp';
}

/**
 * Reads until `decide` knows what the first bytes are (or the stream ends, or `timeoutMs` passes: `otherwise`),
 * then puts every byte back and pauses the stream, so the next reader sees them all.
 */
export function peekUntil<T>(stream: Duplex, decide: (buf: Buffer) => T | undefined, otherwise: T, timeoutMs: number | undefined): Promise<T> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    const finish = (v: T) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.pause();
      if (buf.length) stream.unshift(buf);
      resolve(v);
    };
    const onData = (c: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, c]) : c;
      const v = decide(buf);
      if (v !== undefined) finish(v);
    };
    const onEnd = () => finish(otherwise);
    if (timeoutMs !== undefined) timer = setTimeout(() => finish(otherwise), timeoutMs);
    stream.on('data', onData);
    stream.once('end', onEnd);
  });
}

/** Reads until the protocol is known, then puts the bytes back. */
export function sniff(stream: Duplex, timeoutMs: number | undefined): Promise<Protocol> {
  return peekUntil(stream, classify, 'tcp', timeoutMs);
}

export class WaypointListener {
  readonly #d: ListenerDeps;

  constructor(deps: ListenerDeps) {
    this.#d = deps;
  }

  /** The HBONE server's stream handler. */
  readonly handle = async (req: HboneStreamRequest): Promise<void> => {
    const view = this.#d.view();
    const { host, port } = req.authority;
    const peer = peerFacts(req.peerIdentity, formatHostPort(req.peerAddress.ip, req.peerAddress.port), headerText(req.headers['baggage']));
    const bound = view.boundServiceByVip(host);
    const ds: Downstream = { peer, sourceIp: req.peerAddress.ip, destination: { ip: host, port }, downstreamProtocol: 'http1' };
    let declared: string | undefined;
    if (bound) {
      const p = bound.ports.find((x) => x.port === port);
      if (!p) return this.#refuse(req, `service ${bound.key} has no port ${port}`);
      ds.target = { serviceKey: bound.key, port, sourceNamespace: peer.namespace };
      declared = p.protocol;
    } else {
      const w = view.boundWorkloadByIp(host);
      if (!w) return this.#refuse(req, `${req.authority.text} is neither a service nor a workload bound to this waypoint`);
      ds.workload = { workload: w, ip: host, port };
    }
    req.stream.respond({ ':status': 200 });
    const stream: Duplex = req.stream;
    let protocol: Protocol;
    if (declared === 'tcp') protocol = 'tcp';
    else protocol = await sniff(stream, declared ? undefined : SNIFF_TIMEOUT_MS);
    if (protocol === 'tcp') return this.#tcp(ds, stream);
    ds.downstreamProtocol = protocol;
    if (protocol === 'h2') this.#serveH2(ds, stream);
    else this.#serveH1(ds, stream);
    stream.resume();
  };

  #refuse(req: HboneStreamRequest, reason: string): void {
    this.#d.log.warn({ 'src.identity': req.peerIdentity, authority: req.authority.text }, `refused CONNECT: ${reason}`);
    respondStatus(req.stream, 503);
  }

  #serveH1(ds: Downstream, stream: Duplex): void {
    // One server per downstream connection: its request handler closes over what the CONNECT said.
    serveHttp1(byteStream(stream) as net.Socket, (ex) => void this.#d.proxy.handle(ds, ex), this.#d.log);
  }

  #serveH2(ds: Downstream, stream: Duplex): void {
    serveHttp2(stream, (ex) => void this.#d.proxy.handle(ds, ex), this.#d.log);
  }

  /** One TCP connection's decision for the control plane's live table. */
  #report(ds: Downstream, destination: DecisionPeer, verdict: Verdict, ms: number, more: Partial<DecisionRecord>): void {
    this.#d.decisions?.record({
      timeMs: Date.now(), reporter: 'waypoint', protocol: 'tcp', verdict, durationMs: Math.round(ms), mutualTls: true,
      source: { address: ds.peer.address, workload: ds.peer.workload, namespace: ds.peer.namespace || undefined, identity: ds.peer.identity || undefined },
      destination, ...more,
    });
  }

  async #tcp(ds: Downstream, stream: Duplex): Promise<void> {
    const view = this.#d.view();
    // A TCP stream is judged by the same policies: rules with HTTP fields fail an ALLOW and match a DENY.
    const { decision, dryRun } = this.#d.authz().decide(ds);
    const dst = formatHostPort(ds.destination.ip, ds.destination.port);
    if (dryRun) this.#d.accessLog.info({ 'src.identity': ds.peer.identity, 'dst.addr': dst, wouldAllow: dryRun.allowed, policy: dryRun.policy, reason: dryRun.reason }, 'authorization dry run');
    if (decision && !decision.allowed) {
      this.#d.accessLog.warn({ 'src.identity': ds.peer.identity, 'dst.addr': dst, reason: decision.reason }, 'connection denied by authorization policy');
      this.#report(ds, { address: dst }, 'denied', 0, { policy: decision.policy, reason: decision.reason });
      stream.destroy();
      return;
    }
    let ep;
    let labels: TcpLabels;
    let svcKey: string | undefined;
    if (ds.target) {
      const d = decideTcp(this.#d.table(), ds.target);
      if (d.action === 'reject') {
        this.#d.accessLog.warn({ 'src.identity': ds.peer.identity, reason: d.reason, response_flags: d.flag }, 'connection refused');
        stream.destroy();
        return;
      }
      svcKey = `${d.backend.namespace}/${d.backend.hostname}`;
      const picked = this.#d.upstreams.pick(d.backend, d.upstream, undefined, new Set());
      if ('flag' in picked) {
        this.#d.accessLog.warn({ 'src.identity': ds.peer.identity, reason: picked.reason, response_flags: picked.flag }, 'connection refused');
        stream.destroy();
        return;
      }
      ep = picked;
    } else {
      ep = { workload: ds.workload!.workload, ip: ds.workload!.ip, port: ds.workload!.port };
    }
    labels = {
      reporter: 'waypoint', ...sourceLabels(ds.peer), ...destinationLabels(svcKey ? view.service(svcKey) : undefined, ep.workload),
      request_protocol: 'tcp', response_flags: '-', connection_security_policy: 'mutual_tls',
    };
    const started = performance.now();
    let upstream: Duplex;
    try {
      upstream = await this.#d.upstreams.open(ep);
    } catch (err) {
      labels = { ...labels, response_flags: 'UF' };
      this.#d.metrics.tcpOpened.inc(labels);
      this.#d.metrics.tcpClosed.inc(labels);
      this.#d.accessLog.warn({ 'src.identity': ds.peer.identity, upstream: formatHostPort(ep.ip, ep.port), error: describeError(err) }, 'connection failed');
      stream.destroy();
      return;
    }
    this.#d.metrics.tcpOpened.inc(labels);
    stream.resume();
    const copy = new BidirectionalCopy(stream, upstream);
    const out = await copy.done;
    this.#d.metrics.tcpReceived.inc(labels, out.aToB);
    this.#d.metrics.tcpSent.inc(labels, out.bToA);
    this.#d.metrics.tcpClosed.inc(labels);
    this.#report(ds, {
      address: formatHostPort(ep.ip, ep.port), service: svcKey ? labels.destination_service : undefined,
      workload: ep.workload?.workloadName || ep.workload?.name, namespace: ep.workload?.namespace, identity: ep.workload ? labels.destination_principal : undefined,
    }, out.error ? 'failed' : 'allowed', performance.now() - started, { bytesReceived: out.aToB, bytesSent: out.bToA, reason: out.error ? describeError(out.error) : undefined });
    this.#d.accessLog.info({
      'src.addr': ds.peer.address, 'src.identity': ds.peer.identity, 'dst.service': labels.destination_service, upstream: formatHostPort(ep.ip, ep.port),
      bytes_recv: out.aToB, bytes_sent: out.bToA, duration: `${Math.round(performance.now() - started)}ms`, ...(out.error ? { error: describeError(out.error) } : {}),
    }, 'connection complete');
  }
}

/** Serves HTTP/1.1 on one connection (one server per connection), each request as an exchange. */
export function serveHttp1(socket: net.Socket, onExchange: (ex: H1Exchange) => void, log: Logger): void {
  const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 60_000 }, (req, res) => onExchange(new H1Exchange(req, res)));
  // A client that half-closes after its request (FIN after the last byte) still gets the response, instead of
  // node:http aborting the request in flight.
  (server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.on('clientError', (err, s) => {
    log.debug({ error: describeError(err) }, 'malformed HTTP/1.1 from the client');
    if (!s.destroyed) s.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });
  server.emit('connection', socket);
}

/** Serves HTTP/2 (h2c, or h2 inside TLS) on one connection, each stream as an exchange. */
export function serveHttp2(stream: Duplex, onExchange: (ex: H2Exchange) => void, log: Logger): void {
  const session = http2.performServerHandshake(stream as net.Socket, { settings: { enableConnectProtocol: false } });
  session.on('error', (err) => log.debug({ error: describeError(err) }, 'HTTP/2 session error'));
  session.on('stream', (s: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => onExchange(new H2Exchange(s, headers)));
  // The client's FIN (e.g. its ztunnel ended the CONNECT stream) closes the session gracefully, and a closed session
  // ends the stream: otherwise the client's socket would wait in FIN-WAIT-2 for a close that never comes.
  stream.once('end', () => session.close());
  session.once('close', () => {
    if (!stream.writableEnded) stream.end();
  });
  stream.once('close', () => session.destroy());
}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}
