// The gRPC definition of ambit.telemetry.v1.DecisionService/Report (proto/ambit/telemetry/v1/decisions.proto) for
// @grpc/grpc-js, shared by the proxies that report and the control plane that keeps the live decisions table,
// and the plain record both sides speak in TypeScript.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import {
  DecisionBatchSchema,
  ReportSummarySchema,
  type DecisionBatch,
  type ReportSummary,
} from '../../../proto/gen/ambit/telemetry/v1/decisions_pb.js';
import type { DecisionPeer, DecisionRecord, Verdict } from './decision-record.js';

export { ReportSummarySchema, type DecisionBatch, type ReportSummary };

const report: MethodDefinition<DecisionBatch, ReportSummary> = {
  path: '/ambit.telemetry.v1.DecisionService/Report',
  requestStream: true,
  responseStream: false,
  requestSerialize: (m) => Buffer.from(toBinary(DecisionBatchSchema, m)),
  requestDeserialize: (b) => fromBinary(DecisionBatchSchema, b),
  responseSerialize: (m) => Buffer.from(toBinary(ReportSummarySchema, m)),
  responseDeserialize: (b) => fromBinary(ReportSummarySchema, b),
  originalName: 'report',
};

interface DecisionServiceDefinition extends ServiceDefinition {
  Report: typeof report;
}

export const decisionServiceDefinition: DecisionServiceDefinition = { Report: report };

const peerMessage = (p: DecisionPeer) => ({ address: p.address, workload: p.workload ?? '', namespace: p.namespace ?? '', identity: p.identity ?? '', service: p.service ?? '' });

/** Long free-text fields are cut: a report is for a table row, and a batch must fit one gRPC message. */
const MAX_TEXT = 512;
const cap = (s: string | undefined): string => (s === undefined ? '' : s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s);

/** The wire batch for `records`. */
export function toBatch(proxy: string, records: readonly DecisionRecord[], droppedTotal: number): DecisionBatch {
  return create(DecisionBatchSchema, {
    proxy,
    droppedTotal: BigInt(droppedTotal),
    decisions: records.map((r) => ({
      timeMs: BigInt(r.timeMs), reporter: r.reporter, protocol: r.protocol,
      source: peerMessage(r.source), destination: peerMessage(r.destination),
      verdict: r.verdict, policy: r.policy ?? '', reason: cap(r.reason), responseCode: r.responseCode ?? 0,
      durationMs: r.durationMs, bytesSent: BigInt(r.bytesSent ?? 0), bytesReceived: BigInt(r.bytesReceived ?? 0),
      mutualTls: r.mutualTls, method: r.method ?? '', path: cap(r.path), responseFlags: r.responseFlags ?? '',
    })),
  });
}

const REPORTERS = new Set(['source', 'destination', 'waypoint']);
const PROTOCOLS = new Set(['tcp', 'http', 'grpc']);
const VERDICTS = new Set(['allowed', 'denied', 'failed']);

/** Plain records from a received batch; entries with values outside the enums are dropped (and counted). */
export function fromBatch(batch: DecisionBatch): { records: DecisionRecord[]; invalid: number } {
  const records: DecisionRecord[] = [];
  let invalid = 0;
  const peer = (p: { address: string; workload: string; namespace: string; identity: string; service: string } | undefined): DecisionPeer => ({
    address: p?.address ?? '',
    ...(p?.workload ? { workload: p.workload } : {}),
    ...(p?.namespace ? { namespace: p.namespace } : {}),
    ...(p?.identity ? { identity: p.identity } : {}),
    ...(p?.service ? { service: p.service } : {}),
  });
  for (const d of batch.decisions) {
    if (!REPORTERS.has(d.reporter) || !PROTOCOLS.has(d.protocol) || !VERDICTS.has(d.verdict)) {
      invalid++;
      continue;
    }
    records.push({
      timeMs: Number(d.timeMs), reporter: d.reporter as DecisionRecord['reporter'], protocol: d.protocol as DecisionRecord['protocol'],
      source: peer(d.source), destination: peer(d.destination), verdict: d.verdict as Verdict,
      ...(d.policy ? { policy: d.policy } : {}), ...(d.reason ? { reason: d.reason } : {}),
      ...(d.responseCode ? { responseCode: d.responseCode } : {}),
      durationMs: d.durationMs, bytesSent: Number(d.bytesSent), bytesReceived: Number(d.bytesReceived), mutualTls: d.mutualTls,
      ...(d.method ? { method: d.method } : {}), ...(d.path ? { path: d.path } : {}), ...(d.responseFlags ? { responseFlags: d.responseFlags } : {}),
    });
  }
  return { records, invalid };
}

