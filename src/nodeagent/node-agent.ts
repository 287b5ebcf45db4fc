// The node agent: watches its node's pods, installs capture rules in each enrolled pod's netns, hands the pod
// to ztunnel over ZDS, reports progress in the redirection annotation, and repairs drift on a timer.
//
// Invariants:
// - Fail closed: rules go in before ztunnel hears of the pod, so an enrolled pod never talks around the mesh;
//   with no ztunnel listening its captured connections are refused.
// - Level-triggered: every pass compares the whole desired set with what is installed; events only wake it up.
// - A restart adopts a pod whose installed table carries the current version comment and whose reply route is
//   present: nothing is re-applied, so healthy pods are not touched.
// - ztunnel gets its snapshot only after the first complete pass: an earlier one would miss pods not captured
//   yet (say, one whose rules were flushed and are being re-installed). ztunnel keeps a pod the snapshot does not
//   name while its netns exists, so a pod leaves ztunnel on an explicit del: the snapshot carries one for every
//   pod this run released (including one un-enrolled while the agent was down).
import { existsSync } from 'node:fs';
import { KINDS, type KubeObject, type KindInfo } from '../api/index.js';
import { describeError, MeshError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { ObjectInformer, type ObjectSource } from '../lib/object-informer.js';
import { NETNS_DIR, netnsInode, setNetnsSysctl } from '../platform/index.js';
import { REDIRECTION_ANNOTATION, viewPod, type PodView, type RedirectionState } from './enrollment.js';
import { installPodRules, readPodRules, removePodRules } from './pod-rules.js';
import { renderRedirectRules } from './redirect-rules.js';
import { ZdsServer, type ZdsWorkload } from './zds-server.js';
import { ReconcileLoop } from '../lib/reconcile-loop.js';

/** The control-plane calls the agent makes (the ApiClient satisfies this structurally). */
export interface NodeAgentApi extends ObjectSource<KubeObject> {
  patch(type: KindInfo, namespace: string | undefined, name: string, mergePatch: unknown): Promise<KubeObject>;
}

export interface NodeAgentConfig {
  nodeName: string;
  api: NodeAgentApi;
  /** Where the ZDS listener lives (ztunnel connects here). */
  zdsSocketPath: string;
  log: Logger;
  /** Drift check period; default 5000 ms (so a flushed rule set is back within 10 s). */
  repairIntervalMs?: number;
}

export class NodeAgentError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NODEAGENT', message, options);
  }
}

const POD_KIND = kindInfo('Pod');
const NAMESPACE_KIND = kindInfo('Namespace');

function kindInfo(kind: string): KindInfo {
  const info = KINDS.find((k) => k.kind === kind);
  if (!info) throw new NodeAgentError(`kind ${kind} is not registered`);
  return info;
}

/** What the agent has done for one captured pod. */
interface CapturedPod {
  view: PodView;
  /** Identity of the netns the rules were put in: a pod whose netns was re-created must be captured again. */
  inode: number;
  /** The table listing right after install (or adoption): the baseline drift is measured against. */
  baseline: string;
  /** ztunnel acknowledged this pod since its rules were installed. */
  acked: boolean;
  /** An add is queued or in flight on the current ZDS connection. */
  announced: boolean;
}

export interface NodeAgentStatus {
  ztunnelConnected: boolean;
  captured: Array<{ namespace: string; name: string; netns: string; acked: boolean }>;
}

export class NodeAgent {
  private readonly captured = new Map<string, CapturedPod>();
  /** Pods this run released from capture that a ztunnel may still serve: every snapshot tells ztunnel to drop them. */
  private readonly released = new Set<string>();
  private readonly pods: ObjectInformer<KubeObject>;
  private readonly namespaces: ObjectInformer<KubeObject>;
  private readonly zds: ZdsServer;
  private readonly repairTimer: NodeJS.Timeout;
  private readonly expectedComment = renderRedirectRules().comment;
  private retryTimer: NodeJS.Timeout | undefined;
  private repairDue = false;
  private stopped = false;
  private knowsPods!: () => void;
  private readonly loop = new ReconcileLoop(
    () => {
      const repair = this.repairDue;
      this.repairDue = false;
      return this.reconcile(repair);
    },
    (err) => this.cfg.log.error({ err: describeError(err) }, 'reconcile pass failed; retrying on the next one'),
  );

