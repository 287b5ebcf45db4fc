// The HBONE codec's connection: the corner of HTTP/2 (RFC 9113) that HBONE uses — SETTINGS, HEADERS/CONTINUATION
// for one CONNECT request and its response, DATA with flow control, WINDOW_UPDATE, RST_STREAM, PING and GOAWAY —
// on a TLS socket, for either role. Replaces node:http2 on the data path: DATA goes out as a 9-byte header plus
// the bytes the app socket produced, and arrives as slices of the TLS reads, with no per-stream machinery between.
//
// Invariants:
// - Any violation of the protocol by the peer ends the connection with GOAWAY and the RFC's error code, or — when
//   RFC 9113 scopes it to a stream — only that stream with RST_STREAM. Nothing the peer sends throws out of here.
// - Receive windows are credited back only for bytes the reader consumed (or that were discarded): the connection's
//   as soon as they are, the stream's in quarters of its window; so a stalled reader stops its sender and memory
//   per stream stays bounded, while streams that each receive little still return the connection window.
// - A write's callback runs once its frames are handed to TLS and the TLS socket is not over its high-water mark.
// - The HPACK decoder sees every header block, including those of streams refused, so its table stays in sync.
import { EventEmitter } from 'node:events';
import type tls from 'node:tls';
import {
  CONNECTION_PREFACE, DEFAULT_MAX_FRAME, DEFAULT_WINDOW, ErrorCode, Flag, FrameParser, FrameType, H2ConnectionError,
  H2StreamError, MAX_WINDOW, Setting, frame, frameHeader, isCleanReset, type FrameHandler,
} from './frames.js';
import { HEADER_TABLE_SIZE, HpackDecoder, HpackError, encodeHeaders, type HeaderList } from './hpack.js';
import { H2Stream, type H2Headers } from './h2-stream.js';

export interface H2LocalSettings {
  initialWindowSize: number;
  maxFrameSize: number;
  maxHeaderListSize: number;
  /** Streams the peer may open at once (servers); unlimited when absent. */
  maxConcurrentStreams?: number;
}

interface H2RemoteSettings {
  initialWindowSize: number;
  maxFrameSize: number;
  maxConcurrentStreams: number;
  headerTableSize: number;
}

interface H2ConnectionOptions {
  role: 'client' | 'server';
  settings: H2LocalSettings;
  /** The connection-level receive window (raised from 65,535 with a WINDOW_UPDATE right after SETTINGS). */
  connectionWindow: number;
}

interface Continuation {
  streamId: number;
  flags: number;
  fragments: Buffer[];
  bytes: number;
}

const MAX_OUTSTANDING_PINGS = 10;
const SMALL_FRAME_COPY_BYTES = 4096;
const RECENT_RESETS_KEPT = 1000;
/**
 * Rapid-reset protection (CVE-2023-44487): the streams a peer may open and reset are limited by a token bucket of
 * this many, refilled at RESET_REFILL_PER_SECOND — nghttp2's defaults, so a client that stays within what Node's
 * HTTP/2 accepted is never cut off. Beyond it the connection ends with GOAWAY ENHANCE_YOUR_CALM.
 */
const RESET_BURST = 1000;
const RESET_REFILL_PER_SECOND = 33;
/** Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path']);

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
}

/**
 * One HTTP/2 connection carrying HBONE streams. Events: 'remoteSettings' (the peer's first SETTINGS), 'stream'
 * (server: a new stream and its request headers), 'goaway', 'close' (once, after everything ended; `error` says why).
 */
