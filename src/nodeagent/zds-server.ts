// The node agent's side of ZDS (PROTOCOLS.md §8.2): a SEQPACKET listener ztunnel connects to, a snapshot replay on
// every (re)connect, then add/del messages one at a time, each waiting for ztunnel's ack before the next. Several
// ztunnels may be connected at once (a replacement starts before the old one leaves): each gets every message.
import { openSync, closeSync } from 'node:fs';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { listenSeqpacket, type SeqpacketConnection, type SeqpacketServer } from '../platform/index.js';
import { MeshError, describeError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import {
  Version, WorkloadRequestSchema, WorkloadResponseSchema, ZdsHelloSchema, type WorkloadRequest,
} from '../../proto/gen/istio/zds/zds_pb.js';

/** A pod as ztunnel needs to know it: identity plus where its netns lives. */
export interface ZdsWorkload {
  uid: string;
  name: string;
  namespace: string;
  serviceAccount: string;
  /** Path of the pod's netns file (`/var/run/netns/<name>`); opened and passed as an fd with each `add`. */
  netnsPath: string;
}

interface ZdsServerOptions {
  socketPath: string;
  log: Logger;
  /** The workloads to replay to a newly connected ztunnel, in order (called at connect time). */
  snapshot: () => ZdsWorkload[];
  /** uids to send a del for before snapshot_sent (pods released that a ztunnel may still serve); default none. */
  released?: () => string[];
  /** ztunnel's answer to an add (`error` empty = ack) — also called with an error when the connection dropped. */
  onAddResult: (uid: string, error: string | undefined) => void;
  /** A ztunnel connected (true) or went away (false). */
  onConnectionChange?: (connected: boolean) => void;
  /** How long to wait for an ack before giving up on the connection; default 5000 ms. */
  ackTimeoutMs?: number;
  /**
   * The snapshot is taken only once this resolves (the agent knows its pods): a snapshot taken earlier would
   * be incomplete, and a pod missing from it looks deleted to ztunnel.
   */
  snapshotReady?: Promise<void>;
}

/** ztunnel broke the protocol (bad hello, malformed or missing ack); the connection is dropped. */
class ZdsProtocolError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NODEAGENT_ZDS_PROTOCOL', message, options);
  }
}

type Op = { kind: 'add'; workload: ZdsWorkload } | { kind: 'del'; uid: string } | { kind: 'snapshot' };

/** One ztunnel connection: a serial queue of requests, each answered before the next is sent. */
class ZdsSession {
  readonly #queue: Op[] = [];
  #running = false;
  closed = false;
  /** Set once ztunnel's hello arrived; requests wait for it. */
  #helloSeen = false;

  readonly #conn: SeqpacketConnection;
  readonly #opts: ZdsServerOptions;
  readonly #onClose: () => void;

  constructor(conn: SeqpacketConnection, opts: ZdsServerOptions, onClose: () => void) {
    this.#conn = conn;
    this.#opts = opts;
    this.#onClose = onClose;
  }

  async start(): Promise<void> {
    try {
      const hello = await this.#receive('hello');
      const msg = fromBinary(ZdsHelloSchema, hello);
      if (msg.version !== Version.V1) throw new ZdsProtocolError(`ztunnel sent hello with unsupported version ${msg.version}`);
    } catch (err) {
      this.#fail(err);
      return;
    }
    await this.#opts.snapshotReady;
    if (this.closed) return;
    this.#helloSeen = true;
    this.#opts.log.info('ztunnel connected; replaying snapshot');
    for (const workload of this.#opts.snapshot()) this.#queue.push({ kind: 'add', workload });
    for (const uid of this.#opts.released?.() ?? []) this.#queue.push({ kind: 'del', uid });
    this.#queue.push({ kind: 'snapshot' });
    void this.#pump();
  }

  /** Before the snapshot is taken nothing is queued: the snapshot already reflects the change. */
  enqueue(op: Op): void {
    if (this.closed || !this.#helloSeen) return;
    this.#queue.push(op);
    void this.#pump();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#conn.close();
    // Adds in flight or queued were never acknowledged on this connection.
    for (const op of this.#queue.splice(0)) if (op.kind === 'add') this.#opts.onAddResult(op.workload.uid, 'ztunnel connection closed');
    this.#onClose();
  }

  #fail(err: unknown): void {
    if (!this.closed) this.#opts.log.warn({ err: describeError(err) }, 'ztunnel connection dropped');
    this.close();
  }

  async #pump(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (!this.closed && this.#queue.length > 0) {
        const op = this.#queue[0]!;
        const error = await this.#exchange(op);
        this.#queue.shift();
        if (op.kind === 'add') this.#opts.onAddResult(op.workload.uid, error);
        else if (error) this.#opts.log.warn({ op: op.kind, error }, 'ztunnel refused a request');
      }
    } catch (err) {
      this.#fail(err);
    } finally {
      this.#running = false;
    }
  }

