// The CA gRPC server: istio.v1.auth.IstioCertificateService/CreateCertificate over TLS (control plane port 15012).
//
// User-facing choices:
// - Listens where told (the runner passes port 15012, like istiod). TLS with a serving certificate issued by this
//   CA: SPIFFE spiffe://<td>/ns/istio-system/sa/ambit-controlplane, DNS ambit-controlplane,
//   istiod.istio-system.svc, localhost, IPs 127.0.0.1 and ::1 (plus `servingNames`); renewed at half-life.
// - Client certificates are requested but optional; a presented one must verify against the trust bundle.
// - Callers authenticate with `authorization: Bearer <node token>` (see node-token.ts) or with their mesh
//   certificate. Missing/unknown credentials → UNAUTHENTICATED; a node asking for an identity no pod on it
//   uses, or a workload asking for another identity → PERMISSION_DENIED with the reason; bad requests →
//   INVALID_ARGUMENT naming the problem. Every refusal is logged and counted.
// - Trust domain default `cluster.local`; leaf TTL = requested validity_duration capped at `maxTtlSeconds`
//   (default 86 400 s = 24 h; 0 or absent requests the maximum).
import { ROOT_NAMESPACE } from '../../lib/mesh-contract.js';
import type tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ConfigSource } from '../store/store.js';
import { describeError } from '../../lib/errors.js';
import { x509 } from '../../lib/certs/x509.js';
import { generateP256KeyPair, privateKeyToPem, publicKeySpki, spiffeIdOf } from '../../lib/certs/proxy-x509.js';
import { DEFAULT_TRUST_DOMAIN, formatSpiffeId, isValidTrustDomain, parseSpiffeId } from '../../lib/certs/spiffe-id.js';
import { CA_SERVER_NAME } from '../../lib/certs/ca-client.js';
import { NO_RESUMPTION_SECURE_OPTIONS } from '../../lib/certs/tls-identity.js';
import { IMPERSONATED_IDENTITY_KEY, istioCertificateServiceDefinition, IstioCertificateResponseSchema, type IstioCertificateRequest } from '../../lib/certs/ca-service.js';
import { create } from '@bufbuild/protobuf';
import { CaError } from './ca-error.js';
import { CaMaterial, BACKDATE_MS, type CaInfo, type RotationResult, type RetireResult } from './ca-material.js';
import { checkCsr, checkImpersonatedIdentity } from './csr-check.js';
import { authorizeIdentity, describeCaller, type CaCaller } from './node-authorizer.js';
import { NodeTokenRegistry } from './node-token-registry.js';
import { looksLikeJwt } from './kube-token-review.js';
import { registerCaMetrics } from './ca-metrics.js';

const DEFAULT_MAX_TTL_SECONDS = 24 * 3600;
/** The control plane's own identity (its serving certificate). */
const CONTROL_PLANE_NAMESPACE = ROOT_NAMESPACE;
const CONTROL_PLANE_SERVICE_ACCOUNT = 'ambit-controlplane';

/** Who a bearer token stands for (a node or a workload), undefined when unknown; throws with the reason when refused. */
interface BearerAuthenticator {
  authenticate(token: string): Promise<CaCaller | undefined>;
}

interface CaServerOptions {
  dataDir: string;
  trustDomain?: string;
  /** Directory in Istio's `cacerts` layout; when set the CA acts as that intermediate instead of its own root. */
  pluggedCaDir?: string;
  /** Pods and Nodes: who may have which identity, and which nodes hold bootstrap tokens. */
  source: ConfigSource;
  listen: { host: string; port: number };
  maxTtlSeconds?: number;
  metrics: Registry;
  log: Logger;
  /** Extra names for the serving certificate (e.g. the sandbox address of the control plane). */
  servingNames?: { dns?: string[]; ips?: string[] };
  /** On Kubernetes: service-account tokens (JWTs) are checked with TokenReview; node bootstrap tokens still work. */
  kubeTokens?: { authenticate(token: string): Promise<CaCaller> };
  /** Called after a rotation or retirement changed `<dataDir>/ca` (to save it elsewhere, e.g. a Secret). */
  onRootsChanged?: () => void;
}

/** What `GET /ambit/v1/ca` shows: public facts only, never keys. */
interface CaStatus extends CaInfo {
  trustDomain: string;
  maxTtlSeconds: number;
  /** During a rotation: the earliest instant the old root can be retired without `force`. */
  retireAllowedAfter?: string;
}

