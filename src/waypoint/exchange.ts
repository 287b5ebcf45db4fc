// One downstream HTTP request/response as the proxy sees it, over HTTP/1.1 (node:http) or HTTP/2 (raw h2 stream):
// request facts and body in, status + headers, body and trailers out — so request handling is written once.
import type http from 'node:http';
import type http2 from 'node:http2';
import type { Readable } from 'node:stream';

/** Headers that describe one hop's connection, never forwarded (RFC 9110 §7.6.1, plus HTTP/2's ban list). */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authenticate',
  'proxy-authorization', 'http2-settings',
]);

type HeaderValue = string | string[];
export type Headers = Record<string, HeaderValue>;

/** Plain lowercase request/response headers without pseudo-headers and hop-by-hop headers. */
export function forwardableHeaders(src: http.IncomingHttpHeaders | http2.IncomingHttpHeaders, keepTe = false): Headers {
  const out: Headers = {};
  const connectionListed = new Set(String(src['connection'] ?? '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean));
  for (const [k, v] of Object.entries(src)) {
    if (v === undefined || k.startsWith(':')) continue;
    const name = k.toLowerCase();
    if (HOP_BY_HOP.has(name) && !(keepTe && name === 'te')) continue;
    if (connectionListed.has(name)) continue;
    out[name] = Array.isArray(v) ? v.map(String) : String(v);
  }
  return out;
}

export interface Exchange {
  readonly protocol: 'HTTP/1.1' | 'HTTP/2';
  readonly method: string;
  /** Path with query. */
  readonly path: string;
  readonly authority: string;
  readonly headers: Headers;
  readonly body: Readable;
  /** Set once the response head went out: no retry or local reply may follow. */
  readonly headersSent: boolean;
  /** Whether the client went away before the response ended. */
  readonly aborted: boolean;
  onAbort(fn: () => void): void;
  /**
   * Sends the response head; `end` with no body for trailers-only / empty answers. `trailers`: the response may
   * end with trailers (gRPC), so HTTP/2 keeps the stream open for them.
   */
  respond(status: number, headers: Headers, end: boolean, trailers?: boolean): void;
  /** Returns false when the client is slow (wait for `onDrain`). */
  write(chunk: Buffer): boolean;
  onDrain(fn: () => void): void;
  end(trailers?: Headers): void;
  /** Resets the downstream stream / closes the connection (the response cannot be completed). */
  reset(): void;
  /** Bytes of body sent so far (for metrics). */
  readonly bytesSent: number;
}

export class H1Exchange implements Exchange {
  readonly protocol = 'HTTP/1.1' as const;
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly headers: Headers;
  readonly body: Readable;
  bytesSent = 0;
  #aborted = false;
  readonly #res: http.ServerResponse;

  constructor(req: http.IncomingMessage, res: http.ServerResponse) {
    this.#res = res;
    this.method = req.method ?? 'GET';
    this.path = req.url ?? '/';
    this.authority = String(req.headers.host ?? '');
    this.headers = forwardableHeaders(req.headers);
    delete this.headers['host'];
    this.body = req;
    res.once('close', () => {
      if (!res.writableFinished) this.#aborted = true;
    });
  }

  get headersSent(): boolean {
    return this.#res.headersSent;
  }
  get aborted(): boolean {
    return this.#aborted;
  }
  onAbort(fn: () => void): void {
    this.#res.once('close', () => {
      if (!this.#res.writableFinished) fn();
    });
  }
  respond(status: number, headers: Headers, end: boolean): void {
    const h = { ...headers };
    for (const k of Object.keys(h)) if (HOP_BY_HOP.has(k)) delete h[k];
    this.#res.writeHead(status, h);
    if (end) this.#res.end();
  }
  write(chunk: Buffer): boolean {
    this.bytesSent += chunk.length;
    return this.#res.write(chunk);
  }
  onDrain(fn: () => void): void {
    this.#res.once('drain', fn);
  }
  end(): void {
    // HTTP/1.1 responses carry no trailers here (chunked trailers are rare and unsupported by most clients).
    if (!this.#res.writableEnded) this.#res.end();
  }
  reset(): void {
    this.#res.socket?.destroy();
    this.#res.destroy();
  }
}

export class H2Exchange implements Exchange {
  readonly protocol = 'HTTP/2' as const;
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly headers: Headers;
  readonly body: Readable;
  bytesSent = 0;
  #headersSent = false;
  #trailers: Headers | undefined;
  readonly #stream: http2.ServerHttp2Stream;

  constructor(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) {
    this.#stream = stream;
    this.method = String(headers[':method'] ?? 'GET');
    this.path = String(headers[':path'] ?? '/');
    this.authority = String(headers[':authority'] ?? headers['host'] ?? '');
    // gRPC needs `te: trailers` end to end.
    this.headers = forwardableHeaders(headers, true);
    delete this.headers['host'];
    this.body = stream;
    stream.on('error', () => undefined);
    stream.on('wantTrailers', () => {
      // An empty trailer block is a valid way to end the stream when the upstream sent none.
      stream.sendTrailers(this.#trailers ?? {});
    });
  }

  get headersSent(): boolean {
    return this.#headersSent;
  }
  get aborted(): boolean {
    return this.#stream.destroyed && !this.#stream.writableFinished;
  }
  onAbort(fn: () => void): void {
    this.#stream.once('close', () => {
      if (!this.#stream.writableFinished) fn();
    });
  }
  respond(status: number, headers: Headers, end: boolean, trailers = false): void {
    if (this.#stream.destroyed) return;
    const h: http2.OutgoingHttpHeaders = { ':status': status };
    for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k)) h[k] = v;
    this.#headersSent = true;
    this.#stream.respond(h, end ? { endStream: true } : trailers ? { waitForTrailers: true } : {});
  }
  write(chunk: Buffer): boolean {
    this.bytesSent += chunk.length;
    return this.#stream.destroyed ? true : this.#stream.write(chunk);
  }
  onDrain(fn: () => void): void {
    this.#stream.once('drain', fn);
  }
  end(trailers?: Headers): void {
    if (this.#stream.destroyed || this.#stream.writableEnded) return;
    this.#trailers = trailers;
    this.#stream.end();
  }
  reset(): void {
    if (!this.#stream.destroyed) this.#stream.close(0x2 /* INTERNAL_ERROR */);
  }
}
