// The live decisions table's memory: the last N decisions every ztunnel and waypoint reported over
// DecisionService/Report (proto/ambit/telemetry/v1), each with a sequence number so a page asks only for what is
// newer than what it shows. Bounded: the oldest go first. Display data only — a reporter authenticated as a node
// could report anything, so nothing here feeds a policy decision.
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { describeError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { DecisionRecord } from '../../lib/telemetry/decision-record.js';
import { ReportSummarySchema, decisionServiceDefinition, fromBatch, type DecisionBatch, type ReportSummary } from '../../lib/telemetry/decision-service.js';
import { authenticateCaller, type CallerAuthOptions } from '../xds/caller-auth.js';
import type { DecisionPage, StoredDecision } from './view-types.js';

/** What a page filters the table by; every field optional. */
interface DecisionFilter {
  namespace?: string;
  workload?: string;
  verdict?: string;
}

/** Decisions kept (about a minute of a busy sandbox; a page polls every second). */
const DEFAULT_CAPACITY = 5000;

function matchesFilter(d: DecisionRecord, f: DecisionFilter): boolean {
  if (f.verdict && d.verdict !== f.verdict) return false;
  if (f.namespace && d.source.namespace !== f.namespace && d.destination.namespace !== f.namespace) return false;
  if (f.workload && d.source.workload !== f.workload && d.destination.workload !== f.workload) return false;
  return true;
}

export class DecisionLog {
  readonly #capacity: number;
  readonly #items: StoredDecision[] = [];
  #seq = 0;
  /** Reports each proxy says it dropped (its queue was full), by proxy. */
  readonly #dropped = new Map<string, number>();

  constructor(capacity = DEFAULT_CAPACITY) {
    this.#capacity = capacity;
  }

  add(proxy: string, records: readonly DecisionRecord[]): void {
    for (const r of records) this.#items.push({ ...r, seq: ++this.#seq, proxy });
    const over = this.#items.length - this.#capacity;
    if (over > 0) this.#items.splice(0, over);
  }

  /** Up to `limit` decisions newer than `after`, newest last, matching `filter`. */
  since(after: number, filter: DecisionFilter, limit = 500): DecisionPage {
    const out: StoredDecision[] = [];
    for (let i = this.#items.length - 1; i >= 0 && out.length < limit; i--) {
      const d = this.#items[i]!;
      if (d.seq <= after) break;
      if (matchesFilter(d, filter)) out.push(d);
    }
    let dropped = 0;
    for (const n of this.#dropped.values()) dropped += n;
    return { items: out.reverse(), last: this.#seq, droppedByProxies: dropped };
  }

  /** Registers DecisionService on the control plane's gRPC server (port 15012), authenticated as xDS is. */
  serve(server: grpc.Server, auth: CallerAuthOptions, log: Logger): void {
    server.addService(decisionServiceDefinition, {
      Report: (call: grpc.ServerReadableStream<DecisionBatch, ReportSummary>, done: grpc.sendUnaryData<ReportSummary>) => {
        let accepted = 0;
        let allowed = false;
        const pending: DecisionBatch[] = [];
        const take = (b: DecisionBatch) => {
          const { records, invalid } = fromBatch(b);
          if (invalid) log.debug({ proxy: b.proxy, invalid }, 'decision report entries with unknown values dropped');
          this.add(b.proxy, records);
          this.#dropped.set(b.proxy, Number(b.droppedTotal));
          accepted += records.length;
        };
        call.on('data', (b: DecisionBatch) => (allowed ? take(b) : pending.push(b)));
        call.on('end', () => done(null, create(ReportSummarySchema, { accepted: BigInt(accepted) })));
        call.on('error', () => undefined);
        authenticateCaller(call, auth).then(
          () => {
            allowed = true;
            for (const b of pending.splice(0)) take(b);
          },
          (err: unknown) => {
            log.warn({ peer: call.getPeer(), reason: describeError(err) }, 'decision stream refused');
            pending.length = 0;
            done({ code: grpc.status.UNAUTHENTICATED, details: describeError(err) });
            call.destroy();
          },
        );
      },
    });
  }
}