export class H2Connection extends EventEmitter {
  readonly socket: tls.TLSSocket;
  readonly role: 'client' | 'server';
  remoteSettings: H2RemoteSettings | undefined;
  /** No new streams: GOAWAY sent or received, or the connection ended. */
  closed = false;
  destroyed = false;
  /** Why the connection ended, when it ended abnormally. */
  error: Error | undefined;
  readonly #local: H2LocalSettings;
  readonly #streams = new Map<number, H2Stream>();
  readonly #parser: FrameParser;
  readonly #decoder: HpackDecoder;
  /** Until the peer's first SETTINGS arrive, its defaults apply. */
  #peer: H2RemoteSettings = { initialWindowSize: DEFAULT_WINDOW, maxFrameSize: DEFAULT_MAX_FRAME, maxConcurrentStreams: Infinity, headerTableSize: HEADER_TABLE_SIZE };
  #sendWindow = DEFAULT_WINDOW;
  #recvWindow: number;
  #connectionUnacked = 0;
  readonly #connectionWindow: number;
  #nextStreamId: number;
  /** Highest stream id the peer opened (for GOAWAY and for telling closed streams from idle ones). */
  #lastPeerStreamId = 0;
  #prefaceLeft: number;
  #sawSettings = false;
  #continuation: Continuation | undefined;
  #owesTableSizeUpdate = false;
  /** Streams with DATA waiting for window, in arrival order. */
  readonly #blocked = new Set<H2Stream>();
  #drainWaiters: ((err?: Error | null) => void)[] = [];
  readonly #pings = new Map<string, { sentAt: number; done: (err: Error | null, ms: number) => void }>();
  #pingCounter = 0;
  /** Streams this end reset lately: frames the peer sent before seeing the reset are ignored (RFC 9113 §5.1). */
  readonly #resetByUs = new Set<number>();
  /** The DATA frame being received: its stream, or undefined when its bytes are discarded. */
  #dataStream: H2Stream | undefined;
  /** Rapid-reset token bucket: resets the peer may still send, and when it was last refilled (ms). */
  #resetTokens = RESET_BURST;
  #resetRefilledAt = performance.now();

