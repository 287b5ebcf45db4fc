// A real, throwaway Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) on loopback,
// run the way controller-runtime's envtest runs one, from binaries built by scripts/kube/build.sh.
//
// Why it lives in src/sandbox/kube and not under test/: the sandbox becomes the kubelet for `ambit cluster create
// --kubernetes` (issue 14), which starts exactly these processes; the e2e tests use the same launcher so the product
// path and the tested path are one. Processes are started through platform/ (the only layer that spawns).
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { MeshError } from '../../lib/errors.js';
import { isLoopbackIp } from '../../lib/ip-address.js';
import { ProcessGroup } from '../../platform/index.js';
import { createKubePki, renderTokenFile, type KubePki } from './kube-pki.js';

/** The binaries one control plane runs; all live in one directory (the build cache's bin/). */
const KUBE_PARTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'] as const;

interface KubeControlPlaneOptions {
  /** Directory holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl. */
  binDir: string;
  /** Where data, certs, kubeconfigs and logs go; default a fresh temp dir, removed on stop. */
  workDir?: string;
  /** Address every component binds; default 127.0.0.1 (nothing listens beyond loopback). */
  host?: string;
  /** `--service-cluster-ip-range`; its first address is the `kubernetes` Service's ClusterIP. */
  serviceClusterIpRange?: string;
  /** More addresses the API server is reached at (relayed into the sandbox): put in its serving certificate. */
  extraAddresses?: readonly string[];
  /** Bound for the whole start (every component ready); default 120 s. */
  startTimeoutMs?: number;
  /**
   * Kubelets the API server calls (logs, port-forward, pod proxy): the addresses they serve at, for their serving
   * certificate, and a Unix socket speaking HTTP CONNECT into the cluster network, which the API server's `cluster`
   * egress goes through (the Konnectivity arrangement: the API server is on the host, nodes and pods are not).
   */
  kubelets?: { addresses: readonly string[]; egressSocket: string };
}

class KubeStartError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KUBE_START_FAILED', message, options);
  }
}

type Part = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';

const DEFAULT_SERVICE_RANGE = '10.0.0.0/24';
const DEFAULT_START_TIMEOUT_MS = 120_000;
const POLL_MS = 250;
/** Per-probe bound: a readiness request that hangs must not eat the whole start budget. */
const PROBE_TIMEOUT_MS = 2_000;
/** SIGTERM grace per component on stop; the API server drains watches for a while unless told to stop. */
const STOP_GRACE_MS = 10_000;
/** Lines of a component's log quoted in an error. */
const LOG_TAIL_LINES = 25;

/**
 * Invariants: after `start()` resolves every component answered its health endpoint and `kubeconfig` names the admin
 * (system:masters, by bearer token); `stop()` ends every process group it started, in reverse order, and removes
 * the work dir when it made it. A failed start stops whatever it had started before rejecting.
 */
export class KubeControlPlane {
  readonly binDir: string;
  readonly workDir: string;
  readonly host: string;
  /** `https://127.0.0.1:<port>`. */
  apiServerUrl = '';
  /** Admin kubeconfig path (cluster `ambit`, user `ambit-admin`). */
  readonly kubeconfig: string;
  #pki: KubePki | undefined;
  #ownsWorkDir: boolean;
  #serviceRange: string;
  #extraAddresses: readonly string[];
  #kubelets: KubeControlPlaneOptions['kubelets'];
  #procs: Array<{ part: Part; group: ProcessGroup; args: string[] }> = [];
  #stopped = false;

