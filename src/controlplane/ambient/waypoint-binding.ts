// Waypoint selection for a Service, ServiceEntry, Pod or WorkloadEntry (ISTIO-API.md §1.2): the object's own
// `istio.io/use-waypoint` label beats its namespace's, `none` opts out, and the named Gateway must exist, have an
// address, admit the object's namespace on its HBONE listener, and accept this traffic type. Failures leave the
// object without a waypoint (fail open) and say why in an `istio.io/WaypointBound` condition.
import type { KubeObject } from '../../api/meta.js';
import { selectorMatches, type LabelRequirement } from '../../api/labels.js';
import type { GatewayAddressRecord } from '../../lib/xds/workload-records.js';
import { isRecord, labelsOf, nsOf, rec, recs, specOf, statusOf, str, strs, num, type IndexReader, type Json } from './index-reader.js';
import { GATEWAY_NAME_LABEL, PORT_HBONE, USE_WAYPOINT_LABEL, USE_WAYPOINT_NAMESPACE_LABEL, WAYPOINT_FOR_LABEL, WAYPOINT_GATEWAY_CLASS } from '../../lib/mesh-contract.js';

export const WAYPOINT_BOUND_CONDITION = 'istio.io/WaypointBound';
type TrafficType = 'service' | 'workload' | 'all' | 'none';

type WaypointFailureReason = 'WaypointIsNotReady' | 'AttachmentDenied' | 'UnsupportedTrafficType' | 'CrossNamespaceWaypointForbidden';

export interface WaypointBinding {
  waypoint?: GatewayAddressRecord;
  /** `namespace/name` of the bound Gateway. */
  gatewayKey?: string;
  /** Absent when no waypoint was asked for (or a namespace-inherited workload binding silently does not apply). */
  condition?: { status: 'True' | 'False'; reason: 'WaypointAccepted' | WaypointFailureReason; message: string };
}

interface BindingTarget {
  kind: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** ServiceEntry visible only in its namespace (exportTo "."). */
  namespaceVisibleOnly?: boolean;
}

/** `NAMESPACE` when `networking.istio.io/exportTo` (ServiceEntry: spec.exportTo) names only the object's namespace. */
export function visibilityOf(obj: KubeObject): 'PUBLIC' | 'NAMESPACE' {
  const ns = nsOf(obj);
  let exportTo = strs(specOf(obj), 'exportTo');
  if (!exportTo.length) {
    const ann = (obj.metadata.annotations as Record<string, string> | undefined)?.['networking.istio.io/exportTo'];
    exportTo = ann ? ann.split(',').map((s) => s.trim()).filter(Boolean) : [];
  }
  return exportTo.length > 0 && exportTo.every((e) => e === '.' || e === ns) ? 'NAMESPACE' : 'PUBLIC';
}

/** The binding view of a Service or ServiceEntry. */
export function bindingTargetOf(obj: KubeObject): BindingTarget {
  return {
    kind: obj.kind,
    namespace: nsOf(obj),
    name: obj.metadata.name,
    labels: labelsOf(obj),
    namespaceVisibleOnly: obj.kind === 'ServiceEntry' && visibilityOf(obj) === 'NAMESPACE',
  };
}

/** The waypoint traffic type a Gateway accepts: its own label, else its GatewayClass's, else `service`. */
export function gatewayTrafficType(r: IndexReader, gw: KubeObject): TrafficType {
  const own = labelsOf(gw)[WAYPOINT_FOR_LABEL];
  if (own) return own as TrafficType;
  const className = str(specOf(gw), 'gatewayClassName');
  const cls = className ? r.get('GatewayClass', '', className) : undefined;
  return (labelsOf(cls)[WAYPOINT_FOR_LABEL] as TrafficType | undefined) ?? 'service';
}

/** The Gateway's HBONE listener (protocol HBONE), if any. */
export function hboneListener(gw: KubeObject): Json | undefined {
  return recs(specOf(gw), 'listeners').find((l) => l['protocol'] === 'HBONE');
}

/** Whether the Gateway is a waypoint (class `istio-waypoint`). */
export function isWaypointGateway(gw: KubeObject | undefined): boolean {
  return !!gw && str(specOf(gw), 'gatewayClassName') === WAYPOINT_GATEWAY_CLASS;
}

/** How ztunnel reaches the waypoint: its first status address (hostname form or IP) and HBONE port. */
function waypointAddress(r: IndexReader, gw: KubeObject): GatewayAddressRecord | undefined {
  const addr = recs(statusOf(gw), 'addresses')[0];
  const value = str(addr, 'value');
  if (!value) return undefined;
  const port = num(hboneListener(gw), 'port') ?? PORT_HBONE;
  if (str(addr, 'type') === 'Hostname') return { hostname: { namespace: nsOf(gw), hostname: value }, hboneMtlsPort: port };
  return { address: { network: r.config.network, address: value }, hboneMtlsPort: port };
}

