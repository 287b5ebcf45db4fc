// HBONE server (port 15008): mutual TLS 1.3 with a workload certificate, HTTP/2 (h2/), one CONNECT stream per proxied
// TCP connection (PROTOCOLS.md §2). Protocol-level checks live here (client certificate in our trust domain,
// method CONNECT → else 400, parsable `:authority` → else 400); what to do with a well-formed stream (IP match,
// authorization, connecting to the app, 200/401/503) is the handler's job (inbound.ts).
import type net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { WorkloadCertificate } from '../lib/certs/certificate-manager.js';
import { classifyHandshakeFailure, type HandshakeFailureReason } from '../lib/certs/handshake-failure.js';
import { peerSpiffeId } from '../lib/certs/tls-identity.js';
import { describeError } from '../lib/errors.js';
import { silentLogger } from '../lib/log.js';
import { splitSpiffeId } from '../lib/certs/spiffe-id.js';
import { canonicalIp, parseAuthority } from '../lib/ip-address.js';
import {
  CONNECTION_WINDOW_BYTES, KEEPALIVE_INTERVAL_MS, KEEPALIVE_TIMEOUT_MS, serverH2Settings, serverTlsOptions, startKeepalive,
} from './hbone-protocol.js';
import { H2Connection } from './h2/h2-connection.js';
import type { H2Headers, H2Stream } from './h2/h2-stream.js';
import { ErrorCode } from './h2/frames.js';

interface SocketAddress {
  ip: string;
  port: number;
}

/** One well-formed CONNECT stream, handed to the handler before any response was sent. */
export interface HboneStreamRequest {
  stream: H2Stream;
  headers: H2Headers;
  /** The parsed `:authority` (IP or hostname form) and its text. */
  authority: { host: string; port: number; isIp: boolean; text: string };
  /** Full `spiffe://…` identity of the client certificate. */
  peerIdentity: string;
  /** The TCP peer (the connecting ztunnel or waypoint). */
  peerAddress: SocketAddress;
  /** The address the client dialled (the local pod IP and 15008). */
  localAddress: SocketAddress;
}

/** Handles one stream: must respond (200 and copy, or an error status). A throw or rejection answers 503. */
export type HboneStreamHandler = (req: HboneStreamRequest) => void | Promise<void>;

interface HboneServerOptions {
  certificate: WorkloadCertificate;
  handler: HboneStreamHandler;
  log?: Logger;
  keepaliveIntervalMs?: number;
  keepaliveTimeoutMs?: number;
  /** TLS handshake deadline, ms (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Called once per refused or failed handshake (the metric); the server logs it itself. */
  onHandshakeFailure?: (reason: HandshakeFailureReason) => void;
}

/** Answers a stream with `status` and no body. */
export function respondStatus(stream: H2Stream, status: number, headers: Record<string, string> = {}): void {
  if (stream.destroyed || stream.headersSent) return;
  try {
    stream.respond({ ':status': status, ...headers }, { endStream: true });
  } catch {
    stream.destroy();
  }
}

/**
 * One HBONE server for one local identity (in-pod mode: one per pod). Feed it accepted TCP sockets with
 * `handleConnection`; `updateCertificate` swaps the presented certificate for new handshakes.
 */
export class HboneServer {
  readonly #server: tls.Server;
  /** Open sessions → the client's SPIFFE identity (parsed once per TLS connection, not per stream). */
  readonly #sessions = new Map<H2Connection, string>();
  readonly #log: Logger;
  readonly #onFailure: (reason: HandshakeFailureReason) => void;
  /** Accepted TCP sockets → `ip:port`, for reporting handshakes that fail (see #peerOf). */
  readonly #peers = new WeakMap<net.Socket, string>();
  #trustDomain: string | undefined;
  #closing = false;