  constructor(socket: tls.TLSSocket, opts: H2ConnectionOptions) {
    super();
    this.socket = socket;
    this.role = opts.role;
    this.#local = opts.settings;
    this.#connectionWindow = Math.max(DEFAULT_WINDOW, opts.connectionWindow);
    this.#recvWindow = this.#connectionWindow;
    this.#nextStreamId = opts.role === 'client' ? 1 : 2;
    this.#prefaceLeft = opts.role === 'server' ? CONNECTION_PREFACE.length : 0;
    this.#decoder = new HpackDecoder(opts.settings.maxHeaderListSize);
    this.#parser = new FrameParser(this.#frameHandler(), opts.settings.maxFrameSize);

    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#flushDrainWaiters(null));
    socket.on('error', (err: Error) => this.destroy(err));
    socket.on('end', () => this.destroy());
    socket.on('close', () => this.destroy());

    const settings: Buffer[] = [];
    const put = (id: number, value: number): void => {
      const b = Buffer.allocUnsafe(6);
      b.writeUInt16BE(id);
      b.writeUInt32BE(value, 2);
      settings.push(b);
    };
    if (opts.role === 'client') put(Setting.ENABLE_PUSH, 0);
    if (opts.settings.maxConcurrentStreams !== undefined) put(Setting.MAX_CONCURRENT_STREAMS, opts.settings.maxConcurrentStreams);
    put(Setting.INITIAL_WINDOW_SIZE, opts.settings.initialWindowSize);
    put(Setting.MAX_FRAME_SIZE, opts.settings.maxFrameSize);
    put(Setting.MAX_HEADER_LIST_SIZE, opts.settings.maxHeaderListSize);
    socket.cork();
    if (opts.role === 'client') socket.write(CONNECTION_PREFACE);
    socket.write(frame(FrameType.SETTINGS, 0, 0, Buffer.concat(settings)));
    if (this.#connectionWindow > DEFAULT_WINDOW) socket.write(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(this.#connectionWindow - DEFAULT_WINDOW)));
    socket.uncork();
  }

  /** Streams open on this connection. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** Opens a stream with request `headers` (client). Throws when the connection takes no new streams. */
  request(headers: HeaderList): H2Stream {
    if (this.role !== 'client') throw new Error('only a client opens streams');
    if (this.closed || this.destroyed) throw new Error('the connection takes no new streams');
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const stream = new H2Stream(this, id, this.#peer.initialWindowSize, this.#local.initialWindowSize);
    this.#streams.set(id, stream);
    this.sendHeaders(stream, headers, false);
    stream.headersSent = true;
    return stream;
  }

  /** Sends a PING; `done` gets the round trip in ms, or an error if the connection ends first. */
  ping(done: (err: Error | null, ms: number) => void): boolean {
    if (this.destroyed || this.#pings.size >= MAX_OUTSTANDING_PINGS) return false;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(++this.#pingCounter, 4);
    this.#pings.set(payload.toString('hex'), { sentAt: performance.now(), done });
    this.socket.write(frame(FrameType.PING, 0, 0, payload));
    return true;
  }

  /** Graceful: GOAWAY, no new streams; the connection ends after its last stream. */
  close(): void {
    if (this.destroyed) return;
    if (!this.closed) {
      this.closed = true;
      this.#writeGoaway(ErrorCode.NO_ERROR, '');
    }
    if (this.#streams.size === 0) this.#end();
  }

  /** Ends everything now; open streams are destroyed (with `err` when given). */
  destroy(err?: Error): void {
    this.#teardown(err, true);
  }

  /** `closeSocket` false: the socket was ended with a final GOAWAY that must still flush (closed by a timer). */
  #teardown(err: Error | undefined, closeSocket: boolean): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closed = true;
    const streamError = err ?? new Error('the HTTP/2 connection closed');
    // Streams end with the connection's own error only; a plain close destroys them quietly (as Node's http2 does),
    // since their users may no longer listen for 'error'. rstCode stays unset: copy.ts reports the loss.
    for (const s of [...this.#streams.values()]) s.destroy(err);
    this.#streams.clear();
    this.#blocked.clear();
    this.#flushDrainWaiters(streamError);
    for (const p of this.#pings.values()) p.done(streamError, 0);
    this.#pings.clear();
    if (closeSocket) this.socket.destroy();
    else setTimeout(() => this.socket.destroy(), 1000).unref();
    // No 'error' event: why it ended is `error`, read on 'close' (an unheard 'error' would crash the process).
    this.error = err;
    process.nextTick(() => this.emit('close'));
  }

  // --- called by H2Stream ---

  sendHeaders(stream: H2Stream, headers: HeaderList, endStream: boolean): void {
    if (this.destroyed) return;
    const block = encodeHeaders(headers, this.#owesTableSizeUpdate);
    this.#owesTableSizeUpdate = false;
    const max = this.#peer.maxFrameSize;
    this.socket.cork();
    for (let at = 0, first = true; first || at < block.length; first = false) {
      const piece = block.subarray(at, at + max);
      at += piece.length;
      const last = at >= block.length;
      const flags = (last ? Flag.END_HEADERS : 0) | (first && endStream ? Flag.END_STREAM : 0);
      this.socket.write(frame(first ? FrameType.HEADERS : FrameType.CONTINUATION, flags, stream.id, piece));
    }
    this.socket.uncork();
    if (endStream) this.#localEnd(stream);
  }

  sendData(stream: H2Stream, chunk: Buffer, endStream: boolean, done: (err?: Error | null) => void): void {
    if (this.destroyed || stream.rstCode !== undefined) {
      done(new Error(`stream ${stream.id} is closed`));
      return;
    }
    if (!stream.headersSent) {
      done(new Error(`stream ${stream.id}: data before the response headers`));
      return;
    }
    if (stream.pending.length) {
      stream.pending.push({ chunk, end: endStream, done });
      return;
    }
    const rest = this.#writeData(stream, chunk, endStream);
    if (rest) {
      stream.pending.push({ chunk: rest, end: endStream, done });
      this.#blocked.add(stream);
      return;
    }
    this.#afterWrite(done);
  }

  sendReset(stream: H2Stream, code: number): void {
    if (stream.rstCode !== undefined) return;
    stream.rstCode = code;
    this.#resetByUs.add(stream.id);
    if (this.#resetByUs.size > RECENT_RESETS_KEPT) this.#resetByUs.delete(this.#resetByUs.values().next().value as number);
    if (!this.destroyed) this.socket.write(frame(FrameType.RST_STREAM, 0, stream.id, u32(code)));
    this.#forget(stream);
  }

  creditConsumed(stream: H2Stream): void {
    stream.stalled = false;
    this.#credit(stream);
  }

  streamDestroyed(stream: H2Stream, err: Error | null): void {
    // Destroyed before both directions ended and without a reset yet: tell the peer (CANCEL as Node does).
    if (this.#streams.get(stream.id) === stream && !(stream.localEnded && stream.remoteEnded)) {
      this.sendReset(stream, err ? ErrorCode.INTERNAL_ERROR : ErrorCode.CANCEL);
    }
    for (const p of stream.pending.splice(0)) p.done(err ?? new Error(`stream ${stream.id} was destroyed`));
    this.#forget(stream);
  }

  // --- sending ---

  /** Writes as much of `chunk` as the windows allow; returns what is left (undefined when all went out). */
  #writeData(stream: H2Stream, chunk: Buffer, endStream: boolean): Buffer | undefined {
    let at = 0;
    if (chunk.length === 0) {
      if (endStream) this.#dataFrame(stream, chunk, true);
      return undefined;
    }
    this.socket.cork();
    while (at < chunk.length) {
      const n = Math.min(chunk.length - at, stream.sendWindow, this.#sendWindow, this.#peer.maxFrameSize);
      if (n <= 0) break;
      const piece = at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n);
      at += n;
      stream.sendWindow -= n;
      this.#sendWindow -= n;
      this.#dataFrame(stream, piece, endStream && at === chunk.length);
    }
    this.socket.uncork();
    return at < chunk.length ? chunk.subarray(at) : undefined;
  }

  #dataFrame(stream: H2Stream, payload: Buffer, endStream: boolean): void {
    const flags = endStream ? Flag.END_STREAM : 0;
    if (payload.length <= SMALL_FRAME_COPY_BYTES) {
      // Small payloads (requests, responses, keystrokes) go out as one buffer: one write, one TLS record; copying a
      // few KiB costs less than a second write request. Bulk payloads are written as they are, corked together.
      this.socket.write(frame(FrameType.DATA, flags, stream.id, payload));
    } else {
      this.socket.write(frameHeader(payload.length, FrameType.DATA, flags, stream.id));
      this.socket.write(payload);
    }
    if (endStream) this.#localEnd(stream);
  }

  #afterWrite(done: (err?: Error | null) => void): void {
    if (this.socket.writableNeedDrain) this.#drainWaiters.push(done);
    else done();
  }

  #flushDrainWaiters(err: Error | null): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w(err);
  }

  /** Sends what blocked streams hold, now that a window opened. */
  #flushBlocked(): void {
    for (const stream of this.#blocked) {
      if (this.#sendWindow <= 0) return;
      while (stream.pending.length) {
        const head = stream.pending[0];
        const rest = this.#writeData(stream, head.chunk, head.end);
        if (rest) {
          head.chunk = rest;
          break;
        }
        stream.pending.shift();
        this.#afterWrite(head.done);
      }
      if (!stream.pending.length) this.#blocked.delete(stream);
    }
  }

  #localEnd(stream: H2Stream): void {
    stream.localEnded = true;
    if (stream.remoteEnded) this.#forget(stream);
  }

  /** The stream is no longer open (both ends done, or reset): it stops counting against the stream limit. */
  #forget(stream: H2Stream): void {
    if (this.#streams.get(stream.id) !== stream) return;
    this.#streams.delete(stream.id);
    this.#blocked.delete(stream);
    // What it received and never credited goes back to the connection window, or every reset stream would shrink
    // it for good and a long-lived connection would stall.
    this.#creditConnection(stream.connectionUnacked);
    stream.connectionUnacked = 0;
    if (this.closed && this.#streams.size === 0) this.#end();
  }

  #writeGoaway(code: number, debug: string): void {
    const payload = Buffer.concat([u32(this.#lastPeerStreamId), u32(code), Buffer.from(debug)]);
    this.socket.write(frame(FrameType.GOAWAY, 0, 0, payload));
  }

  /** Ends a connection with nothing left to carry: flushes, sends FIN, and lets the socket close. */
  #end(): void {
    if (this.destroyed) return;
    this.socket.end();
    setTimeout(() => this.destroy(), 2000).unref();
  }

  // --- receiving ---

  #onData(chunk: Buffer): void {
    if (this.destroyed) return;
    this.socket.cork();
    try {
      if (this.#prefaceLeft > 0) chunk = this.#readPreface(chunk);
      if (chunk.length) this.#parser.push(chunk);
    } catch (err) {
      this.#connectionError(err);
    } finally {
      if (!this.socket.destroyed) this.socket.uncork();
    }
  }

  #readPreface(chunk: Buffer): Buffer {
    const offset = CONNECTION_PREFACE.length - this.#prefaceLeft;
    const n = Math.min(this.#prefaceLeft, chunk.length);
    if (!chunk.subarray(0, n).equals(CONNECTION_PREFACE.subarray(offset, offset + n))) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'the client did not send the HTTP/2 connection preface');
    }
    this.#prefaceLeft -= n;
    return chunk.subarray(n);
  }

  #connectionError(err: unknown): void {
    if (this.destroyed) return;
    const e = err instanceof H2ConnectionError ? err
      : err instanceof HpackError ? new H2ConnectionError(ErrorCode.COMPRESSION_ERROR, err.message)
        : new H2ConnectionError(ErrorCode.INTERNAL_ERROR, err instanceof Error ? err.message : String(err));
    this.#writeGoaway(e.code, e.message.slice(0, 200));
    this.socket.end();
    this.#teardown(Object.assign(new Error(`HTTP/2 protocol error (code ${e.code}): ${e.message}`), { code: e.code }), false);
  }

  #streamError(err: H2StreamError): void {
    const stream = this.#streams.get(err.streamId);
    if (stream) {
      this.sendReset(stream, err.code);
      stream.destroy(new Error(`stream ${err.streamId} reset (code ${err.code}): ${err.message}`));
    } else if (!this.destroyed) {
      this.socket.write(frame(FrameType.RST_STREAM, 0, err.streamId, u32(err.code)));
    }
  }

  #frameHandler(): FrameHandler {
    return {
      onFrame: (type, flags, streamId, payload) => this.#guard(() => this.#onFrame(type, flags, streamId, payload)),
      onDataStart: (streamId, length) => this.#guard(() => this.#onDataStart(streamId, length)),
      onDataPiece: (_streamId, piece) => this.#onDataPiece(piece),
      onDataEnd: (streamId, flags) => this.#guard(() => this.#onDataEnd(streamId, flags)),
    };
  }

