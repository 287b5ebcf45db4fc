// One HBONE CONNECT stream as a Node Duplex: writes become DATA frames (END_STREAM on end()), received DATA is
// pushed as it arrives, and the peer's window is credited back only as the reader consumes (backpressure across
// the tunnel). Shaped like Node's Http2Stream where the proxy uses it (`rstCode`, `respond`, `close`, 'response').
import { Duplex } from 'node:stream';
import { ErrorCode } from './frames.js';
import type { H2Connection } from './h2-connection.js';

/** Decoded header fields; repeated names are joined as one value (`, `, or `; ` for cookie). */
export type H2Headers = Record<string, string>;

const EMPTY = Buffer.alloc(0);

export class H2Stream extends Duplex {
  readonly id: number;
  /** The connection, under Node's Http2Stream name (copy.ts tells HTTP/2 streams apart by it). */
  readonly session: H2Connection;
  /** The RST_STREAM code sent or received; undefined while the stream was not reset. */
  rstCode: number | undefined = undefined;
  headersSent = false;
  /** Client: the final (non-1xx) response headers arrived. */
  responded = false;
  /** Flow control, bytes: what the peer still accepts from us, and what we still accept from it. */
  sendWindow: number;
  recvWindow: number;
  /** Bytes received and handed to the reader but not yet credited back with WINDOW_UPDATE: stream, connection. */
  unacked = 0;
  connectionUnacked = 0;
  /** The reader's buffer was full at the last push: credit waits for the next read. */
  stalled = false;
  /** END_STREAM received / sent. */
  remoteEnded = false;
  localEnded = false;
  /** DATA waiting for window: chunk, whether it ends the stream, and the write's callback. */
  readonly pending: { chunk: Buffer; end: boolean; done: (err?: Error | null) => void }[] = [];
  #idleMs = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #lastActivity = 0;

  constructor(transport: H2Connection, id: number, sendWindow: number, recvWindow: number) {
    // Like Node's Http2Stream, the stream ends itself once both directions are done (not Node's autoDestroy, which
    // lets a `for await` reader destroy a stream whose write side is still in use).
    super({ allowHalfOpen: true, autoDestroy: false });
    const destroyWhenDone = (): void => {
      if (this.readableEnded && this.writableFinished) this.destroy();
    };
    this.once('end', destroyWhenDone);
    this.once('finish', destroyWhenDone);
    this.session = transport;
    this.id = id;
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** Sends the response HEADERS (server side). With `endStream`, the stream is answered and done. */
  respond(headers: Record<string, string | number>, opts: { endStream?: boolean } = {}): void {
    if (this.headersSent) throw new Error(`stream ${this.id}: response already sent`);
    if (this.destroyed) throw new Error(`stream ${this.id}: stream is closed`);
    const { ':status': status, ...rest } = headers;
    const list: [string, string][] = [[':status', String(status)]];
    for (const [name, value] of Object.entries(rest)) list.push([name.toLowerCase(), String(value)]);
    this.headersSent = true;
    this.session.sendHeaders(this, list, opts.endStream === true);
    if (opts.endStream) {
      // A complete response ends the exchange: NO_ERROR asks the client to stop sending (RFC 9113 §8.1).
      this.close(ErrorCode.NO_ERROR);
    }
  }

  /**
   * Emits 'timeout' after `ms` without DATA in either direction (0 turns it off), as Node's sockets and Http2Stream
   * do: node:http's keep-alive agent relies on it to drop idle pooled connections before the far server does.
   */
  setTimeout(ms: number, onTimeout?: () => void): this {
    if (onTimeout) this.once('timeout', onTimeout);
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#idleMs = ms > 0 && !this.destroyed ? ms : 0;
    if (this.#idleMs) this.#armIdleTimer();
    return this;
  }

  /** Marks DATA sent or received (cheap: the idle timer reads the mark instead of being re-armed per chunk). */
  touch(): void {
    if (this.#idleMs) this.#lastActivity = performance.now();
  }

  #armIdleTimer(delay = this.#idleMs): void {
    if (delay === this.#idleMs) this.#lastActivity = performance.now();
    this.#idleTimer = setTimeout(() => {
      if (this.destroyed || !this.#idleMs) return;
      const idle = performance.now() - this.#lastActivity;
      if (idle < this.#idleMs) return this.#armIdleTimer(this.#idleMs - idle);
      this.#idleTimer = undefined;
      this.emit('timeout');
    }, delay);
    this.#idleTimer.unref();
  }

  /** Resets the stream with `code` (RST_STREAM) and destroys it. */
  close(code: number = ErrorCode.NO_ERROR): void {
    if (this.rstCode === undefined && !this.destroyed) this.session.sendReset(this, code);
    this.destroy();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.touch();
    this.session.sendData(this, chunk, false, done);
  }

  override _writev(chunks: { chunk: Buffer }[], done: (err?: Error | null) => void): void {
    this.touch();
    const whole = chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this.session.sendData(this, whole, false, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.session.sendData(this, EMPTY, true, done);
  }

  override _read(): void {
    this.session.creditConsumed(this);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    clearTimeout(this.#idleTimer);
    this.session.streamDestroyed(this, err);
    done(err);
  }
}
