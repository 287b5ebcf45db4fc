// One result object per proxied connection: routing fills in who talks to whom, `close()` records the metrics
// (opened/closed/failed/bytes, PROTOCOLS.md §9.1) and writes the single access-log line (§9.2).
import type { Logger } from 'pino';
import { describeError } from '../../lib/errors.js';
import { UNKNOWN, type TrafficLabels, type ZtunnelMetrics } from '../metrics.js';
import type { Service, Workload } from '../state/types.js';
import { FAILURE_FLAGS, PolicyDeniedError, PolicyRevokedError, flagFor, type ResponseFlag } from '../../hbone/proxy-errors.js';
import { findCause } from '../../lib/errors.js';
import type { DecisionSink } from '../../lib/telemetry/decision-record.js';

type Direction = 'outbound' | 'inbound';

interface ConnectionResultInit {
  direction: Direction;
  /** `ip:port` of the connection's client. */
  srcAddr: string;
  /** L4 next hop as logged (`dst.addr`); refined by routing. */
  dstAddr: string;
  metrics: ZtunnelMetrics;
  accessLog: Logger;
  decisions?: DecisionSink;
}

/** The destination service name Istio reports for connections REGISTRY_ONLY refused. */
const BLACK_HOLE_CLUSTER = 'BlackHoleCluster';

/** Bytes of a finished connection, by direction of the original TCP connection. */
interface ConnectionBytes {
  clientToServer: number;
  serverToClient: number;
}

export class ConnectionResult {
  readonly direction: Direction;
  readonly srcAddr: string;
  dstAddr: string;
  /** The CONNECT `:authority` (`dst.hbone_addr`), when tunnelled. */
  hboneAddr: string | undefined;
  srcWorkload: Workload | undefined;
  dstWorkload: Workload | undefined;
  dstService: Service | undefined;
  srcIdentity: string | undefined;
  dstIdentity: string | undefined;
  mutualTls = false;
  /** Refused by REGISTRY_ONLY: the destination service is reported as Istio's `BlackHoleCluster`. */
  blackHole = false;
  readonly #metrics: ZtunnelMetrics;
  readonly #log: Logger;
  readonly #decisions: DecisionSink | undefined;
  readonly #start = performance.now();
  #opened = false;
  #closed = false;
  /** The `-` labels counted at open(), reused by close() while the facts they derive from are unchanged. */
  #openLabels: { labels: TrafficLabels; facts: readonly unknown[] } | undefined;

  constructor(init: ConnectionResultInit) {
    this.direction = init.direction;
    this.srcAddr = init.srcAddr;
    this.dstAddr = init.dstAddr;
    this.#metrics = init.metrics;
    this.#log = init.accessLog;
    this.#decisions = init.decisions;
  }

  get reporter(): 'source' | 'destination' {
    return this.direction === 'outbound' ? 'source' : 'destination';
  }

  /** Counts the connection as opened (once routing knows the peers). */
  open(): void {
    if (this.#opened) return;
    this.#opened = true;
    const labels = this.labels('-');
    this.#openLabels = { labels, facts: this.#labelFacts() };
    this.#metrics.opened.inc(labels);
    this.#metrics.socketsOpen.inc({ reporter: this.reporter });
    if (this.#log.isLevelEnabled('debug')) this.#log.debug(this.#fields(), 'connection opened');
  }

  /** Everything labels() reads besides the flag (compared by identity). */
  #labelFacts(): unknown[] {
    return [this.srcWorkload, this.dstWorkload, this.dstService, this.srcIdentity, this.dstIdentity, this.mutualTls];
  }

  /** labels(flag), reusing the object built at open() when nothing it depends on changed since. */
  #closeLabels(flag: ResponseFlag): TrafficLabels {
    const cached = this.#openLabels;
    if (flag === '-' && cached) {
      const now = this.#labelFacts();
      if (now.every((v, i) => v === cached.facts[i])) return cached.labels;
    }
    return this.labels(flag);
  }

