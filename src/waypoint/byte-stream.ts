// A plain JS Duplex in front of an HTTP/2 stream, for node:http (server or client) speaking HTTP/1.1 inside HBONE.
//
// Why: node:http writes the head as a latin1 string corked together with the first body chunk; an Http2Stream's
// native writev then sends the first 16 bytes of that head corrupted (seen on Node 20.20: "HTTP/1.1 504 Gat" came
// out as binary garbage). This adapter hands the Http2Stream only whole Buffers, one write per batch.
import { Duplex } from 'node:stream';

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
      if (!inner.destroyed) inner.destroy(err ?? undefined);
      cb(err);
    },
  });
  inner.on('data', (d: Buffer) => {
    if (!outer.push(d)) inner.pause();
  });
  inner.once('end', () => outer.push(null));
  inner.once('error', (err) => outer.destroy(err));
  inner.once('close', () => {
    if (!outer.destroyed) outer.destroy();
  });
  return outer;
}
