// The node agent: watches its node's pods, installs capture rules in each enrolled pod's netns, hands the pod
// to ztunnel over ZDS, reports progress in the redirection annotation, keeps the node guard (node-guard.ts) in the
// node's own netns, and repairs drift the moment it happens (an `nft monitor` per captured pod; a timer backstops).
//
// Invariants:
// - Fail closed: rules go in before ztunnel hears of the pod, so an enrolled pod never talks around the mesh;
//   with no ztunnel listening its captured connections are refused.
// - Level-triggered: every pass compares the whole desired set with what is installed; events only wake it up.
// - A restart adopts a pod whose installed table carries the current version comment and whose reply route is
//   present: nothing is re-applied, so healthy pods are not touched.
// - Event-driven repair: a change to a captured pod's `inet ambit` table (root in the pod flushing its rule set)
//   re-applies the rules within tens of milliseconds; meanwhile the node guard refuses the plaintext that would
//   otherwise leak. Changes to other tables of the pod are left to the guard (a pod may run its own firewall).
//   Cost: one `nft monitor` process per captured pod.
// - ztunnel gets its snapshot only after the first complete pass: an earlier one would miss pods not captured
//   yet (say, one whose rules were flushed and are being re-installed). ztunnel keeps a pod the snapshot does not
//   name while its netns exists, so a pod leaves ztunnel on an explicit del: the snapshot carries one for every
//   pod this run released (including one un-enrolled while the agent was down).
import { existsSync } from 'node:fs';
import { KINDS, type KubeObject, type KindInfo } from '../api/index.js';
import { describeError, MeshError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { ObjectInformer, type ObjectSource } from '../lib/object-informer.js';
import { applyNft, listNftTable, NETNS_DIR, netnsInode, NftMonitor, setNetnsSysctl } from '../platform/index.js';
import { isEnrolled, viewPod, type PodView, type RedirectionState } from './enrollment.js';
import { CniReportServer } from './cni-server.js';
import { installCniPlugin, type CniInstallConfig } from './cni-install.js';
import { GUARD_TABLE_FAMILY, GUARD_TABLE_NAME, renderNodeGuard, type GuardState } from './node-guard.js';
import { plaintextPolicy } from './plaintext-policy.js';
import { installPodRules, readPodRules, removePodRules, restorePodTable } from './pod-rules.js';
import { renderRedirectRules, RULES_TABLE_FAMILY, RULES_TABLE_NAME } from './redirect-rules.js';
import { ZdsServer, type ZdsWorkload } from './zds-server.js';
import { ReconcileLoop } from '../lib/reconcile-loop.js';
import { REDIRECTION_ANNOTATION } from '../lib/mesh-contract.js';

/** The control-plane calls the agent makes (the ApiClient satisfies this structurally). */
export interface NodeAgentApi extends ObjectSource<KubeObject> {
  patch(type: KindInfo, namespace: string | undefined, name: string, mergePatch: unknown): Promise<KubeObject>;
}

interface NodeAgentConfig {
  nodeName: string;
  api: NodeAgentApi;
  /** Where the ZDS listener lives (ztunnel connects here). */
  zdsSocketPath: string;
  log: Logger;
  /** Backstop drift check period (rule changes are also repaired as they happen); default 5000 ms. */
  repairIntervalMs?: number;
  /**
   * Learn pods' netns from the ambit-cni chained plugin (Kubernetes) instead of the sandbox's annotation: listen for
   * its reports on `socketPath` and install it into the node's CNI config.
   */
  cni?: CniInstallConfig;
}

export class NodeAgentError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NODEAGENT', message, options);
  }
}

const POD_KIND = kindInfo('Pod');
const NAMESPACE_KIND = kindInfo('Namespace');
const PEER_AUTHENTICATION_KIND = kindInfo('PeerAuthentication');
/** A monitor that ended while its pod is still captured is restarted after this long. */
const MONITOR_RESTART_MS = 500;
/** An `nft monitor` event line that touches the agent's in-pod table. */
const OWN_TABLE_EVENT = new RegExp(`\\b${RULES_TABLE_FAMILY} ${RULES_TABLE_NAME}(\\s|$)`);
const OWN_TABLE_DELETED = `delete table ${RULES_TABLE_FAMILY} ${RULES_TABLE_NAME}`;
const OWN_TABLE_ADDED = `add table ${RULES_TABLE_FAMILY} ${RULES_TABLE_NAME}`;

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
  /** Watches the pod's nftables for changes (undefined while it is being restarted). */
  monitor: NftMonitor | undefined;
}

