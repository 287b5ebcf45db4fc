// One upstream try's answer at the waypoint: the request goes out (HTTP/1.1 through a keep-alive agent, or a stream on
// an h2c session), the response head resolves, and the body is relayed to the client on demand.
//
// Why relaying checks how the stream already finished: an answer can end in the tick it arrives (a gRPC error is often
// one HEADERS frame with END_STREAM, or headers and trailers in one read). When the bytes come through an HBONE tunnel,
// Node emits 'end' and 'close' in the same round of ticks, before the promise that hands the head to the proxy has
// resumed; listening for them afterwards would wait forever and the client would see its deadline pass.
import http from 'node:http';
import http2 from 'node:http2';
import type { Exchange, Headers } from './exchange.js';
import { forwardableHeaders } from './exchange.js';

/** Where a request body goes: the current attempt's request. */
export interface BodySink {
  write(c: Buffer): boolean;
  end(): void;
  onDrain(fn: () => void): void;
}

/** A request body that can be (re)sent to an attempt. */
export interface BodySource {
  attach(sink: BodySink): void;
}

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  /** The head was the whole answer (HTTP/2 END_STREAM on the first HEADERS: a gRPC trailers-only reply). */
  endStream: boolean;
  /** Starts relaying the body to the client; resolves with the trailers once it ended (rejects on a reset). */
  relay(to: Exchange): Promise<Headers | undefined>;
  /** Drops the response (retrying): closes its stream. */
  discard(): void;
}

/**
 * HTTP/1.1 request through the endpoint's keep-alive agent (its connections are HBONE streams, reused across
 * requests); resolves at the response head. A failure to open the stream is a connect failure, anything after a reset.
 */
export function h1Response(agent: http.Agent, method: string, path: string, authority: string, headers: Headers, body: BodySource, onRequest: (req: http.ClientRequest) => void): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ method, path, headers: { ...headers, host: authority }, agent, setHost: false });
    onRequest(req);
    req.on('error', (err: Error & { phase?: string }) => reject(Object.assign(err, { phase: err.phase ?? 'response' })));
    req.once('response', (res) => {
      resolve({
        status: res.statusCode ?? 502,
        headers: forwardableHeaders(res.headers),
        endStream: false,
        relay: (to) => new Promise<Headers | undefined>((done, fail) => {
          if (res.readableEnded) return done(undefined);
          if (res.destroyed) return fail(new Error('upstream reset the response'));
          pipeBody(res, to);
          res.once('end', () => done(undefined));
          res.once('aborted', () => fail(new Error('upstream reset the response')));
          res.once('error', fail);
        }),
        discard: () => {
          res.destroy();
          req.destroy();
        },
      });
    });
    body.attach({ write: (c) => req.write(c), end: () => req.end(), onDrain: (fn) => req.once('drain', fn) });
  });
}

/** HTTP/2 request on an upstream session stream; resolves at the response head. */
export function h2Response(s: http2.ClientHttp2Stream, body: BodySource): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    let trailers: Headers | undefined;
    const resetError = (): Error => new Error(`upstream reset the stream (code ${s.rstCode})`);
    s.on('error', (err) => reject(Object.assign(err, { phase: 'response' })));
    s.once('close', () => reject(Object.assign(new Error(`upstream stream closed before the response (code ${s.rstCode})`), { phase: 'response' })));
    s.once('trailers', (t: http2.IncomingHttpHeaders) => (trailers = forwardableHeaders(t)));
    s.once('response', (h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number) => {
      resolve({
        status: Number(h[':status'] ?? 502),
        headers: forwardableHeaders(h, true),
        endStream: (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0,
        relay: (to) => new Promise<Headers | undefined>((done, fail) => {
          if (s.readableEnded) return done(trailers);
          if (s.destroyed) return s.rstCode || s.errored ? fail(resetError()) : done(trailers);
          pipeBody(s, to);
          s.once('end', () => done(trailers));
          s.once('close', () => (s.rstCode ? fail(resetError()) : done(trailers)));
        }),
        discard: () => s.close(http2.constants.NGHTTP2_CANCEL),
      });
    });
    body.attach({ write: (c) => s.write(c), end: () => s.end(), onDrain: (fn) => s.once('drain', fn) });
  });
}

/** Streams an upstream body to the client, pausing while the client's side is full. */
function pipeBody(src: NodeJS.ReadableStream & { pause(): unknown; resume(): unknown }, to: Exchange): void {
  src.on('data', (c: Buffer) => {
    if (!to.write(c)) {
      src.pause();
      to.onDrain(() => src.resume());
    }
  });
}
