// The waypoint controller: route status (route-status.ts), and each Gateway of class istio-waypoint — or of an
// ingress class (istio, ambit), which runs the same binary serving its listeners — gets a waypoint Pod (running `ambit waypoint run`,
// service account = Gateway name) — on Kubernetes a Deployment named after the Gateway, as Istio makes, so it can be
// scaled and is rolled on changes — and a Service named after the Gateway, and Gateway status as Istio writes it
// (Accepted; Programmed once the Service has an address and a waypoint pod is ready; status.addresses = the
// Service's ClusterIP). Level-triggered over Gateways, Pods and Services; objects it made whose Gateway is gone
// (by owner uid) are deleted. A crashed waypoint process is restarted by its pod's restartPolicy (Always); a deleted
// pod is recreated on the next pass.
// An ingress Gateway's Service is `<gateway>-istio` (Istio's name) with one port per listener port; its status
// also counts each listener's attached routes and says whether its certificate resolved.
import { createHash } from 'node:crypto';
import type { Condition, KubeObject } from '../../api/meta.js';
import { describeError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { ReconcileLoop } from '../../lib/reconcile-loop.js';
import {
  GATEWAY_NAME_LABEL, PORT_HBONE, WAYPOINT_GATEWAY_CLASS, WAYPOINT_MANAGED_BY_MESH, WAYPOINT_MANAGED_LABEL,
} from '../../lib/mesh-contract.js';
import type { Store, Watch } from '../store/store.js';
import { installObjectPath, type ApiClient } from '../client/index.js';
import { ROUTE_KINDS, routeParentsStatus } from './route-status.js';
import { attachRoute, ingressListeners, isIngressGateway, listenerCertificate, refersTo, servedListeners } from '../ambient/ingress-attachment.js';

const GATEWAY_API_VERSION = 'gateway.networking.k8s.io/v1';
/** An ingress Gateway's Service is `<gateway>-istio`, as Istio names it. */
const INGRESS_SERVICE_SUFFIX = 'istio';
const STATUS_PORT = 15021;
/** Where Kubernetes waypoint pods get their projected token and the mesh root (Istio's paths and ConfigMap). */
const TOKEN_DIR = '/var/run/secrets/tokens';
const ROOT_CERT_DIR = '/var/run/secrets/istio';
export const ROOT_CERT_CONFIGMAP = 'istio-ca-root-cert';
const CONTAINER_NAME = 'istio-proxy';

interface WaypointControllerOptions {
  store: Store;
  log: Logger;
  /** argv that starts this `ambit` build: [node executable, main.js]. */
  selfCommand: readonly string[];
  /** The control plane's data dir, which waypoint pods share (root certificate, node tokens). */
  dataDir: string;
  /** `host:port` of the control plane's xDS + CA endpoint as pods reach it. */
  xdsAddress: string;
  trustDomain: string;
  /**
   * On Kubernetes: waypoint pods run this image (entry point `ambit`) with their own service account, authenticate
   * with a projected token (audience istio-ca) and trust the root from ConfigMap istio-ca-root-cert, as Istio's
   * waypoints do; no data dir is shared.
   */
  kubernetes?: { image: string; api: ApiClient };
}

type Json = Record<string, unknown>;
const GROUP_OF: Record<string, string> = {
  Gateway: 'gateway.networking.k8s.io', HTTPRoute: 'gateway.networking.k8s.io', GRPCRoute: 'gateway.networking.k8s.io', TCPRoute: 'gateway.networking.k8s.io',
  Pod: '', Service: '', Namespace: '', ServiceAccount: '',
};
const kindOf = (kind: string) => ({ group: GROUP_OF[kind] ?? '', kind });
const keyOf = (kind: string, namespace: string, name: string) => ({ ...kindOf(kind), namespace, name });
const rec = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const recs = (v: unknown): Json[] => (Array.isArray(v) ? v.filter((x): x is Json => typeof x === 'object' && x !== null) : []);

/** `<gateway>-<5 characters of its uid's hash>`: stable for one Gateway, new for a re-created one. */
function waypointPodName(gw: KubeObject): string {
  const h = createHash('sha256').update(gw.metadata.uid ?? gw.metadata.name).digest();
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += alphabet[h[i]! % alphabet.length];
  return `${gw.metadata.name.slice(0, 57)}-${suffix}`;
}

function ownerRef(gw: KubeObject): Json {
  return { apiVersion: GATEWAY_API_VERSION, kind: 'Gateway', name: gw.metadata.name, uid: gw.metadata.uid ?? '', controller: true };
}

function managedLabels(gw: KubeObject): Record<string, string> {
  return { [GATEWAY_NAME_LABEL]: gw.metadata.name, [WAYPOINT_MANAGED_LABEL]: WAYPOINT_MANAGED_BY_MESH };
}

function isReady(pod: KubeObject): boolean {
  const st = rec(pod.status);
  if (st['phase'] !== 'Running') return false;
  const conds = Array.isArray(st['conditions']) ? (st['conditions'] as Json[]) : [];
  const ready = conds.find((c) => c['type'] === 'Ready');
  return ready ? ready['status'] === 'True' : true;
}

export class WaypointController {
  readonly #o: WaypointControllerOptions;
  readonly #loop: ReconcileLoop;
  readonly #watches: Watch[] = [];
  /** Gateway uid → the Deployment last applied for it (Kubernetes): applied again only when it changes. */
  readonly #applied = new Map<string, string>();

  constructor(opts: WaypointControllerOptions) {
    this.#o = opts;
    this.#loop = new ReconcileLoop(() => this.#pass(), (err) => opts.log.warn({ error: describeError(err) }, 'waypoint reconcile failed'));
  }

  start(): void {
    for (const kind of ['Gateway', 'Pod', 'Service', 'Namespace', 'Secret', ...ROUTE_KINDS]) {
      this.#watches.push(this.#o.store.watch(kindOf(kind), () => this.#loop.request(), undefined, { onClose: () => this.#loop.request() }));
    }
    this.#loop.request();
  }

  /** Resolves once no pass is running (tests). */
  idle(): Promise<void> {
    return this.#loop.idle();
  }

  async stop(): Promise<void> {
    for (const w of this.#watches) w.close();
    await this.#loop.stop();
  }

  #podFor(gw: KubeObject): KubeObject {
    const ns = gw.metadata.namespace ?? 'default';
    const o = this.#o;
    const runArgs = ['-n', ns, 'waypoint', 'run', '--name', gw.metadata.name, '--xds-address', o.xdsAddress, '--trust-domain', o.trustDomain];
    const container: Json = {
      name: CONTAINER_NAME,
      ports: isIngressGateway(gw)
        ? [...ingressPorts(gw).map((p) => ({ name: p.name, containerPort: p.port })), { name: 'status-port', containerPort: STATUS_PORT }]
        : [{ name: 'mesh', containerPort: PORT_HBONE }, { name: 'status-port', containerPort: STATUS_PORT }],
      // Ready once xDS is synchronized and its config arrived: before that the mesh keeps traffic off it.
      readinessProbe: { httpGet: { path: '/healthz/ready', port: STATUS_PORT }, periodSeconds: 1 },
    };
    const spec: Json = { serviceAccountName: gw.metadata.name, restartPolicy: 'Always', terminationGracePeriodSeconds: 5, containers: [container] };
    if (o.kubernetes) {
      // The image's entry point, its own token and the published root: nothing shared with the control plane's disk.
      Object.assign(container, {
        image: o.kubernetes.image,
        args: [...runArgs, '--token-file', `${TOKEN_DIR}/istio-token`, '--root-cert', `${ROOT_CERT_DIR}/root-cert.pem`],
        env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }, { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
        volumeMounts: [{ name: 'istio-token', mountPath: TOKEN_DIR, readOnly: true }, { name: 'istiod-ca-cert', mountPath: ROOT_CERT_DIR, readOnly: true }],
      });
      Object.assign(spec, {
        automountServiceAccountToken: false,
        volumes: [
          { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] } },
          { name: 'istiod-ca-cert', configMap: { name: ROOT_CERT_CONFIGMAP } },
        ],
      });
    } else {
      container['command'] = [...o.selfCommand, '--data-dir', o.dataDir, ...runArgs];
    }
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: waypointPodName(gw), namespace: ns, labels: managedLabels(gw), ownerReferences: [ownerRef(gw)] as never },
      spec,
    };
  }

  #serviceFor(gw: KubeObject): KubeObject {
    const ingress = isIngressGateway(gw);
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: serviceNameOf(gw), namespace: gw.metadata.namespace ?? 'default', labels: managedLabels(gw), ownerReferences: [ownerRef(gw)] as never },
      spec: {
        selector: { [GATEWAY_NAME_LABEL]: gw.metadata.name },
        ports: [
          ...(ingress
            ? ingressPorts(gw).map((p) => ({ name: p.name, port: p.port, targetPort: p.port, protocol: 'TCP' }))
            : [{ name: 'mesh', port: PORT_HBONE, targetPort: PORT_HBONE, protocol: 'TCP', appProtocol: 'all' }]),
          { name: 'status-port', port: STATUS_PORT, targetPort: STATUS_PORT, protocol: 'TCP' },
        ],
      },
    };
  }

  async #pass(): Promise<void> {
    const { store, log } = this.#o;
    const gateways = store.list(kindOf('Gateway')).items.filter((g) => rec(g.spec)['gatewayClassName'] === WAYPOINT_GATEWAY_CLASS || isIngressGateway(g));
    const uids = new Set(gateways.map((g) => g.metadata.uid));
    for (const gw of gateways) {
      try {
        await this.#reconcile(gw);
      } catch (err) {
        log.warn({ gateway: `${gw.metadata.namespace}/${gw.metadata.name}`, error: describeError(err) }, 'cannot reconcile waypoint');
      }
    }
    await this.#writeRouteStatus();
    // Objects made for Gateways that are gone.
    for (const kind of ['Pod', 'Service']) {
      for (const o of store.list(kindOf(kind)).items) {
        if (o.metadata.labels?.[WAYPOINT_MANAGED_LABEL] !== WAYPOINT_MANAGED_BY_MESH) continue;
        const owner = (o.metadata.ownerReferences as Json[] | undefined)?.find((r) => r['kind'] === 'Gateway');
        if (!owner || uids.has(String(owner['uid']))) continue;
        await store.delete(keyOf(kind, o.metadata.namespace ?? 'default', o.metadata.name)).catch(() => undefined);
        log.info({ object: `${kind}/${o.metadata.namespace}/${o.metadata.name}` }, 'removed: its waypoint Gateway is gone');
      }
    }
  }

  async #reconcile(gw: KubeObject): Promise<void> {
    const { store } = this.#o;
    const ns = gw.metadata.namespace ?? 'default';
    const wantPod = this.#podFor(gw);
    const wantSvc = this.#serviceFor(gw);
    const ownedBy = (o: KubeObject | undefined) => (o?.metadata.ownerReferences as Json[] | undefined)?.some((r) => r['uid'] === gw.metadata.uid) ?? false;
    let svc = store.get(keyOf('Service', ns, serviceNameOf(gw)));
    if (!svc) svc = await store.create(wantSvc);
    else if (isIngressGateway(gw) && ownedBy(svc) && JSON.stringify(rec(svc.spec)['ports']) !== JSON.stringify(rec(wantSvc.spec)['ports'])) {
      // Listener ports changed: the Service follows (its cluster IP stays).
      svc = await store.update({ ...svc, spec: { ...rec(svc.spec), ports: rec(wantSvc.spec)['ports'] } } as KubeObject);
    }
    // On Kubernetes the pod runs as the Gateway's own service account (its identity), made here when missing.
    if (this.#o.kubernetes && !store.get(keyOf('ServiceAccount', ns, gw.metadata.name))) {
      await store.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: gw.metadata.name, namespace: ns, labels: managedLabels(gw), ownerReferences: [ownerRef(gw)] as never } })
        .catch((err: unknown) => this.#o.log.debug({ error: describeError(err) }, 'service account exists already'));
    }
    if (this.#o.kubernetes) {
      await this.#writeStatus(gw, svc, await this.#reconcileDeployment(gw, wantPod, ownedBy));
      return;
    }
    const pods = store.list({ ...kindOf('Pod'), namespace: ns }).items.filter((p) => p.metadata.labels?.[GATEWAY_NAME_LABEL] === gw.metadata.name && ownedBy(p));
    const runSpec = (pod: KubeObject) => {
      const c = (rec(pod.spec)['containers'] as Json[] | undefined)?.[0] ?? {};
      return JSON.stringify([c['image'] ?? null, c['command'] ?? null, c['args'] ?? null]);
    };
    const desired = runSpec(wantPod);
    for (const p of pods) {
      // A pod from an older build or another xDS address is replaced (pods are immutable in Kubernetes too).
      if (p.metadata.name !== wantPod.metadata.name || runSpec(p) !== desired) {
        await store.delete(keyOf('Pod', ns, p.metadata.name)).catch(() => undefined);
      }
    }
    let pod = store.get(keyOf('Pod', ns, wantPod.metadata.name));
    if (pod && !ownedBy(pod)) pod = undefined;
    if (!pod && !store.get(keyOf('Pod', ns, wantPod.metadata.name))) pod = await store.create(wantPod);
    await this.#writeStatus(gw, svc, pod);
  }

  /**
   * Kubernetes: the waypoint's Deployment (server-side applied; `replicas` left to the user or an autoscaler), whose
   * ReplicaSet makes the pods; a pod this controller made directly (an older Ambit) goes. Resolves with the pod whose
   * readiness the Gateway reports: a ready one if any.
   */
  async #reconcileDeployment(gw: KubeObject, wantPod: KubeObject, ownedBy: (o: KubeObject | undefined) => boolean): Promise<KubeObject | undefined> {
    const { store } = this.#o;
    const ns = gw.metadata.namespace ?? 'default';
    const deployment: KubeObject = {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name: gw.metadata.name, namespace: ns, labels: managedLabels(gw), ownerReferences: [ownerRef(gw)] as never },
      spec: { selector: { matchLabels: { [GATEWAY_NAME_LABEL]: gw.metadata.name } }, template: { metadata: { labels: managedLabels(gw) }, spec: wantPod.spec } },
    };
    const json = JSON.stringify(deployment);
    const uid = gw.metadata.uid ?? gw.metadata.name;
    if (this.#applied.get(uid) !== json) {
      await this.#o.kubernetes!.api.requestJson('PATCH', `${installObjectPath(deployment)}?fieldManager=ambit-waypoint&force=true`, deployment, 'application/apply-patch+yaml');
      this.#applied.set(uid, json);
    }
    const pods = store.list({ ...kindOf('Pod'), namespace: ns }).items.filter((p) => p.metadata.labels?.[GATEWAY_NAME_LABEL] === gw.metadata.name
      && p.metadata.labels?.[WAYPOINT_MANAGED_LABEL] === WAYPOINT_MANAGED_BY_MESH);
    for (const p of pods.filter((x) => ownedBy(x))) await store.delete(keyOf('Pod', ns, p.metadata.name)).catch(() => undefined);
    const fromDeployment = pods.filter((x) => !ownedBy(x) && !x.metadata.deletionTimestamp);
    return fromDeployment.find(isReady) ?? fromDeployment[0];
  }

  /** status.parents of every mesh route (Accepted, ResolvedRefs), written only when it changed. */
  async #writeRouteStatus(): Promise<void> {
    const { store, log } = this.#o;
    const reader = { get: (kind: 'Service' | 'Gateway' | 'Namespace', namespace: string, name: string) => store.get(keyOf(kind, kind === 'Namespace' ? '' : namespace, name)) };
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const kind of ROUTE_KINDS) {
      for (const route of store.list(kindOf(kind)).items) {
        const parents = routeParentsStatus(reader, route, now);
        if (JSON.stringify(stripTimes(parents)) === JSON.stringify(stripTimes(rec(route.status)['parents'] ?? []))) continue;
        await store.updateStatus({ ...route, status: { ...rec(route.status), parents } } as KubeObject).catch((err: unknown) => {
          log.debug({ route: `${kind}/${route.metadata.namespace}/${route.metadata.name}`, error: describeError(err) }, 'route status write lost a race; retrying');
          this.#loop.request();
        });
      }
    }
  }

  /**
   * An ingress Gateway's listener status: attached routes (what ingress-attachment.ts attaches), Accepted (False
   * UnsupportedProtocol for TLS/TCP/UDP listeners, or for a protocol another listener's port already has), and
   * ResolvedRefs for the certificate of an HTTPS listener.
   */
  #ingressListenerStatus(gw: KubeObject, programmed: boolean, previous: (name: string) => Condition[]): Json[] {
    const { store } = this.#o;
    const generation = gw.metadata.generation ?? 1;
    const routes = ['HTTPRoute', 'GRPCRoute'].flatMap((k) => store.list(kindOf(k)).items);
    const nsLabels = (ns: string) => store.get(keyOf('Namespace', '', ns))?.metadata.labels;
    const served = new Set(servedListeners(gw).map((l) => l.name));
    return ingressListeners(gw).map((l) => {
      const supported = served.has(l.name);
      const attached = routes.filter((rt) => recs(rec(rt.spec)['parentRefs']).some((ref) => refersTo(rt, ref, gw)
        && attachRoute(gw, rt, ref, nsLabels).attachments.some((a) => a.listener.name === l.name))).length;
      const cert = l.protocol === 'HTTPS' ? listenerCertificate(gw, l, (ns, name) => store.get(keyOf('Secret', ns, name))) : {};
      const conditions: Array<Omit<Condition, 'lastTransitionTime'>> = [
        supported
          ? { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'No errors found', observedGeneration: generation }
          : { type: 'Accepted', status: 'False', reason: 'UnsupportedProtocol', message: l.protocol === 'HTTP' || l.protocol === 'HTTPS' ? `port ${l.port} is already served with the other protocol` : `protocol ${l.protocol} is not served by Ambit ingress gateways (HTTP and HTTPS only)`, observedGeneration: generation },
        cert.problem
          ? { type: 'ResolvedRefs', status: 'False', reason: cert.problem.reason, message: cert.problem.message, observedGeneration: generation }
          : { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'No errors found', observedGeneration: generation },
        supported && !cert.problem && programmed
          ? { type: 'Programmed', status: 'True', reason: 'Programmed', message: 'No errors found', observedGeneration: generation }
          : { type: 'Programmed', status: 'False', reason: supported && !cert.problem ? 'Pending' : 'Invalid', message: !supported || cert.problem ? 'the listener is not served (see Accepted and ResolvedRefs)' : 'gateway not ready', observedGeneration: generation },
      ];
      return {
        name: l.name,
        attachedRoutes: attached,
        supportedKinds: supported ? [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }, { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute' }] : [],
        conditions: mergeConditions(previous(l.name), conditions),
      };
    });
  }

  async #writeStatus(gw: KubeObject, svc: KubeObject | undefined, pod: KubeObject | undefined): Promise<void> {
    const generation = gw.metadata.generation ?? 1;
    const svcOwned = (svc?.metadata.ownerReferences as Json[] | undefined)?.some((r) => r['uid'] === gw.metadata.uid) ?? false;
    const ip = svcOwned ? rec(svc!.spec)['clusterIP'] : undefined;
    const address = typeof ip === 'string' && ip && ip !== 'None' ? ip : undefined;
    const ready = pod ? isReady(pod) : false;
    const listeners = (Array.isArray(rec(gw.spec)['listeners']) ? (rec(gw.spec)['listeners'] as Json[]) : []);
    const ingress = isIngressGateway(gw);
    const what = ingress ? 'gateway' : 'waypoint';
    const assigned = ingress
      ? ingressPorts(gw).map((p) => `${serviceNameOf(gw)}.${gw.metadata.namespace}.svc.cluster.local:${p.port}`).join(', ')
      : `${gw.metadata.name}.${gw.metadata.namespace}.svc.cluster.local:${PORT_HBONE}`;
    const conditions: Array<Omit<Condition, 'lastTransitionTime'>> = [
      { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Resource accepted', observedGeneration: generation },
      !svcOwned
        ? { type: 'Programmed', status: 'False', reason: 'Invalid', message: `a Service ${serviceNameOf(gw)} not made for this ${what} already exists`, observedGeneration: generation }
        : !address
          ? { type: 'Programmed', status: 'False', reason: 'AddressNotAssigned', message: `waiting for the ${what} Service to get an address`, observedGeneration: generation }
          : !ready
            ? { type: 'Programmed', status: 'False', reason: 'Pending', message: `${what} pod ${pod?.metadata.name ?? waypointPodName(gw)} is not ready; ${ingress ? 'its listeners take no connections' : 'traffic bound to this waypoint is refused'} until it is`, observedGeneration: generation }
            : { type: 'Programmed', status: 'True', reason: 'Programmed', message: `Resource programmed, assigned to service(s) ${assigned}`, observedGeneration: generation },
    ];
    const previous = (name: unknown) => ((rec(gw.status)['listeners'] as Json[] | undefined)?.find((x) => x['name'] === name)?.['conditions'] as Condition[] | undefined) ?? [];
    const status: Json = {
      ...rec(gw.status),
      conditions: mergeConditions(gw.status?.conditions ?? [], conditions),
      addresses: address ? [{ type: 'IPAddress', value: address }] : [],
      listeners: ingress ? this.#ingressListenerStatus(gw, address !== undefined && ready, previous) : listeners.map((l) => ({
        name: l['name'],
        attachedRoutes: 0,
        supportedKinds: [],
        conditions: mergeConditions(
          previous(l['name']),
          [
            { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'No errors found', observedGeneration: generation },
            { type: 'Programmed', status: address && ready ? 'True' : 'False', reason: address && ready ? 'Programmed' : 'Pending', message: address && ready ? 'No errors found' : 'waypoint not ready', observedGeneration: generation },
            { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'No errors found', observedGeneration: generation },
          ],
        ),
      })),
    };
    if (JSON.stringify(stripTimes(status)) === JSON.stringify(stripTimes(rec(gw.status)))) return;
    await this.#o.store.updateStatus({ ...gw, status } as KubeObject).catch((err: unknown) => {
      this.#o.log.debug({ gateway: `${gw.metadata.namespace}/${gw.metadata.name}`, error: describeError(err) }, 'gateway status write lost a race; retrying on the next pass');
      this.#loop.request();
    });
  }
}

