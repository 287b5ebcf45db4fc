// An ingress gateway's client-facing listeners (the waypoint binary serving a Gateway of class istio or ambit): one
// server per port of its config, HTTP (HTTP/1.1 or prior-knowledge h2c, sniffed) or HTTPS (TLS 1.2+, ALPN h2 and
// http/1.1). Each request is handled by the same HttpProxy as mesh traffic, as if addressed to the listener's bound
// "service": its attached routes decide, and upstream goes over HBONE with the gateway's identity to enrolled
// backends, plain TCP to others.
//
// Which listener: on HTTPS the one whose hostname matches the SNI, read from the ClientHello before TLS starts
// (most specific first; a listener without hostname takes any name, and clients sending no SNI); a handshake whose
// SNI no listener takes — or whose listener has no usable certificate — is refused with the fatal TLS alert
// `unrecognized_name` (112). On HTTP, per request, the listener whose hostname matches the
// Host header; none → 404 from the gateway. Clients are outside the mesh: they have no identity.
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { describeError } from '../lib/errors.js';
import { hostnameMatches } from '../lib/hostname-match.js';
import { formatHostPort } from '../lib/ip-address.js';
import { hostOf } from '../routing/match.js';
import type { IngressPortRecord } from '../lib/xds/waypoint-records.js';
import type { Downstream, HttpProxy } from './http-proxy.js';
import { byteStream } from './byte-stream.js';
import { parseClientHello, UNRECOGNIZED_NAME_ALERT } from './client-hello.js';
import { peekUntil, serveHttp1, serveHttp2, sniff } from './listener.js';
import { peerFacts } from './peer.js';

type IngressListener = IngressPortRecord['listeners'][number];

interface PortServer {
  /** The port's config as last applied (listeners are read live by the handlers). */
  config: IngressPortRecord;
  server: net.Server;
  contexts: Map<string, tls.SecureContext>;
}

/** `host` matched by a listener hostname ('' = any). */
function listenerTakes(hostname: string, host: string): boolean {
  return !hostname || hostnameMatches(hostname, host);
}

/** How long a client may take to send its ClientHello. */
const HELLO_TIMEOUT_MS = 10_000;

/** Reads the ClientHello (the bytes go back into the socket); null when the client sends something else or nothing. */
function readClientHello(socket: net.Socket, timeoutMs: number): Promise<{ serverName?: string } | null> {
  return peekUntil<{ serverName?: string } | null>(socket, (buf) => {
    const r = parseClientHello(buf);
    if (r.kind === 'hello') return r.serverName ? { serverName: r.serverName } : {};
    // A ClientHello spans one record of at most 16 KiB (+ its 5-byte header).
    return r.kind === 'not-tls' || buf.length > 16_389 ? null : undefined;
  }, null, timeoutMs);
}

export class IngressListeners {
  readonly #ports = new Map<number, PortServer>();
  readonly #proxy: HttpProxy;
  readonly #log: Logger;
  readonly #host: string;

  constructor(deps: { proxy: HttpProxy; log: Logger; host?: string }) {
    this.#proxy = deps.proxy;
    this.#log = deps.log;
    this.#host = deps.host ?? '0.0.0.0';
  }