  /** Records bytes, the final flag and the access-log line. Idempotent. */
  close(bytes: ConnectionBytes, error?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    const flag = error === undefined ? '-' : flagFor(error);
    if (!this.#opened) {
      this.#opened = true;
      this.#metrics.opened.inc(this.labels('-'));
      this.#metrics.socketsOpen.inc({ reporter: this.reporter });
    }
    const labels = this.#closeLabels(flag);
    this.#metrics.closed.inc(labels);
    if (FAILURE_FLAGS.has(flag)) this.#metrics.failed.inc(labels);
    if (bytes.clientToServer) this.#metrics.receivedBytes.inc(labels, bytes.clientToServer);
    if (bytes.serverToClient) this.#metrics.sentBytes.inc(labels, bytes.serverToClient);
    this.#metrics.socketsOpen.dec({ reporter: this.reporter });
    this.#report(bytes, flag, error);
    // The access-log line's fields are only built when the line will be written.
    if (!this.#log.isLevelEnabled(error === undefined ? 'info' : 'error')) return;
    const outbound = this.direction === 'outbound';
    const fields: Record<string, unknown> = {
      ...this.#fields(),
      bytes_sent: outbound ? bytes.clientToServer : bytes.serverToClient,
      bytes_recv: outbound ? bytes.serverToClient : bytes.clientToServer,
      duration: `${Math.round(performance.now() - this.#start)}ms`,
    };
    if (error !== undefined) {
      fields.error = describeError(error);
      fields.response_flags = flag;
      this.#log.error(fields, 'connection complete');
    } else {
      this.#log.info(fields, 'connection complete');
    }
  }

  /** The connection's decision for the control plane's live table (the access line's facts, as data). */
  #report(bytes: ConnectionBytes, flag: ResponseFlag, error: unknown): void {
    if (!this.#decisions) return;
    const outbound = this.direction === 'outbound';
    const s = this.srcWorkload;
    const d = this.dstWorkload;
    this.#decisions.record({
      timeMs: Date.now(),
      reporter: this.reporter,
      protocol: 'tcp',
      source: { address: this.srcAddr, workload: s?.workloadName || s?.name, namespace: s?.namespace, identity: this.mutualTls ? this.srcIdentity : undefined },
      destination: {
        address: this.hboneAddr ?? this.dstAddr, workload: d?.workloadName || d?.name, namespace: d?.namespace ?? this.dstService?.namespace,
        identity: this.mutualTls ? this.dstIdentity : undefined, service: this.blackHole ? BLACK_HOLE_CLUSTER : this.dstService?.hostname,
      },
      verdict: flag === '-' ? 'allowed' : flag === 'DENY' ? 'denied' : 'failed',
      policy: (findCause(error, PolicyDeniedError) ?? findCause(error, PolicyRevokedError))?.policy,
      reason: error === undefined ? undefined : describeError(error),
      durationMs: Math.round(performance.now() - this.#start),
      bytesSent: outbound ? bytes.clientToServer : bytes.serverToClient,
      bytesReceived: outbound ? bytes.serverToClient : bytes.clientToServer,
      mutualTls: this.mutualTls,
      responseFlags: flag,
    });
  }

  /** The traffic labels for `flag` (missing values `unknown`). */
  labels(flag: ResponseFlag): TrafficLabels {
    const s = this.srcWorkload;
    const d = this.dstWorkload;
    const svc = this.dstService;
    const v = (x: string | undefined): string => (x ? x : UNKNOWN);
    return {
      reporter: this.reporter,
      source_workload: v(s?.workloadName || s?.name),
      source_canonical_service: v(s?.canonicalName),
      source_canonical_revision: v(s?.canonicalRevision),
      source_workload_namespace: v(s?.namespace),
      source_principal: v(this.srcIdentity),
      source_app: v(s?.canonicalName),
      source_version: v(s?.canonicalRevision),
      source_cluster: v(s?.clusterId),
      destination_service: this.blackHole ? BLACK_HOLE_CLUSTER : v(svc?.hostname),
      destination_service_namespace: v(svc?.namespace),
      destination_service_name: this.blackHole ? BLACK_HOLE_CLUSTER : v(svc?.name),
      destination_workload: v(d?.workloadName || d?.name),
      destination_canonical_service: v(d?.canonicalName),
      destination_canonical_revision: v(d?.canonicalRevision),
      destination_workload_namespace: v(d?.namespace),
      destination_principal: v(this.dstIdentity),
      destination_app: v(d?.canonicalName),
      destination_version: v(d?.canonicalRevision),
      destination_cluster: v(d?.clusterId),
      request_protocol: 'tcp',
      response_flags: flag,
      connection_security_policy: this.mutualTls ? 'mutual_tls' : 'unknown',
    };
  }

  #fields(): Record<string, unknown> {
    const f: Record<string, unknown> = {
      'src.addr': this.srcAddr,
      'dst.addr': this.dstAddr,
      direction: this.direction,
    };
    if (this.srcWorkload) {
      f['src.workload'] = this.srcWorkload.name;
      f['src.namespace'] = this.srcWorkload.namespace;
      f['src.cluster'] = this.srcWorkload.clusterId;
    }
    if (this.srcIdentity && this.mutualTls) f['src.identity'] = this.srcIdentity;
    if (this.hboneAddr) f['dst.hbone_addr'] = this.hboneAddr;
    if (this.dstService) f['dst.service'] = this.dstService.hostname;
    if (this.dstWorkload) {
      f['dst.workload'] = this.dstWorkload.name;
      f['dst.namespace'] = this.dstWorkload.namespace;
      f['dst.cluster'] = this.dstWorkload.clusterId;
    }
    if (this.dstIdentity && this.mutualTls) f['dst.identity'] = this.dstIdentity;
    return f;
  }
}

/** WARN "connection failed" for rejects before routing (no metrics: nothing is known about the peers yet). */
export function logEarlyFailure(log: Logger, fields: { srcAddr: string; dstAddr: string; direction: Direction }, error: unknown): void {
  log.warn({ 'src.addr': fields.srcAddr, 'dst.addr': fields.dstAddr, direction: fields.direction, error: describeError(error) }, 'connection failed');
}
