// The sandbox's kubelet + scheduler + service allocator: runs the Pods of the store as processes in netns.
//
// Level-triggered: every change of Pods or Services wakes one pass that converges the machine on the store —
// schedule unplaced pods (spec.nodeName, else the least-loaded node), build each pod's network and start its
// containers, write status back through /status, tear down pods that left the store, give Services a VIP,
// and keep hosts files and the node's Service DNAT rules current.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kindByName, type KubeObject } from '../api/index.js';
import { resourcePath } from '../api/resource-path.js';
import type { ApiClient } from '../controlplane/client/index.js';
import { describeError, MeshError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { ObjectInformer } from '../lib/object-informer.js';
import { applyNft, createNetns, deleteNetns, listNetns, runCommand, runIn } from '../platform/index.js';
import { cniAdd, cniDel, meshReady, type NodeCni } from './kube/cni-runtime.js';
import {
  belongsToCluster, ipInCidr, podIpOf, podNetnsName, podVethName, serviceIpOf, type ClusterLayout, type NodeLayout,
} from './cluster-layout.js';
import { outsideCaPath } from './outside-world.js';
import { ManagedProcess, type ExitInfo } from './managed-process.js';
import { renderHosts, renderResolvConf, serviceNames } from './pod-dns-files.js';
import { createPodNetwork, deletePodNetwork, writeNetnsFile } from './pod-network.js';
import { renderServiceRules, servicePortRules } from './service-rules.js';
import { ReconcileLoop } from '../lib/reconcile-loop.js';
import { kubeletPodConditions, requestPodToken } from './kube/kube-cluster.js';
import { nodeHostPath, withPodRun } from './kube/node-files.js';
import { POD_NETNS_ANNOTATION, REDIRECTION_ANNOTATION, isCaptureCandidate } from '../lib/mesh-contract.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const MAX_GRACE_SECONDS = 10;

class PodRunnerError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SANDBOX_POD', message, options);
  }
}

const POD = kindByName('Pod')!;
const SERVICE = kindByName('Service')!;
const NAMESPACE = kindByName('Namespace')!;

/**
 * Whether the node agent will capture this pod (same rule as the agent: pod label, else namespace label; never
 * waypoints). Such a pod's containers start only once the agent reports its rules installed: fail closed.
 */
function wantsCapture(pod: KubeObject, namespace: KubeObject | undefined): boolean {
  return isCaptureCandidate(pod.metadata.labels ?? {}, namespace?.metadata.labels);
}

interface ContainerSpec {
  name: string;
  /** Absent on Kubernetes pods that use their image's entry point (only the Ambit image can run so here). */
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath?: string } } }>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  workingDir?: string;
  readinessProbe?: { httpGet?: { path?: string; port: number | string }; periodSeconds?: number };
  /** Ignored by the sandbox (it runs `command`); reported back in the container's status. */
  image?: string;
}

/** The sandbox probes every second unless the pod says otherwise (Kubernetes' default is 10 s: too slow for tests). */
const DEFAULT_PROBE_PERIOD_S = 1;

interface PodSpec {
  containers: ContainerSpec[];
  nodeName?: string;
  /** In the node's own netns (no pod network, the node's IP): node agents. */
  hostNetwork?: boolean;
  serviceAccountName?: string;
  volumes?: PodVolume[];
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  terminationGracePeriodSeconds?: number;
}

interface ProjectedToken {
  file: string;
  audience?: string;
  expirationSeconds: number;
  mintedAt: number;
}

interface KeyToPath {
  key: string;
  path: string;
}

/** The volume sources the sandbox can provide (Kubernetes mode). */
interface PodVolume {
  name: string;
  configMap?: { name?: string; items?: KeyToPath[] };
  hostPath?: { path: string; type?: string };
  projected?: {
    sources?: Array<{
      serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
      configMap?: { name?: string; items?: KeyToPath[] };
      downwardAPI?: { items?: Array<{ path: string; fieldRef?: { fieldPath?: string } }> };
    }>;
  };
}

/** A volume ready to mount: its directory on the machine; hostPath volumes are the node's own and writable. */
interface VolumeSource {
  dir: string;
  writable: boolean;
}

