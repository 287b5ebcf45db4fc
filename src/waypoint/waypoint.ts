// `runWaypoint(config)`: one waypoint proxy (or ingress gateway: the same proxy serving its config's ingress ports,
// src/waypoint/ingress.ts) assembled — its own identity (spiffe://<td>/ns/<ns>/sa/<gateway>, key
// generated here, certificate from the CA with its node's bootstrap token), xDS (workload Addresses + its own
// WaypointConfig), the HBONE server on 15008 accepting mesh identities only, L7/TCP handling, upstream HBONE with
// its own identity, admin (localhost:15000), Prometheus (:15020) and readiness (:15021, ready once xDS is synchronized,
// its config arrived and the HBONE listener is up).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { CA_SERVER_NAME, createCaClient } from '../lib/certs/ca-client.js';
import { CertificateManager } from '../lib/certs/certificate-manager.js';
import { DecisionReporter } from '../lib/telemetry/decision-reporter.js';
import { bearerTokenReader } from '../lib/certs/node-token.js';
import { formatSpiffeId } from '../lib/certs/spiffe-id.js';
import { MeshError, describeError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { adminHandler, listenHttp, startReadinessServer, startStatsServer } from '../lib/proxy-endpoints.js';
import { ADDRESS_TYPE_URL, WAYPOINT_TYPE_URL } from '../lib/xds/type-urls.js';
import { decodeAddress } from '../lib/xds/workload-codec.js';
import type { AddressRecord } from '../lib/xds/workload-records.js';
import { decodeWaypointConfig, type WaypointConfigRecord } from '../lib/xds/waypoint-records.js';
import { XdsClient } from '../lib/xds/xds-client.js';
import { HboneServer } from '../hbone/hbone-server.js';
import { HttpProxy } from './http-proxy.js';
import { WaypointListener } from './listener.js';
import { IngressListeners } from './ingress.js';
import { MeshView } from './mesh-view.js';
import { WaypointMetrics } from './metrics.js';
import { compileRoutes, type RouteTable } from '../routing/index.js';
import { WaypointAuthorization } from './authorization.js';
import { JwksFetcher } from './jwks-fetcher.js';
import { ExtAuthz } from './ext-authz.js';
import { WaypointTracing } from './tracing.js';
import { Upstreams } from './upstream.js';

const VERSION = '0.1.0';

interface WaypointConfig {
  /** The waypoint Gateway. */
  name: string;
  namespace: string;
  serviceAccount: string;
  /** The node this waypoint pod runs on: its bootstrap token authenticates the CSR and xDS. */
  node: string;
  /** This pod's IP (sent in the xDS node id), informational. */
  podIp?: string;
  dataDir: string;
  /** A projected service-account token (Kubernetes) to authenticate with instead of the node's bootstrap token. */
  tokenFile?: string;
  xdsAddress: string;
  rootCertPath: string;
  trustDomain: string;
  clusterId: string;
  hbone: { host: string; port: number };
  adminAddress: { host: string; port: number };
  statsAddress: { host: string; port: number };
  readinessAddress: { host: string; port: number };
  connectTimeoutMs: number;
  terminationGraceMs: number;
  log: Logger;
}

class WaypointStartError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WP_START', message, options);
  }
}

interface WaypointHandle {
  readonly ports: { hbone: number; admin: number; stats: number; readiness: number };
  readonly quitRequested: Promise<void>;
  notReadyReasons(): string[];
  shutdown(): Promise<void>;
}