  /** Sends one request and returns ztunnel's NACK text (undefined for an ACK). */
  async #exchange(op: Op): Promise<string | undefined> {
    let request: WorkloadRequest;
    let fd: number | undefined;
    switch (op.kind) {
      case 'add': {
        const w = op.workload;
        request = create(WorkloadRequestSchema, {
          payload: { case: 'add', value: { uid: w.uid, workloadInfo: { name: w.name, namespace: w.namespace, serviceAccount: w.serviceAccount } } },
        });
        try {
          fd = openSync(w.netnsPath, 'r');
        } catch (err) {
          // The pod's netns vanished (pod being deleted): nothing to hand over.
          return `cannot open the pod netns ${w.netnsPath}: ${describeError(err)}`;
        }
        break;
      }
      case 'del':
        request = create(WorkloadRequestSchema, { payload: { case: 'del', value: { uid: op.uid } } });
        break;
      case 'snapshot':
        request = create(WorkloadRequestSchema, { payload: { case: 'snapshotSent', value: {} } });
        break;
    }
    try {
      await this.#conn.send(toBinary(WorkloadRequestSchema, request), fd);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    const answer = fromBinary(WorkloadResponseSchema, await this.#receive(`ack for ${op.kind}`));
    if (answer.payload.case !== 'ack') throw new ZdsProtocolError(`ztunnel answered ${op.kind} without an ack`);
    return answer.payload.value.error || undefined;
  }

  async #receive(what: string): Promise<Uint8Array> {
    const timeoutMs = this.#opts.ackTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ZdsProtocolError(`no ${what} from ztunnel within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const msg = await Promise.race([this.#conn.receive(), timeout]);
      if (msg === null) throw new ZdsProtocolError(`ztunnel closed the connection (waiting for ${what})`);
      for (const fd of msg.fds) closeSync(fd); // ztunnel never sends descriptors
      return msg.data;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Listens for ztunnel. Every live session gets every add/del: during a ztunnel restart the old process still serves
 * its pods while the new one takes them over. Add results are reported from the newest session only.
 */
export class ZdsServer {
  readonly #server: SeqpacketServer;
  readonly #sessions = new Set<ZdsSession>();
  #newest: ZdsSession | undefined;

  readonly #opts: ZdsServerOptions;

  constructor(opts: ZdsServerOptions) {
    this.#opts = opts;
    this.#server = listenSeqpacket(opts.socketPath);
    this.#server.on('connection', (conn) => this.#accept(conn));
    this.#server.on('error', (err) => opts.log.error({ err: describeError(err) }, 'ZDS accept failed'));
  }

  /** True while at least one ztunnel is connected. */
  get connected(): boolean {
    return this.#sessions.size > 0;
  }

  /** Tells ztunnel about a pod (queued behind earlier requests); no-op without a ztunnel (it gets the snapshot). */
  add(workload: ZdsWorkload): void {
    for (const s of this.#sessions) s.enqueue({ kind: 'add', workload });
  }

  /** Tells ztunnel a pod is gone or no longer enrolled. */
  del(uid: string): void {
    for (const s of this.#sessions) s.enqueue({ kind: 'del', uid });
  }

  close(): void {
    this.#server.close();
    for (const s of [...this.#sessions]) s.close();
  }

  #accept(conn: SeqpacketConnection): void {
    const session: ZdsSession = new ZdsSession(
      conn,
      { ...this.#opts, onAddResult: (uid, error) => { if (this.#newest === session) this.#opts.onAddResult(uid, error); } },
      () => {
        this.#sessions.delete(session);
        if (this.#newest === session) this.#newest = [...this.#sessions].at(-1);
        if (this.#sessions.size === 0) this.#opts.onConnectionChange?.(false);
      },
    );
    this.#sessions.add(session);
    this.#newest = session;
    this.#opts.onConnectionChange?.(true);
    void session.start();
  }
}