  /** The ports listening now. */
  ports(): number[] {
    return [...this.#ports.keys()];
  }

  /** Opens, updates and closes servers to match `ports`; a port that cannot be opened is logged and retried on the next config. */
  async configure(ports: readonly IngressPortRecord[]): Promise<void> {
    const wanted = new Map(ports.map((p) => [p.port, p]));
    for (const [port, ps] of this.#ports) {
      if (wanted.get(port)?.protocol === ps.config.protocol) continue;
      this.#ports.delete(port);
      ps.server.close();
    }
    for (const p of ports) {
      const existing = this.#ports.get(p.port);
      if (existing) {
        existing.config = p;
        existing.contexts = contextsOf(p, this.#log);
        continue;
      }
      const ps: PortServer = { config: p, contexts: contextsOf(p, this.#log), server: undefined as unknown as net.Server };
      ps.server = p.protocol === 'HTTPS' ? this.#httpsServer(ps) : net.createServer({ noDelay: true, allowHalfOpen: true }, (s) => void this.#plain(ps, s));
      try {
        await new Promise<void>((resolve, reject) => {
          ps.server.once('error', reject);
          ps.server.listen(p.port, this.#host, () => resolve());
        });
        this.#ports.set(p.port, ps);
        this.#log.info({ port: p.port, protocol: p.protocol, listeners: p.listeners.map((l) => l.name) }, 'ingress port listening');
      } catch (err) {
        this.#log.error({ port: p.port, error: describeError(err) }, 'cannot listen on an ingress port');
      }
    }
  }

  close(): void {
    for (const ps of this.#ports.values()) ps.server.close();
    this.#ports.clear();
  }

  #httpsServer(ps: PortServer): net.Server {
    return net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
      socket.on('error', () => undefined);
      void readClientHello(socket, HELLO_TIMEOUT_MS).then((hello) => {
        if (!hello) return void socket.destroy();
        const name = hello.serverName ?? '';
        const l = ps.config.listeners.find((x) => listenerTakes(x.hostname, name));
        const ctx = l ? ps.contexts.get(l.name) : undefined;
        if (!l || !ctx) {
          this.#log.info({ port: ps.config.port, sni: name || null }, l ? `refused a TLS handshake: listener ${l.name} has no usable certificate` : 'refused a TLS handshake: no listener takes this server name');
          socket.end(UNRECOGNIZED_NAME_ALERT);
          return;
        }
        const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: ctx, ALPNProtocols: ['h2', 'http/1.1'] });
        secure.on('error', (err) => this.#log.debug({ port: ps.config.port, error: describeError(err) }, 'TLS with a client failed'));
        secure.once('secure', () => {
          const ds = this.#downstream(socket, ps.config.port, l, secure.alpnProtocol === 'h2' ? 'h2' : 'http1', true);
          // HTTP/2 over a JS stream: the TLS socket may already hold the client's preface in its JS buffer, which a
          // session bound to the native handle would never see.
          if (ds.downstreamProtocol === 'h2') serveHttp2(byteStream(secure), (ex) => void this.#proxy.handle(ds, ex), this.#log);
          else serveHttp1(secure, (ex) => void this.#proxy.handle(ds, ex), this.#log);
        });
      });
    });
  }

  async #plain(ps: PortServer, socket: net.Socket): Promise<void> {
    socket.on('error', () => undefined);
    const protocol = await sniff(socket, undefined);
    if (protocol === 'tcp') return void socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    const h2 = protocol === 'h2';
    // The listener is chosen per request, by its Host header.
    const pick = (authority: string): Downstream => {
      const l = ps.config.listeners.find((x) => listenerTakes(x.hostname, hostOf(authority))) ?? ps.config.listeners[ps.config.listeners.length - 1]!;
      return this.#downstream(socket, ps.config.port, l, h2 ? 'h2' : 'http1', false);
    };
    if (h2) serveHttp2(socket, (ex) => void this.#proxy.handle(pick(ex.authority), ex), this.#log);
    else serveHttp1(socket, (ex) => void this.#proxy.handle(pick(ex.authority), ex), this.#log);
    socket.resume();
  }

  #downstream(socket: Duplex & { remoteAddress?: string; remotePort?: number }, port: number, l: IngressListener, protocol: 'http1' | 'h2', isTls: boolean): Downstream {
    const ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    return {
      peer: peerFacts('', formatHostPort(ip, socket.remotePort ?? 0), undefined),
      sourceIp: ip,
      destination: { ip: '', port },
      target: { serviceKey: l.serviceKey, port },
      downstreamProtocol: protocol,
      external: true,
      ...(isTls ? { tls: true } : {}),
    };
  }
}

/** A secure context per HTTPS listener with a certificate; a bad one is logged and left out (its handshakes fail). */
function contextsOf(p: IngressPortRecord, log: Logger): Map<string, tls.SecureContext> {
  const out = new Map<string, tls.SecureContext>();
  if (p.protocol !== 'HTTPS') return out;
  for (const l of p.listeners) {
    if (!l.certChain || !l.privateKey) continue;
    try {
      out.set(l.name, tls.createSecureContext({ cert: l.certChain, key: l.privateKey, minVersion: 'TLSv1.2' }));
    } catch (err) {
      log.warn({ listener: l.name, error: describeError(err) }, 'unusable listener certificate');
    }
  }
  return out;
}
