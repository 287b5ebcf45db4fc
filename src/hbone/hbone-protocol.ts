// HBONE wire constants and helpers shared by client and server: TLS/HTTP/2 settings (PROTOCOLS.md §2.4, §2.6),
// keepalive pings, and the CONNECT request headers (`baggage`, `forwarded`, `traceparent`, §2.2).
import { randomFillSync } from 'node:crypto';
import type tls from 'node:tls';
import type { WorkloadCertificate } from '../lib/certs/certificate-manager.js';
import { NO_RESUMPTION_SECURE_OPTIONS } from '../lib/certs/tls-identity.js';
import { uriSans } from '../lib/certs/proxy-x509.js';
import { formatHostPort } from '../lib/ip-address.js';
import type { H2LocalSettings } from './h2/h2-connection.js';

const MIB = 1024 * 1024;

/** Window/frame sizes: the connection window is 4× the stream window so one slow stream cannot stall the rest. */
export const STREAM_WINDOW_BYTES = 4 * MIB;
export const CONNECTION_WINDOW_BYTES = 16 * MIB;
const MAX_FRAME_BYTES = 1 * MIB;
const CLIENT_MAX_HEADER_LIST_BYTES = 16 * 1024;
const SERVER_MAX_HEADER_LIST_BYTES = 64 * 1024;
/** Advertised by the server; the client caps itself at min(100, this). */
export const SERVER_MAX_CONCURRENT_STREAMS = 200;
export const CLIENT_MAX_STREAMS_PER_CONNECTION = 100;

/** First PING after 10 s idle, then every 10 s; no PONG within 20 s tears the connection down. */
export const KEEPALIVE_INTERVAL_MS = 10_000;
export const KEEPALIVE_TIMEOUT_MS = 20_000;

/** TLS 1.3 only, AES-GCM suites, X25519/P-256 key exchange, ALPN h2. */
const TLS_SETTINGS = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  ciphers: 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256',
  ecdhCurve: 'X25519:P-256',
  ALPNProtocols: ['h2'],
} as const satisfies tls.SecureContextOptions & { ALPNProtocols: string[] };

export function clientH2Settings(): H2LocalSettings {
  return {
    initialWindowSize: STREAM_WINDOW_BYTES,
    maxFrameSize: MAX_FRAME_BYTES,
    maxHeaderListSize: CLIENT_MAX_HEADER_LIST_BYTES,
  };
}

export function serverH2Settings(): H2LocalSettings {
  return {
    initialWindowSize: STREAM_WINDOW_BYTES,
    maxFrameSize: MAX_FRAME_BYTES,
    maxHeaderListSize: SERVER_MAX_HEADER_LIST_BYTES,
    maxConcurrentStreams: SERVER_MAX_CONCURRENT_STREAMS,
  };
}

/** TLS options of a server presenting `cert` and requiring a client certificate that chains to its roots; no resumption. */
export function serverTlsOptions(cert: WorkloadCertificate): tls.TlsOptions {
  return {
    ...TLS_SETTINGS, ALPNProtocols: [...TLS_SETTINGS.ALPNProtocols], ...cert.tlsOptions(), requestCert: true, rejectUnauthorized: true,
    secureOptions: NO_RESUMPTION_SECURE_OPTIONS,
  };
}

/**
 * TLS options of a client presenting `cert` and accepting only a server whose leaf has a URI SAN in `expected`.
 * No SNI is sent (servername is the IP); hostname checks are replaced by the SPIFFE rule. No session is ever
 * offered (connectHbone passes none): every connection proves its certificate afresh.
 */
export function clientTlsOptions(cert: WorkloadCertificate, expected: readonly string[]): tls.ConnectionOptions {
  const allowed = new Set(expected);
  return {
    ...TLS_SETTINGS,
    ALPNProtocols: [...TLS_SETTINGS.ALPNProtocols],
    ...cert.tlsOptions(),
    rejectUnauthorized: true,
    checkServerIdentity: (_host, peer) => {
      const sans = peer.raw ? uriSans(peer.raw) : [];
      if (sans.some((s) => allowed.has(s))) return undefined;
      return new Error(`server identity ${sans.length ? sans.join(', ') : '(none)'} is not one of the expected identities ${[...allowed].join(', ')}`);
    },
  };
}

