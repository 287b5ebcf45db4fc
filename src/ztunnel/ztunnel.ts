// `runZtunnel(config)`: one node's ztunnel assembled — xDS client (node token + root bundle) feeding ProxyState,
// certificate manager over the CA client with prefetch for this node's workloads, the in-pod workload manager
// driven by the node agent over ZDS (each pod also gets its DNS proxy on 127.0.0.1:15053), admin (localhost:15000
// and a Unix socket under the data dir), stats (:15020) and readiness (:15021, ready only when xDS is synced and
// every handed-over pod has its listeners).
//
// Restart without a gap (with a handover file, as the sandbox supervisor runs it): the pod listeners use
// SO_REUSEPORT, so a replacement binds them while this process still listens. `shutdown()` first says `draining`
// and keeps serving until the replacement says `ready` (or the handover timeout passes), then closes every
// listener (the kernel gives new connections to the replacement) and lets open connections finish for the
// termination grace period. A replacement takes the pods only once xDS is synchronized (its listeners would
// otherwise take connections it cannot route yet, while its predecessor can), and retries the admin/stats/readiness
// ports until its predecessor frees them. A fresh start (or one after a crash) takes the pods at once.
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CA_SERVER_NAME, createCaClient } from '../lib/certs/ca-client.js';
import { CertificateManager } from '../lib/certs/certificate-manager.js';
import { DecisionReporter } from '../lib/telemetry/decision-reporter.js';
import { bearerTokenReader } from '../lib/certs/node-token.js';
import { MeshError, describeError } from '../lib/errors.js';
import { readHandover, waitForSuccessor, writeHandover } from '../lib/handover-file.js';
import type { Logger } from '../lib/log.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, MESH_SETTINGS_TYPE_URL } from '../lib/xds/type-urls.js';
import { decodeMeshSettings } from '../lib/xds/mesh-settings.js';
import { decodeAddress, decodeAuthorization } from '../lib/xds/workload-codec.js';
import { XdsClient } from '../lib/xds/xds-client.js';
import { adminRequestHandler, startAdminServer, VERSION, type AdminSources } from './admin.js';
import { startReadinessServer, startStatsServer } from '../lib/proxy-endpoints.js';
import { DnsMetrics } from './dns/dns-metrics.js';
import { podDnsStarter } from './dns/pod-dns.js';
import { WorkloadManager } from './inpod/workload-manager.js';
import { ZdsClient } from './inpod/zds-client.js';
import { ZtunnelMetrics } from './metrics.js';
import { ConnectionManager } from './proxy/connection-manager.js';
import { DEFAULT_PROXY_CONFIG, type ProxyInputs } from './proxy/proxy-inputs.js';
import type { SocketEndpoint, SocketFactory } from './proxy/socket-factory.js';
import { workloadIdentity } from './proxy/route.js';
import { ProxyState } from './state/proxy-state.js';
import { applyXdsUpdate } from './xds-adapter.js';
import { createHostnameResolver } from './proxy/hostname-resolver.js';
import { ROOT_NAMESPACE, ZTUNNEL_MARK } from '../lib/mesh-contract.js';

interface ZtunnelConfig {
  node: string;
  dataDir: string;
  /** `host:port` of the control plane's xDS (and, unless `caAddress` says otherwise, CA) endpoint. */
  xdsAddress: string;
  caAddress?: string;
  /** PEM file the control plane's serving certificate must chain to (`<dataDir>/ca/root-cert.pem`). */
  rootCertPath: string;
  /** The node agent's ZDS socket. */
  zdsSocketPath: string;
  /** Admin over a Unix socket (host-side tools); undefined = none. */
  adminSocketPath?: string;
  adminAddress: { host: string; port: number };
  statsAddress: { host: string; port: number };
  readinessAddress: { host: string; port: number };
  /** This node's IP (xDS node id), informational. */
  nodeIp?: string;
  trustDomain: string;
  clusterId: string;
  network: string;
  /** How long open connections of a removed pod may finish, ms. */
  drainMs: number;
  /** How long open connections may finish once this ztunnel stops (Kubernetes' terminationGracePeriod), ms. */
  terminationGraceMs?: number;
  /** The restart handover file shared with the replacement and the supervisor (src/lib/handover-file.ts). */
  handoverFile?: string;
  /** Service-account token file (Kubernetes): sent instead of the node bootstrap token. */
  tokenFile?: string;
  /** How long a stopping ztunnel waits for its replacement to say `ready` before closing anyway, ms. */
  handoverTimeoutMs?: number;
  /** Run the per-pod DNS proxy on 15053 (default true; Istio's proxy metadata `DNS_CAPTURE`). */
  dnsCapture?: boolean;
  /** Kubernetes cluster domain for DNS name expansion (default `cluster.local`). */
  clusterDomain?: string;
  log: Logger;
}