interface NodeAgentStatus {
  ztunnelConnected: boolean;
  captured: Array<{ namespace: string; name: string; netns: string; acked: boolean }>;
}

export class NodeAgent {
  readonly #captured = new Map<string, CapturedPod>();
  /** Pods this run released from capture that a ztunnel may still serve: every snapshot tells ztunnel to drop them. */
  readonly #released = new Set<string>();
  readonly #pods: ObjectInformer<KubeObject>;
  readonly #namespaces: ObjectInformer<KubeObject>;
  readonly #peerAuthentications: ObjectInformer<KubeObject>;
  readonly #zds: ZdsServer;
  readonly #repairTimer: NodeJS.Timeout;
  readonly #expectedComment = renderRedirectRules().comment;
  #retryTimer: NodeJS.Timeout | undefined;
  #repairDue = false;
  /** Captured pods whose in-pod table changed: uid → the table is known to be gone (re-apply without reading). */
  #changed = new Map<string, boolean>();
  /** The guard text last applied and its listing right after (the baseline its drift is measured against). */
  #guardApplied: { text: string; listing: string } | undefined;
  #stopped = false;
  #knowsPods!: () => void;
  /** With `cni` configured: the plugin's reports (undefined until its socket listens: no pass runs before). */
  #cniReports: CniReportServer | undefined;
  #cniInstalledIn: string | undefined;
  readonly #loop = new ReconcileLoop(
    () => {
      const repair = this.#repairDue;
      this.#repairDue = false;
      return this.#reconcile(repair);
    },
    (err) => this.#cfg.log.error({ err: describeError(err) }, 'reconcile pass failed; retrying on the next one'),
  );

  readonly #cfg: NodeAgentConfig;

  constructor(cfg: NodeAgentConfig) {
    this.#cfg = cfg;
    const log = cfg.log;
    this.#zds = new ZdsServer({
      socketPath: cfg.zdsSocketPath,
      log: log.child({ sub: 'zds' }),
      snapshot: () => this.#snapshot(),
      released: () => [...this.#released],
      onAddResult: (uid, error) => this.#onAddResult(uid, error),
      snapshotReady: new Promise<void>((resolve) => (this.#knowsPods = resolve)),
      onConnectionChange: (up) => {
        if (!up) for (const c of this.#captured.values()) c.announced = false;
        this.#schedule();
      },
    });
    const onChange = () => this.#schedule();
    // Every pod of the cluster, not only this node's (Istio's agent uses a spec.nodeName field selector): the node
    // guard must know every enrolled pod's address to refuse plaintext between two of them from any node.
    this.#pods = new ObjectInformer(cfg.api, POD_KIND, { log, onChange });
    this.#namespaces = new ObjectInformer(cfg.api, NAMESPACE_KIND, { log, onChange });
    this.#peerAuthentications = new ObjectInformer(cfg.api, PEER_AUTHENTICATION_KIND, { log, onChange });
    this.#repairTimer = setInterval(() => {
      this.#repairDue = true;
      this.#installCni();
      this.#schedule();
    }, cfg.repairIntervalMs ?? 5000);
    if (cfg.cni) {
      const cni = cfg.cni;
      void CniReportServer.start(cni.socketPath, log.child({ sub: 'cni' }), onChange).then(
        (server) => {
          if (this.#stopped) return server.close();
          this.#cniReports = server;
          this.#installCni();
          this.#schedule();
        },
        (err) => log.error({ socket: cni.socketPath, err: describeError(err) }, 'cannot listen for CNI reports; no pod will be captured'),
      );
    }
    log.info({ zds: cfg.zdsSocketPath, cni: cfg.cni?.socketPath }, 'node agent started');
  }

  /** Puts the plugin into the node's CNI config (again, if something rewrote it); waits for a primary conflist. */
  #installCni(): void {
    if (!this.#cfg.cni || !this.#cniReports) return;
    try {
      const path = installCniPlugin(this.#cfg.cni);
      if (path && path !== this.#cniInstalledIn) this.#cfg.log.info({ conflist: path }, 'ambit-cni chained into the primary CNI config');
      else if (!path && !this.#cniInstalledIn) this.#cfg.log.info({ confDir: this.#cfg.cni.confDir }, 'no CNI config yet; waiting for the primary plugin to write one');
      this.#cniInstalledIn = path;
    } catch (err) {
      this.#cfg.log.warn({ err: describeError(err) }, 'cannot install the CNI plugin; retrying');
    }
  }

  /** Stops watching and listening; installed rules and the guard stay (pods remain captured, fail closed). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#repairTimer);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#zds.close();
    this.#cniReports?.close();
    await Promise.all([this.#pods.stop(), this.#namespaces.stop(), this.#peerAuthentications.stop()]);
    await this.#loop.stop();
    for (const c of this.#captured.values()) c.monitor?.close();
  }

  status(): NodeAgentStatus {
    return {
      ztunnelConnected: this.#zds.connected,
      captured: [...this.#captured.values()].map((c) => ({ namespace: c.view.namespace, name: c.view.name, netns: c.view.netns ?? '', acked: c.acked })),
    };
  }

  /** Runs a reconcile pass soon; passes never overlap (a request during one runs another after it). */
  #schedule(): void {
    if (!this.#stopped) this.#loop.request();
  }

  #snapshot(): ZdsWorkload[] {
    const out: ZdsWorkload[] = [];
    for (const c of this.#captured.values()) {
      c.announced = true;
      out.push(workloadOf(c.view));
    }
    return out;
  }

  #onAddResult(uid: string, error: string | undefined): void {
    const c = this.#captured.get(uid);
    if (!c) return;
    if (error) {
      this.#cfg.log.warn({ pod: `${c.view.namespace}/${c.view.name}`, error }, 'ztunnel did not take the pod');
      c.acked = false;
      c.announced = false;
    } else {
      c.acked = true;
    }
    this.#schedule();
  }

  /** The pods of this node, by uid (only once every cache is synced: never act on a partial view). */
  #desired(): Map<string, PodView> | undefined {
    if (!this.#pods.synced || !this.#namespaces.synced || !this.#peerAuthentications.synced) return undefined;
    if (this.#cfg.cni && !this.#cniReports) return undefined;
    const out = new Map<string, PodView>();
    for (const pod of this.#pods.items.values()) {
      const ns = this.#namespaces.items.get(pod.metadata.namespace ?? 'default');
      const view = viewPod(pod, ns, this.#cfg.nodeName);
      // On Kubernetes the netns is the one the CNI plugin reported, whatever the pod's annotations say.
      if (view && this.#cniReports) view.netns = this.#cniReports.netnsOf(view.namespace, view.name);
      if (view) out.set(view.uid, view);
    }
    return out;
  }

  async #reconcile(repair: boolean): Promise<void> {
    const desired = this.#desired();
    if (!desired) return;
    const changed = this.#changed;
    this.#changed = new Map();
    // The guard first: a pod enrolled just now is protected before its in-pod rules go in.
    await this.#reconcileGuard(repair);
    // Pods that left this node or were un-enrolled: tell ztunnel, remove the rules, clear the annotation.
    for (const [uid, c] of [...this.#captured]) {
      const view = desired.get(uid);
      if (view?.enrolled && view.netns === c.view.netns) continue;
      this.#captured.delete(uid);
      c.monitor?.close();
      this.#release(uid);
      if (c.view.netns && netnsExists(c.view.netns)) await removePodRules(c.view.netns);
      if (view?.redirection !== undefined) await this.#annotate(view, null);
      this.#cfg.log.info({ pod: `${c.view.namespace}/${c.view.name}` }, 'pod released from capture');
    }
    // Pods whose rules just changed first: their repair must not wait behind other pods' work.
    const order = [...desired.values()].sort((a, b) => Number(changed.has(b.uid)) - Number(changed.has(a.uid)));
    for (const view of order) {
      if (!view.netns || !netnsExists(view.netns)) continue;
      try {
        await this.#reconcilePod(view, repair || changed.has(view.uid), changed.get(view.uid) === true);
      } catch (err) {
        // One pod's failure (its netns vanishing mid-pass, say) must not hold up the others.
        this.#cfg.log.warn({ pod: `${view.namespace}/${view.name}`, err: describeError(err) }, 'could not reconcile pod; retrying');
        this.#retrySoon();
      }
    }
    // A pod gone from the node has no netns left for ztunnel to keep it by: no del needed any more.
    for (const uid of this.#released) if (!desired.has(uid)) this.#released.delete(uid);
    this.#knowsPods();
  }

  #release(uid: string): void {
    this.#released.add(uid);
    this.#zds.del(uid);
  }

  /**
   * Applies the node guard when what it should hold changed (atomically: the table is replaced in one transaction),
   * or when `repair` finds it drifted. A failure is retried; the previous guard stays in force meanwhile.
   */
  async #reconcileGuard(repair: boolean): Promise<void> {
    const text = renderNodeGuard(this.#guardState());
    try {
      if (this.#guardApplied?.text === text) {
        if (!repair) return;
        const listing = await listNftTable(null, GUARD_TABLE_FAMILY, GUARD_TABLE_NAME);
        if (listing === this.#guardApplied.listing) return;
        this.#cfg.log.warn({ tableMissing: listing === undefined }, 'node guard drifted; re-applying');
      }
      await applyNft(null, text);
      this.#guardApplied = { text, listing: (await listNftTable(null, GUARD_TABLE_FAMILY, GUARD_TABLE_NAME)) ?? '' };
    } catch (err) {
      this.#cfg.log.warn({ err: describeError(err) }, 'could not apply the node guard; retrying');
      this.#guardApplied = undefined;
      this.#retrySoon();
    }
  }

  /** What the guard holds: every enrolled pod of the cluster with an IPv4 address, and this node's pods' policies. */
  #guardState(): GuardState {
    const state: GuardState = { meshPods: [], strictPods: [], plaintextPorts: [], strictPorts: [] };
    for (const pod of this.#pods.items.values()) {
      const status = (pod.status ?? {}) as { podIP?: string };
      const spec = (pod.spec ?? {}) as { nodeName?: string; hostNetwork?: boolean };
      // A host-network pod has the node's address: never a mesh pod address.
      if (!status.podIP || !isIPv4(status.podIP) || spec.hostNetwork) continue;
      const namespace = pod.metadata.namespace ?? 'default';
      if (!isEnrolled(pod, this.#namespaces.items.get(namespace))) continue;
      state.meshPods.push(status.podIP);
      if (spec.nodeName !== this.#cfg.nodeName) continue;
      const policy = plaintextPolicy(namespace, pod.metadata.labels ?? {}, this.#peerAuthentications.items.values());
      if (policy.strict) state.strictPods.push(status.podIP);
      for (const port of policy.exceptPorts) (policy.strict ? state.plaintextPorts : state.strictPorts).push([status.podIP, port]);
    }
    return state;
  }

  #retrySoon(): void {
    if (this.#retryTimer || this.#stopped) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#schedule();
    }, 1000);
  }

  async #reconcilePod(view: PodView, repair: boolean, tableGone: boolean): Promise<void> {
    if (view.enrolled) {
      await this.#capture(view, repair, tableGone);
      return;
    }
    // Rules of a pod we do not capture (left over from before a restart, or added by hand) go away.
    if (repair || view.redirection !== undefined) {
      const installed = await readPodRules(view.netns!);
      if (installed.listing !== undefined || installed.replyRouteOk) await removePodRules(view.netns!);
      if (view.redirection !== undefined) {
        // Captured by an earlier run (it carries the annotation): ztunnel may still serve it.
        if (!this.#released.has(view.uid)) this.#release(view.uid);
        await this.#annotate(view, null);
      }
    }
  }

  /**
   * Ensures one enrolled pod is captured: rules installed (or adopted) and watched, ztunnel told, annotation current.
   * `tableGone`: the monitor saw the table deleted, so it is re-applied without reading it back first.
   */
  async #capture(view: PodView, repair: boolean, tableGone: boolean): Promise<void> {
    const netns = view.netns!;
    const pod = `${view.namespace}/${view.name}`;
    const inode = netnsInode(`${NETNS_DIR}/${netns}`);
    let c = this.#captured.get(view.uid);
    if (c && c.inode !== inode) {
      this.#cfg.log.info({ pod, netns }, 'pod netns was re-created; capturing it again');
      this.#captured.delete(view.uid);
      c.monitor?.close();
      this.#zds.del(view.uid);
      c = undefined;
    }
    if (!c) {
      // Watch before installing: a change made right after the install is not missed.
      const monitor = this.#watchPod(view.uid, netns);
      const installed = await readPodRules(netns);
      if (installed.listing?.includes(`comment "${this.#expectedComment}"`) && installed.replyRouteOk) {
        // Left by a previous agent run and intact: adopt without touching it.
        c = { view, inode, baseline: installed.listing, acked: view.redirection === 'enabled', announced: false, monitor };
        this.#cfg.log.info({ pod, netns }, 'adopted installed capture rules');
      } else {
        let baseline;
        try {
          baseline = await installPodRules(netns);
        } catch (err) {
          monitor.close();
          throw err;
        }
        c = { view, inode, baseline, acked: false, announced: false, monitor };
        this.#cfg.log.info({ pod, netns }, 'capture rules installed');
      }
      this.#captured.set(view.uid, c);
      this.#released.delete(view.uid);
      allowListenerHandover(netns, pod, this.#cfg.log);
    } else {
      c.view = view;
      if (!c.monitor || c.monitor.closed) c.monitor = this.#watchPod(view.uid, netns);
      if (tableGone) {
        this.#cfg.log.warn({ pod, netns }, 'capture rules were deleted; re-applying');
        c.baseline = await restorePodTable(netns);
      } else if (repair) {
        const installed = await readPodRules(netns);
        if (installed.listing !== c.baseline || !installed.replyRouteOk) {
          this.#cfg.log.warn({ pod, netns, tableMissing: installed.listing === undefined, routeOk: installed.replyRouteOk }, 'capture rules drifted; re-applying');
          c.baseline = await installPodRules(netns);
        }
      }
    }
    if (!c.announced && this.#zds.connected) {
      c.announced = true;
      this.#zds.add(workloadOf(view));
    }
    const want: RedirectionState = c.acked ? 'enabled' : 'pending';
    if (view.redirection !== want) await this.#annotate(view, want);
  }

  /**
   * Starts the `nft monitor` of a captured pod. A transaction touching the agent's table marks the pod changed (and
   * whether it ended with the table deleted) and wakes the loop; a monitor that dies is restarted while the pod is
   * still captured, with a check of its rules, since changes made meanwhile were not seen.
   */
  #watchPod(uid: string, netns: string): NftMonitor {
    const monitor: NftMonitor = new NftMonitor(netns, {
      transaction: (lines) => {
        let touched = false;
        let gone = false;
        for (const line of lines) {
          if (!OWN_TABLE_EVENT.test(line)) continue;
          touched = true;
          if (line === OWN_TABLE_DELETED) gone = true;
          else if (line.startsWith(OWN_TABLE_ADDED)) gone = false;
        }
        if (!touched || this.#captured.get(uid)?.monitor !== monitor) return;
        this.#changed.set(uid, gone || this.#changed.get(uid) === true);
        this.#schedule();
      },
      exit: (reason) => {
        const c = this.#captured.get(uid);
        if (c?.monitor !== monitor) return;
        c.monitor = undefined;
        this.#cfg.log.warn({ pod: `${c.view.namespace}/${c.view.name}`, netns, reason }, 'rule monitor ended; restarting it');
        setTimeout(() => {
          if (this.#stopped || this.#captured.get(uid) !== c) return;
          this.#changed.set(uid, this.#changed.get(uid) === true);
          this.#schedule();
        }, MONITOR_RESTART_MS);
      },
    });
    return monitor;
  }

  async #annotate(view: PodView, value: RedirectionState | null): Promise<void> {
    try {
      await this.#cfg.api.patch(POD_KIND, view.namespace, view.name, { metadata: { annotations: { [REDIRECTION_ANNOTATION]: value } } });
      view.redirection = value ?? undefined;
    } catch (err) {
      // A pod deleted meanwhile needs no annotation; anything else is retried by the next pass.
      this.#cfg.log.warn({ pod: `${view.namespace}/${view.name}`, err: describeError(err) }, 'could not update the redirection annotation');
    }
  }
}

function isIPv4(ip: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(ip);
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