function selectorRequirements(sel: Json): LabelRequirement[] {
  const reqs: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(rec(sel, 'matchLabels'))) if (typeof value === 'string') reqs.push({ key, op: 'in', values: [value] });
  for (const e of recs(sel, 'matchExpressions')) {
    const op = String(e['operator'] ?? '').toLowerCase();
    const key = str(e, 'key') ?? '';
    if (op === 'in' || op === 'notin') reqs.push({ key, op, values: strs(e, 'values') });
    else if (op === 'exists') reqs.push({ key, op: 'exists', values: [] });
    else if (op === 'doesnotexist') reqs.push({ key, op: 'doesnotexist', values: [] });
  }
  return reqs;
}

/** Whether the Gateway's HBONE listener admits objects from `namespace` (allowedRoutes.namespaces.from, default Same). */
function admitsNamespace(r: IndexReader, gw: KubeObject, namespace: string): boolean {
  const nsSpec = rec(rec(hboneListener(gw), 'allowedRoutes'), 'namespaces');
  const from = str(nsSpec, 'from') ?? 'Same';
  if (from === 'All') return true;
  if (from === 'Selector') {
    const sel = nsSpec['selector'];
    if (!isRecord(sel)) return false;
    return selectorMatches(selectorRequirements(sel), labelsOf(r.get('Namespace', '', namespace)));
  }
  return namespace === nsOf(gw);
}

function fail(reason: WaypointFailureReason, message: string): WaypointBinding {
  return { condition: { status: 'False', reason, message } };
}

/** Resolves the waypoint for traffic addressed to `target` (a service, or a workload by its own IP). */
export function bindWaypoint(r: IndexReader, target: BindingTarget, traffic: 'service' | 'workload'): WaypointBinding {
  // Waypoints (and their Services) never get a waypoint themselves.
  if (target.labels[GATEWAY_NAME_LABEL] !== undefined) return {};
  let name: string;
  let namespace: string;
  let inherited: boolean;
  const own = target.labels[USE_WAYPOINT_LABEL];
  if (own !== undefined) {
    if (own === 'none' || own === '') return {};
    name = own;
    namespace = target.labels[USE_WAYPOINT_NAMESPACE_LABEL] || target.namespace;
    inherited = false;
  } else {
    const nsLabels = labelsOf(r.get('Namespace', '', target.namespace));
    const fromNs = nsLabels[USE_WAYPOINT_LABEL];
    if (fromNs === undefined || fromNs === 'none' || fromNs === '') return {};
    name = fromNs;
    namespace = nsLabels[USE_WAYPOINT_NAMESPACE_LABEL] || target.namespace;
    inherited = true;
  }
  const key = `${namespace}/${name}`;
  const via = inherited ? ` (from the ${USE_WAYPOINT_LABEL} label of namespace ${target.namespace})` : '';
  const gw = r.get('Gateway', namespace, name);
  if (!gw) return fail('WaypointIsNotReady', `waypoint Gateway ${key}${via} does not exist; traffic goes directly to the destination and no L7 policy applies`);
  if (!isWaypointGateway(gw)) {
    return fail('WaypointIsNotReady', `Gateway ${key}${via} is not a waypoint (gatewayClassName must be ${WAYPOINT_GATEWAY_CLASS}); traffic goes directly to the destination`);
  }
  const address = waypointAddress(r, gw);
  if (!address) return fail('WaypointIsNotReady', `waypoint ${key}${via} has no address yet (status.addresses is empty); traffic goes directly to the destination until it is ready`);
  if (!admitsNamespace(r, gw, target.namespace)) {
    return fail('AttachmentDenied', `waypoint ${key}${via} does not admit namespace ${target.namespace}: its HBONE listener's allowedRoutes.namespaces must be All or select this namespace`);
  }
  const accepts = gatewayTrafficType(r, gw);
  if (accepts !== traffic && accepts !== 'all') {
    if (traffic === 'workload' && inherited) return {};
    return fail('UnsupportedTrafficType', `waypoint ${key}${via} accepts ${accepts} traffic (${WAYPOINT_FOR_LABEL}), not ${traffic} traffic`);
  }
  if (target.namespaceVisibleOnly && namespace !== target.namespace) {
    return fail('CrossNamespaceWaypointForbidden', `this ServiceEntry is visible only in namespace ${target.namespace} (exportTo "."), so it cannot use waypoint ${key} in another namespace`);
  }
  return { waypoint: address, gatewayKey: key, condition: { status: 'True', reason: 'WaypointAccepted', message: `bound to waypoint ${key}${via}` } };
}
