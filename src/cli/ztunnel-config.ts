// `ambit ztunnel-config workloads|services|policies|certificates|connections|all [--node N] [-o json]`: a node
// ztunnel's view (istioctl's columns, ISTIO-API.md §7), read from its admin `/config_dump` (mesh-state.ts says how:
// the admin sockets under the data dir in the sandbox, a port-forward to the ztunnel pod on Kubernetes). Workloads,
// services and policies are the same mesh view on every node (the first node answering is shown); certificates and
// connections are per node.
import type { Command } from 'commander';
import { CliError, type CliContext } from './cli-context.js';
import { renderTable } from './table.js';
import { meshStateOf, type MeshState } from './mesh-state.js';

const SECTIONS = ['workloads', 'services', 'policies', 'certificates', 'connections', 'all'] as const;
type Section = (typeof SECTIONS)[number];
const ALIASES: Record<string, Section> = {
  w: 'workloads', workload: 'workloads', workloads: 'workloads',
  s: 'services', svc: 'services', service: 'services', services: 'services',
  p: 'policies', pol: 'policies', policy: 'policies', policies: 'policies',
  cert: 'certificates', certs: 'certificates', certificate: 'certificates', certificates: 'certificates',
  cons: 'connections', connection: 'connections', connections: 'connections',
  all: 'all',
};

interface GatewayJson { destination?: string; hboneMtlsPort?: number }
interface WorkloadJson {
  uid: string; name: string; namespace: string; workloadIps: string[]; node?: string; waypoint?: GatewayJson; protocol: string; workloadName?: string;
}
interface ServiceJson {
  name: string; namespace: string; hostname: string; vips: string[]; waypoint?: GatewayJson; endpoints: Record<string, { status: string }>;
}
interface PolicyJson { name: string; namespace: string; action: string; scope: string }
interface CertJson { pem: string; serialNumber: string; validFrom: string; expirationTime: string }
interface CertificateJson { identity: string; state: string; certChain: CertJson[]; rootCerts: CertJson[] }
interface ConnJson { src: string; originalDst: string; actualDst: string; protocol: string }
interface PodStateJson { state: string; info: { name: string; namespace: string }; connections: { inbound: ConnJson[]; outbound: ConnJson[] } }

/** The parts of a ztunnel `/config_dump` this verb reads. */
export interface ZtunnelConfigDump {
  workloads: WorkloadJson[];
  services: ServiceJson[];
  policies: PolicyJson[];
  certificates: CertificateJson[];
  workloadState: Record<string, PodStateJson>;
  [k: string]: unknown;
}

export interface NodeDump {
  node: string;
  dump: ZtunnelConfigDump;
}

async function collect(state: MeshState, node: string | undefined): Promise<NodeDump[]> {
  const nodes = node !== undefined ? [node] : await state.ztunnelNodes();
  return Promise.all(nodes.map(async (n) => ({ node: n, dump: (await state.ztunnelConfigDump(n)) as ZtunnelConfigDump })));
}

/** `network/ip[/len]` → `ip[/len]`. */
function vipText(v: string): string {
  const slash = v.indexOf('/');
  return slash < 0 ? v : v.slice(slash + 1);
}

function waypointText(g: GatewayJson | undefined): string {
  if (!g?.destination) return 'None';
  const d = g.destination;
  // `namespace/hostname` → the waypoint service's short name; `network/ip` → the IP.
  const last = d.slice(d.lastIndexOf('/') + 1);
  return /^[0-9a-f.:]+$/i.test(last) ? last : last.split('.')[0]!;
}

export function renderWorkloads(dump: ZtunnelConfigDump): string {
  const rows = [...dump.workloads]
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name))
    .map((w) => [w.namespace, w.name, w.workloadIps.join(',') || 'None', w.node || 'None', waypointText(w.waypoint), w.protocol]);
  return renderTable(['NAMESPACE', 'POD NAME', 'ADDRESS', 'NODE', 'WAYPOINT', 'PROTOCOL'], rows);
}

export function renderServices(dump: ZtunnelConfigDump): string {
  const rows = [...dump.services]
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name))
    .map((s) => {
      const eps = Object.values(s.endpoints ?? {});
      const healthy = eps.filter((e) => e.status === 'Healthy').length;
      return [s.namespace, s.name, s.vips.map(vipText).join(',') || 'None', waypointText(s.waypoint), `${healthy}/${eps.length}`];
    });
  return renderTable(['NAMESPACE', 'SERVICE NAME', 'SERVICE VIP', 'WAYPOINT', 'ENDPOINTS'], rows);
}

export function renderPolicies(dump: ZtunnelConfigDump): string {
  const rows = [...dump.policies]
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name))
    .map((p) => [p.namespace, p.name, p.action === 'ALLOW' ? 'Allow' : 'Deny', scopeText(p.scope)]);
  return renderTable(['NAMESPACE', 'POLICY NAME', 'ACTION', 'SCOPE'], rows);
}