  constructor(private readonly cfg: NodeAgentConfig) {
    const log = cfg.log;
    this.zds = new ZdsServer({
      socketPath: cfg.zdsSocketPath,
      log: log.child({ sub: 'zds' }),
      snapshot: () => this.snapshot(),
      released: () => [...this.released],
      onAddResult: (uid, error) => this.onAddResult(uid, error),
      snapshotReady: new Promise<void>((resolve) => (this.knowsPods = resolve)),
      onConnectionChange: (up) => {
        if (!up) for (const c of this.captured.values()) c.announced = false;
        this.schedule();
      },
    });
    const onChange = () => this.schedule();
    this.pods = new ObjectInformer(cfg.api, POD_KIND, { log, onChange });
    this.namespaces = new ObjectInformer(cfg.api, NAMESPACE_KIND, { log, onChange });
    this.repairTimer = setInterval(() => {
      this.repairDue = true;
      this.schedule();
    }, cfg.repairIntervalMs ?? 5000);
    log.info({ zds: cfg.zdsSocketPath }, 'node agent started');
  }

  /** Stops watching and listening; installed rules stay (pods remain captured, fail closed). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.repairTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.zds.close();
    await Promise.all([this.pods.stop(), this.namespaces.stop()]);
    await this.loop.stop();
  }

  status(): NodeAgentStatus {
    return {
      ztunnelConnected: this.zds.connected,
      captured: [...this.captured.values()].map((c) => ({ namespace: c.view.namespace, name: c.view.name, netns: c.view.netns ?? '', acked: c.acked })),
    };
  }

  /** Runs a reconcile pass soon; passes never overlap (a request during one runs another after it). */
  private schedule(): void {
    if (!this.stopped) this.loop.request();
  }

  private snapshot(): ZdsWorkload[] {
    const out: ZdsWorkload[] = [];
    for (const c of this.captured.values()) {
      c.announced = true;
      out.push(workloadOf(c.view));
    }
    return out;
  }

  private onAddResult(uid: string, error: string | undefined): void {
    const c = this.captured.get(uid);
    if (!c) return;
    if (error) {
      this.cfg.log.warn({ pod: `${c.view.namespace}/${c.view.name}`, error }, 'ztunnel did not take the pod');
      c.acked = false;
      c.announced = false;
    } else {
      c.acked = true;
    }
    this.schedule();
  }

  /** The pods of this node, by uid (only once both caches are synced: never act on a partial view). */
  private desired(): Map<string, PodView> | undefined {
    if (!this.pods.synced || !this.namespaces.synced) return undefined;
    const out = new Map<string, PodView>();
    for (const pod of this.pods.items.values()) {
      const ns = this.namespaces.items.get(pod.metadata.namespace ?? 'default');
      const view = viewPod(pod, ns, this.cfg.nodeName);
      if (view) out.set(view.uid, view);
    }
    return out;
  }

  private async reconcile(repair: boolean): Promise<void> {
    const desired = this.desired();
    if (!desired) return;
    // Pods that left this node or were un-enrolled: tell ztunnel, remove the rules, clear the annotation.
    for (const [uid, c] of [...this.captured]) {
      const view = desired.get(uid);
      if (view?.enrolled && view.netns === c.view.netns) continue;
      this.captured.delete(uid);
      this.release(uid);
      if (c.view.netns && netnsExists(c.view.netns)) await removePodRules(c.view.netns);
      if (view?.redirection !== undefined) await this.annotate(view, null);
      this.cfg.log.info({ pod: `${c.view.namespace}/${c.view.name}` }, 'pod released from capture');
    }
    for (const view of desired.values()) {
      if (!view.netns || !netnsExists(view.netns)) continue;
      try {
        await this.reconcilePod(view, repair);
      } catch (err) {
        // One pod's failure (its netns vanishing mid-pass, say) must not hold up the others.
        this.cfg.log.warn({ pod: `${view.namespace}/${view.name}`, err: describeError(err) }, 'could not reconcile pod; retrying');
        this.retrySoon();
      }
    }
    // A pod gone from the node has no netns left for ztunnel to keep it by: no del needed any more.
    for (const uid of this.released) if (!desired.has(uid)) this.released.delete(uid);
    this.knowsPods();
  }

  private release(uid: string): void {
    this.released.add(uid);
    this.zds.del(uid);
  }