  constructor(opts: HboneServerOptions) {
    this.#log = opts.log ?? silentLogger();
    this.#trustDomain = splitSpiffeId(opts.certificate.identity)?.trustDomain;
    this.#server = tls.createServer({
      ...serverTlsOptions(opts.certificate),
      handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
    });
    const interval = opts.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS;
    const timeout = opts.keepaliveTimeoutMs ?? KEEPALIVE_TIMEOUT_MS;
    this.#server.on('secureConnection', (socket: tls.TLSSocket) => this.#onSecureConnection(socket, interval, timeout, opts.handler));
    this.#onFailure = opts.onHandshakeFailure ?? (() => undefined);
    this.#server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      const { reason, detail } = classifyHandshakeFailure(err, socket);
      this.#onFailure(reason);
      // A peer that merely closed or stalled is routine (probes, scanners); a certificate problem is not.
      const quiet = reason === 'connection_closed' || reason === 'timeout';
      this.#log[quiet ? 'debug' : 'warn']({ 'src.addr': this.#peerOf(socket), reason }, `hbone tls handshake failed: ${detail}`);
    });
  }

  /** Open HTTP/2 sessions (TLS connections). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Takes an accepted TCP socket: TLS handshake, HTTP/2, streams. */
  handleConnection(socket: net.Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    // TLS inherits half-open from the raw socket, and a half-open TLS socket under HTTP/2 hides the peer's close
    // (the session would linger until the keepalive timeout): HBONE half-close lives in the streams, not in TCP.
    socket.allowHalfOpen = false;
    this.#peers.set(socket, `${socket.remoteAddress}:${socket.remotePort}`);
    this.#server.emit('connection', socket);
  }

  /** Presents `cert` on new handshakes (rotation); open sessions keep theirs. */
  updateCertificate(cert: WorkloadCertificate): void {
    this.#trustDomain = splitSpiffeId(cert.identity)?.trustDomain;
    this.#server.setSecureContext(serverTlsOptions(cert));
  }

  /**
   * Drain: refuse new connections, send GOAWAY on every session so clients open no new streams, wait for open
   * streams up to `graceMs`, then destroy what is left.
   */
  async close(graceMs = 5000): Promise<void> {
    this.#closing = true;
    const pending = [...this.#sessions.keys()].map((s) => new Promise<void>((resolve) => {
      if (s.destroyed) return resolve();
      s.once('close', () => resolve());
      s.close();
    }));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(pending), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const s of this.#sessions.keys()) s.destroy();
  }

  /** Tears every session down now (no drain). */
  destroy(): void {
    this.#closing = true;
    for (const s of this.#sessions.keys()) s.destroy();
  }

  /**
   * The TCP peer of a (possibly destroyed) TLS socket. A refused handshake is reported after Node destroyed the
   * socket, when `remoteAddress` is gone: the address noted on accept is found through the wrapped TCP socket.
   */
  #peerOf(socket: tls.TLSSocket): string {
    const raw = (socket as unknown as { _parent?: net.Socket })._parent;
    return (raw && this.#peers.get(raw)) ?? `${socket.remoteAddress}:${socket.remotePort}`;
  }

  #onSecureConnection(socket: tls.TLSSocket, intervalMs: number, timeoutMs: number, handler: HboneStreamHandler): void {
    // The server offers only h2; a client that negotiated no ALPN at all is not speaking HBONE.
    if (socket.alpnProtocol !== 'h2') {
      socket.destroy();
      return;
    }
    // A client in another trust domain is refused even with a chain we trust (PROTOCOLS.md §2.6).
    const peer = peerSpiffeId(socket);
    const peerTd = splitSpiffeId(peer)?.trustDomain;
    if (!peer || (this.#trustDomain !== undefined && peerTd !== this.#trustDomain)) {
      this.#onFailure('identity');
      this.#log.warn({ 'src.addr': `${socket.remoteAddress}:${socket.remotePort}`, 'src.identity': peer ?? null }, `hbone client rejected: ${peer ? `identity ${peer} is not in trust domain ${this.#trustDomain}` : 'no SPIFFE identity in the client certificate'}`);
      socket.destroy();
      return;
    }
    const session = new H2Connection(socket, { role: 'server', settings: serverH2Settings(), connectionWindow: CONNECTION_WINDOW_BYTES });
    this.#sessions.set(session, peer);
    session.once('close', () => {
      this.#sessions.delete(session);
      if (session.error) this.#log.debug({ 'src.addr': `${socket.remoteAddress}:${socket.remotePort}`, error: describeError(session.error) }, 'hbone session error');
    });
    session.on('stream', (stream: H2Stream, headers: H2Headers) => this.#onStream(session, peer, stream, headers, handler));
    startKeepalive(session, intervalMs, timeoutMs);
  }

  #onStream(session: H2Connection, peerIdentity: string, stream: H2Stream, headers: H2Headers, handler: HboneStreamHandler): void {
    stream.on('error', () => undefined); // stream failures surface through the copy outcome
    const socket = session.socket;
    if (this.#closing) {
      stream.close(ErrorCode.REFUSED_STREAM);
      return;
    }
    if (headers[':method'] !== 'CONNECT') return respondStatus(stream, 400);
    const text = headers[':authority'] ?? '';
    const authority = parseAuthority(text);
    if (!authority) return respondStatus(stream, 400);
    const req: HboneStreamRequest = {
      stream,
      headers,
      authority: { ...authority, text },
      peerIdentity,
      peerAddress: { ip: canonicalIp(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 },
      localAddress: { ip: canonicalIp(socket.localAddress ?? ''), port: socket.localPort ?? 0 },
    };
    try {
      Promise.resolve(handler(req)).catch((err: unknown) => this.#handlerFailed(stream, err));
    } catch (err) {
      this.#handlerFailed(stream, err);
    }
  }

  #handlerFailed(stream: H2Stream, err: unknown): void {
    this.#log.debug({ error: describeError(err) }, 'hbone stream handler failed');
    if (!stream.headersSent) respondStatus(stream, 503);
    else stream.destroy();
  }
}
