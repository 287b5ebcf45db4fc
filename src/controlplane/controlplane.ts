// The control-plane role: opens the store under the data dir, serves the REST API on its Unix socket (and
// optionally TCP), one TLS gRPC port (default 127.0.0.1:15012) carrying both the CA and the workload Delta xDS
// service (as istiod does), and Prometheus metrics over plain HTTP (default 127.0.0.1:15014). The ports actually bound are written to `<dataDir>/controlplane.json`.
// Config flows one way, wired here: config source → ambient index → xDS, and source → CA. The CA and the index see
// the source only as a ConfigSource (get, list, watch, write status), so a Kubernetes informer set can replace the
// file store; only the REST API writes through the full Store.
import { mkdir, stat } from 'node:fs/promises';
import { writeFileDurable } from '../lib/durable-file.js';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../lib/log.js';
import { createLogger } from '../lib/log.js';
import { describeError, MeshError } from '../lib/errors.js';
import { DEFAULT_TRUST_DOMAIN } from '../lib/certs/spiffe-id.js';
import { openFileStore } from './store/file-store.js';
import { ApiClient, type KubeEndpoint } from './client/index.js';
import { KubeSource } from './kube/kube-source.js';
import { KubeTokenReviewer } from './ca/kube-token-review.js';
import { KINDS } from '../api/registry.js';
import { CA_SECRET_NAME } from '../api/install-objects.js';
import type { ConfigSource, Store } from './store/store.js';
import { AmbientIndex } from './ambient/ambient-index.js';
import { syncIndexWithSource, type IndexSync } from './ambient/source-sync.js';
import { startApiServer, type ApiServer } from './apiserver/api-server.js';
import { startCaServer, caRoutes, saveCaSecretSoon, syncCaDirWithSecret, type CaSecretRef, type CaServer } from './ca/index.js';
import { startXdsServer, type XdsServer } from './xds/xds-server.js';
import { xdsDebugRoutes } from './xds/debug-routes.js';
import { startMonitoringServer } from './monitoring-server.js';
import { startDashboard } from './dashboard/dashboard.js';
import { ServiceEntryIpAllocator } from './ip-allocator/ip-allocator.js';
import { ROOT_CERT_CONFIGMAP, WaypointController } from './waypoint-controller/waypoint-controller.js';
import { ROOT_NAMESPACE } from '../lib/mesh-contract.js';

/** The image of waypoint pods on Kubernetes unless told otherwise (the repository's Dockerfile builds it). */
const DEFAULT_WAYPOINT_IMAGE = 'ambit/ambit:0.1.0';

interface ControlPlaneConfig {
  /** Holds `ambit.sock`, `store/`, `ca/`, `nodes/`, `logs/`; created 0700 when absent. */
  dataDir: string;
  /** Also serve the API on TCP; every request must carry `Authorization: Bearer <token>`. */
  tcp?: { host: string; port: number; token: string };
  /** Where the CA's gRPC service (TLS) listens; port 0 picks a free port. */
  grpc: { host: string; port: number };
  /** Where Prometheus metrics are served (plain HTTP, `/metrics` and `/stats/prometheus`); absent = not served. */
  metrics?: { host: string; port: number };
  /** SPIFFE trust domain of issued identities (default `cluster.local`). */
  trustDomain?: string;
  /** Istio `cacerts` directory to act as an intermediate CA instead of a self-made root. */
  pluggedCaDir?: string;
  /** Upper bound on issued certificate lifetimes (default 24 h). */
  maxCertTtlSeconds?: number;
  /** pino level: trace, debug, info, warn, error, fatal, silent. */
  logLevel: string;
  /** Logger to use instead of a new stderr one (tests). */
  log?: Logger;
  /**
   * Deploy waypoints for Gateways of class istio-waypoint (absent: no controller): pods running this build
   * (`selfCommand`), or on Kubernetes pods of `image`. `xdsAddress` is where their pods reach this control plane
   * (default: the gRPC listen address, which only works when that is not a wildcard).
   */
  waypoints?: { selfCommand: readonly string[]; image?: string; xdsAddress?: string };
  /**
   * The dashboard's TCP listener (`ambit controlplane` asks for 127.0.0.1:20001, Kiali's port); absent or `false`
   * serves it on `<dataDir>/dashboard.sock` only. `prometheusUrl` makes it read metrics from that Prometheus instead of
   * scraping the proxies itself.
   */
  dashboard?: { tcp?: { host: string; port: number } | false; prometheusUrl?: string };
  /** Take config from this Kubernetes API server (informers) instead of the embedded file store. */
  kube?: KubeEndpoint;
  /**
   * On Kubernetes, the Secret the self-managed CA is also kept in (ca-secret.ts); default `<root namespace>/ambit-ca`,
   * `false` to keep it in the data dir only. Not used with a plugged-in CA.
   */
  caSecret?: CaSecretRef | false;
}


