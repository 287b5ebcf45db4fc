// The per-pod proxy manager (in-pod mode): one PodProxy per pod the node agent handed over, living
// inside that pod's netns. It owns each pod's netns fd while the pod is known.
//
// Semantics (PROTOCOLS.md §8.2): `add` of a known uid with the same netns (inode) is a no-op, a different netns
// replaces the proxy; a start failure is reported (NACK) and the pod is parked as pending and retried every 5 s;
// `del` drains that pod's proxies. After the snapshot, a pod the agent did not mention is stopped only if its netns
// is gone (no mount, no process): a restarted agent that has not re-captured a pod yet must not take a healthy pod's
// proxy down; leaving ztunnel takes an explicit `del`. Ready only once the snapshot arrived and no pod is pending.
import { closeSync, fstatSync } from 'node:fs';
import { describeError } from '../../lib/errors.js';
import { netnsInUse } from '../../platform/index.js';
import type { Logger } from '../../lib/log.js';
import type { PodStateView } from '../admin.js';
import type { ZtunnelMetrics } from '../metrics.js';
import { PodProxy } from '../proxy/pod-proxy.js';
import type { LocalPod, ProxyInputs } from '../proxy/proxy-inputs.js';
import type { LocalWorkloadInfo } from '../state/proxy-state.js';
import { NetnsSocketFactory } from './netns-socket-factory.js';

/** Something else a pod runs besides its TCP listeners (e.g. a DNS proxy); started after them, stopped before. */
export interface PodSidecarService {
  stop(): Promise<void>;
}

export type PodServiceStarter = (pod: LocalPod, sockets: NetnsSocketFactory, inputs: ProxyInputs) => Promise<PodSidecarService>;

interface WorkloadManagerOptions {
  inputs: ProxyInputs;
  metrics: ZtunnelMetrics;
  log: Logger;
  /** Extra per-pod services started after the listeners (the DNS proxy on 15053 is one). */
  extraServices?: PodServiceStarter[];
  /** Retry period for pods whose proxy failed to start, ms (5 s in Istio). */
  retryMs?: number;
  /** Drain deadline when a pod is removed, ms. */
  drainMs?: number;
}

interface ManagedPod {
  pod: LocalPod;
  netnsFd: number;
  /** Inode of the netns: two adds name the same netns exactly when these match. */
  inode: number;
  proxy?: PodProxy;
  services: PodSidecarService[];
  state: 'Pending' | 'Up';
  lastError?: string;
  retryTimer?: NodeJS.Timeout;
  /** Bumped on replace/remove so a late start result is discarded. */
  generation: number;
}

export class WorkloadManager {
  readonly #opts: WorkloadManagerOptions;
  readonly #pods = new Map<string, ManagedPod>();
  #snapshotReceived = false;
  /** uids mentioned since the current ZDS connection began (for snapshot reconciliation). */
  #mentioned = new Set<string>();
  #closed = false;

  constructor(opts: WorkloadManagerOptions) {
    this.#opts = opts;
  }

  /** A new ZDS connection: the agent replays everything, then sends snapshot_sent. */
  connectionStarted(): void {
    this.#mentioned = new Set();
  }

  /**
   * Takes over `netnsFd` (closed here in every case). Resolves with undefined (ACK) once the pod's listeners are
   * up, or with the failure text (NACK; the pod stays pending and is retried).
   */
  async add(uid: string, info: LocalWorkloadInfo, netnsFd: number): Promise<string | undefined> {
    this.#mentioned.add(uid);
    let inode: number;
    try {
      inode = fstatSync(netnsFd).ino;
    } catch (err) {
      closeFd(netnsFd);
      return `cannot inspect the netns fd of pod ${uid}: ${describeError(err)}`;
    }
    const existing = this.#pods.get(uid);
    if (existing && existing.inode === inode && existing.state === 'Up') {
      closeFd(netnsFd);
      return undefined;
    }
    if (existing) await this.#remove(existing);
    if (this.#closed) {
      closeFd(netnsFd);
      return 'ztunnel is shutting down';
    }
    const managed: ManagedPod = { pod: { uid, info }, netnsFd, inode, services: [], state: 'Pending', generation: 0 };
    this.#pods.set(uid, managed);
    this.#updateGauges();
    return this.#start(managed);
  }

  /** The agent says the pod is still there (no netns fd available): keep it as it is. */
  keep(uid: string): string | undefined {
    this.#mentioned.add(uid);
    return this.#pods.has(uid) ? undefined : `unknown workload ${uid}`;
  }

  async del(uid: string): Promise<void> {
    this.#mentioned.delete(uid);
    const managed = this.#pods.get(uid);
    if (managed) await this.#remove(managed);
  }