/** Istio's default terminationGracePeriodSeconds for ztunnel. */
export const DEFAULT_TERMINATION_GRACE_MS = 30_000;
const DEFAULT_HANDOVER_TIMEOUT_MS = 20_000;
/** A replacement retries a node-level port (admin, stats, readiness) its predecessor still holds this often. */
const PORT_RETRY_MS = 100;

class ZtunnelStartError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ZT_START', message, options);
  }
}

interface ZtunnelHandle {
  readonly state: ProxyState;
  readonly manager: WorkloadManager;
  readonly ports: { admin: number; stats: number; readiness: number };
  /** Resolves when a shutdown was requested (`/quitquitquit`). */
  readonly quitRequested: Promise<void>;
  notReadyReasons(): string[];
  /** Graceful stop: drain, then close everything. Idempotent. */
  shutdown(): Promise<void>;
}

/** The top-level inputs never open sockets: every pod gets its own in-netns factory. */
const NO_POD_SOCKETS: SocketFactory = {
  listen: () => Promise.reject(new ZtunnelStartError('no pod network namespace: sockets are opened per pod')),
  connect: () => Promise.reject(new ZtunnelStartError('no pod network namespace: sockets are opened per pod')),
  originalDestination: (): Promise<SocketEndpoint> => Promise.reject(new ZtunnelStartError('no pod network namespace')),
};

function listenHttp(server: http.Server, where: { host: string; port: number } | string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (typeof where === 'string') server.listen(where, done);
    else server.listen(where.port, where.host, done);
  });
}