interface ControlPlaneHandle {
  readonly dataDir: string;
  readonly socketPath: string;
  readonly store: Store;
  readonly apiServer: ApiServer;
  readonly ca: CaServer;
  readonly xds: XdsServer;
  /** The feed from the config source into `xds.index` (status write-back included). */
  readonly indexSync: IndexSync;
  /** Prometheus registry shared by every control-plane module. */
  readonly metrics: Registry;
  /** Bound ports (useful when 0 was asked for). */
  readonly ports: { grpc: number; metrics?: number };
  readonly log: Logger;
  /** Stops serving, then flushes and closes the store; idempotent. */
  close(): Promise<void>;
}

class ControlPlaneError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONTROLPLANE_START', message, options);
  }
}

/** Creates the data dir (0700) if needed; refuses a path that exists but is not a directory. */
async function ensureDataDir(dir: string): Promise<void> {
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw new ControlPlaneError(`the data dir ${dir} exists but is not a directory`);
    return;
  } catch (err) {
    if (err instanceof ControlPlaneError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ControlPlaneError(`cannot use the data dir ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ControlPlaneError(`cannot create the data dir ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

/** Writes the bound endpoints for other processes (sandbox, tests) to read; atomic so readers never see half. */
async function writeEndpointsFile(dataDir: string, info: Record<string, unknown>): Promise<void> {
  const path = join(dataDir, 'controlplane.json');
  await writeFileDurable(path, `${JSON.stringify(info, null, 2)}\n`);
}

/**
 * Keeps ConfigMap `istio-ca-root-cert` (key `root-cert.pem`) in every namespace equal to the trust bundle, as istiod
 * does: ztunnel and waypoint pods mount the roots they verify the control plane with. New namespaces get it on
 * their watch event; a rotation is picked up within 30 s.
 */
function publishRootCert(api: ApiClient, source: Store, bundle: () => string, log: Logger): { stop(): void } {
  const published = new Map<string, string>();
  let running = false;
  const sync = async () => {
    if (running) return;
    running = true;
    try {
      const pem = bundle();
      for (const ns of source.list({ group: '', kind: 'Namespace' }).items) {
        const namespace = ns.metadata.name;
        if (published.get(namespace) === pem || ns.metadata.deletionTimestamp) continue;
        const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ROOT_CERT_CONFIGMAP, namespace }, data: { 'root-cert.pem': pem } };
        await api.requestJson('PATCH', `/api/v1/namespaces/${namespace}/configmaps/${ROOT_CERT_CONFIGMAP}?fieldManager=ambit-controlplane&force=true`, cm, 'application/apply-patch+yaml')
          .then(() => published.set(namespace, pem), (err) => log.warn({ namespace, err: describeError(err) }, 'cannot publish the trust bundle; retrying'));
      }
    } finally {
      running = false;
    }
  };
  const run = () => void sync();
  run();
  const watch = source.watch({ group: '', kind: 'Namespace' }, run);
  const timer = setInterval(run, 30_000);
  timer.unref();
  return { stop: () => {
    clearInterval(timer);
    watch.close();
  } };
}

/** Starts the control plane; resolves once the API, the CA and metrics all answer. */
export async function runControlPlane(cfg: ControlPlaneConfig): Promise<ControlPlaneHandle> {
  const log = cfg.log ?? createLogger('controlplane', { level: cfg.logLevel });
  await ensureDataDir(cfg.dataDir);
  const socketPath = join(cfg.dataDir, 'ambit.sock');
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const kubeApi = cfg.kube ? new ApiClient({ endpoint: { kube: cfg.kube }, userAgent: 'ambit-controlplane' }) : undefined;
  const store: Store = kubeApi
    ? await KubeSource.start({ api: kubeApi, kinds: KINDS, namespaceOf: { ConfigMap: ROOT_NAMESPACE }, log: log.child({ sub: 'kube' }) })
    : await openFileStore(join(cfg.dataDir, 'store'), { log: log.child({ sub: 'store' }) });
  // Everything started so far, stopped in reverse order on failure or close.
  const stops: Array<() => Promise<void>> = [async () => kubeApi?.close(), () => store.close()];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err: Error) => log.warn({ error: err.message }, 'shutdown step failed'));
  };
  let apiServer: ApiServer;
  let ca: CaServer;
  let xds: XdsServer;
  let indexSync: IndexSync;
  let metricsServer: Server | undefined;
  try {
    apiServer = await startApiServer({ store, socketPath, tcp: cfg.tcp, log: log.child({ sub: 'apiserver' }) });
    stops.push(() => apiServer.close());
    // The one seam for config sources: everything below reads config through this narrow view.
    const source: ConfigSource = store;
    const caSecret = kubeApi && !cfg.pluggedCaDir && cfg.caSecret !== false ? (cfg.caSecret ?? { namespace: ROOT_NAMESPACE, name: CA_SECRET_NAME }) : undefined;
    let caSaver: { stop(): void } | undefined;
    if (kubeApi && caSecret) {
      await syncCaDirWithSecret({ api: kubeApi, ref: caSecret, dataDir: cfg.dataDir, trustDomain: cfg.trustDomain ?? DEFAULT_TRUST_DOMAIN, log: log.child({ sub: 'ca' }) });
      stops.push(async () => caSaver?.stop());
    }
    ca = await startCaServer({
      dataDir: cfg.dataDir,
      source,
      listen: cfg.grpc,
      trustDomain: cfg.trustDomain,
      pluggedCaDir: cfg.pluggedCaDir,
      maxTtlSeconds: cfg.maxCertTtlSeconds,
      kubeTokens: kubeApi ? new KubeTokenReviewer(kubeApi, cfg.trustDomain ?? DEFAULT_TRUST_DOMAIN) : undefined,
      onRootsChanged: kubeApi && caSecret ? () => {
        caSaver?.stop();
        caSaver = saveCaSecretSoon(kubeApi, caSecret, join(cfg.dataDir, 'ca'), log.child({ sub: 'ca' }));
      } : undefined,
      metrics,
      log: log.child({ sub: 'ca' }),
    });
    stops.push(() => ca.close());
    for (const r of caRoutes(ca)) apiServer.addRoute(r.method, r.path, r.handler);
    if (kubeApi) {
      const publisher = publishRootCert(kubeApi, store, () => ca.rootBundlePem(), log.child({ sub: 'root-cert' }));
      stops.push(async () => publisher.stop());
    }
    // The index is filled from the source before xDS serves it, so the first client already sees the whole mesh;
    // the initial batch has nobody to push to, later batches are pushed as deltas.
    const index = new AmbientIndex({ trustDomain: cfg.trustDomain ?? DEFAULT_TRUST_DOMAIN });
    let pushTo: XdsServer | undefined;
    const sync = syncIndexWithSource({ source, index, log: log.child({ sub: 'index' }), onChanges: (changes) => pushTo?.indexChanged(changes) });
    indexSync = sync;
    stops.push(async () => sync.close());
    const xdsServer = await startXdsServer({
      index,
      log: log.child({ sub: 'xds' }),
      metrics,
      grpcServer: ca.grpcServer,
      nodeTokens: ca.nodeTokens,
      untrustedCertificate: (peer) => ca.untrustedCertificate(peer),
    });
    xds = pushTo = xdsServer;
    // Stopped before the CA, whose gRPC server it rides on.
    stops.push(() => xdsServer.close());
    for (const r of xdsDebugRoutes(xds)) apiServer.addRoute(r.method, r.path, r.handler);
    // ServiceEntry hosts without addresses get VIPs (status.addresses) that ztunnel's DNS proxy answers with.
    const allocator = new ServiceEntryIpAllocator({ store, log: log.child({ sub: 'ip-allocator' }) });
    allocator.start();
    stops.push(() => allocator.stop());
    if (cfg.waypoints) {
      const controller = new WaypointController({
        store,
        log: log.child({ sub: 'waypoints' }),
        selfCommand: cfg.waypoints.selfCommand,
        dataDir: cfg.dataDir,
        xdsAddress: cfg.waypoints.xdsAddress ?? `${cfg.grpc.host}:${ca.port}`,
        trustDomain: cfg.trustDomain ?? 'cluster.local',
        kubernetes: kubeApi ? { image: cfg.waypoints.image ?? DEFAULT_WAYPOINT_IMAGE, api: kubeApi } : undefined,
      });
      controller.start();
      stops.push(() => controller.stop());
    }
    const dashboard = await startDashboard({
      dataDir: cfg.dataDir, source, index, xds, ca, grpcServer: ca.grpcServer,
      auth: { nodeTokens: ca.nodeTokens, trustDomain: cfg.trustDomain ?? DEFAULT_TRUST_DOMAIN, untrustedCertificate: (peer) => ca.untrustedCertificate(peer) },
      tcp: cfg.dashboard?.tcp || undefined,
      token: cfg.tcp?.token, prometheusUrl: cfg.dashboard?.prometheusUrl, log: log.child({ sub: 'dashboard' }),
    });
    stops.push(() => dashboard.close());
    for (const r of dashboard.settingsRoutes) apiServer.addRoute(r.method, r.path, r.handler);
    if (cfg.metrics) {
      const server = await startMonitoringServer(metrics, cfg.metrics, xdsDebugRoutes(xds));
      metricsServer = server;
      stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  const metricsPort = metricsServer ? (metricsServer.address() as { port: number }).port : undefined;
  const ports = { grpc: ca.port, metrics: metricsPort };
  await writeEndpointsFile(cfg.dataDir, { pid: process.pid, socketPath, grpcPort: ca.port, metricsPort, caRoot: join(cfg.dataDir, 'ca', 'root-cert.pem') });
  log.info({ dataDir: cfg.dataDir, socketPath, tcpPort: apiServer.tcpPort, ...ports }, 'control plane ready');
  let closing: Promise<void> | undefined;
  return {
    dataDir: cfg.dataDir,
    socketPath,
    store,
    apiServer,
    ca,
    xds,
    indexSync,
    metrics,
    ports,
    log,
    close() {
      closing ??= stopAll().then(() => log.info('control plane stopped'));
      return closing;
    },
  };
}
