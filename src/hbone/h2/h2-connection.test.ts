// The HBONE codec against a raw peer on a loopback TCP socket (the codec does not care that it is not TLS here):
// every malformed frame ends the connection with GOAWAY and the RFC 9113 code, or only its stream with
// RST_STREAM; flow control stalls a sender whose reader stopped and resumes it.
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import test from 'node:test';
import type tls from 'node:tls';
import { CONNECTION_PREFACE, ErrorCode, Flag, FrameType, frame } from './frames.js';
import { H2Connection } from './h2-connection.js';
import type { H2Headers, H2Stream } from './h2-stream.js';
import { encodeHeaders } from './hpack.js';

const SETTINGS = { initialWindowSize: 65_535, maxFrameSize: 16_384, maxHeaderListSize: 16_384, maxConcurrentStreams: 4 };

interface ReceivedFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** The test's side: raw frames out, parsed frames in. */
class RawPeer {
  readonly frames: ReceivedFrame[] = [];
  #buf = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  closed = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, c]);
      while (this.#buf.length >= 9) {
        const len = this.#buf.readUIntBE(0, 3);
        if (this.#buf.length < 9 + len) break;
        this.frames.push({ type: this.#buf[3], flags: this.#buf[4], streamId: this.#buf.readUInt32BE(5), payload: this.#buf.subarray(9, 9 + len) });
        this.#buf = this.#buf.subarray(9 + len);
      }
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => undefined);
  }

  send(...bufs: Buffer[]): void {
    for (const b of bufs) this.socket.write(b);
  }

  /** Waits (≤ 3 s) for a frame matching `pred`. */
  async expect(pred: (f: ReceivedFrame) => boolean, what: string): Promise<ReceivedFrame> {
    const deadline = Date.now() + 3000;
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (this.closed || Date.now() > deadline) throw new Error(`no ${what}; got ${this.frames.map((x) => x.type).join(',')}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  async goawayCode(): Promise<number> {
    const g = await this.expect((f) => f.type === FrameType.GOAWAY, 'GOAWAY');
    return g.payload.readUInt32BE(4);
  }

  async resetCode(streamId: number): Promise<number> {
    const r = await this.expect((f) => f.type === FrameType.RST_STREAM && f.streamId === streamId, `RST_STREAM on ${streamId}`);
    return r.payload.readUInt32BE(0);
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const settingsFrame = (pairs: [number, number][] = []): Buffer => frame(FrameType.SETTINGS, 0, 0, Buffer.concat(pairs.map(([id, v]) => {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(id);
  b.writeUInt32BE(v, 2);
  return b;
})));
const connectHeaders = (streamId: number, extra: [string, string][] = [], flags = Flag.END_HEADERS): Buffer =>
  frame(FrameType.HEADERS, flags, streamId, encodeHeaders([[':method', 'CONNECT'], [':authority', '10.0.0.1:80'], ...extra]));

/** A codec server on one end of a loopback TCP connection and a raw client on the other, nothing sent yet. */
async function rawPair(t: test.TestContext, connectionWindow = 65_535): Promise<{ conn: H2Connection; peer: RawPeer; streams: [H2Stream, H2Headers][]; closed: Promise<unknown> }> {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const port = (listener.address() as net.AddressInfo).port;
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(port, '127.0.0.1');
  const [serverSocket] = await accepted;
  listener.close();
  const conn = new H2Connection(serverSocket as unknown as tls.TLSSocket, { role: 'server', settings: SETTINGS, connectionWindow });
  const streams: [H2Stream, H2Headers][] = [];
  conn.on('stream', (s: H2Stream, h: H2Headers) => {
    s.on('error', () => undefined);
    streams.push([s, h]);
  });
  const closed = once(conn, 'close');
  const peer = new RawPeer(client);
  t.after(() => {
    client.destroy();
    conn.destroy();
  });
  return { conn, peer, streams, closed };
}

/** rawPair past the preface and the server's SETTINGS. */
async function serverWithRawClient(t: test.TestContext, connectionWindow = 65_535): ReturnType<typeof rawPair> {
  const pair = await rawPair(t, connectionWindow);
  pair.peer.send(CONNECTION_PREFACE, settingsFrame());
  await pair.peer.expect((f) => f.type === FrameType.SETTINGS && !(f.flags & Flag.ACK), 'server SETTINGS');
  return pair;
}

/** Opens streams 1, 3, 5, … (`count` of them), sends each `bytes` of DATA, and waits until the server has them all. */
async function openStreamsWithData(peer: RawPeer, streams: unknown[], count: number, bytes: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const id = 1 + 2 * i;
    peer.send(connectHeaders(id), frame(FrameType.DATA, 0, id, Buffer.alloc(bytes)));
  }
  await peer.expect(() => streams.length === count, `${count} streams`);
}

const connectionErrors: [string, (p: RawPeer) => void, number][] = [
  ['DATA on stream 0', (p) => p.send(frame(FrameType.DATA, 0, 0, Buffer.from('x'))), ErrorCode.PROTOCOL_ERROR],
  ['DATA on an idle stream', (p) => p.send(frame(FrameType.DATA, 0, 7, Buffer.from('x'))), ErrorCode.PROTOCOL_ERROR],
  ['DATA with padding as long as the frame', (p) => p.send(connectHeaders(1), frame(FrameType.DATA, Flag.PADDED, 1, Buffer.from([4, 1, 2, 3]))), ErrorCode.PROTOCOL_ERROR],
  ['HEADERS on stream 0', (p) => p.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 0, encodeHeaders([[':method', 'CONNECT']]))), ErrorCode.PROTOCOL_ERROR],
  ['HEADERS on an even stream', (p) => p.send(connectHeaders(2)), ErrorCode.PROTOCOL_ERROR],
  ['HEADERS reusing a lower stream id', (p) => p.send(connectHeaders(5), connectHeaders(3)), ErrorCode.PROTOCOL_ERROR],
  ['HEADERS with padding longer than the frame', (p) => p.send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.PADDED, 1, Buffer.from([9, 0x82]))), ErrorCode.PROTOCOL_ERROR],
  ['a header block cut by another frame', (p) => p.send(frame(FrameType.HEADERS, 0, 1, encodeHeaders([[':method', 'CONNECT']])), frame(FrameType.PING, 0, 0, Buffer.alloc(8))), ErrorCode.PROTOCOL_ERROR],
  ['CONTINUATION without HEADERS', (p) => p.send(frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, Buffer.from([0x82]))), ErrorCode.PROTOCOL_ERROR],
  ['HPACK index 0', (p) => p.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0x80]))), ErrorCode.COMPRESSION_ERROR],
  ['HPACK index beyond both tables', (p) => p.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0xff, 0x40]))), ErrorCode.COMPRESSION_ERROR],
  ['HPACK string longer than the block', (p) => p.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0x04, 0x0a, 0x61]))), ErrorCode.COMPRESSION_ERROR],
  ['HPACK Huffman string with bad padding', (p) => p.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0x04, 0x81, 0x00]))), ErrorCode.COMPRESSION_ERROR],
  ['HPACK table size update above the setting', (p) => p.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0x3f, 0xe1, 0xff, 0x03]))), ErrorCode.COMPRESSION_ERROR],
  ['RST_STREAM on stream 0', (p) => p.send(frame(FrameType.RST_STREAM, 0, 0, u32(0))), ErrorCode.PROTOCOL_ERROR],
  ['RST_STREAM of 3 bytes', (p) => p.send(connectHeaders(1), frame(FrameType.RST_STREAM, 0, 1, Buffer.alloc(3))), ErrorCode.FRAME_SIZE_ERROR],
  ['RST_STREAM on an idle stream', (p) => p.send(frame(FrameType.RST_STREAM, 0, 9, u32(8))), ErrorCode.PROTOCOL_ERROR],
  ['SETTINGS on a stream', (p) => p.send(frame(FrameType.SETTINGS, 0, 1, Buffer.alloc(0))), ErrorCode.PROTOCOL_ERROR],
  ['SETTINGS of 5 bytes', (p) => p.send(frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(5))), ErrorCode.FRAME_SIZE_ERROR],
  ['SETTINGS ACK with a payload', (p) => p.send(frame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(6))), ErrorCode.FRAME_SIZE_ERROR],
  ['SETTINGS_INITIAL_WINDOW_SIZE 2^31', (p) => p.send(settingsFrame([[0x4, 2 ** 31]])), ErrorCode.FLOW_CONTROL_ERROR],
  ['SETTINGS_MAX_FRAME_SIZE below 16384', (p) => p.send(settingsFrame([[0x5, 100]])), ErrorCode.PROTOCOL_ERROR],
  ['SETTINGS_ENABLE_PUSH 2', (p) => p.send(settingsFrame([[0x2, 2]])), ErrorCode.PROTOCOL_ERROR],
  ['PUSH_PROMISE', (p) => p.send(frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, Buffer.concat([u32(2), Buffer.from([0x82])]))), ErrorCode.PROTOCOL_ERROR],
  ['PING on a stream', (p) => p.send(frame(FrameType.PING, 0, 1, Buffer.alloc(8))), ErrorCode.PROTOCOL_ERROR],
  ['PING of 7 bytes', (p) => p.send(frame(FrameType.PING, 0, 0, Buffer.alloc(7))), ErrorCode.FRAME_SIZE_ERROR],
  ['GOAWAY on a stream', (p) => p.send(frame(FrameType.GOAWAY, 0, 1, Buffer.alloc(8))), ErrorCode.PROTOCOL_ERROR],
  ['GOAWAY of 4 bytes', (p) => p.send(frame(FrameType.GOAWAY, 0, 0, Buffer.alloc(4))), ErrorCode.FRAME_SIZE_ERROR],
  ['WINDOW_UPDATE of 3 bytes', (p) => p.send(frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(3))), ErrorCode.FRAME_SIZE_ERROR],
  ['WINDOW_UPDATE with increment 0 on the connection', (p) => p.send(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0))), ErrorCode.PROTOCOL_ERROR],
  ['WINDOW_UPDATE overflowing the connection window', (p) => p.send(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(2 ** 31 - 1))), ErrorCode.FLOW_CONTROL_ERROR],
  ['WINDOW_UPDATE on an idle stream', (p) => p.send(frame(FrameType.WINDOW_UPDATE, 0, 11, u32(1))), ErrorCode.PROTOCOL_ERROR],
  ['a frame over SETTINGS_MAX_FRAME_SIZE', (p) => p.send(frame(FrameType.PING, 0, 0, Buffer.alloc(16_385))), ErrorCode.FRAME_SIZE_ERROR],
  ['DATA beyond the connection window', (p) => {
    p.send(connectHeaders(1), connectHeaders(3));
    // 16,384-byte frames fill each reader's buffer at once, so nothing is consumed and nothing credited.
    for (let i = 0; i < 5; i++) p.send(frame(FrameType.DATA, 0, i % 2 ? 3 : 1, Buffer.alloc(16_384)));
  }, ErrorCode.FLOW_CONTROL_ERROR],
];

for (const [name, send, code] of connectionErrors) {
  test(`connection error: ${name} → GOAWAY ${code}`, { timeout: 5000 }, async (t) => {
    const { peer, closed } = await serverWithRawClient(t);
    send(peer);
    assert.equal(await peer.goawayCode(), code);
    await closed;
  });
}

const streamErrors: [string, (p: RawPeer) => void, number][] = [
  ['an uppercase field name', (p) => p.send(connectHeaders(1, [['X-Bad', '1']])), ErrorCode.PROTOCOL_ERROR],
  ['a connection-specific field', (p) => p.send(connectHeaders(1, [['connection', 'close']])), ErrorCode.PROTOCOL_ERROR],
  ['a pseudo-field after a regular one', (p) => p.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, encodeHeaders([[':method', 'CONNECT'], ['x', '1'], [':authority', 'a:1']]))), ErrorCode.PROTOCOL_ERROR],
  ['CONNECT with :path', (p) => p.send(connectHeaders(1, [[':path', '/']])), ErrorCode.PROTOCOL_ERROR],
  ['a value with CR LF', (p) => p.send(connectHeaders(1, [['x', 'a\r\nb']])), ErrorCode.PROTOCOL_ERROR],
  ['PRIORITY of 4 bytes', (p) => p.send(connectHeaders(1), frame(FrameType.PRIORITY, 0, 1, Buffer.alloc(4))), ErrorCode.FRAME_SIZE_ERROR],
  ['DATA beyond the stream window', (p) => {
    p.send(connectHeaders(1), frame(FrameType.WINDOW_UPDATE, 0, 0, u32(1_000_000)));
    for (let i = 0; i < 5; i++) p.send(frame(FrameType.DATA, 0, 1, Buffer.alloc(16_000)));
  }, ErrorCode.FLOW_CONTROL_ERROR],
  ['WINDOW_UPDATE with increment 0 on a stream', (p) => p.send(connectHeaders(1), frame(FrameType.WINDOW_UPDATE, 0, 1, u32(0))), ErrorCode.PROTOCOL_ERROR],
  ['trailers without END_STREAM', (p) => p.send(connectHeaders(1), frame(FrameType.HEADERS, Flag.END_HEADERS, 1, encodeHeaders([['x', '1']]))), ErrorCode.PROTOCOL_ERROR],
  ['a fifth concurrent stream (limit 4)', (p) => p.send(connectHeaders(1), connectHeaders(3), connectHeaders(5), connectHeaders(7), connectHeaders(9)), ErrorCode.REFUSED_STREAM],
];

for (const [name, send, code] of streamErrors) {
  test(`stream error: ${name} → RST_STREAM ${code}, the connection lives on`, { timeout: 5000 }, async (t) => {
    const { peer, conn } = await serverWithRawClient(t, 1024 * 1024);
    send(peer);
    const id = name.startsWith('a fifth') ? 9 : 1;
    assert.equal(await peer.resetCode(id), code);
    // Still alive: a PING is answered.
    peer.send(frame(FrameType.PING, 0, 0, Buffer.from('stillok!')));
    await peer.expect((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0, 'PING ACK');
    assert.equal(conn.destroyed, false);
  });
}

test('a wrong connection preface ends the connection with PROTOCOL_ERROR', { timeout: 5000 }, async (t) => {
  const { conn, peer, closed } = await rawPair(t);
  peer.send(Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
  assert.equal(await peer.goawayCode(), ErrorCode.PROTOCOL_ERROR);
  await closed;
  assert.match(String(conn.error?.message), /preface/);
});

test('the first frame must be SETTINGS', { timeout: 5000 }, async (t) => {
  const { peer, closed } = await rawPair(t);
  peer.send(CONNECTION_PREFACE, frame(FrameType.PING, 0, 0, Buffer.alloc(8)));
  assert.equal(await peer.goawayCode(), ErrorCode.PROTOCOL_ERROR);
  await closed;
});

test('unknown frame types are ignored; a truncated frame then EOF just closes', { timeout: 5000 }, async (t) => {
  const { peer, closed, conn } = await serverWithRawClient(t);
  peer.send(frame(0xfa, 0xff, 3, Buffer.from('whatever')));
  peer.send(frame(FrameType.PING, 0, 0, Buffer.from('12345678')));
  await peer.expect((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0, 'PING ACK after an unknown frame');
  peer.socket.end(frame(0xfb, 0, 0, Buffer.alloc(100)).subarray(0, 20));
  await closed;
  assert.equal(conn.error, undefined, 'a peer that went away mid-frame is an ordinary close');
});

test('a request stream: headers, data both ways with END_STREAM, and a CONNECT without :authority is refused', { timeout: 5000 }, async (t) => {
  const { peer, streams } = await serverWithRawClient(t);
  peer.send(connectHeaders(1, [['baggage', 'k=v']]), frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('ping')));
  await peer.expect(() => streams.length === 1, 'stream');
  const [s, h] = streams[0];
  const sClosed = once(s, 'close');
  assert.deepEqual({ ...h }, { ':method': 'CONNECT', ':authority': '10.0.0.1:80', baggage: 'k=v' });
  const body: Buffer[] = [];
  s.on('data', (c: Buffer) => body.push(c));
  await once(s, 'end');
  assert.equal(Buffer.concat(body).toString(), 'ping');
  s.respond({ ':status': 200 });
  s.end('pong');
  const data = await peer.expect((f) => f.type === FrameType.DATA && f.streamId === 1 && (f.flags & Flag.END_STREAM) !== 0, 'DATA END_STREAM');
  const all = peer.frames.filter((f) => f.type === FrameType.DATA && f.streamId === 1).map((f) => f.payload.toString()).join('');
  assert.equal(all, 'pong');
  assert.ok(data);
  await sClosed;
  peer.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 3, encodeHeaders([[':method', 'CONNECT']])));
  assert.equal(await peer.resetCode(3), ErrorCode.PROTOCOL_ERROR);
});

test('flow control: a reader that stops reading stalls the sender at the window; reading again resumes it', { timeout: 10_000 }, async (t) => {
  const { peer, streams } = await serverWithRawClient(t);
  peer.send(connectHeaders(1), frame(FrameType.WINDOW_UPDATE, 0, 0, u32(10_000_000)));
  await peer.expect(() => streams.length === 1, 'stream');
  const [s] = streams[0];
  s.respond({ ':status': 200 });
  // The server sends 1 MiB; the raw peer's stream window is the default 65,535 and it grants nothing more.
  s.write(Buffer.alloc(1024 * 1024, 7));
  await new Promise((r) => setTimeout(r, 200));
  const sent = (): number => peer.frames.filter((f) => f.type === FrameType.DATA && f.streamId === 1).reduce((n, f) => n + f.payload.length, 0);
  assert.equal(sent(), 65_535, 'exactly one window went out');
  peer.send(frame(FrameType.WINDOW_UPDATE, 0, 1, u32(1024 * 1024 - 65_535)));
  await peer.expect(() => sent() === 1024 * 1024, 'the rest after WINDOW_UPDATE');
  // Receiving: the codec credits only what its reader consumed.
  s.pause();
  for (let i = 0; i < 4; i++) peer.send(frame(FrameType.DATA, 0, 1, Buffer.alloc(16_000)));
  await new Promise((r) => setTimeout(r, 200));
  const credits = (): number => peer.frames.filter((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 1).length;
  const before = credits();
  s.resume();
  await peer.expect(() => credits() > before, 'stream WINDOW_UPDATE once the reader consumed');
});

test('frames the peer sent before seeing our reset are ignored: no STREAM_CLOSED back, the connection lives on', { timeout: 5000 }, async (t) => {
  const { peer, streams, conn } = await serverWithRawClient(t);
  peer.send(connectHeaders(1));
  await peer.expect(() => streams.length === 1, 'stream');
  streams[0][0].respond({ ':status': 401 }, { endStream: true });
  assert.equal(await peer.resetCode(1), ErrorCode.NO_ERROR);
  peer.send(frame(FrameType.DATA, 0, 1, Buffer.from('in flight')), frame(FrameType.PING, 0, 0, Buffer.from('after123')));
  await peer.expect((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0, 'PING ACK');
  assert.equal(peer.frames.filter((f) => f.type === FrameType.RST_STREAM).length, 1, 'only our own reset');
  assert.equal(conn.destroyed, false);
});

test('the connection window comes back from streams reset with uncredited data (no slow leak on long-lived connections)', { timeout: 5000 }, async (t) => {
  const { peer, streams } = await serverWithRawClient(t);
  // Connection window 65,535: four streams each get 16,000 bytes the reader never consumes, then are reset.
  await openStreamsWithData(peer, streams, 4, 16_000);
  for (let i = 0; i < 4; i++) peer.send(frame(FrameType.RST_STREAM, 0, 1 + 2 * i, u32(ErrorCode.CANCEL)));
  const update = await peer.expect((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 0, 'connection WINDOW_UPDATE');
  assert.ok(update.payload.readUInt32BE(0) >= 16_384, `credited ${update.payload.readUInt32BE(0)} bytes`);
});

test('setTimeout: an idle stream emits timeout; DATA keeps it quiet', { timeout: 5000 }, async (t) => {
  const { peer, streams } = await serverWithRawClient(t);
  peer.send(connectHeaders(1));
  await peer.expect(() => streams.length === 1, 'stream');
  const [s] = streams[0];
  s.respond({ ':status': 200 });
  let timeouts = 0;
  s.setTimeout(150, () => timeouts++);
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 50));
    peer.send(frame(FrameType.DATA, 0, 1, Buffer.from('x')));
  }
  assert.equal(timeouts, 0, 'no timeout while DATA flows every 50 ms');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(timeouts, 1, 'one timeout once idle');
});

test('many streams each below their own credit threshold still return the connection window', { timeout: 5000 }, async (t) => {
  const { peer, streams } = await serverWithRawClient(t);
  // Connection window 65,535; four streams get 12,000 bytes each (under a quarter of their 65,535 windows) and are
  // read, so the connection must be credited while the streams stay open.
  await openStreamsWithData(peer, streams, 4, 12_000);
  for (const [s] of streams) s.resume();
  const update = await peer.expect((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 0, 'connection WINDOW_UPDATE');
  assert.ok(update.payload.readUInt32BE(0) >= 16_384);
  assert.equal(peer.frames.filter((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId !== 0).length, 0, 'no stream credit below its threshold');
});

test('field names that exist on Object.prototype are ordinary fields', { timeout: 5000 }, async (t) => {
  const { peer, streams } = await serverWithRawClient(t);
  peer.send(connectHeaders(1, [['constructor', 'a'], ['__proto__', 'b'], ['tostring', 'c']]));
  await peer.expect(() => streams.length === 1, 'stream');
  const h = streams[0][1];
  assert.equal(h.constructor, 'a');
  assert.equal(h.__proto__, 'b');
  assert.equal(Object.getPrototypeOf(h), null);
  assert.deepEqual(Object.keys(h), [':method', ':authority', 'constructor', '__proto__', 'tostring']);
});

test('rapid reset: a client that opens and resets streams beyond the burst gets GOAWAY ENHANCE_YOUR_CALM', { timeout: 10_000 }, async (t) => {
  const { peer, streams, conn } = await serverWithRawClient(t);
  // 1,000 open-and-cancel pairs are within the budget (nghttp2's default burst): the connection lives on.
  const pairs = (from: number, n: number) => Array.from({ length: n }, (_, i) => [connectHeaders(from + 2 * i), frame(FrameType.RST_STREAM, 0, from + 2 * i, u32(ErrorCode.CANCEL))]).flat();
  peer.send(Buffer.concat(pairs(1, 1000)), frame(FrameType.PING, 0, 0, Buffer.from('budget!!')));
  await peer.expect((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0, 'PING ACK after 1,000 resets');
  assert.equal(peer.frames.some((f) => f.type === FrameType.GOAWAY), false);
  assert.equal(streams.length, 1000);
  // The burst is spent: 200 more (the bucket refills 33 a second, so a slow machine does not save them) end it.
  peer.send(Buffer.concat(pairs(2001, 200)));
  const goaway = await peer.expect((f) => f.type === FrameType.GOAWAY, 'GOAWAY');
  assert.equal(goaway.payload.readUInt32BE(4), ErrorCode.ENHANCE_YOUR_CALM);
  assert.match(goaway.payload.subarray(8).toString(), /rapid reset/);
  if (!conn.destroyed) await once(conn, 'close');
  assert.match(String(conn.error), /code 11\).*rapid reset/);
});
