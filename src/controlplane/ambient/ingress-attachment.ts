// Which listeners of an ingress Gateway (class istio or ambit) a route attaches to, per the Gateway API: the
// parentRef's sectionName/port, the listener's allowedRoutes (namespaces From Same — the default —, All or
// Selector), and hostnames — the route applies to the intersection of its hostnames with the listener's (a
// wildcard `*.example.test` matches one or more leading labels). Pure: used by the config translation (what the
// gateway serves) and by the controller (route and listener status), so both always agree.
import { matchLabels } from '../../api/index.js';
import type { KubeObject } from '../../api/meta.js';
import { tlsSecretMaterial } from '../../api/tls-secret.js';
import { hostnameMatches } from '../../lib/hostname-match.js';
import { INGRESS_GATEWAY_CLASSES } from '../../lib/mesh-contract.js';

type Json = Record<string, unknown>;
const rec = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const recs = (v: unknown): Json[] => (Array.isArray(v) ? v.filter((x): x is Json => typeof x === 'object' && x !== null) : []);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** Listener protocols an ingress gateway serves (others are reported in the listener's status). */
const SERVED_LISTENER_PROTOCOLS = ['HTTP', 'HTTPS'];

interface IngressListener {
  name: string;
  port: number;
  protocol: string;
  hostname?: string;
  certificateRefs: Array<{ kind: string; name: string; namespace?: string }>;
  allowedFrom: 'All' | 'Same' | 'Selector' | 'None';
  selector?: Record<string, string>;
}

export function isIngressGateway(gw: KubeObject | undefined): boolean {
  return !!gw && INGRESS_GATEWAY_CLASSES.includes(String(rec(gw.spec)['gatewayClassName']));
}

export function ingressListeners(gw: KubeObject): IngressListener[] {
  return recs(rec(gw.spec)['listeners']).map((l) => {
    const ns = rec(rec(l['allowedRoutes'])['namespaces']);
    const from = ns['from'];
    const hostname = typeof l['hostname'] === 'string' ? l['hostname'] : undefined;
    return {
      name: String(l['name'] ?? ''),
      port: Number(l['port'] ?? 0),
      protocol: String(l['protocol'] ?? ''),
      ...(hostname ? { hostname } : {}),
      certificateRefs: recs(rec(l['tls'])['certificateRefs']).map((c) => ({
        kind: typeof c['kind'] === 'string' ? c['kind'] : 'Secret',
        name: String(c['name'] ?? ''),
        ...(typeof c['namespace'] === 'string' ? { namespace: c['namespace'] } : {}),
      })),
      allowedFrom: from === 'All' || from === 'Selector' || from === 'None' ? from : 'Same',
      ...(from === 'Selector' ? { selector: rec(rec(ns['selector'])['matchLabels']) as Record<string, string> } : {}),
    };
  });
}

/**
 * The listeners the gateway serves: HTTP or HTTPS, and of the protocol the port's first such listener (in spec
 * order) has — a port is either HTTP or HTTPS.
 */
export function servedListeners(gw: KubeObject): IngressListener[] {
  const portProtocol = new Map<number, string>();
  return ingressListeners(gw).filter((l) => {
    if (!SERVED_LISTENER_PROTOCOLS.includes(l.protocol)) return false;
    if (!portProtocol.has(l.port)) portProtocol.set(l.port, l.protocol);
    return portProtocol.get(l.port) === l.protocol;
  });
}

/**
 * The hostnames a route serves on a listener: `[]` means any host (neither names one); undefined means the two
 * do not intersect (the route does not attach there).
 */
export function intersectHostnames(listenerHost: string | undefined, routeHosts: readonly string[]): string[] | undefined {
  if (!listenerHost) return [...routeHosts];
  if (!routeHosts.length) return [listenerHost];
  const out = new Set<string>();
  // A wildcard stands for its suffix plus one more label at least: the more specific of two names is the intersection.
  const asHost = (h: string) => (h.startsWith('*.') ? `x${h.slice(1)}` : h);
  for (const r of routeHosts) {
    if (r.toLowerCase() === listenerHost.toLowerCase()) out.add(r);
    else if (hostnameMatches(listenerHost, asHost(r))) out.add(r);
    else if (hostnameMatches(r, asHost(listenerHost))) out.add(listenerHost);
  }
  return out.size ? [...out] : undefined;
}

interface Attachment {
  listener: IngressListener;
  /** `[]` = any host. */
  hostnames: string[];
}

interface AttachmentResult {
  attachments: Attachment[];
  /** Why the route attached nowhere (Gateway API reasons), when it did not. */
  refusal?: { reason: 'NoMatchingParent' | 'NotAllowedByListeners' | 'NoMatchingListenerHostname'; message: string };
}

/** Whether `parentRef` of `route` names `gw` at all (group, kind, namespace and name). */
export function refersTo(route: KubeObject, ref: Json, gw: KubeObject): boolean {
  const group = typeof ref['group'] === 'string' ? ref['group'] : 'gateway.networking.k8s.io';
  const kind = typeof ref['kind'] === 'string' ? ref['kind'] : 'Gateway';
  const ns = typeof ref['namespace'] === 'string' ? ref['namespace'] : route.metadata.namespace ?? 'default';
  return group === 'gateway.networking.k8s.io' && kind === 'Gateway' && ns === (gw.metadata.namespace ?? 'default') && ref['name'] === gw.metadata.name;
}

/** The listeners of `gw` that `route` attaches to through `ref`; `namespaceLabels` reads a namespace's labels. */
export function attachRoute(gw: KubeObject, route: KubeObject, ref: Json, namespaceLabels: (ns: string) => Record<string, string> | undefined): AttachmentResult {
  const routeNs = route.metadata.namespace ?? 'default';
  const gwNs = gw.metadata.namespace ?? 'default';
  const section = typeof ref['sectionName'] === 'string' ? ref['sectionName'] : undefined;
  const port = typeof ref['port'] === 'number' ? ref['port'] : undefined;
  const candidates = servedListeners(gw).filter((l) => (!section || l.name === section) && (port === undefined || l.port === port));
  if (!candidates.length) {
    return { attachments: [], refusal: { reason: 'NoMatchingParent', message: `Gateway ${gwNs}/${gw.metadata.name} has no HTTP or HTTPS listener${section ? ` named ${section}` : ''}${port !== undefined ? ` on port ${port}` : ''}` } };
  }
  const allowed = candidates.filter((l) => {
    if (l.allowedFrom === 'All') return true;
    if (l.allowedFrom === 'Same') return routeNs === gwNs;
    if (l.allowedFrom === 'Selector') return matchLabels(l.selector ?? {}, namespaceLabels(routeNs) ?? {});
    return false;
  });
  if (!allowed.length) {
    return { attachments: [], refusal: { reason: 'NotAllowedByListeners', message: `no listener of Gateway ${gwNs}/${gw.metadata.name} allows routes from namespace ${routeNs} (allowedRoutes)` } };
  }
  const routeHosts = strs(rec(route.spec)['hostnames']);
  const attachments: Attachment[] = [];
  for (const listener of allowed) {
    const hostnames = intersectHostnames(listener.hostname, routeHosts);
    if (hostnames) attachments.push({ listener, hostnames });
  }
  if (!attachments.length) {
    return { attachments, refusal: { reason: 'NoMatchingListenerHostname', message: `none of the route's hostnames (${routeHosts.join(', ')}) matches a listener hostname of Gateway ${gwNs}/${gw.metadata.name}` } };
  }
  return { attachments };
}

/**
 * The serving certificate of an HTTPS listener from its first certificateRef, or why there is none (Gateway API
 * ResolvedRefs reasons). Only Secrets in the Gateway's namespace resolve (ReferenceGrant for Secrets is not
 * implemented).
 */
export function listenerCertificate(gw: KubeObject, l: IngressListener, getSecret: (ns: string, name: string) => KubeObject | undefined): {
  material?: { certPem: string; keyPem: string };
  problem?: { reason: 'InvalidCertificateRef' | 'RefNotPermitted'; message: string };
} {
  const gwNs = gw.metadata.namespace ?? 'default';
  const ref = l.certificateRefs[0];
  if (!ref) return { problem: { reason: 'InvalidCertificateRef', message: 'an HTTPS listener needs tls.certificateRefs' } };
  if (ref.kind !== 'Secret') return { problem: { reason: 'InvalidCertificateRef', message: `certificateRefs kind ${ref.kind} is not supported (Secret only)` } };
  if (ref.namespace !== undefined && ref.namespace !== gwNs) {
    return { problem: { reason: 'RefNotPermitted', message: `Secret ${ref.namespace}/${ref.name} is in another namespace: cross-namespace certificate references are not supported` } };
  }
  const secret = getSecret(gwNs, ref.name);
  if (!secret) return { problem: { reason: 'InvalidCertificateRef', message: `Secret ${gwNs}/${ref.name} does not exist` } };
  const material = tlsSecretMaterial(secret as Parameters<typeof tlsSecretMaterial>[0]);
  if (!material) return { problem: { reason: 'InvalidCertificateRef', message: `Secret ${gwNs}/${ref.name} is not a kubernetes.io/tls Secret with a matching tls.crt and tls.key` } };
  return { material };
}