/** The Service of a Gateway: `<name>` for a waypoint, `<name>-istio` for an ingress gateway (Istio's names). */
function serviceNameOf(gw: KubeObject): string {
  return isIngressGateway(gw) ? `${gw.metadata.name}-${INGRESS_SERVICE_SUFFIX}` : gw.metadata.name;
}

/** The distinct ports of an ingress Gateway's served listeners, named `<protocol>-<port>`. */
function ingressPorts(gw: KubeObject): Array<{ name: string; port: number }> {
  const seen = new Map<number, string>();
  for (const l of servedListeners(gw)) if (!seen.has(l.port)) seen.set(l.port, `${l.protocol.toLowerCase()}-${l.port}`);
  return [...seen].sort((a, b) => a[0] - b[0]).map(([port, name]) => ({ name, port }));
}

/** New conditions keep their lastTransitionTime while their status is unchanged (Kubernetes convention). */
function mergeConditions(current: readonly Condition[], next: Array<Omit<Condition, 'lastTransitionTime'>>): Condition[] {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  return next.map((c) => {
    const old = current.find((x) => x.type === c.type);
    return { ...c, lastTransitionTime: old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now } as Condition;
  });
}

function stripTimes(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v ?? {}, (k, x) => (k === 'lastTransitionTime' ? undefined : x)));
}
