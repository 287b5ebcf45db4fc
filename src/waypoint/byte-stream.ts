// A plain JS Duplex in front of an HTTP/2 stream, for node:http (server or client) speaking HTTP/1.1 inside HBONE.
//
// Why: node:http writes the head as a latin1 string corked together with the first body chunk; an Http2Stream's
// native writev then sends the first 16 bytes of that head corrupted (seen on Node 20.20: "HTTP/1.1 504 Gat" came
// out as binary garbage). This adapter hands the Http2Stream only whole Buffers, one write per batch.
//
// Closing without an error ends the stream (END_STREAM) and drains what is still coming instead of resetting it:
// node:http destroys its socket after every `Connection: close` exchange, and a RST_STREAM per request trips the
// peer's rapid-reset protection (nghttp2 answers a burst of ~1,000 resets with GOAWAY INTERNAL_ERROR, failing every
// stream on that connection). A stream the peer never finishes is reset after GRACEFUL_CLOSE_MS.
import { Duplex } from 'node:stream';

const GRACEFUL_CLOSE_MS = 10_000;

export function byteStream(inner: Duplex): Duplex {
  const outer = new Duplex({
    allowHalfOpen: true,
    decodeStrings: true,
    read() {
      inner.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      inner.write(chunk, cb);
    },
    writev(chunks, cb) {
      inner.write(Buffer.concat(chunks.map((c) => c.chunk as Buffer)), cb);
    },
    final(cb) {
      inner.end();
      cb();
    },
    destroy(err, cb) {
      if (inner.destroyed) return cb(err);
      if (err) {
        inner.destroy(err);
        return cb(err);
      }
      if (!inner.writableEnded) inner.end();
      inner.off('data', onData);
      inner.resume();
      const timer = setTimeout(() => inner.destroy(), GRACEFUL_CLOSE_MS);
      timer.unref();
      inner.once('close', () => clearTimeout(timer));
      cb(null);
    },
  });
  let timeoutCb: (() => void) | undefined;
  // The socket methods node:http's client and agent call (idle timeout, Nagle, keep-alive, ref counting).
  Object.assign(outer, {
    setTimeout(ms: number, cb?: () => void) {
      // One callback at a time (node:http sets one per request on a reused socket).
      if (timeoutCb) outer.off('timeout', timeoutCb);
      timeoutCb = cb;
      if (cb) outer.once('timeout', cb);
      (inner as Duplex & { setTimeout?: (ms: number) => void }).setTimeout?.(ms);
      return outer;
    },
    setNoDelay: () => outer,
    setKeepAlive: () => outer,
    ref: () => outer,
    unref: () => outer,
  });
  inner.on('timeout', () => outer.emit('timeout'));
  const onData = (d: Buffer): void => {
    if (!outer.push(d)) inner.pause();
  };
  inner.on('data', onData);
  inner.once('end', () => outer.push(null));
  inner.once('error', (err) => outer.destroy(err));
  inner.once('close', () => {
    if (!outer.destroyed) outer.destroy();
  });
  return outer;
}