export interface CaServer {
  port: number;
  close(): Promise<void>;
  /** The current trust bundle (PEM roots). */
  rootBundlePem(): string;
  rotateRoot(): Promise<RotationResult>;
  /** Refused while leaves of the old root may still be valid, unless `force`. */
  retireOldRoot(opts?: { force?: boolean }): Promise<RetireResult>;
  status(): CaStatus;
  /**
   * The TLS gRPC server on the CA's port, so other control-plane services (xDS) share port 15012, its serving
   * certificate and its client-certificate handling, as istiod does. Services may be added after start.
   */
  readonly grpcServer: grpc.Server;
  /**
   * Which node a bearer token stands for (shared with xDS authentication): a node bootstrap token, or on Kubernetes a
   * ztunnel's service-account token. Undefined for an unknown token; throws with the reason for a refused one.
   */
  readonly nodeTokens: BearerAuthenticator;
  /** Why the client certificate of the connection `peer` (`call.getPeer()`) did not verify, if it did not. */
  untrustedCertificate(peer: string): string | undefined;
  /** The latest certificate issued per identity and caller since this control plane started (the dashboard's view). */
  issued(): IssuedCertificate[];
}

/** Public facts of one issued leaf: who holds it and until when. */
interface IssuedCertificate {
  identity: string;
  /** `node/<name>` or the workload identity that asked. */
  caller: string;
  issuedAt: string;
  notAfter: string;
}

/** Bound on the issuance ledger (oldest entries go first). */
const MAX_LEDGER = 10_000;

/**
 * The TLS credentials of port 15012: the serving identity and the client-CA bundle, replaced after rotation or
 * renewal. Our own class rather than grpc-js's certificate-provider credentials because those pass only the
 * certificates to TLS, and 15012 must also refuse session resumption (NO_RESUMPTION_SECURE_OPTIONS: a resumed
 * session would keep a workload's expired certificate valid).
 */
class ServingCredentials extends grpc.ServerCredentials {
  /**
   * `ip:port` (the form of grpc-js `call.getPeer()`) → why the client certificate of that open connection did not
   * verify. grpc-js shows a handler only verified certificates, so an untrusted one would look like none at all.
   */
  readonly untrustedPeers: Map<string, string>;

  constructor() {
    const untrusted = new Map<string, string>();
    // Client certificates are requested but optional (node-token callers have none): verified per call.
    super({
      requestCert: true, rejectUnauthorized: false, secureOptions: NO_RESUMPTION_SECURE_OPTIONS,
      // The only per-connection hook grpc-js leaves (called with the TLS socket; clients that send SNI, as
      // ours do): note a presented certificate that failed verification. No context returned = the default one.
      SNICallback(this: unknown, _servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) {
        const socket = this as tls.TLSSocket;
        socket.once('secure', () => {
          if (socket.authorized || !socket.getPeerCertificate()?.raw) return;
          const peer = `${socket.remoteAddress}:${socket.remotePort}`;
          untrusted.set(peer, String(socket.authorizationError));
          socket.once('close', () => untrusted.delete(peer));
        });
        cb(null);
      },
    });
    this.untrustedPeers = untrusted;
  }

