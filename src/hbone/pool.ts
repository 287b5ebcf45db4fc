// HBONE connection pool: multiplexes outbound CONNECT streams over few mTLS HTTP/2 connections (PROTOCOLS.md §2.5).
//
// Invariants:
// - Key = (source SPIFFE identity, sorted set of acceptable destination identities, destination ip:port, source IP).
//   Different keys never share a connection, so one identity's streams never ride another identity's TLS session
//   and a reused pod IP with a new identity gets a new connection.
// - A connection takes at most min(maxStreamsPerConnection, server's SETTINGS_MAX_CONCURRENT_STREAMS) streams.
//   Slots are reserved synchronously at checkout, so a burst of N concurrent opens can never overshoot the limit;
//   when every connection of a key is full (or draining after GOAWAY) a new one is opened.
// - Single flight: while a connection for a key is being created, other checkouts for that key wait for it instead
//   of dialling their own; if creation fails, every waiter gets that error.
// - Idle release: a connection nobody checked out for `idleTimeoutMs` and with no open stream is dropped from the
//   pool and closed gracefully (GOAWAY). Dropping never cuts a stream: closing waits for streams to end.
// - A stream the server refused unprocessed (REFUSED_STREAM: it crossed the GOAWAY of a draining peer, e.g. a ztunnel
//   handing over to its replacement) is retried on another connection, and the refusing one takes no new streams.
import type { Logger } from 'pino';
import { describeError } from '../lib/errors.js';
import { silentLogger } from '../lib/log.js';
import type { ConnectHeaders, HboneClientConnection } from './hbone-client.js';
import type { H2Stream } from './h2/h2-stream.js';
import { CLIENT_MAX_STREAMS_PER_CONNECTION } from './hbone-protocol.js';
import { StreamRefusedError } from './proxy-errors.js';

/** Retries of a refused stream: each is on a connection other than the one that refused. */
const REFUSED_STREAM_RETRIES = 2;

export interface PoolKey {
  srcIdentity: string;
  expectedIdentities: readonly string[];
  /** `ip:port` of the HBONE server (pod IP:15008, or a waypoint's address). */
  dst: string;
  srcIp: string;
}

/** Creates a new connection for a key (TCP connect from the source, then TLS + HTTP/2). */
type HboneConnector = (key: PoolKey) => Promise<HboneClientConnection>;

interface HbonePoolOptions {
  connect: HboneConnector;
  maxStreamsPerConnection?: number;
  /** Default 5 minutes. */
  idleTimeoutMs?: number;
  log?: Logger;
}

/** Canonical text of a key (identities order-insensitive). */
function poolKeyString(k: PoolKey): string {
  return `${k.srcIdentity}|${[...k.expectedIdentities].sort().join(',')}|${k.dst}|${k.srcIp}`;
}

interface Pooled {
  conn: HboneClientConnection;
  /** Reserved + open streams. */
  inUse: number;
  /** performance.now() of the last checkout. */
  lastCheckout: number;
}

interface KeyEntry {
  conns: Pooled[];
  creating: Promise<void> | undefined;
}

interface PoolStats {
  key: string;
  connections: number;
  streams: number;
}

export class HbonePool {
  readonly #connect: HboneConnector;
  readonly #limit: number;
  readonly #idleMs: number;
  readonly #log: Logger;
  readonly #entries = new Map<string, KeyEntry>();
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;
  /** Connections created over the pool's lifetime (tests and metrics). */
  connectionsCreated = 0;

  constructor(opts: HbonePoolOptions) {
    this.#connect = opts.connect;
    this.#limit = Math.max(1, opts.maxStreamsPerConnection ?? CLIENT_MAX_STREAMS_PER_CONNECTION);
    this.#idleMs = opts.idleTimeoutMs ?? 5 * 60_000;
    this.#log = opts.log ?? silentLogger();
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(50, Math.min(30_000, this.#idleMs / 2)));
    this.#sweeper.unref();
  }

  /** Opens a CONNECT stream for `key`, reusing or creating a connection; resolves once the server said 200. */
  async openStream(key: PoolKey, authority: string, headers: ConnectHeaders = {}): Promise<H2Stream> {
    for (let attempt = 0; ; attempt++) {
      const pooled = await this.#acquire(key);
      let stream: H2Stream;
      try {
        stream = await pooled.conn.openStream(authority, headers);
      } catch (err) {
        this.#release(pooled);
        if (!(err instanceof StreamRefusedError) || attempt >= REFUSED_STREAM_RETRIES) throw err;
        // The peer is draining (or over its stream limit): no new streams here, the next attempt gets another.
        this.#drop(poolKeyString(key), pooled);
        pooled.conn.close();
        continue;
      }
      stream.once('close', () => this.#release(pooled));
      return stream;
    }
  }

  stats(): PoolStats[] {
    return [...this.#entries].map(([key, e]) => ({
      key,
      connections: e.conns.length,
      streams: e.conns.reduce((n, p) => n + p.conn.activeStreams, 0),
    }));
  }

  /** Closes every pooled connection gracefully (open streams finish) and stops pooling. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const e of this.#entries.values()) for (const p of e.conns) p.conn.close();
    this.#entries.clear();
  }

  /** Destroys every connection now. */
  destroy(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const e of this.#entries.values()) for (const p of e.conns) p.conn.destroy();
    this.#entries.clear();
  }

  async #acquire(key: PoolKey): Promise<Pooled> {
    const k = poolKeyString(key);
    for (;;) {
      if (this.#closed) throw new Error('hbone pool is closed');
      let entry = this.#entries.get(k);
      if (!entry) {
        entry = { conns: [], creating: undefined };
        this.#entries.set(k, entry);
      }
      for (const p of entry.conns) {
        if (p.conn.usable && p.inUse < Math.min(this.#limit, p.conn.maxStreams)) {
          p.inUse++;
          p.lastCheckout = performance.now();
          return p;
        }
      }
      if (!entry.creating) entry.creating = this.#create(k, key, entry);
      await entry.creating;
    }
  }

  async #create(k: string, key: PoolKey, entry: KeyEntry): Promise<void> {
    try {
      const conn = await this.#connect(key);
      this.connectionsCreated++;
      const pooled: Pooled = { conn, inUse: 0, lastCheckout: performance.now() };
      if (this.#closed) {
        conn.close();
        return;
      }
      entry.conns.push(pooled);
      conn.session.once('close', () => this.#drop(k, pooled));
    } catch (err) {
      this.#log.debug({ key: k, error: describeError(err) }, 'hbone connection failed');
      throw err;
    } finally {
      entry.creating = undefined;
    }
  }

  #release(p: Pooled): void {
    p.inUse = Math.max(0, p.inUse - 1);
  }

  #drop(k: string, p: Pooled): void {
    const entry = this.#entries.get(k);
    if (!entry) return;
    const i = entry.conns.indexOf(p);
    if (i >= 0) entry.conns.splice(i, 1);
    if (entry.conns.length === 0 && !entry.creating) this.#entries.delete(k);
  }

  #sweep(): void {
    const now = performance.now();
    for (const [k, entry] of this.#entries) {
      for (const p of [...entry.conns]) {
        if (p.inUse === 0 && now - p.lastCheckout >= this.#idleMs) {
          this.#drop(k, p);
          p.conn.close();
        }
      }
    }
  }
}
