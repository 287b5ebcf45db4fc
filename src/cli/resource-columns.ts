// The columns `get` prints per kind, matching kubectl's (and Istio's/Gateway API's printer columns) for each kind.
import type { KubeObject, Condition } from '../api/meta.js';
import type { KindInfo } from '../api/registry.js';
import { formatAge } from './age.js';
import { objectName } from './resource-args.js';

interface Column {
  header: string;
  /** Printed only with `-o wide`. */
  wide?: boolean;
  cell(obj: KubeObject, nowMs: number): string;
}

export interface TableOptions {
  /** `-A`: a NAMESPACE column first (namespaced kinds only). */
  allNamespaces: boolean;
  wide: boolean;
  nowMs: number;
  /** Several kinds in one `get`: names print as `kind/name`, as kubectl does. */
  kindPrefix: boolean;
}

type Rec = Record<string, unknown>;

function rec(v: unknown): Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {};
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown, fallback = '<none>'): string {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : fallback;
}

function conditions(obj: KubeObject): Condition[] {
  return arr(obj.status?.conditions) as Condition[];
}

function conditionStatus(obj: KubeObject, type: string): string | undefined {
  return conditions(obj).find((c) => c?.type === type)?.status;
}

/** A list rendered like a CRD printer column over an array (`["a","b"]`), empty when absent. */
function jsonList(v: unknown): string {
  return Array.isArray(v) && v.length ? JSON.stringify(v) : '';
}

const AGE: Column = { header: 'AGE', cell: (o, now) => formatAge(o.metadata.creationTimestamp, now) };

function podReady(o: KubeObject): string {
  const total = arr(rec(o.spec).containers).length;
  const ready = arr(rec(o.status).containerStatuses).filter((s) => rec(s).ready === true).length;
  return `${ready}/${total}`;
}

function podRestarts(o: KubeObject): string {
  return String(arr(rec(o.status).containerStatuses).reduce<number>((n, s) => n + (Number(rec(s).restartCount) || 0), 0));
}

function servicePorts(o: KubeObject): string {
  const ports = arr(rec(o.spec).ports).map((p) => {
    const r = rec(p);
    const node = r.nodePort !== undefined ? `:${str(r.nodePort, '')}` : '';
    return `${str(r.port, '?')}${node}/${str(r.protocol, 'TCP')}`;
  });
  return ports.length ? ports.join(',') : '<none>';
}

function labelsText(m: unknown): string {
  const entries = Object.entries(rec(m));
  return entries.length ? entries.map(([k, v]) => `${k}=${String(v)}`).join(',') : '<none>';
}

function nodeStatus(o: KubeObject): string {
  const ready = conditionStatus(o, 'Ready');
  const base = ready === 'True' ? 'Ready' : ready === 'False' ? 'NotReady' : 'Unknown';
  return rec(o.spec).unschedulable === true ? `${base},SchedulingDisabled` : base;
}

function nodeRoles(o: KubeObject): string {
  const roles = Object.keys(o.metadata.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length))
    .filter((r) => r !== '');
  return roles.length ? roles.sort().join(',') : '<none>';
}

function nodeVersion(o: KubeObject): string {
  const info = rec(rec(o.status).nodeInfo);
  return str(info.ambitVersion ?? info.kubeletVersion, '<none>');
}

const COLUMNS: Record<string, Column[]> = {
  Namespace: [{ header: 'STATUS', cell: (o) => str(rec(o.status).phase, 'Active') }, AGE],
  Node: [
    { header: 'STATUS', cell: nodeStatus },
    { header: 'ROLES', cell: nodeRoles },
    AGE,
    { header: 'VERSION', cell: nodeVersion },
  ],
  Pod: [
    { header: 'READY', cell: podReady },
    { header: 'STATUS', cell: (o) => str(rec(o.status).reason ?? rec(o.status).phase, 'Pending') },
    { header: 'RESTARTS', cell: podRestarts },
    AGE,
    { header: 'IP', wide: true, cell: (o) => str(rec(o.status).podIP) },
    { header: 'NODE', wide: true, cell: (o) => str(rec(o.spec).nodeName) },
  ],
  Service: [
    { header: 'TYPE', cell: (o) => str(rec(o.spec).type, 'ClusterIP') },
    { header: 'CLUSTER-IP', cell: (o) => str(rec(o.spec).clusterIP) },
    {
      header: 'EXTERNAL-IP',
      cell: (o) => {
        const ext = arr(rec(o.spec).externalIPs).filter((x): x is string => typeof x === 'string');
        return ext.length ? ext.join(',') : '<none>';
      },
    },
    { header: 'PORT(S)', cell: servicePorts },
    AGE,
    { header: 'SELECTOR', wide: true, cell: (o) => labelsText(rec(o.spec).selector) },
  ],
  AuthorizationPolicy: [{ header: 'ACTION', cell: (o) => str(rec(o.spec).action, 'ALLOW') }, AGE],
  Gateway: [
    { header: 'CLASS', cell: (o) => str(rec(o.spec).gatewayClassName, '') },
    { header: 'ADDRESS', cell: (o) => str(rec(arr(rec(o.status).addresses)[0]).value, '') },
    { header: 'PROGRAMMED', cell: (o) => conditionStatus(o, 'Programmed') ?? 'Unknown' },
    AGE,
  ],
  HTTPRoute: [{ header: 'HOSTNAMES', cell: (o) => jsonList(rec(o.spec).hostnames) }, AGE],
  ServiceEntry: [
    { header: 'HOSTS', cell: (o) => jsonList(rec(o.spec).hosts) },
    { header: 'LOCATION', cell: (o) => str(rec(o.spec).location, '') },
    { header: 'RESOLUTION', cell: (o) => str(rec(o.spec).resolution, '') },
    AGE,
  ],
};

function columnsOf(kind: KindInfo, opts: TableOptions): Column[] {
  const name: Column = {
    header: 'NAME',
    cell: (o) => (opts.kindPrefix ? objectName(kind, o.metadata.name) : o.metadata.name),
  };
  const cols = [name, ...(COLUMNS[kind.kind] ?? [AGE])].filter((c) => opts.wide || !c.wide);
  if (opts.allNamespaces && kind.namespaced) cols.unshift({ header: 'NAMESPACE', cell: (o) => str(o.metadata.namespace, '') });
  return cols;
}

/** The header and rows `get` prints for objects of one kind. */
export function tableOf(kind: KindInfo, objs: readonly KubeObject[], opts: TableOptions): { header: string[]; rows: string[][] } {
  const cols = columnsOf(kind, opts);
  return { header: cols.map((c) => c.header), rows: objs.map((o) => cols.map((c) => c.cell(o, opts.nowMs))) };
}