/** A pod this runner has placed on the machine. */
interface RunningPod {
  uid: string;
  namespace: string;
  name: string;
  node: NodeLayout;
  netns: string;
  ip: string;
  host: number;
  /** On the node's netns: nothing of the netns is the pod's to tear down. */
  hostNetwork: boolean;
  startTime: string;
  containers: Map<string, ManagedProcess>;
  graceMs: number;
  /** JSON of the last status written (skip identical writes). */
  lastStatus: string;
  /** Containers not started yet: the pod is enrolled and its capture rules are not in place. */
  awaitingCapture: boolean;
  /** resourceVersion of our annotation write: only later versions of the pod say anything about its capture. */
  setupVersion: number;
  spec: PodSpec;
  /** Containers with a readiness probe → whether the last probe passed. */
  probes: Map<string, boolean>;
  /** The CNI chain's result (Kubernetes mode), handed back on DEL as runtimes do. */
  cniResult?: unknown;
  /** Volume name → the machine directory holding its files (Kubernetes mode). */
  volumeDirs: Map<string, VolumeSource>;
  /** Projected service-account tokens written for this pod, renewed at 80 % of their lifetime as a kubelet does. */
  tokens: ProjectedToken[];
  probeTimer?: NodeJS.Timeout;
}

interface PodRunnerConfig {
  api: ApiClient;
  layout: ClusterLayout;
  dataDir: string;
  log: Logger;
  /** Kubernetes mode: build pod networks through each node's CNI chain (ptp + host-local + ambit-cni). */
  cni?: (node: NodeLayout) => NodeCni;
  /** argv that runs this `ambit` build: what containers of the Ambit image (no command) run. */
  selfCommand?: readonly string[];
  /** Kubernetes mode: where pods reach the API server (KUBERNETES_SERVICE_HOST/PORT, as a kubelet sets them). */
  apiServer?: { host: string; port: number };
}

/** Log file of one container: `<dataDir>/logs/pods/<ns>_<pod>/<container>.log`. */
export function containerLogPath(dataDir: string, namespace: string, pod: string, container: string): string {
  return join(dataDir, 'logs', 'pods', `${namespace}_${pod}`, `${container}.log`);
}

/**
 * A container's whole environment: a default PATH, the pod facts (POD_NAME, POD_NAMESPACE, POD_IP, NODE_NAME) and
 * the container's own `env` values, which win. Nothing leaks in from the supervisor's environment.
 */
export function containerEnvironment(
  pod: { namespace: string; name: string; ip: string; node: string; serviceAccount?: string },
  container: { env?: ContainerSpec['env'] } | undefined,
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: DEFAULT_PATH, HOME: '/root', HOSTNAME: pod.name,
    POD_NAME: pod.name, POD_NAMESPACE: pod.namespace, POD_IP: pod.ip, NODE_NAME: pod.node,
  };
  const fields = downwardApiFields(pod);
  for (const e of container?.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath && fields[e.valueFrom.fieldRef.fieldPath] !== undefined) env[e.name] = fields[e.valueFrom.fieldRef.fieldPath]!;
  }
  return env;
}

/** Images the sandbox runs as this very build of Ambit (its only image): `ambit/ambit:<tag>`, any registry. */
function isAmbitImage(image: string | undefined): boolean {
  return /(^|\/)ambit\/ambit(:[\w.-]+)?(@sha256:[0-9a-f]+)?$/.test(image ?? '');
}

/** The downward API's fields a kubelet resolves (env `valueFrom.fieldRef`, projected `downwardAPI` items). */
function downwardApiFields(pod: { namespace: string; name: string; node: string; ip?: string; uid?: string; serviceAccount?: string }): Record<string, string> {
  return {
    'metadata.name': pod.name, 'metadata.namespace': pod.namespace, 'spec.nodeName': pod.node, 'spec.serviceAccountName': pod.serviceAccount ?? 'default',
    ...(pod.ip !== undefined ? { 'status.podIP': pod.ip } : {}),
    ...(pod.uid !== undefined ? { 'metadata.uid': pod.uid } : {}),
  };
}

/** Kubernetes' `$(VAR)` references in command and args, from the container's environment (`$$` escapes). */
export function expandEnvRefs(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) => (m === '$$' ? '$' : env[name!] ?? m));
}