  /** Stream errors end one stream and parsing goes on; connection errors propagate to #onData. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof H2StreamError) this.#streamError(err);
      else throw err;
    }
  }

  #onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.#continuation && type !== FrameType.CONTINUATION) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `frame type ${type} inside a header block (CONTINUATION expected)`);
    }
    if (!this.#sawSettings && type !== FrameType.SETTINGS) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `first frame is type ${type}, not SETTINGS`);
    }
    switch (type) {
      case FrameType.DATA: return this.#onPaddedData(flags, streamId, payload);
      case FrameType.HEADERS: return this.#onHeaders(flags, streamId, payload);
      case FrameType.PRIORITY:
        if (streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (payload.length !== 5) throw new H2StreamError(streamId, ErrorCode.FRAME_SIZE_ERROR, 'PRIORITY frame is not 5 bytes');
        return;
      case FrameType.RST_STREAM: return this.#onReset(streamId, payload);
      case FrameType.SETTINGS: return this.#onSettings(flags, streamId, payload);
      case FrameType.PUSH_PROMISE: throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE although push is disabled');
      case FrameType.PING: return this.#onPing(flags, streamId, payload);
      case FrameType.GOAWAY: return this.#onGoaway(streamId, payload);
      case FrameType.WINDOW_UPDATE: return this.#onWindowUpdate(streamId, payload);
      case FrameType.CONTINUATION: return this.#onContinuation(flags, streamId, payload);
      default: return; // unknown frame types are ignored (RFC 9113 §4.1)
    }
  }

  #isIdle(streamId: number): boolean {
    const peerOpened = (streamId % 2 === 1) === (this.role === 'server');
    return peerOpened ? streamId > this.#lastPeerStreamId : streamId >= this.#nextStreamId;
  }

  #onDataStart(streamId: number, length: number): void {
    this.#dataStream = undefined;
    if (!this.#sawSettings) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA before SETTINGS');
    if (this.#continuation) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA inside a header block');
    if (streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    this.#recvWindow -= length;
    if (this.#recvWindow < 0) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    const stream = this.#streams.get(streamId);
    if (!stream) {
      if (this.#isIdle(streamId)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${streamId}`);
      this.#creditConnection(length);
      if (this.#resetByUs.has(streamId)) return;
      throw new H2StreamError(streamId, ErrorCode.STREAM_CLOSED, 'DATA on a closed stream');
    }
    if (stream.remoteEnded || (this.role === 'client' && !stream.responded)) {
      // DATA after END_STREAM, or before the response headers (client).
      this.#creditConnection(length);
      throw new H2StreamError(streamId, stream.remoteEnded ? ErrorCode.STREAM_CLOSED : ErrorCode.PROTOCOL_ERROR, 'DATA in the wrong stream state');
    }
    stream.recvWindow -= length;
    if (stream.recvWindow < 0) {
      this.#creditConnection(length);
      throw new H2StreamError(streamId, ErrorCode.FLOW_CONTROL_ERROR, 'DATA beyond the stream window');
    }
    this.#dataStream = stream;
  }

  #onDataPiece(piece: Buffer): void {
    const stream = this.#dataStream;
    if (!stream) return;
    if (stream.destroyed) {
      this.#creditConnection(piece.length);
      return;
    }
    stream.unacked += piece.length;
    stream.connectionUnacked += piece.length;
    stream.touch();
    if (!stream.push(piece)) stream.stalled = true;
    else this.#credit(stream);
  }

  #onDataEnd(streamId: number, flags: number): void {
    const stream = this.#dataStream;
    this.#dataStream = undefined;
    if (!stream || stream.id !== streamId || !(flags & Flag.END_STREAM)) return;
    this.#remoteEnd(stream);
  }

  #onPaddedData(flags: number, streamId: number, payload: Buffer): void {
    const padLength = payload.length ? payload[0] : 0;
    if (payload.length === 0 || padLength >= payload.length) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA padding as long as the frame');
    }
    this.#onDataStart(streamId, payload.length);
    // The padding counted against both windows: it is credited back with the data it came with.
    if (this.#dataStream) {
      this.#dataStream.unacked += padLength + 1;
      this.#dataStream.connectionUnacked += padLength + 1;
    }
    const content = payload.subarray(1, payload.length - padLength);
    if (content.length) this.#onDataPiece(content);
    this.#onDataEnd(streamId, flags);
  }


  /**
   * Credits what the reader consumed: to the connection at once (batched there), to the stream in quarters of its
   * window. The two are separate so that many streams each below their own threshold still return the connection
   * window (otherwise 32 streams of 600 KiB would starve a 16 MiB connection).
   */
  #credit(stream: H2Stream): void {
    if (stream.stalled) return;
    this.#creditConnection(stream.connectionUnacked);
    stream.connectionUnacked = 0;
    const n = stream.unacked;
    if (n === 0 || (n < this.#local.initialWindowSize / 4 && !stream.remoteEnded)) return;
    stream.unacked = 0;
    stream.recvWindow += n;
    // No credit for a stream the peer already ended: it sends nothing more on it.
    if (!stream.remoteEnded && !this.destroyed) this.socket.write(frame(FrameType.WINDOW_UPDATE, 0, stream.id, u32(n)));
  }

  /**
   * Gives `n` bytes back to the connection window: bytes a reader consumed, or that reached no reader (discarded,
   * or left in a stream that ended). Sent in batches of a quarter window.
   */
  #creditConnection(n: number): void {
    this.#connectionUnacked += n;
    if (this.#connectionUnacked < this.#connectionWindow / 4 || this.destroyed) return;
    const increment = this.#connectionUnacked;
    this.#connectionUnacked = 0;
    this.#recvWindow += increment;
    this.socket.write(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(increment)));
  }