  private constructor(opts: KubeControlPlaneOptions) {
    this.binDir = opts.binDir;
    this.#ownsWorkDir = opts.workDir === undefined;
    this.workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), 'ambit-kube-'));
    this.host = opts.host ?? '127.0.0.1';
    this.#serviceRange = opts.serviceClusterIpRange ?? DEFAULT_SERVICE_RANGE;
    this.#extraAddresses = opts.extraAddresses ?? [];
    this.#kubelets = opts.kubelets;
    this.kubeconfig = join(this.workDir, 'admin.kubeconfig');
  }

  /** Starts etcd, then the API server, then the controller manager and scheduler; resolves when all are healthy. */
  static async start(opts: KubeControlPlaneOptions): Promise<KubeControlPlane> {
    for (const p of KUBE_PARTS) {
      if (!existsSync(join(opts.binDir, p))) {
        throw new KubeStartError(`${join(opts.binDir, p)} is missing: build the Kubernetes parts with scripts/kube/build.sh`);
      }
    }
    const cp = new KubeControlPlane(opts);
    const deadline = Date.now() + (opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    try {
      await cp.#start(deadline);
      return cp;
    } catch (e) {
      await cp.stop();
      throw e;
    }
  }

  /** The CA that signed the API server's certificate (PEM). */
  get caCertPem(): string {
    return this.#requirePki().caCertPem;
  }

  /** The kubelets' serving certificate and key (one for every kubelet address of the `kubelets` option). */
  get kubeletServing(): KubePki['kubeletServing'] {
    return this.#requirePki().kubeletServing;
  }

  /** The admin's bearer token (system:masters). */
  get adminToken(): string {
    return this.#requirePki().tokens.admin;
  }

  /** Path of a part's binary, e.g. `kubectl`. */
  bin(part: (typeof KUBE_PARTS)[number]): string {
    return join(this.binDir, part);
  }

  /** Process ids of the running components (leaders of their process groups). */
  pids(): number[] {
    return this.#procs.filter((p) => p.group.exit === undefined).map((p) => p.group.pid);
  }

  /** The last lines of a component's log, for failure messages. */
  logTail(part: Part, lines = LOG_TAIL_LINES): string {
    const file = this.#logFile(part);
    if (!existsSync(file)) return '';
    return readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
  }

  /** Stops every component (reverse start order, process groups, SIGTERM then SIGKILL); idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const { group } of [...this.#procs].reverse()) await group.stop(STOP_GRACE_MS);
    if (this.#ownsWorkDir) rmSync(this.workDir, { recursive: true, force: true });
  }

  // --- start sequence -----------------------------------------------------------------------------------------

  async #start(deadline: number): Promise<void> {
    const dir = (d: string) => {
      const p = join(this.workDir, d);
      mkdirSync(p, { recursive: true, mode: 0o700 });
      return p;
    };
    const pkiDir = dir('pki');
    dir('logs');
    const pki = await createKubePki([this.host, firstServiceIp(this.#serviceRange), ...this.#extraAddresses], this.#kubelets?.addresses ?? []);
    this.#pki = pki;
    const file = (name: string, text: string) => {
      const p = join(pkiDir, name);
      writeFileSync(p, text, { mode: 0o600 });
      return p;
    };
    const caFile = file('ca.crt', pki.caCertPem);
    const certFile = file('apiserver.crt', pki.servingCertPem);
    const keyFile = file('apiserver.key', pki.servingKeyPem);
    const saKey = file('sa.key', pki.serviceAccountKeyPem);
    const saPub = file('sa.pub', pki.serviceAccountPubPem);
    const tokenFile = file('tokens.csv', renderTokenFile(pki.tokens));
    const kubeletFlags = this.#kubelets ? [
      `--kubelet-certificate-authority=${caFile}`,
      `--kubelet-client-certificate=${file('kubelet-client.crt', pki.kubeletClient.certPem)}`,
      `--kubelet-client-key=${file('kubelet-client.key', pki.kubeletClient.keyPem)}`,
      // Nodes are reached at their InternalIP only: the egress proxy dials addresses, not host names.
      '--kubelet-preferred-address-types=InternalIP',
      `--egress-selector-config-file=${file('egress-selector.yaml', renderEgressSelector(this.#kubelets.egressSocket))}`,
    ] : [];

    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort] = await freePorts(this.host, 5);
    const etcdUrl = `http://${this.host}:${etcdClient}`;
    const peerUrl = `http://${this.host}:${etcdPeer}`;
    this.#launch('etcd', [
      '--name=default', `--data-dir=${dir('etcd')}`, `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=default=${peerUrl}`,
      // Tests throw the data away: skipping fsync makes every write (and so the API server) much faster.
      '--unsafe-no-fsync', '--log-level=warn',
    ]);
    await this.#waitHealthy('etcd', deadline, () => probeHttp(`${etcdUrl}/health`));

    this.apiServerUrl = `https://${urlHost(this.host)}:${apiPort}`;
    this.#launch('kube-apiserver', [
      `--etcd-servers=${etcdUrl}`, `--bind-address=${this.host}`, `--advertise-address=${this.host}`, `--secure-port=${apiPort}`,
      `--cert-dir=${dir('apiserver-certs')}`, `--tls-cert-file=${certFile}`, `--tls-private-key-file=${keyFile}`,
      `--client-ca-file=${caFile}`, `--token-auth-file=${tokenFile}`, '--authorization-mode=RBAC',
      `--service-account-issuer=${this.apiServerUrl}`, `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`, `--service-cluster-ip-range=${this.#serviceRange}`,
      '--allow-privileged=true', '--shutdown-delay-duration=0s', '--v=1', ...kubeletFlags,
      // The endpoint reconciler refuses a loopback advertise address ("may not be in the loopback range"); on
      // loopback nothing in-cluster could reach it anyway, so the `kubernetes` Service simply has no endpoints.
      ...(isLoopback(this.host) ? ['--endpoint-reconciler-type=none'] : []),
    ]);
    writeFileSync(this.kubeconfig, renderKubeconfig(this.apiServerUrl, pki.caCertPem, 'ambit-admin', pki.tokens.admin), { mode: 0o600 });
    await this.#waitHealthy('kube-apiserver', deadline, () => probeHttps(`${this.apiServerUrl}/readyz`, pki.caCertPem, pki.tokens.admin));

    const kcmConfig = join(this.workDir, 'controller-manager.kubeconfig');
    writeFileSync(kcmConfig, renderKubeconfig(this.apiServerUrl, pki.caCertPem, 'system:kube-controller-manager', pki.tokens.controllerManager), { mode: 0o600 });
    this.#launch('kube-controller-manager', [
      `--kubeconfig=${kcmConfig}`, `--authentication-kubeconfig=${kcmConfig}`, `--authorization-kubeconfig=${kcmConfig}`,
      `--bind-address=${this.host}`, `--secure-port=${kcmPort}`, `--cert-dir=${dir('kcm-certs')}`, '--leader-elect=false',
      `--service-account-private-key-file=${saKey}`, `--root-ca-file=${caFile}`, '--use-service-account-credentials=true',
      `--service-cluster-ip-range=${this.#serviceRange}`, '--controllers=*', '--v=1',
    ]);
    const schedConfig = join(this.workDir, 'scheduler.kubeconfig');
    writeFileSync(schedConfig, renderKubeconfig(this.apiServerUrl, pki.caCertPem, 'system:kube-scheduler', pki.tokens.scheduler), { mode: 0o600 });
    this.#launch('kube-scheduler', [
      `--kubeconfig=${schedConfig}`, `--authentication-kubeconfig=${schedConfig}`, `--authorization-kubeconfig=${schedConfig}`,
      `--bind-address=${this.host}`, `--secure-port=${schedPort}`, `--cert-dir=${dir('scheduler-certs')}`, '--leader-elect=false', '--v=1',
    ]);
    // Their serving certificates are self-signed (in cert-dir); the probe only asks "are you up", on loopback.
    await this.#waitHealthy('kube-controller-manager', deadline, () => probeHttps(`https://${urlHost(this.host)}:${kcmPort}/healthz`, undefined));
    await this.#waitHealthy('kube-scheduler', deadline, () => probeHttps(`https://${urlHost(this.host)}:${schedPort}/healthz`, undefined));
  }

  #launch(part: Part, args: string[]): void {
    const group = ProcessGroup.start({ argv: [join(this.binDir, part), ...args], logFile: this.#logFile(part) });
    this.#procs.push({ part, group, args });
  }

  /** Stops the API server and starts it again on the same port and data (tests of clients surviving a restart). */
  async restartApiServer(downMs = 0): Promise<void> {
    const i = this.#procs.findIndex((p) => p.part === 'kube-apiserver');
    if (i < 0 || this.#stopped) throw new KubeStartError('the API server is not running');
    const { group, args } = this.#procs[i]!;
    await group.stop(STOP_GRACE_MS);
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    this.#procs.splice(i, 1);
    this.#launch('kube-apiserver', args);
    const pki = this.#requirePki();
    await this.#waitHealthy('kube-apiserver', Date.now() + DEFAULT_START_TIMEOUT_MS, () => probeHttps(`${this.apiServerUrl}/readyz`, pki.caCertPem, pki.tokens.admin));
  }

  #logFile(part: Part): string {
    return join(this.workDir, 'logs', `${part}.log`);
  }

  /** Polls `probe` until it returns true; fails at once if the component exits, or at the deadline. */
  async #waitHealthy(part: Part, deadline: number, probe: () => Promise<boolean>): Promise<void> {
    const proc = this.#procs.find((p) => p.part === part)!;
    let lastError = '';
    for (;;) {
      if (proc.group.exit !== undefined) {
        const why = proc.group.startError?.message ?? `exited (code ${proc.group.exit.code}, signal ${proc.group.exit.signal})`;
        throw new KubeStartError(`${part} ${why} before it was healthy; its log ends:\n${this.logTail(part)}`);
      }
      try {
        if (await probe()) return;
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
      }
      if (Date.now() > deadline) {
        throw new KubeStartError(`${part} was not healthy in time (last probe: ${lastError || 'not ready'}); its log ends:\n${this.logTail(part)}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  #requirePki(): KubePki {
    if (!this.#pki) throw new KubeStartError('the control plane has not started');
    return this.#pki;
  }
}

/**
 * The API server's EgressSelectorConfiguration: traffic to the cluster (kubelets, pods, services) goes through an
 * HTTP CONNECT proxy on a Unix socket; control-plane and etcd traffic stays direct.
 */
function renderEgressSelector(socket: string): string {
  return stringify({
    apiVersion: 'apiserver.k8s.io/v1beta1',
    kind: 'EgressSelectorConfiguration',
    egressSelections: [{ name: 'cluster', connection: { proxyProtocol: 'HTTPConnect', transport: { uds: { udsName: socket } } } }],
  });
}

/** A kubeconfig with one cluster (`ambit`), one token user and one current context. */
export function renderKubeconfig(server: string, caCertPem: string, user: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'ambit', cluster: { server, 'certificate-authority-data': Buffer.from(caCertPem).toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'ambit', context: { cluster: 'ambit', user } }],
    'current-context': 'ambit',
  });
}

/** The first host address of an IPv4 CIDR (`10.0.0.0/24` → `10.0.0.1`): the `kubernetes` Service's ClusterIP. */
export function firstServiceIp(cidr: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) throw new KubeStartError(`service range ${cidr} is not an IPv4 CIDR`);
  const n = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  const first = (n + 1) >>> 0;
  return [first >>> 24, (first >>> 16) & 255, (first >>> 8) & 255, first & 255].join('.');
}

function isLoopback(host: string): boolean {
  return isLoopbackIp(host) || host === 'localhost';
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** `count` distinct ports that were free a moment ago on `host` (bound to port 0 together, then released). */
async function freePorts(host: string, count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, host, () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function probeHttp(url: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** GET over TLS; verifies against `caPem` when given, else accepts any certificate (loopback self-signed). */
function probeHttps(url: string, caPem: string | undefined, token?: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      timeout: PROBE_TIMEOUT_MS,
      ...(caPem ? { ca: caPem } : { rejectUnauthorized: false }),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}