  private retrySoon(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, 1000);
  }

  private async reconcilePod(view: PodView, repair: boolean): Promise<void> {
    if (view.enrolled) {
      await this.capture(view, repair);
      return;
    }
    // Rules of a pod we do not capture (left over from before a restart, or added by hand) go away.
    if (repair || view.redirection !== undefined) {
      const installed = await readPodRules(view.netns!);
      if (installed.listing !== undefined || installed.replyRouteOk) await removePodRules(view.netns!);
      if (view.redirection !== undefined) {
        // Captured by an earlier run (it carries the annotation): ztunnel may still serve it.
        if (!this.released.has(view.uid)) this.release(view.uid);
        await this.annotate(view, null);
      }
    }
  }

  /** Ensures one enrolled pod is captured: rules installed (or adopted), ztunnel told, annotation current. */
  private async capture(view: PodView, repair: boolean): Promise<void> {
    const netns = view.netns!;
    const pod = `${view.namespace}/${view.name}`;
    const inode = netnsInode(`${NETNS_DIR}/${netns}`);
    let c = this.captured.get(view.uid);
    if (c && c.inode !== inode) {
      this.cfg.log.info({ pod, netns }, 'pod netns was re-created; capturing it again');
      this.captured.delete(view.uid);
      this.zds.del(view.uid);
      c = undefined;
    }
    if (!c) {
      const installed = await readPodRules(netns);
      if (installed.listing?.includes(`comment "${this.expectedComment}"`) && installed.replyRouteOk) {
        // Left by a previous agent run and intact: adopt without touching it.
        c = { view, inode, baseline: installed.listing, acked: view.redirection === 'enabled', announced: false };
        this.cfg.log.info({ pod, netns }, 'adopted installed capture rules');
      } else {
        const baseline = await installPodRules(netns);
        c = { view, inode, baseline, acked: false, announced: false };
        this.cfg.log.info({ pod, netns }, 'capture rules installed');
      }
      this.captured.set(view.uid, c);
      this.released.delete(view.uid);
      allowListenerHandover(netns, pod, this.cfg.log);
    } else {
      c.view = view;
      if (repair) {
        const installed = await readPodRules(netns);
        if (installed.listing !== c.baseline || !installed.replyRouteOk) {
          this.cfg.log.warn({ pod, netns, tableMissing: installed.listing === undefined, routeOk: installed.replyRouteOk }, 'capture rules drifted; re-applying');
          c.baseline = await installPodRules(netns);
        }
      }
    }
    if (!c.announced && this.zds.connected) {
      c.announced = true;
      this.zds.add(workloadOf(view));
    }
    const want: RedirectionState = c.acked ? 'enabled' : 'pending';
    if (view.redirection !== want) await this.annotate(view, want);
  }

  private async annotate(view: PodView, value: RedirectionState | null): Promise<void> {
    try {
      await this.cfg.api.patch(POD_KIND, view.namespace, view.name, { metadata: { annotations: { [REDIRECTION_ANNOTATION]: value } } });
      view.redirection = value ?? undefined;
    } catch (err) {
      // A pod deleted meanwhile needs no annotation; anything else is retried by the next pass.
      this.cfg.log.warn({ pod: `${view.namespace}/${view.name}`, err: describeError(err) }, 'could not update the redirection annotation');
    }
  }
}

/**
 * `net.ipv4.tcp_migrate_req=1` in the pod netns: when ztunnel restarts, the new process listens on the pod's ports
 * next to the old one (SO_REUSEPORT) and the old one then closes its listeners; with this setting the connections
 * still waiting in the old listener's accept queue move to the new listener instead of being reset. Best effort: a
 * kernel without it (before 5.14) only loses that handful of connections on a restart.
 */
function allowListenerHandover(netns: string, pod: string, log: Logger): void {
  try {
    setNetnsSysctl(netns, 'ipv4/tcp_migrate_req', '1');
  } catch (err) {
    log.warn({ pod, netns, err: describeError(err) }, 'cannot enable tcp_migrate_req; a ztunnel restart may reset a few new connections');
  }
}

function netnsExists(name: string): boolean {
  return existsSync(`${NETNS_DIR}/${name}`);
}

function workloadOf(view: PodView): ZdsWorkload {
  return {
    uid: view.uid,
    name: view.name,
    namespace: view.namespace,
    serviceAccount: view.serviceAccount,
    netnsPath: `${NETNS_DIR}/${view.netns}`,
  };
}