export class PodRunner {
  readonly #pods: ObjectInformer<KubeObject>;
  readonly #services: ObjectInformer<KubeObject>;
  readonly #namespaces: ObjectInformer<KubeObject>;
  readonly #running = new Map<string, RunningPod>();
  /** Pods whose setup failed: uid → message, so the failure is reported once, not retried in a tight loop. */
  readonly #failed = new Map<string, string>();
  readonly #loop = new ReconcileLoop(
    () => this.#reconcile(),
    (err) => this.#cfg.log.error({ err: describeError(err) }, 'pod runner pass failed; retrying'),
  );
  #stopped = false;
  #swept = false;
  #appliedServiceRules = '';
  readonly #retryTimer: NodeJS.Timeout;

  readonly #cfg: PodRunnerConfig;

  constructor(cfg: PodRunnerConfig) {
    this.#cfg = cfg;
    const onChange = () => this.#schedule();
    this.#pods = new ObjectInformer<KubeObject>(cfg.api, POD, { log: cfg.log, onChange });
    this.#services = new ObjectInformer<KubeObject>(cfg.api, SERVICE, { log: cfg.log, onChange });
    this.#namespaces = new ObjectInformer<KubeObject>(cfg.api, NAMESPACE, { log: cfg.log, onChange });
    // Failed writes (control plane restarting) and failed setups are retried by a slow periodic pass.
    this.#retryTimer = setInterval(() => {
      this.#failed.clear();
      this.#schedule();
      if (cfg.api.isKube) void this.#renewTokens();
    }, 5000);
  }

  /** Stops every pod process (networks stay until the cluster is deleted) and the watches. */
  /** The Services as the runner last saw them (e.g. for the ingress port forwards). */
  services(): KubeObject[] {
    return [...this.#services.items.values()];
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#retryTimer);
    await Promise.all([this.#pods.stop(), this.#services.stop(), this.#namespaces.stop()]);
    await this.#loop.stop();
    await Promise.all([...this.#running.values()].flatMap((p) => [...p.containers.values()].map((c) => c.stop(p.graceMs))));
  }

  /** For `cluster info`: pods with their netns, IP, node and container pids. */
  snapshot(): Array<{ namespace: string; name: string; netns: string; ip: string; node: string; pids: number[] }> {
    return [...this.#running.values()].map((p) => ({
      namespace: p.namespace, name: p.name, netns: p.netns, ip: p.ip, node: p.node.name,
      pids: [...p.containers.values()].map((c) => c.pid).filter((x): x is number => x !== undefined),
    }));
  }

  #schedule(): void {
    if (!this.#stopped) this.#loop.request();
  }

  async #reconcile(): Promise<void> {
    if (!this.#pods.synced || !this.#services.synced || !this.#namespaces.synced) return;
    const pods = [...this.#pods.items.values()];
    const byUid = new Map(pods.filter((p) => p.metadata.uid).map((p) => [p.metadata.uid!, p]));
    await this.#allocateServiceIps();
    // Pods gone from the store (or moved): stop and free them.
    for (const [uid, rp] of [...this.#running]) {
      const pod = byUid.get(uid);
      if (pod && (pod.spec as PodSpec).nodeName === rp.node.name) continue;
      await this.#teardown(rp);
    }
    if (!this.#swept) await this.#sweepOrphans(byUid);
    for (const pod of pods) {
      if (this.#stopped) return;
      const uid = pod.metadata.uid;
      const rp = uid ? this.#running.get(uid) : undefined;
      // Kubernetes deletes gracefully: the API server marks the pod and waits for its kubelet (us) to stop it.
      if (pod.metadata.deletionTimestamp && this.#cfg.api.isKube) {
        if (rp) await this.#teardown(rp);
        if (this.#cfg.layout.nodes.some((n) => n.name === (pod.spec as PodSpec).nodeName)) await this.#confirmDeletion(pod);
        continue;
      }
      if (rp?.awaitingCapture && pod.metadata.annotations?.[REDIRECTION_ANNOTATION] && Number(pod.metadata.resourceVersion) > rp.setupVersion) {
        this.#startContainers(rp);
      }
      if (!uid || rp || this.#failed.has(uid)) continue;
      const spec = pod.spec as PodSpec;
      if (!spec.nodeName) {
        // On Kubernetes the real scheduler binds pods.
        if (!this.#cfg.api.isKube) await this.#bind(pod, pods);
        continue;
      }
      const node = this.#cfg.layout.nodes.find((n) => n.name === spec.nodeName);
      if (!node) {
        await this.#reportUnschedulable(pod, `node "${spec.nodeName}" does not exist in cluster ${this.#cfg.layout.name} (nodes: ${this.#cfg.layout.nodes.map((n) => n.name).join(', ')})`);
        continue;
      }
      // A node whose network has no ambit-cni yet is not ready for pods (the kubelet's NetworkReady): wait. Pods on
      // the host network need none (the node agent, which installs ambit-cni, is one).
      if (this.#cfg.cni && !spec.hostNetwork && !meshReady(this.#cfg.cni(node))) {
        setTimeout(() => this.#schedule(), 300).unref();
        continue;
      }
      try {
        await this.#setup(pod, node);
      } catch (err) {
        this.#failed.set(uid, describeError(err));
        this.#cfg.log.error({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, err: describeError(err) }, 'pod setup failed');
        await this.#reportUnschedulable(pod, `sandbox could not start the pod: ${describeError(err)}`);
      }
    }
    await this.#syncStatuses();
    await this.#syncDnsFiles();
    await this.#syncServiceRules(pods);
  }

  // --- scheduling ---

  /** Binds an unplaced pod to the node with the fewest pods (ties: lowest node number). */
  async #bind(pod: KubeObject, all: KubeObject[]): Promise<void> {
    const load = new Map(this.#cfg.layout.nodes.map((n) => [n.name, 0]));
    for (const p of all) {
      const n = (p.spec as PodSpec).nodeName;
      if (n && load.has(n)) load.set(n, load.get(n)! + 1);
    }
    const target = [...load.entries()].sort((a, b) => a[1] - b[1])[0]![0];
    await this.#cfg.api.patch(POD, pod.metadata.namespace, pod.metadata.name, { spec: { nodeName: target } });
    // Count it at once so the next unplaced pod of this pass sees the new load.
    (pod.spec as PodSpec).nodeName = target;
    this.#cfg.log.info({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, node: target }, 'scheduled');
  }

  /** Ends a pod's graceful deletion once its containers are gone (what a kubelet does), for this very pod only. */
  async #confirmDeletion(pod: KubeObject): Promise<void> {
    const path = resourcePath(POD, { namespace: pod.metadata.namespace, name: pod.metadata.name });
    await this.#cfg.api.requestJson('DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } })
      .catch((err) => this.#cfg.log.debug({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, err: describeError(err) }, 'deletion not confirmed (gone already?)'));
  }

  async #reportUnschedulable(pod: KubeObject, message: string): Promise<void> {
    const status = { phase: 'Pending', message, reason: 'SandboxError' };
    if (JSON.stringify(pod.status?.['message']) === JSON.stringify(message)) return;
    await this.#writeStatus(pod.metadata.namespace!, pod.metadata.name, status).catch(() => undefined);
  }

  // --- pod lifecycle ---

  async #setup(pod: KubeObject, node: NodeLayout): Promise<void> {
    const uid = pod.metadata.uid!;
    const namespace = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name;
    const spec = pod.spec as PodSpec;
    const netns = podNetnsName(this.#cfg.layout.name, namespace, name, uid);
    const log = this.#cfg.log.child({ pod: `${namespace}/${name}` });
    // Before anything is built: a volume that cannot be provided yet (a ConfigMap still missing) fails this attempt
    // cleanly and the periodic retry tries again.
    const { dirs: volumeDirs, tokens } = this.#cfg.api.isKube ? await this.#prepareVolumes(pod, spec, node) : { dirs: new Map<string, VolumeSource>(), tokens: [] };
    let host: number;
    let ip: string;
    let cniResult: unknown;
    const hostNetwork = spec.hostNetwork === true;
    if (hostNetwork) {
      host = 0;
      ip = node.ip;
    } else if (this.#cfg.cni) {
      await deleteNetns(netns, { ignoreMissing: true });
      await createNetns(netns);
      try {
        ({ ip, result: cniResult } = await cniAdd(this.#cfg.cni(node), { netns, namespace, name, uid }));
      } catch (err) {
        await deletePodNetwork(netns);
        throw err;
      }
      host = Number(ip.split('.')[3]);
    } else {
      host = this.#freeHost(node);
      ip = podIpOf(node, host);
      await createPodNetwork({ netns, ip, node, vethName: podVethName(uid) });
    }
    const rp: RunningPod = {
      uid, namespace, name, node, netns: hostNetwork ? node.netns : netns, ip, host, hostNetwork, startTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      containers: new Map(), graceMs: Math.min(spec.terminationGracePeriodSeconds ?? 5, MAX_GRACE_SECONDS) * 1000,
      lastStatus: '', awaitingCapture: !hostNetwork && wantsCapture(pod, this.#namespaces.items.get(namespace)), setupVersion: Infinity, spec, probes: new Map(),
      cniResult, volumeDirs, tokens,
    };
    this.#running.set(uid, rp);
    if (hostNetwork) {
      // The node's netns, files and capture are the node's own: nothing to write, nothing to capture.
      this.#startContainers(rp);
      log.info({ node: node.name }, 'pod started on the host network');
      return;
    }
    writeNetnsFile(netns, 'resolv.conf', renderResolvConf(namespace, this.#cfg.layout.dnsIp, this.#cfg.layout.clusterDomain));
    writeNetnsFile(netns, 'hosts', renderHosts({ namespace, name, ip }, serviceNames([...this.#services.items.values()]), this.#cfg.layout.clusterDomain));
    // The node agent finds the netns through this annotation, written before any process runs. A redirection
    // annotation from an earlier netns of this pod no longer holds: cleared, so the agent re-captures first.
    const patched = await this.#cfg.api.patch(POD, namespace, name, { metadata: { annotations: { [POD_NETNS_ANNOTATION]: netns, [REDIRECTION_ANNOTATION]: null } } });
    rp.setupVersion = Number(patched.metadata.resourceVersion);
    if (rp.awaitingCapture) log.info({ netns }, 'enrolled pod: waiting for the node agent to install capture rules');
    else this.#startContainers(rp);
    log.info({ netns, ip, node: node.name }, 'pod network ready');
  }

  #startContainers(rp: RunningPod): void {
    rp.awaitingCapture = false;
    const { namespace, name, ip, node, netns, spec } = rp;
    const log = this.#cfg.log.child({ pod: `${namespace}/${name}` });
    const policy = spec.restartPolicy ?? 'Always';
    const restart = (exit: ExitInfo) => policy === 'Always' || (policy === 'OnFailure' && exit.code !== 0);
    const api = this.#cfg.apiServer;
    const apiEnv: Record<string, string> = api ? { KUBERNETES_SERVICE_HOST: api.host, KUBERNETES_SERVICE_PORT: String(api.port), KUBERNETES_SERVICE_PORT_HTTPS: String(api.port) } : {};
    // Node programs in pods trust the outside world's CA as they would a public root (src/sandbox/outside-world.ts).
    const trustEnv = { NODE_EXTRA_CA_CERTS: outsideCaPath(this.#cfg.dataDir) };
    for (const c of spec.containers) {
      const env = { ...trustEnv, ...apiEnv, ...containerEnvironment({ namespace, name, ip, node: node.name, serviceAccount: spec.serviceAccountName }, c) };
      const command = c.command ?? (isAmbitImage(c.image) && this.#cfg.selfCommand ? [...this.#cfg.selfCommand] : []);
      const mounts = (c.volumeMounts ?? []).flatMap((m) => {
        const v = rp.volumeDirs.get(m.name);
        return v ? [{ source: v.dir, target: m.mountPath, writable: v.writable && m.readOnly !== true }] : [];
      });
      const argv = [...(c.command ? c.command.map((a) => expandEnvRefs(a, env)) : command), ...(c.args ?? []).map((a) => expandEnvRefs(a, env))];
      const proc = new ManagedProcess(
        {
          label: `${namespace}/${name}:${c.name}`,
          netns,
          argv: mounts.length ? withPodRun(argv, join(this.#podDir(namespace, name), 'run'), mounts) : argv,
          env,
          cwd: c.workingDir || '/',
          logFile: containerLogPath(this.#cfg.dataDir, namespace, name, c.name),
        },
        restart,
        () => this.#schedule(),
        log,
      );
      rp.containers.set(c.name, proc);
      proc.start();
    }
    this.#startProbes(rp);
  }

  /**
   * Readiness probes (httpGet only), run like a kubelet would: from inside the pod's netns to 127.0.0.1:<port>. A
   * container is ready only while its probe passes; the pod gets a Ready condition, so the mesh treats it as
   * unhealthy until then.
   */
  #startProbes(rp: RunningPod): void {
    const probed = rp.spec.containers.filter((c) => c.readinessProbe?.httpGet && typeof c.readinessProbe.httpGet.port === 'number');
    if (!probed.length) return;
    for (const c of probed) rp.probes.set(c.name, false);
    const periodMs = Math.max(1, Math.min(...probed.map((c) => c.readinessProbe!.periodSeconds ?? DEFAULT_PROBE_PERIOD_S))) * 1000;
    let busy = false;
    rp.probeTimer = setInterval(() => {
      if (busy) return;
      busy = true;
      void Promise.all(probed.map(async (c) => {
        const get = c.readinessProbe!.httpGet!;
        const url = `http://127.0.0.1:${get.port}${get.path ?? '/'}`;
        const ok = rp.containers.get(c.name)?.running === true
          && await runIn(rp.netns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '1', url], { timeoutMs: 3000 })
            .then((r) => /^[23]\d\d$/.test(r.stdout.trim()), () => false);
        if (rp.probes.get(c.name) !== ok) {
          rp.probes.set(c.name, ok);
          this.#schedule();
        }
      })).finally(() => (busy = false));
    }, periodMs);
    rp.probeTimer.unref();
  }

  /** The runner's directory of one pod (its volumes, its /run while containers assemble it). */
  #podDir(namespace: string, name: string): string {
    return join(this.#cfg.dataDir, 'pods', `${namespace}_${name}`);
  }

  /**
   * What a kubelet mounts, for the volumes the sandbox supports: projected volumes (service-account tokens from
   * TokenRequest bound to this pod with the volume's audience and lifetime, ConfigMap keys, the downward API's fields
   * — what the API server's `kube-api-access-*` volume asks for), ConfigMaps, and hostPath directories of the pod's
   * node (node-files.ts). A container without a command must be of the Ambit image; a mount outside /run is refused.
   * Failures fail the pod's setup with the reason (reported in its status).
   */
  async #prepareVolumes(pod: KubeObject, spec: PodSpec, node: NodeLayout): Promise<{ dirs: Map<string, VolumeSource>; tokens: ProjectedToken[] }> {
    const namespace = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name;
    const dirs = new Map<string, VolumeSource>();
    const tokens: ProjectedToken[] = [];
    for (const c of spec.containers) {
      if (!c.command?.length && !isAmbitImage(c.image)) {
        throw new PodRunnerError(`container ${c.name}: the sandbox runs a container's command; only the Ambit image (ambit/ambit) may leave it out (image ${c.image ?? 'none'})`);
      }
      for (const m of c.volumeMounts ?? []) {
        if (!/^\/(var\/)?run\//.test(m.mountPath)) throw new PodRunnerError(`container ${c.name}: volume ${m.name} at ${m.mountPath}: the sandbox mounts volumes only under /run or /var/run`);
      }
    }
    const fields = downwardApiFields({ namespace, name, uid: pod.metadata.uid, node: node.name, serviceAccount: spec.serviceAccountName });
    const configMapKeys = async (cmName: string, items: KeyToPath[] | undefined): Promise<Array<[string, string]>> => {
      const cm = (await this.#cfg.api.requestJson('GET', `/api/v1/namespaces/${namespace}/configmaps/${cmName}`)) as { data?: Record<string, string> };
      const data = cm.data ?? {};
      if (!items?.length) return Object.entries(data);
      return items.map((i) => {
        if (data[i.key] === undefined) throw new PodRunnerError(`volume: ConfigMap ${namespace}/${cmName} has no key ${i.key}`);
        return [i.path, data[i.key]!];
      });
    };
    const base = join(this.#podDir(namespace, name), 'volumes');
    for (const v of spec.volumes ?? []) {
      if (v.hostPath) {
        const dir = nodeHostPath(this.#cfg.dataDir, node.name, v.hostPath.path);
        if (v.hostPath.type === 'DirectoryOrCreate' || !v.hostPath.type) mkdirSync(dir, { recursive: true, mode: 0o755 });
        else if (v.hostPath.type !== 'Directory') throw new PodRunnerError(`volume ${v.name}: hostPath type ${v.hostPath.type} is not supported by the sandbox (Directory, DirectoryOrCreate)`);
        dirs.set(v.name, { dir, writable: true });
        continue;
      }
      const dir = join(base, v.name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (v.configMap?.name) {
        for (const [path, value] of await configMapKeys(v.configMap.name, v.configMap.items)) writeFileSync(join(dir, path), value, { mode: 0o644 });
      } else if (v.projected?.sources) {
        for (const src of v.projected.sources) {
          if (src.configMap?.name) {
            for (const [path, value] of await configMapKeys(src.configMap.name, src.configMap.items)) writeFileSync(join(dir, path), value, { mode: 0o644 });
          }
          for (const item of src.downwardAPI?.items ?? []) {
            const value = fields[item.fieldRef?.fieldPath ?? ''];
            if (value === undefined) throw new PodRunnerError(`volume ${v.name}: downward API field ${item.fieldRef?.fieldPath ?? '(none)'} is not supported by the sandbox`);
            writeFileSync(join(dir, item.path), value, { mode: 0o644 });
          }
          const t = src.serviceAccountToken;
          if (!t) continue;
          const token: ProjectedToken = { file: join(dir, t.path), audience: t.audience, expirationSeconds: t.expirationSeconds ?? 3600, mintedAt: 0 };
          await this.#mintToken(namespace, name, pod.metadata.uid!, spec.serviceAccountName, token);
          tokens.push(token);
        }
      } else {
        continue;
      }
      dirs.set(v.name, { dir, writable: false });
    }
    return { dirs, tokens };
  }

  /** TokenRequest bound to the pod; the file is rewritten in place, so the container sees the new token at once. */
  async #mintToken(namespace: string, name: string, uid: string, serviceAccount: string | undefined, t: ProjectedToken): Promise<void> {
    const token = await requestPodToken(this.#cfg.api, { namespace, serviceAccount: serviceAccount ?? 'default', pod: { name, uid }, audience: t.audience, expirationSeconds: t.expirationSeconds });
    writeFileSync(t.file, token, { mode: 0o600 });
    t.mintedAt = Date.now();
  }

  /** Renews every running pod's projected tokens past 80 % of their lifetime. */
  async #renewTokens(): Promise<void> {
    for (const rp of this.#running.values()) {
      for (const t of rp.tokens) {
        if (Date.now() - t.mintedAt < t.expirationSeconds * 800) continue;
        await this.#mintToken(rp.namespace, rp.name, rp.uid, rp.spec.serviceAccountName, t)
          .catch((err) => this.#cfg.log.warn({ pod: `${rp.namespace}/${rp.name}`, err: describeError(err) }, 'projected token renewal failed; retrying'));
      }
    }
  }

  async #teardown(rp: RunningPod): Promise<void> {
    this.#running.delete(rp.uid);
    clearInterval(rp.probeTimer);
    await Promise.all([...rp.containers.values()].map((c) => c.stop(rp.graceMs)));
    if (rp.hostNetwork) {
      // The netns is the node's: only the pod's own processes were its to stop.
      this.#removePodFiles(rp);
      return;
    }
    // Anything the containers left behind in the netns (daemons they forked) goes too.
    await killAllIn(rp.netns);
    if (this.#cfg.cni) {
      await cniDel(this.#cfg.cni(rp.node), { netns: rp.netns, namespace: rp.namespace, name: rp.name, uid: rp.uid }, rp.cniResult)
        .catch((err) => this.#cfg.log.warn({ pod: `${rp.namespace}/${rp.name}`, err: describeError(err) }, 'CNI DEL failed'));
    }
    await deletePodNetwork(rp.netns);
    this.#removePodFiles(rp);
  }

  #removePodFiles(rp: RunningPod): void {
    rmSync(join(this.#cfg.dataDir, 'logs', 'pods', `${rp.namespace}_${rp.name}`), { recursive: true, force: true });
    rmSync(this.#podDir(rp.namespace, rp.name), { recursive: true, force: true });
    this.#cfg.log.info({ pod: `${rp.namespace}/${rp.name}`, netns: rp.netns }, 'pod removed');
  }

  /**
   * After a restart of this runner: pod netns of this cluster that no running pod owns are leftovers (their
   * processes were children of the previous runner). They are removed; their pods (if still in the store) start
   * again on a fresh network, reported as a restart.
   */
  async #sweepOrphans(byUid: Map<string, KubeObject>): Promise<void> {
    this.#swept = true;
    const owned = new Set([...this.#running.values()].map((r) => r.netns));
    const infra = new Set([this.#cfg.layout.fabricNetns, this.#cfg.layout.outside.netns, ...this.#cfg.layout.nodes.map((n) => n.netns)]);
    for (const ns of await listNetns()) {
      if (!belongsToCluster(this.#cfg.layout.name, ns) || infra.has(ns) || owned.has(ns)) continue;
      this.#cfg.log.info({ netns: ns }, 'removing a pod netns left by a previous run');
      await killAllIn(ns);
      await deletePodNetwork(ns);
    }
    void byUid;
  }

  #freeHost(node: NodeLayout): number {
    const used = new Set([...this.#running.values()].filter((r) => r.node === node).map((r) => r.host));
    for (let h = 2; h <= 254; h++) if (!used.has(h)) return h;
    throw new PodRunnerError(`node ${node.name} has no free pod address left in ${node.podCidr}`);
  }

  // --- status, DNS files, services ---

  async #syncStatuses(): Promise<void> {
    for (const rp of this.#running.values()) {
      const status = this.#statusOf(rp);
      const json = JSON.stringify(status);
      if (json === rp.lastStatus) continue;
      try {
        await this.#writeStatus(rp.namespace, rp.name, status);
        rp.lastStatus = json;
      } catch (err) {
        this.#cfg.log.warn({ pod: `${rp.namespace}/${rp.name}`, err: describeError(err) }, 'status write failed; will retry');
      }
    }
  }

  #statusOf(rp: RunningPod): Record<string, unknown> {
    const procs = [...rp.containers.entries()];
    const allDone = procs.length > 0 && procs.every(([, p]) => p.finished);
    let phase = rp.awaitingCapture ? 'Pending' : 'Running';
    if (allDone) phase = procs.every(([, p]) => p.lastExit?.code === 0) ? 'Succeeded' : 'Failed';
    const ready = (name: string, p: ManagedProcess) => p.running && rp.probes.get(name) !== false;
    const images = new Map(rp.spec.containers.map((c) => [c.name, c.image ?? '']));
    const containerStatuses = procs.map(([name, p]) => ({
      name,
      image: images.get(name) ?? '',
      imageID: '',
      started: p.running,
      ready: ready(name, p),
      restartCount: p.restarts,
      state: p.running
        ? { running: { startedAt: p.startedAt?.toISOString().replace(/\.\d+Z$/, 'Z') } }
        : p.finished
          ? { terminated: { exitCode: p.lastExit?.code ?? -1, signal: p.lastExit?.signal ?? undefined, reason: p.lastExit?.code === 0 ? 'Completed' : 'Error' } }
          : { waiting: { reason: 'CrashLoopBackOff' } },
      ...(p.lastExit ? { lastState: { terminated: { exitCode: p.lastExit.code ?? -1, finishedAt: p.lastExit.at.toISOString().replace(/\.\d+Z$/, 'Z') } } } : {}),
    }));
    return {
      phase,
      podIP: rp.ip,
      podIPs: [{ ip: rp.ip }],
      hostIP: rp.node.ip,
      hostIPs: [{ ip: rp.node.ip }],
      startTime: rp.startTime,
      containerStatuses,
      // Only pods with readiness probes say Ready: others are ready while they run (the mesh's default). On Kubernetes
      // every pod carries the conditions a kubelet writes (EndpointSlices and kubectl read them).
      ...(rp.probes.size || this.#cfg.api.isKube ? { conditions: this.#conditions(procs.length > 0 && procs.every(([n, p]) => ready(n, p))) } : {}),
    };
  }

  #conditions(ready: boolean): Array<Record<string, string>> {
    return this.#cfg.api.isKube ? kubeletPodConditions(ready) : [{ type: 'Ready', status: ready ? 'True' : 'False' }];
  }

  async #writeStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void> {
    if (this.#cfg.api.isKube) {
      // A merge patch of the status subresource: Kubernetes validates a PUT as a whole object.
      await this.#cfg.api.requestJson('PATCH', resourcePath(POD, { namespace, name, subresource: 'status' }), { status }, 'application/merge-patch+json');
      return;
    }
    await this.#cfg.api.updateStatus({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, status });
  }

  async #syncDnsFiles(): Promise<void> {
    const names = serviceNames([...this.#services.items.values()]);
    for (const rp of this.#running.values()) {
      if (rp.hostNetwork) continue;
      writeNetnsFile(rp.netns, 'hosts', renderHosts({ namespace: rp.namespace, name: rp.name, ip: rp.ip }, names, this.#cfg.layout.clusterDomain));
    }
  }

  async #syncServiceRules(pods: KubeObject[]): Promise<void> {
    const text = renderServiceRules(servicePortRules([...this.#services.items.values()], pods));
    if (text === this.#appliedServiceRules) return;
    for (const node of this.#cfg.layout.nodes) await applyNft(node.netns, text);
    this.#appliedServiceRules = text;
  }

  /** Services without a cluster IP get the lowest free one of the service range (written to spec.clusterIP). */
  async #allocateServiceIps(): Promise<void> {
    const services = [...this.#services.items.values()];
    const used = new Set(services.map((s) => (s.spec as { clusterIP?: string }).clusterIP).filter(Boolean));
    let n = 1;
    for (const svc of services) {
      const spec = (svc.spec ?? {}) as { clusterIP?: string; type?: string };
      if (spec.clusterIP || spec.type === 'ExternalName') continue;
      let ip = serviceIpOf(this.#cfg.layout, n);
      while (used.has(ip)) ip = serviceIpOf(this.#cfg.layout, ++n);
      if (!ipInCidr(ip, this.#cfg.layout.serviceCidr)) throw new PodRunnerError(`the service range ${this.#cfg.layout.serviceCidr} is exhausted`);
      used.add(ip);
      await this.#cfg.api.patch(SERVICE, svc.metadata.namespace, svc.metadata.name, { spec: { clusterIP: ip } });
      spec.clusterIP = ip;
      this.#cfg.log.info({ service: `${svc.metadata.namespace}/${svc.metadata.name}`, clusterIP: ip }, 'service VIP allocated');
    }
  }
}

/** SIGKILLs every process inside a netns. */
async function killAllIn(netns: string): Promise<void> {
  const { stdout } = await runCommand(['ip', 'netns', 'pids', netns]).catch(() => ({ stdout: '' }));
  for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