export async function runWaypoint(config: WaypointConfig): Promise<WaypointHandle> {
  const log = config.log;
  const accessLog = log.child({ scope: 'access' });
  let accessLevel = accessLog.level;
  const key = `${config.namespace}/${config.name}`;
  const readRoots = (): string => {
    try {
      return readFileSync(config.rootCertPath, 'utf8');
    } catch (err) {
      throw new WaypointStartError(`cannot read the control plane's root certificate ${config.rootCertPath}: ${describeError(err)}`, { cause: err });
    }
  };
  const roots = readRoots();
  const token = bearerTokenReader({ tokenFile: config.tokenFile, dataDir: config.dataDir, node: config.node });
  const identity = formatSpiffeId({ trustDomain: config.trustDomain, namespace: config.namespace, serviceAccount: config.serviceAccount });
  const metrics = new WaypointMetrics(VERSION);
  const ca = createCaClient({ address: config.xdsAddress, rootCertPem: readRoots, token, clusterId: config.clusterId });
  const certs = new CertificateManager({ signer: ca.signer, log: log.child({ module: 'certs' }) });

  let view = new MeshView([], undefined);
  let table: RouteTable = compileRoutes(emptyConfig(config));
  let configSeen = false;
  const upstreams = new Upstreams({ view: () => view, certs, identity, connectTimeoutMs: config.connectTimeoutMs, log });
  let authz = new WaypointAuthorization(undefined);
  const jwks = new JwksFetcher({ upstreams, namespace: config.namespace, log });
  const extAuthz = new ExtAuthz({ upstreams, namespace: config.namespace, log });
  const tracing = new WaypointTracing({ name: config.name, namespace: config.namespace, log });
  const nodeId = `waypoint~${config.podIp ?? '0.0.0.0'}~${config.name}.${config.namespace}~${config.namespace}.svc.cluster.local`;
  const decisions = new DecisionReporter({
    address: config.xdsAddress, credentials: grpc.credentials.createSsl(Buffer.from(roots)), token, proxy: nodeId,
    log: log.child({ module: 'decisions' }), channelOptions: { 'grpc.ssl_target_name_override': CA_SERVER_NAME, 'grpc.default_authority': CA_SERVER_NAME },
  });
  const proxy = new HttpProxy({ table: () => table, authz: () => authz, keys: jwks.keys, extAuthz, tracing, view: () => view, upstreams, metrics, accessLog, decisions });
  const listener = new WaypointListener({ view: () => view, table: () => table, authz: () => authz, proxy, upstreams, metrics, log, accessLog, decisions });
  // An ingress gateway (Gateway class istio or ambit) also serves its listeners' ports to clients outside the mesh.
  const ingress = new IngressListeners({ proxy, log });
  let ingressApplied: Promise<void> = Promise.resolve();

  const xds = new XdsClient({
    address: config.xdsAddress,
    credentials: grpc.credentials.createSsl(Buffer.from(roots)),
    token,
    clusterId: config.clusterId,
    node: {
      id: nodeId,
      metadata: { NAME: config.name, NAMESPACE: config.namespace, NODE_NAME: config.node, AMBIT_PROXY_KIND: 'waypoint', SERVICE_ACCOUNT: config.serviceAccount },
    },
    types: [
      { typeUrl: ADDRESS_TYPE_URL, decode: decodeAddress },
      { typeUrl: WAYPOINT_TYPE_URL, decode: decodeWaypointConfig, names: [key] },
    ],
    log,
    channelOptions: { 'grpc.ssl_target_name_override': CA_SERVER_NAME, 'grpc.default_authority': CA_SERVER_NAME },
  });
  xds.onUpdate((snapshot) => {
    const own = snapshot.resources<WaypointConfigRecord>(WAYPOINT_TYPE_URL).get(key);
    view = new MeshView(snapshot.resources<AddressRecord>(ADDRESS_TYPE_URL).values(), own);
    if (own) {
      configSeen = true;
      table = compileRoutes(own);
      authz = new WaypointAuthorization(own);
      tracing.configure(own.tracing);
      const ports = own.ingressPorts ?? [];
      ingressApplied = ingressApplied.then(() => ingress.configure(ports));
      metrics.setDisabled(own.disabledMetrics ?? []);
      // Telemetry `accessLogging: [{disabled: true}]` silences the access log; its level comes back when re-enabled.
      if (own.accessLoggingDisabled && accessLog.level !== 'silent') {
        accessLevel = accessLog.level;
        accessLog.level = 'silent';
      } else if (!own.accessLoggingDisabled && accessLog.level === 'silent') accessLog.level = accessLevel;
      if (table.problems.length) log.warn({ problems: table.problems.map((p) => `${p.kind}/${p.namespace}/${p.name}: ${p.field}: ${p.reason}`) }, 'config the waypoint cannot enforce');
    }
  });
  let synced = false;
  void xds.synchronized().then(() => {
    synced = true;
    log.info('xDS synchronized');
  });

  let cert;
  try {
    cert = await certs.fetch(identity);
  } catch (err) {
    decisions.close();
    certs.close();
    ca.close();
    throw new WaypointStartError(`cannot obtain the waypoint certificate for ${identity}: ${describeError(err)}`, { cause: err });
  }
  const hbone = new HboneServer({ certificate: cert, handler: listener.handle, log, onHandshakeFailure: (reason) => metrics.tlsHandshakeFailures.inc({ reason }) });
  certs.onUpdate((id, c) => {
    if (id === identity && c) hbone.updateCertificate(c);
  });
  const tcp = net.createServer({ noDelay: true }, (s) => hbone.handleConnection(s));
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', (err) => reject(new WaypointStartError(`cannot listen for HBONE on ${config.hbone.host}:${config.hbone.port}: ${describeError(err)}`, { cause: err })));
    tcp.listen(config.hbone.port, config.hbone.host, () => resolve());
  });

  const notReadyReasons = (): string[] => {
    const out: string[] = [];
    if (!synced) out.push(`xDS not synchronized (${xds.status().lastError ?? 'waiting for the first responses'})`);
    else if (!configSeen) out.push(`no WaypointConfig for ${key} yet (is the Gateway of class istio-waypoint, or an ingress class with an HTTP or HTTPS listener?)`);
    const missing = (view.config?.ingressPorts ?? []).map((p) => p.port).filter((p) => !ingress.ports().includes(p));
    if (missing.length) out.push(`ingress port(s) ${missing.join(', ')} not listening (see the log)`);
    return out;
  };
  let quit!: () => void;
  const quitRequested = new Promise<void>((resolve) => (quit = resolve));
  const servers: http.Server[] = [];
  const admin = adminHandler({
    configDump: () => ({
      waypoint: { name: config.name, namespace: config.namespace, identity, node: config.node, xdsAddress: config.xdsAddress },
      config: view.config ?? null,
      routeProblems: table.problems,
      certificates: certs.dump(),
      xds: xds.status(),
      version: VERSION,
    }),
    loggers: { default: log, access: accessLog },
    quit: () => quit(),
  });
  try {
    servers.push(await listenHttp(http.createServer(admin), config.adminAddress.host, config.adminAddress.port));
    servers.push(await startStatsServer(() => metrics.render(), config.statsAddress.host, config.statsAddress.port));
    servers.push(await startReadinessServer(notReadyReasons, config.readinessAddress.host, config.readinessAddress.port));
  } catch (err) {
    for (const s of servers) s.close();
    tcp.close();
    decisions.close();
    certs.close();
    ca.close();
    throw new WaypointStartError(`cannot open the waypoint's admin/stats/readiness listeners: ${describeError(err)}`, { cause: err });
  }
  xds.start();
  const port = (s: net.Server | http.Server) => (s.address() as net.AddressInfo).port;
  const ports = { hbone: port(tcp), admin: port(servers[0]!), stats: port(servers[1]!), readiness: port(servers[2]!) };
  log.info({ identity, xds: config.xdsAddress, ...ports, pid: process.pid }, 'waypoint started');
  let stopping: Promise<void> | undefined;
  return {
    ports,
    quitRequested,
    notReadyReasons,
    shutdown() {
      stopping ??= (async () => {
        tcp.close();
        ingress.close();
        for (const s of servers) {
          s.close();
          s.closeAllConnections();
        }
        await hbone.close(config.terminationGraceMs);
        // Spans still batched go out before the process ends (bounded by the exporter's timeout).
        await tracing.close().catch(() => undefined);
        upstreams.close();
        xds.close();
        decisions.close();
        certs.close();
        ca.close();
      })();
      return stopping;
    },
  };
}

function emptyConfig(c: WaypointConfig): WaypointConfigRecord {
  return {
    name: c.name, namespace: c.namespace, trafficType: 'service', trustDomain: c.trustDomain, hbonePort: c.hbone.port,
    services: [], workloadUids: [], routes: [], authorizationPolicies: [], requestAuthentications: [],
  };
}
