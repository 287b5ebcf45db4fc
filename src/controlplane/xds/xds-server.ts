// The control plane's workload xDS server: Delta ADS (envoy.service.discovery.v3) serving istio.workload.Address,
// istio.security.Authorization and ambit.waypoint.v1.WaypointConfig from the ambient index, over TLS.
//
// User-facing choices:
// - Callers authenticate like CA callers: `authorization: Bearer <node bootstrap token>` (a node's ztunnel), or a
//   mesh client certificate whose SPIFFE identity is in our trust domain (e.g. a waypoint). Anything else ends the
//   stream with UNAUTHENTICATED, logged and counted. Every authenticated caller sees the whole mesh view, as
//   Istio's ztunnel does — except an ingress gateway's config, which holds private keys: only that gateway (or
//   the node running it) gets it.
// - Index changes are debounced (default 100 ms after the last change, at most 1 s after the first) and pushed
//   as deltas. A NACK is logged (warn), counted and shown by `ambit proxy-status`; it never blocks other resources.
// - Serves either on a gRPC server it is given (to share the CA's port 15012) or on its own TLS listener.
// - It reads an ambient index it is given and pushes what `indexChanged` reports; what feeds the index (the file
//   store, Kubernetes informers) is wired by the control plane's assembly, not known here.
import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { describeError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { formatSpiffeId } from '../../lib/certs/spiffe-id.js';
import { authenticateCaller, type XdsCaller } from './caller-auth.js';
import { GATEWAY_NAME_LABEL } from '../../lib/mesh-contract.js';
import type { WaypointConfigRecord } from '../../lib/xds/waypoint-records.js';
import { aggregatedDiscoveryServiceDefinition, CLUSTER_ID_HEADER, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse } from '../../lib/xds/ads-service.js';
import { SERVED_TYPE_URLS, shortTypeName, WAYPOINT_TYPE_URL } from '../../lib/xds/type-urls.js';
import type { AmbientIndex, IndexChange } from '../ambient/ambient-index.js';
import { DeltaSession } from './delta-session.js';
import { ResourceCache } from './resource-cache.js';
import { registerXdsMetrics, type XdsMetrics } from './xds-metrics.js';


interface XdsServerOptions {
  /** The resources served; its trust domain is the one client certificates must carry. */
  index: AmbientIndex;
  log: Logger;
  /** The control plane's Prometheus registry (push metrics are added to it). */
  metrics: Registry;
  /** Serve on this existing server (the caller binds and starts it) … */
  grpcServer?: grpc.Server;
  /** … or listen here with these (TLS) credentials. */
  listen?: { host: string; port: number; credentials: grpc.ServerCredentials };
  /** Node bootstrap tokens: the node a bearer token belongs to (the CA's NodeTokenRegistry has this method). */
  nodeTokens: { authenticate(token: string): Promise<XdsCaller | undefined> };
  /** Why the client certificate of connection `peer` did not verify (the CA server's view of port 15012), if it did not. */
  untrustedCertificate?: (peer: string) => string | undefined;
  debounceMs?: number;
  maxDebounceMs?: number;
}

interface XdsTypeStatus {
  typeUrl: string;
  type: string;
  wildcard: boolean;
  subscribedNames: number;
  /** Resources the client holds, as far as the server knows. */
  resources: number;
  lastSentNonce?: string;
  lastAckedNonce?: string;
  acks: number;
  nacks: number;
  lastNack?: { nonce: string; message: string; at: string };
  pushes: number;
  lastPushAt?: string;
}

/** One connected client, as `ambit proxy-status` shows it. */
interface XdsClientStatus {
  connectionId: string;
  /** Node id sent by the client (ztunnel: `ztunnel~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`). */
  nodeId: string;
  /** ztunnel, waypoint, or what the node id / metadata says. */
  kind: string;
  caller: string;
  peer: string;
  clusterId: string;
  connectedAt: string;
  types: XdsTypeStatus[];
}

export interface XdsServer {
  /** The bound port when the server listens itself. */
  readonly port?: number;
  readonly index: AmbientIndex;
  clients(): XdsClientStatus[];
  /** Schedules pushes of the index resources that changed (debounced); the index's feed calls it after each batch. */
  indexChanged(changes: IndexChange[]): void;
  /** Pushes pending changes now (tests, benchmarks). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

interface Connection {
  id: string;
  call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  session: DeltaSession;
  caller: XdsCaller;
  peer: string;
  clusterId: string;
  connectedAt: number;
  nodeId: string;
  kind: string;
}

function callerText(c: XdsCaller): string {
  return c.kind === 'node' ? `node/${c.node}` : c.identity;
}

function kindFromNode(nodeId: string, metadata: Record<string, unknown> | undefined): string {
  const declared = metadata?.['AMBIT_PROXY_KIND'];
  if (typeof declared === 'string' && declared) return declared;
  const first = nodeId.split('~')[0];
  return first || 'unknown';
}

export async function startXdsServer(opts: XdsServerOptions): Promise<XdsServer> {
  const log = opts.log.child({ module: 'xds' });
  const index = opts.index;
  const trustDomain = index.config.trustDomain;
  const metrics: XdsMetrics = registerXdsMetrics(opts.metrics);
  const cache = new ResourceCache(index);
  const served = new Set(SERVED_TYPE_URLS);
  const connections = new Map<string, Connection>();
  const debounceMs = opts.debounceMs ?? 100;
  const maxDebounceMs = opts.maxDebounceMs ?? 1000;
  let nextConnection = 0;
  let closed = false;

  // ---- debounced pushes ----
  const pending = new Map<string, Set<string>>();
  let timer: NodeJS.Timeout | undefined;
  let firstPendingAt = 0;
  const pushNow = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    for (const [typeUrl, names] of pending) {
      pending.delete(typeUrl);
      const type = shortTypeName(typeUrl);
      const start = process.hrtime.bigint();
      for (const conn of connections.values()) {
        const resp = conn.session.push(typeUrl, names);
        if (resp) send(conn, resp);
      }
      metrics.pushTime.observe({ type }, Number(process.hrtime.bigint() - start) / 1e9);
      for (const name of names) if (cache.version(typeUrl, name) === undefined) cache.forget(typeUrl, name);
    }
  };
  const onChanges = (changes: IndexChange[]) => {
    if (closed) return;
    for (const c of changes) {
      let s = pending.get(c.typeUrl);
      if (!s) pending.set(c.typeUrl, (s = new Set()));
      for (const n of c.updated) s.add(n);
      for (const n of c.removed) s.add(n);
    }
    const now = Date.now();
    if (!timer) firstPendingAt = now;
    else clearTimeout(timer);
    const wait = Math.max(0, Math.min(debounceMs, firstPendingAt + maxDebounceMs - now));
    timer = setTimeout(pushNow, wait);
  };

  function send(conn: Connection, resp: DeltaDiscoveryResponse): void {
    const type = shortTypeName(resp.typeUrl);
    metrics.pushes.inc({ type });
    let bytes = 0;
    for (const r of resp.resources) bytes += r.resource?.value.length ?? 0;
    if (bytes) metrics.bytes.inc({ type }, bytes);
    log.debug({ conn: conn.id, type, nonce: resp.nonce, resources: resp.resources.length, removed: resp.removedResources.length }, 'xds push');
    conn.call.write(resp);
  }

  // ---- authorization of secrets ----
  /**
   * An ingress gateway's WaypointConfig carries its listeners' private keys: only that gateway may read it — a
   * workload caller with the gateway's own identity, or a node caller (bootstrap token) whose node runs one of the
   * gateway's pods (what the Kubernetes node authorizer allows a kubelet). Everything else sees every resource.
   */
  function mayReceive(caller: XdsCaller, typeUrl: string, name: string): boolean {
    if (typeUrl !== WAYPOINT_TYPE_URL) return true;
    const record = index.resources<WaypointConfigRecord>(WAYPOINT_TYPE_URL).get(name)?.record;
    if (!record?.ingressPorts?.some((p) => p.listeners.some((l) => l.privateKey))) return true;
    const allowed = caller.kind === 'workload'
      ? caller.identity === formatSpiffeId({ trustDomain, namespace: record.namespace, serviceAccount: record.name })
      : index.objectsOf('Pod').some((p) => p.metadata.namespace === record.namespace && p.metadata.labels?.[GATEWAY_NAME_LABEL] === record.name
        && (p.spec as { nodeName?: string } | undefined)?.nodeName === caller.node);
    if (!allowed) log.warn({ caller: callerText(caller), resource: name }, 'withheld an ingress gateway config (it holds private keys) from a caller that is not that gateway');
    return allowed;
  }

  // ---- authentication ----
  const authenticate = (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) =>
    authenticateCaller(call, { nodeTokens: opts.nodeTokens, trustDomain, untrustedCertificate: opts.untrustedCertificate });

  function handleStream(call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>): void {
    const id = `c${++nextConnection}`;
    const peer = call.getPeer();
    const buffered: DeltaDiscoveryRequest[] = [];
    let conn: Connection | undefined;
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      if (conn && connections.delete(conn.id)) {
        metrics.connected.dec();
        log.info({ conn: id, node: conn.nodeId, caller: callerText(conn.caller) }, 'xds client disconnected');
      }
    };
    const processRequest = (req: DeltaDiscoveryRequest) => {
      const c = conn!;
      if (req.node && !c.nodeId) {
        c.nodeId = req.node.id;
        c.kind = kindFromNode(req.node.id, req.node.metadata as Record<string, unknown> | undefined);
        log.info({ conn: id, node: c.nodeId, kind: c.kind, caller: callerText(c.caller), peer }, 'xds client connected');
      }
      const outcome = c.session.handle(req);
      const type = shortTypeName(outcome.typeUrl);
      if (outcome.kind === 'unknown-type') {
        log.warn({ conn: id, typeUrl: req.typeUrl }, 'xds request for a type this server does not serve; ignored');
        return;
      }
      if (outcome.kind === 'nack') {
        metrics.rejects.inc({ type });
        log.warn({ conn: id, node: c.nodeId, type, nonce: req.responseNonce, reason: outcome.nackMessage }, 'xds client rejected resources (NACK)');
      }
      if (outcome.response) send(c, outcome.response);
    };
    call.on('data', (req: DeltaDiscoveryRequest) => {
      if (ended) return;
      if (!conn) buffered.push(req);
      else processRequest(req);
    });
    call.on('end', () => {
      finish();
      call.end();
    });
    call.on('cancelled', finish);
    call.on('error', finish);
    call.on('close', finish);
    authenticate(call).then(
      (caller) => {
        if (ended || closed) return;
        conn = {
          id,
          call,
          session: new DeltaSession(cache, served, id, (typeUrl, name) => mayReceive(caller, typeUrl, name)),
          caller,
          peer,
          clusterId: String(call.metadata.get(CLUSTER_ID_HEADER)[0] ?? ''),
          connectedAt: Date.now(),
          nodeId: '',
          kind: 'unknown',
        };
        connections.set(id, conn);
        metrics.connected.inc();
        for (const req of buffered.splice(0)) processRequest(req);
      },
      (err: unknown) => {
        metrics.authFailures.inc();
        log.warn({ conn: id, peer, reason: describeError(err) }, 'xds stream refused');
        ended = true;
        call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: describeError(err) });
      },
    );
  }

  // ---- gRPC ----
  let ownServer: grpc.Server | undefined;
  let port: number | undefined;
  const impl = { DeltaAggregatedResources: handleStream };
  if (opts.grpcServer) opts.grpcServer.addService(aggregatedDiscoveryServiceDefinition, impl);
  else {
    if (!opts.listen) {
      throw new Error('startXdsServer: either grpcServer or listen is required');
    }
    // 200 MiB: ztunnel accepts responses that large (PROTOCOLS.md §6.1); a full push of a big mesh can be.
    ownServer = new grpc.Server({ 'grpc.max_send_message_length': 200 * 1024 * 1024, 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
    ownServer.addService(aggregatedDiscoveryServiceDefinition, impl);
    const host = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host;
    try {
      port = await new Promise<number>((resolve, reject) =>
        ownServer!.bindAsync(`${host}:${opts.listen!.port}`, opts.listen!.credentials, (err, p) => (err ? reject(err) : resolve(p))),
      );
    } catch (err) {
      throw new Error(`xDS server cannot listen on ${host}:${opts.listen.port}: ${describeError(err)}`, { cause: err });
    }
    log.info({ port }, 'xDS server listening');
  }

  return {
    port,
    index,
    clients() {
      return [...connections.values()].map((c) => ({
        connectionId: c.id,
        nodeId: c.nodeId,
        kind: c.kind,
        caller: callerText(c.caller),
        peer: c.peer,
        clusterId: c.clusterId,
        connectedAt: new Date(c.connectedAt).toISOString(),
        types: [...c.session.types].map(([typeUrl, s]) => {
          const t: XdsTypeStatus = {
            typeUrl,
            type: shortTypeName(typeUrl),
            wildcard: s.wildcard,
            subscribedNames: s.names.size,
            resources: s.held.size,
            acks: s.acks,
            nacks: s.nacks,
            pushes: s.pushes,
          };
          if (s.lastSentNonce) t.lastSentNonce = s.lastSentNonce;
          if (s.lastAckedNonce) t.lastAckedNonce = s.lastAckedNonce;
          if (s.lastNack) t.lastNack = { nonce: s.lastNack.nonce, message: s.lastNack.message, at: new Date(s.lastNack.at).toISOString() };
          if (s.lastPushAt) t.lastPushAt = new Date(s.lastPushAt).toISOString();
          return t;
        }),
      }));
    },
    indexChanged: onChanges,
    async flush() {
      pushNow();
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      for (const c of connections.values()) c.call.end();
      if (ownServer) {
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            ownServer!.forceShutdown();
            resolve();
          }, 2000);
          force.unref();
          ownServer!.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
      }
    },
  };
}
