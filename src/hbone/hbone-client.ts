// HBONE client connection: TLS 1.3 with the source workload's certificate over an already-connected TCP socket,
// server SPIFFE identity checked against the expected set, HTTP/2 (Ambit's own codec, h2/), and CONNECT streams
// (PROTOCOLS.md §2.2–2.6).
import type net from 'node:net';
import tls from 'node:tls';
import type { WorkloadCertificate } from '../lib/certs/certificate-manager.js';
import { ConnectRejectedError, H2HandshakeError, StreamRefusedError, TlsHandshakeError, UpstreamConnectError } from './proxy-errors.js';
import {
  CLIENT_MAX_STREAMS_PER_CONNECTION, CONNECTION_WINDOW_BYTES, KEEPALIVE_INTERVAL_MS, KEEPALIVE_TIMEOUT_MS,
  clientH2Settings, clientTlsOptions, startKeepalive,
} from './hbone-protocol.js';
import { H2Connection } from './h2/h2-connection.js';
import type { H2Headers, H2Stream } from './h2/h2-stream.js';
import { ErrorCode } from './h2/frames.js';

interface HboneConnectOptions {
  /** A connected TCP socket to the peer's HBONE port. */
  socket: net.Socket;
  certificate: WorkloadCertificate;
  /** The server leaf must carry one of these URI SANs. */
  expectedIdentities: readonly string[];
  /** `ip:port` of the peer, for messages. */
  target: string;
  /** TLS + HTTP/2 handshake deadline, ms (default 10 s). */
  handshakeTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveTimeoutMs?: number;
}

/** Extra CONNECT request headers (`baggage`, `forwarded`, `traceparent`, …). */
export type ConnectHeaders = Record<string, string>;

/** One mTLS HTTP/2 connection to an HBONE server; multiplexes CONNECT streams. */
export class HboneClientConnection {
  readonly session: H2Connection;
  readonly target: string;
  /** The TLS peer's identity as verified (one of the expected identities). */
  readonly peerIdentities: readonly string[];
  #active = 0;

  constructor(session: H2Connection, target: string, expected: readonly string[]) {
    this.session = session;
    this.target = target;
    this.peerIdentities = expected;
  }

  /** Streams currently open on this connection. */
  get activeStreams(): number {
    return this.#active;
  }

  /** min(100, the server's SETTINGS_MAX_CONCURRENT_STREAMS). */
  get maxStreams(): number {
    const peer = this.session.remoteSettings?.maxConcurrentStreams ?? CLIENT_MAX_STREAMS_PER_CONNECTION;
    return Math.max(1, Math.min(CLIENT_MAX_STREAMS_PER_CONNECTION, peer));
  }

  /** False once the server sent GOAWAY or the connection closed: no new streams then. */
  get usable(): boolean {
    return !this.session.closed && !this.session.destroyed;
  }

  /**
   * Opens `CONNECT authority` and resolves with the stream once the server answered 200; any other status
   * rejects with ConnectRejectedError (and the stream is closed).
   */
  openStream(authority: string, headers: ConnectHeaders = {}): Promise<H2Stream> {
    return new Promise((resolve, reject) => {
      let stream: H2Stream;
      try {
        const list: [string, string][] = [[':method', 'CONNECT'], [':authority', authority]];
        for (const [name, value] of Object.entries(headers)) list.push([name.toLowerCase(), value]);
        stream = this.session.request(list);
      } catch (err) {
        reject(err);
        return;
      }
      this.#active++;
      let answered = false;
      stream.once('close', () => {
        this.#active--;
        if (!answered) {
          answered = true;
          const code = stream.rstCode !== undefined ? ` (reset code ${stream.rstCode})` : '';
          const cause = new Error(`stream closed before a response${code}`);
          const target = `${this.target} (CONNECT ${authority})`;
          reject(stream.rstCode === ErrorCode.REFUSED_STREAM ? new StreamRefusedError(target, { cause }) : new UpstreamConnectError(target, { cause }));
        }
      });
      stream.on('error', () => undefined); // reported by 'close' or by the copy
      stream.once('response', (h: H2Headers) => {
        if (answered) return;
        answered = true;
        const status = Number(h[':status']);
        if (status === 200) return resolve(stream);
        stream.close(ErrorCode.CANCEL);
        reject(new ConnectRejectedError(authority, status));
      });
    });
  }

  /** Graceful: no new streams, the connection closes after its last stream. */
  close(): void {
    this.session.close();
  }

  destroy(): void {
    this.session.destroy();
  }
}

/** TLS handshake, ALPN h2, server identity check, then the HTTP/2 SETTINGS exchange. */
export async function connectHbone(opts: HboneConnectOptions): Promise<HboneClientConnection> {
  const deadline = opts.handshakeTimeoutMs ?? 10_000;
  opts.socket.setNoDelay(true);
  const tlsSocket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ socket: opts.socket, ...clientTlsOptions(opts.certificate, opts.expectedIdentities) });
    const timer = setTimeout(() => fail(new Error(`no handshake within ${deadline} ms`)), deadline);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      s.destroy();
      reject(new TlsHandshakeError(opts.target, { cause: err }));
    };
    s.once('error', fail);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      s.off('error', fail);
      if (s.alpnProtocol !== 'h2') {
        s.destroy();
        reject(new TlsHandshakeError(opts.target, { cause: new Error(`server did not negotiate ALPN h2 (got ${String(s.alpnProtocol)})`) }));
        return;
      }
      resolve(s);
    });
  });
  const session = await new Promise<H2Connection>((resolve, reject) => {
    const session = new H2Connection(tlsSocket, { role: 'client', settings: clientH2Settings(), connectionWindow: CONNECTION_WINDOW_BYTES });
    const timer = setTimeout(() => fail(new Error(`no SETTINGS within ${deadline} ms`)), deadline);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      session.off('close', onClose);
      session.destroy();
      reject(new H2HandshakeError(opts.target, { cause: err }));
    };
    const onClose = (): void => fail(session.error ?? new Error('connection closed during the handshake'));
    session.once('close', onClose);
    // The server's SETTINGS frame completes the HTTP/2 handshake (and tells us its stream limit).
    session.once('remoteSettings', () => {
      clearTimeout(timer);
      session.off('close', onClose);
      resolve(session);
    });
  });
  startKeepalive(session, opts.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS, opts.keepaliveTimeoutMs ?? KEEPALIVE_TIMEOUT_MS);
  return new HboneClientConnection(session, opts.target, opts.expectedIdentities);
}