  /**
   * snapshot_sent: a pod not mentioned on this connection is removed only when its netns is gone; one whose netns
   * lives on keeps its proxy until the agent sends `del` (an agent restarted mid-repair may not know it yet).
   */
  async snapshotDone(): Promise<void> {
    this.#snapshotReceived = true;
    const unmentioned = [...this.#pods.values()].filter((m) => !this.#mentioned.has(m.pod.uid));
    const gone = unmentioned.filter((m) => !netnsInUse(m.inode));
    for (const m of unmentioned) {
      if (!gone.includes(m)) this.#opts.log.warn({ pod: podName(m), uid: m.pod.uid }, 'pod missing from the node agent\'s snapshot but its netns exists; keeping it until the agent deletes it');
    }
    await Promise.all(gone.map((m) => this.#remove(m)));
    this.#updateGauges();
  }

  pods(): PodStateView[] {
    return [...this.#pods.values()].map((m) => ({ uid: m.pod.uid, state: m.state, info: m.pod.info }));
  }

  /** The running proxy of `uid` (tests, admin). */
  proxy(uid: string): PodProxy | undefined {
    return this.#pods.get(uid)?.proxy;
  }

  notReadyReasons(): string[] {
    const out: string[] = [];
    if (!this.#snapshotReceived) out.push('waiting for the node agent\'s workload snapshot');
    for (const m of this.#pods.values()) {
      if (m.state === 'Pending') out.push(`pod ${m.pod.info.namespace}/${m.pod.info.name} pending${m.lastError ? `: ${m.lastError}` : ''}`);
    }
    return out;
  }

  /** Drains every pod (SIGTERM): listeners stop at once, connections get until `graceMs`. */
  async close(graceMs: number): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#pods.values()].map((m) => this.#remove(m, graceMs)));
  }

  async #start(managed: ManagedPod): Promise<string | undefined> {
    const generation = managed.generation;
    const sockets = new NetnsSocketFactory(managed.netnsFd);
    const podInputs: ProxyInputs = { ...this.#opts.inputs, sockets };
    const started: PodSidecarService[] = [];
    let proxy: PodProxy | undefined;
    try {
      proxy = await PodProxy.start(podInputs, managed.pod, { bindIp: '0.0.0.0' });
      for (const starter of this.#opts.extraServices ?? []) started.push(await starter(managed.pod, sockets, podInputs));
    } catch (err) {
      await proxy?.stop(0);
      await Promise.all(started.map((s) => s.stop()));
      const reason = describeError(err);
      if (managed.generation !== generation || this.#pods.get(managed.pod.uid) !== managed) return reason;
      managed.lastError = reason;
      this.#opts.log.warn({ pod: podName(managed), err: reason }, 'pod proxy failed to start; retrying');
      managed.retryTimer = setTimeout(() => {
        managed.retryTimer = undefined;
        if (this.#pods.get(managed.pod.uid) === managed && managed.state === 'Pending' && !this.#closed) void this.#start(managed);
      }, this.#opts.retryMs ?? 5000);
      managed.retryTimer.unref();
      this.#updateGauges();
      return reason;
    }
    if (managed.generation !== generation || this.#pods.get(managed.pod.uid) !== managed || this.#closed) {
      // Removed while starting: undo.
      await Promise.all(started.map((s) => s.stop()));
      await proxy.stop(0);
      return 'workload removed while its proxy was starting';
    }
    managed.proxy = proxy;
    managed.services = started;
    managed.state = 'Up';
    managed.lastError = undefined;
    this.#opts.log.info({ pod: podName(managed), uid: managed.pod.uid, identity: proxy.identity }, 'pod proxy started');
    this.#updateGauges();
    return undefined;
  }

  async #remove(managed: ManagedPod, graceMs = this.#opts.drainMs ?? 5000): Promise<void> {
    if (this.#pods.get(managed.pod.uid) === managed) this.#pods.delete(managed.pod.uid);
    managed.generation++;
    if (managed.retryTimer) clearTimeout(managed.retryTimer);
    const proxy = managed.proxy;
    const services = managed.services;
    managed.proxy = undefined;
    managed.services = [];
    this.#updateGauges();
    await Promise.all(services.map((s) => s.stop().catch(() => undefined)));
    if (proxy) {
      this.#opts.log.info({ pod: podName(managed), uid: managed.pod.uid }, 'pod proxy stopping');
      await proxy.stop(graceMs);
    }
    closeFd(managed.netnsFd);
  }

  #updateGauges(): void {
    let up = 0;
    let pending = 0;
    for (const m of this.#pods.values()) {
      if (m.state === 'Up') up++;
      else pending++;
    }
    this.#opts.metrics.activeProxies.set(up);
    this.#opts.metrics.pendingProxies.set(pending);
  }
}

function podName(m: ManagedPod): string {
  return `${m.pod.info.namespace}/${m.pod.info.name}`;
}

function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