/** What keepalive needs of a connection (H2Connection has it). */
interface Pingable {
  readonly destroyed: boolean;
  readonly closed: boolean;
  ping(done: (err: Error | null, ms: number) => void): boolean;
  destroy(err?: Error): void;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * Sends a PING every `intervalMs`; when a PING stays unanswered for `timeoutMs` the session is destroyed.
 * Returns a stop function (also called automatically when the session closes).
 */
export function startKeepalive(session: Pingable, intervalMs = KEEPALIVE_INTERVAL_MS, timeoutMs = KEEPALIVE_TIMEOUT_MS): () => void {
  let outstandingSince = 0;
  const timer = setInterval(() => {
    if (session.destroyed || session.closed) return stop();
    const now = performance.now();
    if (outstandingSince) {
      if (now - outstandingSince > timeoutMs) session.destroy(new Error(`keepalive: no PING ack within ${timeoutMs} ms`));
      return;
    }
    outstandingSince = now;
    const sent = session.ping((err) => {
      if (!err) outstandingSince = 0;
    });
    if (!sent) outstandingSince = 0; // too many outstanding pings already; try again next tick
  }, Math.min(intervalMs, timeoutMs / 2));
  timer.unref();
  const stop = (): void => clearInterval(timer);
  session.once('close', stop);
  return stop;
}

// --- CONNECT request headers ---

/** What the request headers say about the source workload (absent values are omitted). */
interface BaggageFacts {
  clusterId?: string;
  namespace?: string;
  workloadType?: string;
  workloadName?: string;
  canonicalName?: string;
  canonicalRevision?: string;
  region?: string;
  zone?: string;
}

/** `k8s.cluster.name=…,k8s.namespace.name=…,k8s.<type>.name=…,service.name=…,service.version=…,cloud.region=…,cloud.availability_zone=…`. */
export function formatBaggage(b: BaggageFacts): string {
  const parts: string[] = [];
  const add = (k: string, v: string | undefined) => {
    if (v) parts.push(`${k}=${v}`);
  };
  add('k8s.cluster.name', b.clusterId);
  add('k8s.namespace.name', b.namespace);
  if (b.workloadType) add(`k8s.${b.workloadType.toLowerCase()}.name`, b.workloadName);
  add('service.name', b.canonicalName);
  add('service.version', b.canonicalRevision);
  add('cloud.region', b.region);
  add('cloud.availability_zone', b.zone);
  return parts.join(',');
}

/** Parses a baggage header back into facts (unknown keys ignored). */
export function parseBaggage(header: string | undefined): BaggageFacts {
  const out: BaggageFacts = {};
  if (!header) return out;
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    const workload = /^k8s\.(deployment|cronjob|pod|job)\.name$/.exec(key);
    if (key === 'k8s.cluster.name') out.clusterId = value;
    else if (key === 'k8s.namespace.name') out.namespace = value;
    else if (workload) {
      out.workloadType = workload[1];
      out.workloadName = value;
    } else if (key === 'service.name') out.canonicalName = value;
    else if (key === 'service.version') out.canonicalRevision = value;
    else if (key === 'cloud.region') out.region = value;
    else if (key === 'cloud.availability_zone') out.zone = value;
  }
  return out;
}

/** `for="<client ip:port>"` plus `;host=<service hostname>` when the app dialled a known Service. */
export function formatForwarded(clientIp: string, clientPort: number, serviceHost?: string): string {
  const base = `for="${formatHostPort(clientIp, clientPort)}"`;
  return serviceHost ? `${base};host=${serviceHost}` : base;
}

/** The `host=` hint of a Forwarded header (quotes optional, ASCII only), or undefined. */
export function forwardedHost(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const element of header.split(',')) {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== 'host') continue;
      let v = pair.slice(eq + 1).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      // eslint-disable-next-line no-control-regex
      return v && /^[\x21-\x7e]+$/.test(v) ? v : undefined;
    }
  }
  return undefined;
}

/** Bytes of one traceparent's ids: 16 (trace id) + 8 (parent span id). */
const TRACE_ID_BYTES = 24;
/**
 * Random bytes for 256 traceparents, refilled when used up: one CSPRNG call per 256 connections instead of two
 * `randomBytes` allocations per connection (≈7 µs each time on the connection-setup path).
 */
const traceRandom = Buffer.alloc(TRACE_ID_BYTES * 256);
let traceRandomOffset = traceRandom.length;

/** A fresh W3C traceparent `00-<32 hex>-<16 hex>-00` (random per outbound connection). */
export function newTraceparent(): string {
  if (traceRandomOffset + TRACE_ID_BYTES > traceRandom.length) {
    randomFillSync(traceRandom);
    traceRandomOffset = 0;
  }
  const o = traceRandomOffset;
  traceRandomOffset += TRACE_ID_BYTES;
  return `00-${traceRandom.toString('hex', o, o + 16)}-${traceRandom.toString('hex', o + 16, o + TRACE_ID_BYTES)}-00`;
}

/** The trace id when `header` is a well-formed 55-character traceparent, for log correlation. */
export function traceIdOf(header: string | undefined): string | undefined {
  if (!header || header.length !== 55) return undefined;
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(header);
  return m ? m[1] : undefined;
}