  update(bundlePem: string, certChainPem: string, keyPem: string): void {
    // Node's setSecureContext resets every option it is not given: the secure options travel with each update.
    this.updateSecureContextOptions({ ca: bundlePem, cert: certChainPem, key: keyPem, secureOptions: NO_RESUMPTION_SECURE_OPTIONS });
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

function grpcStatusOf(err: unknown): grpc.status {
  if (err instanceof CaError) {
    switch (err.code) {
      case 'CA_INVALID_ARGUMENT':
        return grpc.status.INVALID_ARGUMENT;
      case 'CA_UNAUTHENTICATED':
        return grpc.status.UNAUTHENTICATED;
      case 'CA_PERMISSION_DENIED':
        return grpc.status.PERMISSION_DENIED;
      default:
        return grpc.status.INTERNAL;
    }
  }
  return grpc.status.INTERNAL;
}

export async function startCaServer(opts: CaServerOptions): Promise<CaServer> {
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  if (!isValidTrustDomain(trustDomain)) throw new CaError('CA_CONFIG', `trust domain '${trustDomain}' is invalid (lower-case letters, digits, '.', '-', '_')`);
  const maxTtlSeconds = opts.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS;
  if (!Number.isInteger(maxTtlSeconds) || maxTtlSeconds < 60) throw new CaError('CA_CONFIG', `maxTtlSeconds ${maxTtlSeconds} is invalid: an integer of at least 60 seconds is required`);
  const log = opts.log.child({ module: 'ca' });
  const material = await CaMaterial.open({ dataDir: opts.dataDir, trustDomain, pluggedCaDir: opts.pluggedCaDir, log });
  const metrics = registerCaMetrics(opts.metrics, { root: () => material.rootExpiry(), chain: () => material.signingCertExpiry() });
  // On Kubernetes nodes prove themselves with their ztunnel's service-account token: no bootstrap tokens are made
  // (a data dir shared with the nodes is a sandbox thing).
  const kubeTokens = opts.kubeTokens;
  const tokens = kubeTokens
    ? { authenticate: async () => undefined, close: () => undefined }
    : await NodeTokenRegistry.start({ source: opts.source, dataDir: opts.dataDir, log });
  const nodeAuth: BearerAuthenticator = {
    authenticate: async (token) => {
      if (kubeTokens && looksLikeJwt(token)) return kubeTokens.authenticate(token);
      const node = await tokens.authenticate(token);
      return node ? { kind: 'node', node } : undefined;
    },
  };

  // --- serving certificate ---
  const credentials = new ServingCredentials();
  let renewTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const servingIdentity = formatSpiffeId({ trustDomain, namespace: CONTROL_PLANE_NAMESPACE, serviceAccount: CONTROL_PLANE_SERVICE_ACCOUNT });
  async function issueServingCertificate(): Promise<void> {
    const keys = await generateP256KeyPair();
    const chain = await material.issue({
      spki: await publicKeySpki(keys.publicKey),
      uris: [servingIdentity],
      dnsNames: [CA_SERVER_NAME, 'istiod.istio-system.svc', 'localhost', ...(opts.servingNames?.dns ?? [])],
      ips: ['127.0.0.1', '::1', ...(opts.servingNames?.ips ?? [])],
      ttlSeconds: maxTtlSeconds,
    });
    credentials.update(chain[chain.length - 1]!, chain.slice(0, -1).join(''), await privateKeyToPem(keys.privateKey));
    const leaf = new x509.X509Certificate(chain[0]!);
    const half = (leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 2;
    if (renewTimer) clearTimeout(renewTimer);
    renewTimer = setTimeout(() => {
      if (!closed) issueServingCertificate().catch((err) => log.error({ err: describeError(err) }, 'cannot renew the CA serving certificate'));
    }, Math.max(1000, leaf.notBefore.getTime() + half - Date.now()));
    renewTimer.unref();
  }
  await issueServingCertificate();

  // --- the RPC ---
  async function authenticate(call: grpc.ServerUnaryCall<IstioCertificateRequest, unknown>): Promise<CaCaller> {
    const auth = call.metadata.get('authorization');
    if (auth.length > 0) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(String(auth[0]));
      if (auth.length > 1 || !m) throw new CaError('CA_UNAUTHENTICATED', "authorization: expected exactly one 'Bearer <token>' header");
      const caller = await nodeAuth.authenticate(m[1]!).catch((err: unknown) => {
        throw new CaError('CA_UNAUTHENTICATED', `authorization: ${describeError(err)}`);
      });
      if (!caller) throw new CaError('CA_UNAUTHENTICATED', 'authorization: the bearer token is not a valid node token (unknown, revoked or from another control plane)');
      return caller;
    }
    const peer = call.getAuthContext()?.sslPeerCertificate;
    if (peer?.raw) {
      const id = spiffeIdOf(peer.raw);
      const parsed = id ? parseSpiffeId(id) : undefined;
      if (!id || !parsed || typeof parsed === 'string' || parsed.trustDomain !== trustDomain) {
        throw new CaError('CA_UNAUTHENTICATED', `client certificate carries no SPIFFE identity in trust domain '${trustDomain}'`);
      }
      return { kind: 'workload', identity: id };
    }
    const untrusted = credentials.untrustedPeers.get(call.getPeer());
    if (untrusted) throw new CaError('CA_UNAUTHENTICATED', `client certificate not trusted: it does not verify against the mesh trust bundle (${untrusted})`);
    throw new CaError('CA_UNAUTHENTICATED', "no credentials: send 'authorization: Bearer <node token>' or present a mesh client certificate");
  }

  const ledger = new Map<string, IssuedCertificate>();

  async function createCertificate(call: grpc.ServerUnaryCall<IstioCertificateRequest, unknown>): Promise<string[]> {
    const caller = await authenticate(call);
    const req = call.request;
    const validity = Number(req.validityDuration);
    if (validity < 0) throw new CaError('CA_INVALID_ARGUMENT', `validity_duration: ${validity} must not be negative (seconds; 0 asks for the default)`);
    const impersonated = checkImpersonatedIdentity(req.metadata?.[IMPERSONATED_IDENTITY_KEY], trustDomain);
    const csr = await checkCsr(req.csr, { trustDomain, impersonated });
    const requested = impersonated ?? csr.spiffe;
    const pods = caller.kind === 'node' ? opts.source.list({ group: '', kind: 'Pod', namespace: requested.namespace }).items : [];
    const decision = authorizeIdentity(caller, requested, pods);
    if (!decision.allowed) throw new CaError('CA_PERMISSION_DENIED', decision.reason);
    const ttl = validity === 0 ? maxTtlSeconds : Math.min(validity, maxTtlSeconds);
    try {
      const chain = await material.issue({ spki: csr.spki, uris: [csr.identity], ttlSeconds: ttl });
      log.debug({ caller: describeCaller(caller), identity: csr.identity, ttl }, 'certificate issued');
      const who = describeCaller(caller);
      const now = Date.now();
      ledger.delete(`${csr.identity} ${who}`);
      ledger.set(`${csr.identity} ${who}`, { identity: csr.identity, caller: who, issuedAt: new Date(now).toISOString(), notAfter: new Date(now + ttl * 1000).toISOString() });
      if (ledger.size > MAX_LEDGER) ledger.delete(ledger.keys().next().value!);
      return chain;
    } catch (err) {
      throw new CaError('CA_INTERNAL', `signing failed: ${describeError(err)}`, { cause: err });
    }
  }

  const server = new grpc.Server({ 'grpc.max_receive_message_length': 256 * 1024 });
  server.addService(istioCertificateServiceDefinition, {
    CreateCertificate: (call: grpc.ServerUnaryCall<IstioCertificateRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      metrics.csr.inc();
      createCertificate(call).then(
        (certChain) => {
          metrics.issued.inc();
          callback(null, create(IstioCertificateResponseSchema, { certChain }));
        },
        (err: unknown) => {
          const code = grpcStatusOf(err);
          const peer = call.getPeer();
          if (code === grpc.status.UNAUTHENTICATED) metrics.authenticationFailures.inc();
          else metrics.signErrors.inc({ error: grpc.status[code] });
          // INTERNAL details stay in the log; callers get a generic message.
          const message = code === grpc.status.INTERNAL ? 'internal CA error; see the control plane log' : describeError(err);
          log.warn({ peer, status: grpc.status[code], reason: describeError(err) }, 'certificate request refused');
          callback({ code, details: message });
        },
      );
    },
  });
  const host = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${opts.listen.port}`, credentials, (err, p) => (err ? reject(new CaError('CA_CONFIG', `cannot listen on ${host}:${opts.listen.port}: ${err.message}`, { cause: err })) : resolve(p)));
  }).catch((err) => {
    tokens.close();
    if (renewTimer) clearTimeout(renewTimer);
    throw err;
  });
  log.info({ port, trustDomain, mode: material.mode }, 'CA listening');

  function status(): CaStatus {
    const s: CaStatus = { ...material.info(), trustDomain, maxTtlSeconds };
    const rotated = material.rotatedAtMs();
    if (rotated !== undefined) s.retireAllowedAfter = new Date(rotated + maxTtlSeconds * 1000 + BACKDATE_MS).toISOString();
    return s;
  }

  return {
    port,
    grpcServer: server,
    nodeTokens: nodeAuth,
    untrustedCertificate: (peer) => credentials.untrustedPeers.get(peer),
    issued: () => [...ledger.values()],
    rootBundlePem: () => material.bundlePem(),
    status,
    async rotateRoot() {
      const result = await material.rotate();
      opts.onRootsChanged?.();
      await issueServingCertificate();
      return result;
    },
    async retireOldRoot(o = {}) {
      const rotated = material.rotatedAtMs();
      if (rotated !== undefined && !o.force) {
        const safeAt = rotated + maxTtlSeconds * 1000 + BACKDATE_MS;
        if (Date.now() < safeAt) {
          throw new CaError('CA_ROTATION', `certificates signed by the old root may be valid until ${new Date(safeAt).toISOString()}; retire it after that, or force it (their holders then fail mTLS with peers that dropped the old root)`);
        }
      }
      const result = await material.retireOld();
      opts.onRootsChanged?.();
      await issueServingCertificate();
      return result;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (renewTimer) clearTimeout(renewTimer);
      tokens.close();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}
