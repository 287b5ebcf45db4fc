// A minimal ZDS client (the ztunnel side) for tests: says hello, records every request, answers ack or nack.
import { closeSync } from 'node:fs';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { connectSeqpacket, netnsInode, type SeqpacketConnection } from '../../platform/index.js';
import {
  Version, WorkloadRequestSchema, WorkloadResponseSchema, ZdsHelloSchema,
} from '../../../proto/gen/istio/zds/zds_pb.js';

interface ReceivedZdsRequest {
  kind: 'add' | 'del' | 'keep' | 'snapshot';
  uid?: string;
  name?: string;
  namespace?: string;
  serviceAccount?: string;
  /** Inode of the netns fd that came with an `add` (the fd itself is closed at once). */
  netnsInode?: number;
  fdCount: number;
}

export class ZdsTestClient {
  readonly requests: ReceivedZdsRequest[] = [];
  readonly #conn: SeqpacketConnection;
  #waiters: Array<() => void> = [];
  #closed = false;
  /** Return a NACK text for a request to refuse it; undefined acks. */
  answer: (req: ReceivedZdsRequest) => string | undefined = () => undefined;

  constructor(socketPath: string) {
    this.#conn = connectSeqpacket(socketPath);
    void this.#run();
  }

  /** Resolves once a request matching `pred` has arrived (or rejects after `timeoutMs`). */
  async waitFor(pred: (r: ReceivedZdsRequest) => boolean, timeoutMs = 10_000): Promise<ReceivedZdsRequest> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.requests.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0 || this.#closed) throw new Error(`no matching ZDS request within ${timeoutMs} ms (got ${JSON.stringify(this.requests)})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.#closed = true;
    this.#conn.close();
  }

  async #run(): Promise<void> {
    try {
      await this.#conn.send(toBinary(ZdsHelloSchema, create(ZdsHelloSchema, { version: Version.V1 })));
      for (;;) {
        const msg = await this.#conn.receive();
        if (msg === null) break;
        const req = fromBinary(WorkloadRequestSchema, msg.data);
        const rec: ReceivedZdsRequest = { kind: 'snapshot', fdCount: msg.fds.length };
        switch (req.payload.case) {
          case 'add':
            rec.kind = 'add';
            rec.uid = req.payload.value.uid;
            rec.name = req.payload.value.workloadInfo?.name;
            rec.namespace = req.payload.value.workloadInfo?.namespace;
            rec.serviceAccount = req.payload.value.workloadInfo?.serviceAccount;
            if (msg.fds.length === 1) rec.netnsInode = netnsInode(msg.fds[0]!);
            break;
          case 'del':
            rec.kind = 'del';
            rec.uid = req.payload.value.uid;
            break;
          case 'keep':
            rec.kind = 'keep';
            rec.uid = req.payload.value.uid;
            break;
          default:
            break;
        }
        for (const fd of msg.fds) closeSync(fd);
        this.requests.push(rec);
        const error = this.answer(rec) ?? '';
        await this.#conn.send(toBinary(WorkloadResponseSchema, create(WorkloadResponseSchema, { payload: { case: 'ack', value: { error } } })));
        for (const w of this.#waiters.splice(0)) w();
      }
    } catch {
      // connection closed by the test or the agent
    } finally {
      this.#closed = true;
      for (const w of this.#waiters.splice(0)) w();
    }
  }
}