function scopeText(scope: string): string {
  return scope === 'WORKLOAD_SELECTOR' ? 'WorkloadSelector' : scope === 'NAMESPACE' ? 'Namespace' : scope === 'GLOBAL' ? 'Global' : scope;
}

export function renderCertificates(dumps: NodeDump[], now: number): string {
  const withNode = dumps.length > 1;
  const rows: string[][] = [];
  for (const { node, dump } of dumps) {
    for (const c of [...dump.certificates].sort((a, b) => a.identity.localeCompare(b.identity))) {
      const status = c.state.startsWith('Available') ? 'Available' : c.state.split(':')[0]!;
      const certs: Array<[CertJson | undefined, string]> = [];
      c.certChain.forEach((x, i) => certs.push([x, i === 0 ? 'Leaf' : 'Intermediate']));
      c.rootCerts.forEach((x) => certs.push([x, 'Root']));
      if (certs.length === 0) certs.push([undefined, 'Leaf']);
      for (const [x, type] of certs) {
        const valid = x ? Date.parse(x.validFrom) <= now && now < Date.parse(x.expirationTime) : false;
        const row = [c.identity, type, status, x ? String(valid) : 'NA', x?.serialNumber ?? 'NA', x?.expirationTime ?? 'NA', x?.validFrom ?? 'NA'];
        rows.push(withNode ? [node, ...row] : row);
      }
    }
  }
  const header = ['CERTIFICATE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE'];
  return renderTable(withNode ? ['NODE', ...header] : header, rows);
}

export function renderConnections(dumps: NodeDump[]): string {
  const withNode = dumps.length > 1;
  const rows: string[][] = [];
  for (const { node, dump } of dumps) {
    for (const pod of Object.values(dump.workloadState ?? {})) {
      const name = `${pod.info.name}.${pod.info.namespace}`;
      for (const c of pod.connections.inbound) rows.push([name, 'Inbound', c.actualDst, c.src, c.originalDst, c.protocol]);
      for (const c of pod.connections.outbound) rows.push([name, 'Outbound', c.src, c.actualDst, c.originalDst, c.protocol]);
    }
    if (withNode) for (let i = rows.length - 1; i >= 0 && rows[i]!.length === 6; i--) rows[i] = [node, ...rows[i]!];
  }
  const header = ['WORKLOAD', 'DIRECTION', 'LOCAL', 'REMOTE', 'REMOTE TARGET', 'PROTOCOL'];
  return renderTable(withNode ? ['NODE', ...header] : header, rows);
}

function sectionJson(section: Section, dumps: NodeDump[]): unknown {
  const first = dumps[0]!.dump;
  switch (section) {
    case 'workloads':
      return first.workloads;
    case 'services':
      return first.services;
    case 'policies':
      return first.policies;
    case 'certificates':
      return dumps.length === 1 ? first.certificates : Object.fromEntries(dumps.map((d) => [d.node, d.dump.certificates]));
    case 'connections':
      return dumps.length === 1 ? first.workloadState : Object.fromEntries(dumps.map((d) => [d.node, d.dump.workloadState]));
    case 'all':
      return dumps.length === 1 ? first : Object.fromEntries(dumps.map((d) => [d.node, d.dump]));
  }
}

export function renderSection(section: Section, dumps: NodeDump[], now: number): string {
  const first = dumps[0]!.dump;
  switch (section) {
    case 'workloads':
      return renderWorkloads(first);
    case 'services':
      return renderServices(first);
    case 'policies':
      return renderPolicies(first);
    case 'certificates':
      return renderCertificates(dumps, now);
    case 'connections':
      return renderConnections(dumps);
    case 'all':
      return ['workloads', 'services', 'policies', 'certificates', 'connections']
        .map((s) => `${s.toUpperCase()}\n${renderSection(s as Section, dumps, now)}`).join('\n');
  }
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('ztunnel-config')
    .alias('zc')
    .description("show a node ztunnel's view: workloads, services, policies, certificates, connections or all")
    .argument('<section>', `one of ${SECTIONS.join(', ')} (istioctl aliases such as w, svc, pol, certs, cons work too)`)
    .option('--node <name>', "the node whose ztunnel to ask (default: every node's; mesh-wide sections from the first)")
    .option('-o, --output <format>', 'short (table) or json', 'short')
    .action(async (sectionArg: string, opts: { node?: string; output: string }, cmd: Command) => {
      const section = ALIASES[sectionArg.toLowerCase()];
      if (!section) throw new CliError(`unknown section '${sectionArg}': use one of ${SECTIONS.join(', ')}`);
      if (opts.output !== 'short' && opts.output !== 'json') throw new CliError(`--output: unknown format '${opts.output}' (use short or json)`);
      if (opts.node !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(opts.node)) throw new CliError(`--node must be a node name, got "${opts.node}"`);
      const dumps = await collect(meshStateOf(ctx, cmd), opts.node);
      if (opts.output === 'json') ctx.stdout.write(`${JSON.stringify(sectionJson(section, dumps), null, 2)}\n`);
      else ctx.stdout.write(renderSection(section, dumps, ctx.now()));
    });
}