export async function runZtunnel(config: ZtunnelConfig): Promise<ZtunnelHandle> {
  const log = config.log;
  const accessLog = log.child({ scope: 'access' });
  const readRoots = (): string => {
    try {
      return readFileSync(config.rootCertPath, 'utf8');
    } catch (err) {
      throw new ZtunnelStartError(`cannot read the control plane's root certificate ${config.rootCertPath}: ${describeError(err)}`, { cause: err });
    }
  };
  const roots = readRoots();
  const token = bearerTokenReader({ tokenFile: config.tokenFile, dataDir: config.dataDir, node: config.node });

  const state = new ProxyState();
  const metrics = new ZtunnelMetrics({ buildTag: VERSION });
  const connections = new ConnectionManager(state, log);
  const ca = createCaClient({ address: config.caAddress ?? config.xdsAddress, rootCertPem: readRoots, token, clusterId: config.clusterId });
  const certs = new CertificateManager({ signer: ca.signer, log: log.child({ module: 'certs' }) });

  const nodeId = `ztunnel~${config.nodeIp ?? '1.1.1.1'}~ztunnel-${config.node}.istio-system~istio-system.svc.cluster.local`;
  const decisions = new DecisionReporter({
    address: config.xdsAddress, credentials: grpc.credentials.createSsl(Buffer.from(roots)), token, proxy: nodeId,
    log: log.child({ module: 'decisions' }), channelOptions: { 'grpc.ssl_target_name_override': CA_SERVER_NAME, 'grpc.default_authority': CA_SERVER_NAME },
  });
  const inputs: ProxyInputs = {
    config: { ...DEFAULT_PROXY_CONFIG, network: config.network, node: config.node, defaultTrustDomain: config.trustDomain },
    state, certs, metrics, connections, sockets: NO_POD_SOCKETS, log, accessLog, resolveHostname: createHostnameResolver(), decisions,
  };
  const dnsCapture = config.dnsCapture ?? true;
  const extraServices = dnsCapture
    ? [podDnsStarter({
        state, metrics: new DnsMetrics(metrics.registry), node: config.node, network: config.network,
        clusterDomain: config.clusterDomain ?? 'cluster.local', log: log.child({ module: 'dns' }),
      })]
    : [];
  const manager = new WorkloadManager({ inputs, metrics, log: log.child({ module: 'inpod' }), drainMs: config.drainMs, extraServices });

  const xds = new XdsClient({
    address: config.xdsAddress,
    credentials: grpc.credentials.createSsl(Buffer.from(roots)),
    token,
    clusterId: config.clusterId,
    node: {
      id: nodeId,
      metadata: { NAME: `ztunnel-${config.node}`, NAMESPACE: ROOT_NAMESPACE, NODE_NAME: config.node, ...(config.nodeIp ? { INSTANCE_IPS: config.nodeIp } : {}) },
    },
    types: [
      { typeUrl: ADDRESS_TYPE_URL, decode: decodeAddress },
      { typeUrl: AUTHORIZATION_TYPE_URL, decode: decodeAuthorization },
      { typeUrl: MESH_SETTINGS_TYPE_URL, decode: decodeMeshSettings },
    ],
    log,
    channelOptions: { 'grpc.ssl_target_name_override': CA_SERVER_NAME, 'grpc.default_authority': CA_SERVER_NAME },
  });
  let synced = false;
  let stopping: Promise<void> | undefined;
  xds.onUpdate((snapshot, update) => {
    const problems = applyXdsUpdate(state, snapshot, update);
    if (problems.length) log.warn({ problems }, 'skipped xDS records');
    prefetchLocal();
  });
  // A predecessor still serving the pods (it said `draining`): this process replaces it.
  const predecessor = config.handoverFile ? readHandover(config.handoverFile) : undefined;
  const replacing = predecessor?.state === 'draining' && predecessor.pid !== process.pid;
  void xds.synchronized().then(() => {
    synced = true;
    log.info('xDS synchronized');
    if (replacing && !stopping) zds.start();
  });

  // Certificates for this node's mesh workloads are fetched as soon as xDS names them (PROTOCOLS.md §7), so the
  // first connection does not wait for a CSR; identities no workload here uses any more are forgotten.
  const prefetched = new Set<string>();
  function prefetchLocal(): void {
    const wanted = new Set<string>();
    for (const w of state.workloads()) if (w.node === config.node && w.tunnelProtocol === 'HBONE') wanted.add(workloadIdentity(w));
    for (const id of wanted) if (!prefetched.has(id)) certs.prefetch(id);
    for (const id of prefetched) if (!wanted.has(id)) certs.forget(id);
    prefetched.clear();
    for (const id of wanted) prefetched.add(id);
  }

  const zds = new ZdsClient({ socketPath: config.zdsSocketPath, manager, log: log.child({ module: 'zds' }) });

  const notReadyReasons = (): string[] => {
    const out: string[] = [];
    if (!synced) out.push(`xDS not synchronized (${xds.status().lastError ?? 'waiting for the first responses'})`);
    if (!zds.connected && zds.lastError) out.push(zds.lastError);
    out.push(...manager.notReadyReasons());
    return out;
  };

  let quit!: () => void;
  const quitRequested = new Promise<void>((resolve) => (quit = resolve));
  const loggers: Record<string, Logger> = { default: log, access: accessLog };
  const adminSources: AdminSources = {
    state, connections, metrics,
    certificates: () => certs.dump(),
    pods: () => manager.pods(),
    config: {
      node: config.node, xdsAddress: config.xdsAddress, caAddress: config.caAddress ?? config.xdsAddress, clusterId: config.clusterId,
      network: config.network, trustDomain: config.trustDomain, zdsSocket: config.zdsSocketPath, drainMs: config.drainMs,
      dnsCapture, proxyMode: 'shared', packetMark: ZTUNNEL_MARK,
    },
    loggers,
    notReadyReasons,
    quit: () => quit(),
  };

  const servers: http.Server[] = [];
  const portRetries = new Set<NodeJS.Timeout>();
  /**
   * Opens a node-level listener. In a restart (handover file set) the predecessor may still hold the port: then
   * retry in the background until it lets go, and report the configured port meanwhile.
   */
  const openNodeListener = async (what: string, where: { host: string; port: number }, start: () => Promise<http.Server>): Promise<number> => {
    try {
      const server = await start();
      servers.push(server);
      return (server.address() as net.AddressInfo).port;
    } catch (err) {
      if (!config.handoverFile || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || where.port === 0) throw err;
      log.info({ listener: what, port: where.port }, 'port still held (a predecessor draining?); retrying until it is free');
      const retry = (): void => {
        const timer = setTimeout(() => {
          portRetries.delete(timer);
          if (stopping) return;
          start().then((server) => {
            if (stopping) server.close();
            else servers.push(server);
            log.info({ listener: what, port: where.port }, 'listening');
          }, retry);
        }, PORT_RETRY_MS);
        portRetries.add(timer);
      };
      retry();
      return where.port;
    }
  };
  let adminPorts: ZtunnelHandle['ports'];
  /** Inode of the admin socket file this process bound: a replacement binds its own at the same path. */
  let adminSocketInode: number | undefined;
  try {
    const admin = await openNodeListener('admin', config.adminAddress, () => startAdminServer(adminSources, config.adminAddress.host, config.adminAddress.port));
    const stats = await openNodeListener('stats', config.statsAddress, () => startStatsServer(() => metrics.render(), config.statsAddress.host, config.statsAddress.port));
    const ready = await openNodeListener('readiness', config.readinessAddress, () => startReadinessServer(notReadyReasons, config.readinessAddress.host, config.readinessAddress.port));
    if (config.adminSocketPath) {
      mkdirSync(dirname(config.adminSocketPath), { recursive: true, mode: 0o700 });
      rmSync(config.adminSocketPath, { force: true });
      const unixAdmin = http.createServer(adminRequestHandler(adminSources));
      await listenHttp(unixAdmin, config.adminSocketPath);
      chmodSync(config.adminSocketPath, 0o600);
      adminSocketInode = statSync(config.adminSocketPath).ino;
      servers.push(unixAdmin);
    }
    adminPorts = { admin, stats, readiness: ready };
  } catch (err) {
    for (const t of portRetries) clearTimeout(t);
    for (const s of servers) s.close();
    decisions.close();
    certs.close();
    ca.close();
    connections.close();
    throw new ZtunnelStartError(`cannot open ztunnel's admin/stats/readiness listeners: ${describeError(err)}`, { cause: err });
  }

  xds.start();
  if (!replacing) zds.start();
  log.info({ xds: config.xdsAddress, zds: config.zdsSocketPath, admin: adminPorts.admin, pid: process.pid, replacing }, 'ztunnel started');

  // Tell a draining predecessor (and the supervisor) once every pod is served here.
  const handoverFile = config.handoverFile;
  let readyTimer: NodeJS.Timeout | undefined;
  if (handoverFile) {
    readyTimer = setInterval(() => {
      if (notReadyReasons().length > 0) return;
      clearInterval(readyTimer);
      readyTimer = undefined;
      writeHandover(handoverFile, { state: 'ready', pid: process.pid });
      log.info({ pods: manager.pods().length, pid: process.pid }, 'ready: serving every pod');
    }, 50);
  }
  const graceMs = config.terminationGraceMs ?? DEFAULT_TERMINATION_GRACE_MS;

  return {
    state,
    manager,
    ports: adminPorts,
    quitRequested,
    notReadyReasons,
    shutdown() {
      stopping ??= (async () => {
        clearInterval(readyTimer);
        for (const t of portRetries) clearTimeout(t);
        if (handoverFile) {
          // Keep every listener open until the replacement listens too: closing first would refuse connections.
          writeHandover(handoverFile, { state: 'draining', pid: process.pid });
          log.info({ pid: process.pid }, 'waiting for a replacement to serve the pods');
          const outcome = await waitForSuccessor(handoverFile, process.pid, config.handoverTimeoutMs ?? DEFAULT_HANDOVER_TIMEOUT_MS);
          log.info({ outcome }, 'handing over');
        }
        log.info({ graceMs }, 'draining');
        // The node-level ports first: the replacement is waiting for them.
        for (const s of servers) {
          s.close();
          s.closeAllConnections();
        }
        if (config.adminSocketPath && adminSocketInode !== undefined && inodeOf(config.adminSocketPath) === adminSocketInode) {
          rmSync(config.adminSocketPath, { force: true });
        }
        zds.close();
        await manager.close(graceMs);
        xds.close();
        decisions.close();
        certs.close();
        ca.close();
        connections.close();
        log.info('ztunnel stopped');
      })();
      return stopping;
    },
  };
}

function inodeOf(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}
