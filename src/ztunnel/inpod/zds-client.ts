// ztunnel's side of ZDS (PROTOCOLS.md §8.2): connects to the node agent's SEQPACKET socket (retry 10 ms doubling to
// 15 s), says hello V1, then handles add (with the pod's netns fd) / keep / del / snapshot_sent one at a time,
// answering each with an ack (empty error) or a nack (the reason). A protocol violation drops the connection
// (the agent replays its snapshot on the next one).
import { closeSync } from 'node:fs';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { connectSeqpacket, type SeqpacketConnection } from '../../platform/index.js';
import { MeshError, describeError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import {
  Version, WorkloadRequestSchema, WorkloadResponseSchema, ZdsHelloSchema, type WorkloadRequest,
} from '../../../proto/gen/istio/zds/zds_pb.js';
import type { WorkloadManager } from './workload-manager.js';

class ZdsProtocolError extends MeshError {
  constructor(message: string) {
    super('ZT_ZDS_PROTOCOL', message);
  }
}

interface ZdsClientOptions {
  socketPath: string;
  manager: WorkloadManager;
  log: Logger;
  backoff?: { initialMs: number; maxMs: number };
}

export class ZdsClient {
  readonly #opts: ZdsClientOptions;
  #conn: SeqpacketConnection | undefined;
  #timer: NodeJS.Timeout | undefined;
  #backoffMs: number;
  #closed = false;
  #connected = false;
  #lastError: string | undefined;

  constructor(opts: ZdsClientOptions) {
    this.#opts = opts;
    this.#backoffMs = opts.backoff?.initialMs ?? 10;
  }

  start(): void {
    this.#connect();
  }

  get connected(): boolean {
    return this.#connected;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#conn?.close();
  }

  #connect(): void {
    if (this.#closed) return;
    let conn: SeqpacketConnection;
    try {
      conn = connectSeqpacket(this.#opts.socketPath);
    } catch (err) {
      this.#retry(`cannot connect to the node agent at ${this.#opts.socketPath}: ${describeError(err)}`);
      return;
    }
    this.#conn = conn;
    void this.#session(conn);
  }

  #retry(why: string): void {
    if (this.#closed) return;
    if (why !== this.#lastError) this.#opts.log.warn({ reason: why, retryInMs: this.#backoffMs }, 'ZDS connection down; retrying');
    this.#lastError = why;
    this.#timer = setTimeout(() => this.#connect(), this.#backoffMs);
    this.#timer.unref();
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#opts.backoff?.maxMs ?? 15_000);
  }

  async #session(conn: SeqpacketConnection): Promise<void> {
    const { manager, log } = this.#opts;
    let why = 'the node agent closed the connection';
    try {
      await conn.send(toBinary(ZdsHelloSchema, create(ZdsHelloSchema, { version: Version.V1 })));
      manager.connectionStarted();
      let snapshotSeen = false;
      for (;;) {
        const msg = await conn.receive();
        if (msg === null) break;
        if (!this.#connected) {
          this.#connected = true;
          this.#backoffMs = this.#opts.backoff?.initialMs ?? 10;
          this.#lastError = undefined;
          log.info({ socket: this.#opts.socketPath }, 'connected to the node agent');
        }
        let request: WorkloadRequest;
        try {
          request = fromBinary(WorkloadRequestSchema, msg.data);
        } catch (err) {
          for (const fd of msg.fds) closeFd(fd);
          throw new ZdsProtocolError(`undecodable ZDS request: ${describeError(err)}`);
        }
        const payload = request.payload;
        if (payload.case !== 'add' && msg.fds.length > 0) {
          for (const fd of msg.fds) closeFd(fd);
          throw new ZdsProtocolError(`a ${payload.case ?? 'empty'} request carried ${msg.fds.length} descriptor(s)`);
        }
        let error: string | undefined;
        switch (payload.case) {
          case 'add': {
            const info = payload.value.workloadInfo;
            if (msg.fds.length !== 1) {
              for (const fd of msg.fds) closeFd(fd);
              throw new ZdsProtocolError(`add for ${payload.value.uid} carried ${msg.fds.length} descriptors (exactly one netns fd expected)`);
            }
            if (!info) {
              closeFd(msg.fds[0]!);
              throw new ZdsProtocolError(`add for ${payload.value.uid} has no workload_info`);
            }
            error = await manager.add(payload.value.uid, { name: info.name, namespace: info.namespace, serviceAccount: info.serviceAccount }, msg.fds[0]!);
            break;
          }
          case 'keep':
            if (snapshotSeen) throw new ZdsProtocolError('keep after snapshot_sent');
            error = manager.keep(payload.value.uid);
            break;
          case 'del':
            await manager.del(payload.value.uid);
            break;
          case 'snapshotSent':
            if (snapshotSeen) throw new ZdsProtocolError('a second snapshot_sent');
            snapshotSeen = true;
            await manager.snapshotDone();
            break;
          default:
            throw new ZdsProtocolError('empty ZDS request');
        }
        await conn.send(toBinary(WorkloadResponseSchema, create(WorkloadResponseSchema, { payload: { case: 'ack', value: { error: error ?? '' } } })));
      }
    } catch (err) {
      why = describeError(err);
    } finally {
      conn.close();
      if (this.#conn === conn) this.#conn = undefined;
      this.#connected = false;
    }
    // Pods keep running across a reconnect; the next snapshot reconciles them.
    this.#retry(why);
  }
}

function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