  #remoteEnd(stream: H2Stream): void {
    stream.remoteEnded = true;
    stream.push(null);
    this.#credit(stream);
    if (stream.localEnded) this.#forget(stream);
  }

  #onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let at = 0;
    let end = payload.length;
    if (flags & Flag.PADDED) {
      if (payload.length < 1) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'padded HEADERS without a pad length');
      const pad = payload[0];
      at = 1;
      end -= pad;
    }
    if (flags & Flag.PRIORITY) at += 5;
    if (at > end) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding or priority longer than the frame');
    const fragment = payload.subarray(at, end);
    if (flags & Flag.END_HEADERS) return this.#onHeaderBlock(streamId, flags, fragment);
    this.#continuation = { streamId, flags, fragments: [fragment], bytes: fragment.length };
  }

  #onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const c = this.#continuation;
    if (!c || c.streamId !== streamId) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without a header block in progress on its stream');
    c.fragments.push(payload);
    c.bytes += payload.length;
    if (c.bytes > 2 * this.#local.maxHeaderListSize) throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
    if (!(flags & Flag.END_HEADERS)) return;
    this.#continuation = undefined;
    this.#onHeaderBlock(streamId, c.flags, Buffer.concat(c.fragments));
  }

  #onHeaderBlock(streamId: number, flags: number, block: Buffer): void {
    const list = this.#decoder.decode(block);
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const stream = this.#streams.get(streamId);
    if (this.role === 'server' && !stream) return this.#onRequest(streamId, list, endStream);
    if (!stream) {
      if (this.#isIdle(streamId)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on idle stream ${streamId}`);
      if (this.#resetByUs.has(streamId)) return;
      throw new H2StreamError(streamId, ErrorCode.STREAM_CLOSED, 'HEADERS on a closed stream');
    }
    if (stream.remoteEnded) throw new H2StreamError(streamId, ErrorCode.STREAM_CLOSED, 'HEADERS after END_STREAM');
    if (this.role === 'client' && !stream.responded) {
      const headers = validatedHeaders(streamId, list, 'response');
      const status = Number(headers[':status']);
      if (status >= 100 && status < 200) {
        if (endStream) throw new H2StreamError(streamId, ErrorCode.PROTOCOL_ERROR, 'informational response ends the stream');
        return;
      }
      stream.responded = true;
      stream.emit('response', headers);
    } else if (!endStream) {
      // Trailers must end the stream (RFC 9113 §8.1).
      throw new H2StreamError(streamId, ErrorCode.PROTOCOL_ERROR, 'trailers without END_STREAM');
    }
    if (endStream) this.#remoteEnd(stream);
  }

  #onRequest(streamId: number, list: HeaderList, endStream: boolean): void {
    if (streamId % 2 === 0 || streamId <= this.#lastPeerStreamId) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `client opened stream ${streamId} (must be odd and increasing)`);
    }
    this.#lastPeerStreamId = streamId;
    if (this.closed) throw new H2StreamError(streamId, ErrorCode.REFUSED_STREAM, 'the connection is draining');
    if (this.#local.maxConcurrentStreams !== undefined && this.#streams.size >= this.#local.maxConcurrentStreams) {
      throw new H2StreamError(streamId, ErrorCode.REFUSED_STREAM, 'too many concurrent streams');
    }
    const headers = validatedHeaders(streamId, list, 'request');
    const stream = new H2Stream(this, streamId, this.#peer.initialWindowSize, this.#local.initialWindowSize);
    this.#streams.set(streamId, stream);
    if (endStream) this.#remoteEnd(stream);
    this.emit('stream', stream, headers);
  }

  #onReset(streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (payload.length !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM frame is not 4 bytes');
    if (this.#isIdle(streamId)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId}`);
    const stream = this.#streams.get(streamId);
    if (!stream) return;
    if (this.role === 'server') this.#takeResetToken();
    const code = payload.readUInt32BE(0);
    stream.rstCode = code;
    this.#forget(stream);
    stream.destroy(isCleanReset(code) ? undefined : new Error(`stream reset by the peer (code ${code})`));
  }

  /** A peer that resets the streams it opens faster than the bucket refills is cut off (rapid reset). */
  #takeResetToken(): void {
    const now = performance.now();
    this.#resetTokens = Math.min(RESET_BURST, this.#resetTokens + ((now - this.#resetRefilledAt) * RESET_REFILL_PER_SECOND) / 1000);
    this.#resetRefilledAt = now;
    if (this.#resetTokens < 1) {
      throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `more than ${RESET_BURST} streams reset by the client in a burst (rapid reset)`);
    }
    this.#resetTokens -= 1;
  }

  #onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flag.ACK) {
      if (payload.length) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (payload.length % 6) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS payload is not a multiple of 6 bytes');
    const peer = { ...this.#peer };
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      switch (id) {
        case Setting.HEADER_TABLE_SIZE:
          if (value < peer.headerTableSize) this.#owesTableSizeUpdate = true;
          peer.headerTableSize = value;
          break;
        case Setting.ENABLE_PUSH:
          if (value > 1 || (value === 1 && this.role === 'client')) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
          break;
        case Setting.MAX_CONCURRENT_STREAMS:
          peer.maxConcurrentStreams = value;
          break;
        case Setting.INITIAL_WINDOW_SIZE:
          if (value > MAX_WINDOW) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value} exceeds 2^31-1`);
          peer.initialWindowSize = value;
          break;
        case Setting.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME || value > 2 ** 24 - 1) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value} out of range`);
          peer.maxFrameSize = value;
          break;
        default:
          break; // MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored
      }
    }
    const delta = peer.initialWindowSize - this.#peer.initialWindowSize;
    this.#peer = peer;
    if (delta !== 0) {
      for (const s of this.#streams.values()) {
        s.sendWindow += delta;
        if (s.sendWindow > MAX_WINDOW) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'a stream window overflowed');
      }
    }
    this.socket.write(frame(FrameType.SETTINGS, Flag.ACK, 0));
    this.remoteSettings = peer;
    if (!this.#sawSettings) {
      this.#sawSettings = true;
      this.emit('remoteSettings', peer);
    }
    if (delta > 0) this.#flushBlocked();
  }

  #onPing(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
    if (payload.length !== 8) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING frame is not 8 bytes');
    if (!(flags & Flag.ACK)) {
      this.socket.write(frame(FrameType.PING, Flag.ACK, 0, payload));
      return;
    }
    const key = payload.toString('hex');
    const p = this.#pings.get(key);
    if (!p) return;
    this.#pings.delete(key);
    p.done(null, performance.now() - p.sentAt);
  }

  #onGoaway(streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (payload.length < 8) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY shorter than 8 bytes');
    const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    this.closed = true;
    this.emit('goaway', code, lastStreamId);
    // Streams we opened above the peer's last are unprocessed: refused, so the caller may retry elsewhere.
    for (const s of [...this.#streams.values()]) {
      const ours = (s.id % 2 === 1) === (this.role === 'client');
      if (ours && s.id > lastStreamId) {
        s.rstCode = ErrorCode.REFUSED_STREAM;
        this.#forget(s);
        s.destroy();
      }
    }
    if (this.#streams.size === 0) this.#end();
  }

  #onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE frame is not 4 bytes');
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE with increment 0');
      this.#sendWindow += increment;
      if (this.#sendWindow > MAX_WINDOW) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window above 2^31-1');
    } else {
      if (this.#isIdle(streamId)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${streamId}`);
      const stream = this.#streams.get(streamId);
      if (increment === 0) throw new H2StreamError(streamId, ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE with increment 0');
      if (!stream) return;
      stream.sendWindow += increment;
      if (stream.sendWindow > MAX_WINDOW) throw new H2StreamError(streamId, ErrorCode.FLOW_CONTROL_ERROR, 'stream window above 2^31-1');
    }
    this.#flushBlocked();
  }
}

/**
 * Checks a received header list (RFC 9113 §8.2–8.3) and returns it as an object. A malformed list is a stream
 * error (PROTOCOL_ERROR): lowercase names, pseudo-fields first and known for the kind, no connection-specific
 * fields, and values without NUL, CR, LF or surrounding whitespace.
 */
function validatedHeaders(streamId: number, list: HeaderList, kind: 'request' | 'response'): H2Headers {
  // No prototype: field names come from the peer (`constructor`, `__proto__` must be plain fields).
  const out: H2Headers = Object.create(null) as H2Headers;
  let regular = false;
  const malformed = (why: string): H2StreamError => new H2StreamError(streamId, ErrorCode.PROTOCOL_ERROR, `malformed ${kind}: ${why}`);
  for (const [name, value] of list) {
    if (!name || /[A-Z]/.test(name)) throw malformed(`field name ${JSON.stringify(name)}`);
    // eslint-disable-next-line no-control-regex
    if (/[\0\r\n]/.test(value) || /^[ \t]|[ \t]$/.test(value)) throw malformed(`value of ${name}`);
    if (name.startsWith(':')) {
      if (regular) throw malformed(`pseudo-field ${name} after a regular field`);
      const known = kind === 'request' ? REQUEST_PSEUDO.has(name) : name === ':status';
      if (!known) throw malformed(`pseudo-field ${name}`);
      if (name in out) throw malformed(`repeated ${name}`);
      out[name] = value;
      continue;
    }
    regular = true;
    if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && value !== 'trailers')) throw malformed(`connection-specific field ${name}`);
    out[name] = name in out ? `${out[name]}${name === 'cookie' ? '; ' : ', '}${value}` : value;
  }
  if (kind === 'response') {
    if (!/^[1-5][0-9][0-9]$/.test(out[':status'] ?? '')) throw malformed('missing or invalid :status');
  } else if (out[':method'] === 'CONNECT') {
    if (!out[':authority'] || ':scheme' in out || ':path' in out) throw malformed('CONNECT needs :authority and no :scheme or :path');
  } else if (!out[':method'] || !out[':scheme'] || !out[':path']) {
    throw malformed('missing :method, :scheme or :path');
  }
  return out;
}
