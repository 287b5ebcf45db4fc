// `ambit x describe pod NAME -n NS`: one page that explains a pod's place in the mesh — enrolment and why, identity,
// node, certificate (from the node's ztunnel admin when reachable), the policies ztunnel enforces for it and what
// they allow or deny, which waypoint fronts it (or why none does), and hints a newcomer can act on.
import type { Command } from 'commander';
import { kindByName, type KubeObject } from '../api/index.js';
import { isNotFound, type ApiClient } from '../controlplane/client/index.js';
import { describeError } from '../lib/errors.js';
import type { IpPrefixRecord, MatchRecord, ServiceAccountMatchRecord, StringMatchRecord } from '../lib/xds/workload-records.js';
import { CliError, globalsOf, namespaceOf, type CliContext } from './cli-context.js';
import { meshStateOf, type MeshState } from './mesh-state.js';
import { DATAPLANE_MODE_LABEL, REDIRECTION_ANNOTATION, ROOT_NAMESPACE, USE_WAYPOINT_LABEL, USE_WAYPOINT_NAMESPACE_LABEL, WAYPOINT_FOR_LABEL, WAYPOINT_GATEWAY_CLASS, isAmbientEnrolled } from '../lib/mesh-contract.js';
import { formatSpiffeId } from '../lib/certs/spiffe-id.js';

const WAYPOINT_BOUND = 'istio.io/WaypointBound';
const ZTUNNEL_ACCEPTED = 'ZtunnelAccepted';

/** What `x describe pod` gathers; every part but the pod is optional (its absence is explained). */
export interface PodFacts {
  pod: KubeObject;
  namespace?: KubeObject;
  /** GET /debug/ambient, or why it could not be read. */
  ambient?: AmbientSnapshot;
  ambientError?: string;
  /** AuthorizationPolicies in the pod's namespace and the root namespace. */
  policies: KubeObject[];
  gateways: KubeObject[];
  /** `/config_dump` of the pod's node's ztunnel, or why it could not be read. */
  ztunnelDump?: { certificates?: Array<{ identity: string; state: string; certChain?: Array<{ serialNumber?: string; validFrom?: string; expirationTime?: string }> }> };
  ztunnelError?: string;
}

interface SnapshotItem { name: string; resource: Record<string, unknown> }
export interface AmbientSnapshot {
  config?: { rootNamespace?: string; trustDomain?: string };
  addresses?: SnapshotItem[];
  authorizations?: SnapshotItem[];
  conditions?: Record<string, Record<string, { status: string; reason: string; message: string }>>;
}

interface AuthzRecord {
  name: string;
  namespace: string;
  scope: 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';
  action: 'ALLOW' | 'DENY';
  rules?: Array<{ clauses?: Array<{ matches?: MatchRecord[] }> }>;
  dryRun?: boolean;
}

interface WorkloadRecordView {
  uid?: string;
  name?: string;
  namespace?: string;
  tunnelProtocol?: string;
  serviceAccount?: string;
  trustDomain?: string;
  services?: Record<string, unknown>;
  authorizationPolicies?: string[];
  waypoint?: unknown;
  node?: string;
}

interface ServiceRecordView {
  name: string;
  namespace: string;
  hostname: string;
  addresses?: Array<{ address: string }>;
  ports?: Array<{ servicePort: number; targetPort: number }>;
  waypoint?: unknown;
}

const rec = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const labelsOf = (o: KubeObject | undefined): Record<string, string> => (o?.metadata.labels as Record<string, string> | undefined) ?? {};

// --- explanation (pure) ---

function stringMatch(m: StringMatchRecord): string {
  if ('exact' in m) return m.exact;
  if ('prefix' in m) return `${m.prefix}*`;
  if ('suffix' in m) return `*${m.suffix}`;
  return '*';
}

function ipPrefix(p: IpPrefixRecord): string {
  return `${p.address}/${p.length}`;
}

function serviceAccount(s: ServiceAccountMatchRecord): string {
  return `${s.namespace}/${s.serviceAccount}`;
}

/** One match in words: `from principal a or b, to port 80`; an empty match matches everything. */
export function describeMatch(m: MatchRecord): string {
  const parts: string[] = [];
  const list = <T>(label: string, values: T[] | undefined, fmt: (v: T) => string, negate = false) => {
    if (values?.length) parts.push(`${negate ? 'not ' : ''}${label} ${values.map(fmt).join(' or ')}`);
  };
  list('from principal', m.principals, stringMatch);
  list('from principal', m.notPrincipals, stringMatch, true);
  list('from namespace', m.namespaces, stringMatch);
  list('from namespace', m.notNamespaces, stringMatch, true);
  list('from service account', m.serviceAccounts, serviceAccount);
  list('from service account', m.notServiceAccounts, serviceAccount, true);
  list('from IP', m.sourceIps, ipPrefix);
  list('from IP', m.notSourceIps, ipPrefix, true);
  list('to IP', m.destinationIps, ipPrefix);
  list('to IP', m.notDestinationIps, ipPrefix, true);
  list('to port', m.destinationPorts, String);
  list('to port', m.notDestinationPorts, String, true);
  return parts.length ? parts.join(', ') : 'any connection';
}

/** The rules of a policy, one line per rule (clauses ANDed, matches within a clause ORed). */
export function describeRules(p: AuthzRecord): string[] {
  const rules = p.rules ?? [];
  if (!rules.length) return [p.action === 'ALLOW' ? 'no rules: allows nothing' : 'no rules: denies nothing'];
  return rules.map((r) => {
    const clauses = (r.clauses ?? []).map((c) => {
      const ms = (c.matches ?? []).map(describeMatch);
      return ms.length > 1 ? `(${ms.join(') or (')})` : (ms[0] ?? 'any connection');
    });
    return clauses.length ? clauses.join(' and ') : 'any connection';
  });
}

interface Explanation {
  lines: string[];
  hints: string[];
}

function findWorkload(f: PodFacts): WorkloadRecordView | undefined {
  const ns = f.pod.metadata.namespace ?? 'default';
  for (const a of f.ambient?.addresses ?? []) {
    const w = rec(a.resource['workload']) as WorkloadRecordView;
    if (w.name === f.pod.metadata.name && w.namespace === ns && String(w.uid ?? '').includes('/Pod/')) return w;
  }
  return undefined;
}

function servicesOf(f: PodFacts, w: WorkloadRecordView | undefined): ServiceRecordView[] {
  const keys = new Set(Object.keys(w?.services ?? {}).map((k) => k.slice(k.indexOf('/') + 1)));
  const out: ServiceRecordView[] = [];
  for (const a of f.ambient?.addresses ?? []) {
    const s = rec(a.resource['service']) as unknown as ServiceRecordView;
    if (s.hostname && keys.has(s.hostname)) out.push(s);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

function waypointName(v: unknown): string {
  const g = rec(v);
  const host = rec(g['hostname']);
  if (host['hostname']) return `${String(host['namespace'])}/${String(host['hostname'])}`;
  const addr = rec(g['address']);
  return addr['address'] ? String(addr['address']) : JSON.stringify(v);
}

/** Why traffic addressed to the pod itself does or does not go through a waypoint. */
function podWaypoint(f: PodFacts, w: WorkloadRecordView | undefined, out: Explanation, ambit: string): void {
  const ns = f.pod.metadata.namespace ?? 'default';
  const own = labelsOf(f.pod)[USE_WAYPOINT_LABEL];
  const fromNs = labelsOf(f.namespace)[USE_WAYPOINT_LABEL];
  const asked = own !== undefined ? own : fromNs;
  const via = own !== undefined ? `the pod's ${USE_WAYPOINT_LABEL} label` : `namespace ${ns}'s ${USE_WAYPOINT_LABEL} label`;
  if (w?.waypoint) {
    const gwNs0 = (own !== undefined ? labelsOf(f.pod)[USE_WAYPOINT_NAMESPACE_LABEL] : labelsOf(f.namespace)[USE_WAYPOINT_NAMESPACE_LABEL]) || ns;
    const gw0 = f.gateways.find((g) => g.metadata.name === asked && g.metadata.namespace === gwNs0);
    const ready = gw0 && Array.isArray(rec(gw0.status)['addresses']) && (rec(gw0.status)['addresses'] as unknown[]).length > 0;
    if (!ready) {
      out.lines.push(`  To the pod itself:  REFUSED — bound to waypoint ${gwNs0}/${asked} (by ${via}), which ${gw0 ? 'has no address yet' : 'does not exist'}: ztunnel refuses the traffic until it is ready (fail closed)`);
      out.hints.push(`traffic to this pod is refused until waypoint ${gwNs0}/${asked} is ready: \`${ambit} waypoint status -n ${gwNs0}\``);
      return;
    }
    out.lines.push(`  To the pod itself:  through waypoint ${waypointName(w.waypoint)} (requested by ${via})`);
    return;
  }
  if (asked === undefined || asked === '' || asked === 'none') {
    out.lines.push('  To the pod itself:  direct (no waypoint requested)');
    return;
  }
  const gwNs = (own !== undefined ? labelsOf(f.pod)[USE_WAYPOINT_NAMESPACE_LABEL] : labelsOf(f.namespace)[USE_WAYPOINT_NAMESPACE_LABEL]) || ns;
  const gw = f.gateways.find((g) => g.metadata.name === asked && g.metadata.namespace === gwNs);
  let why: string;
  if (!gw) {
    why = `waypoint Gateway ${gwNs}/${asked} does not exist`;
    out.hints.push(`${via} asks for waypoint ${gwNs}/${asked}, which does not exist: create it (a Gateway with gatewayClassName istio-waypoint, see \`${ambit} waypoint list -n ${gwNs}\`) or remove the label (\`${ambit} label ${own !== undefined ? `pod ${f.pod.metadata.name} -n ${ns}` : `namespace ${ns}`} ${USE_WAYPOINT_LABEL}-\`)`);
  } else if (rec(gw.spec)['gatewayClassName'] !== WAYPOINT_GATEWAY_CLASS) {
    why = `Gateway ${gwNs}/${asked} is not a waypoint (gatewayClassName is ${String(rec(gw.spec)['gatewayClassName'])}, not istio-waypoint)`;
  } else if (!Array.isArray(rec(gw.status)['addresses']) || !(rec(gw.status)['addresses'] as unknown[]).length) {
    why = `waypoint ${gwNs}/${asked} has no address yet (status.addresses is empty)`;
  } else {
    const forType = labelsOf(gw)[WAYPOINT_FOR_LABEL] ?? 'service';
    why = forType === 'service' || forType === 'none'
      ? `waypoint ${gwNs}/${asked} takes ${forType} traffic (${WAYPOINT_FOR_LABEL}=${forType}), not traffic addressed to a workload`
      : `the control plane did not bind it (see the Gateway's status)`;
  }
  out.lines.push(`  To the pod itself:  direct — ${via} asks for ${gwNs}/${asked}, but ${why}`);
}

/** The whole explanation of one pod, as lines, plus the hints. */
export function explainPod(f: PodFacts, ambit = 'ambit'): Explanation {
  const out: Explanation = { lines: [], hints: [] };
  const pod = f.pod;
  const ns = pod.metadata.namespace ?? 'default';
  const name = pod.metadata.name;
  const spec = rec(pod.spec);
  const status = rec(pod.status);
  const sa = String(spec['serviceAccountName'] || 'default');
  const trustDomain = f.ambient?.config?.trustDomain ?? 'cluster.local';
  const identity = formatSpiffeId({ trustDomain, namespace: ns, serviceAccount: sa });
  const node = typeof spec['nodeName'] === 'string' ? spec['nodeName'] : undefined;
  const w = findWorkload(f);
  out.lines.push(`Pod:              ${ns}/${name}`);
  out.lines.push(`Node:             ${node ?? '<not scheduled>'}${status['hostIP'] ? ` (${String(status['hostIP'])})` : ''}`);
  out.lines.push(`Status:           ${String(status['phase'] ?? 'Pending')}${status['podIP'] ? `, IP ${String(status['podIP'])}` : ''}`);
  out.lines.push(`Service account:  ${sa}`);
  out.lines.push(`Identity:         ${identity}`);

  // Enrolment: pod label beats namespace label; `none` opts out.
  out.lines.push('');
  const podMode = labelsOf(pod)[DATAPLANE_MODE_LABEL];
  const nsMode = labelsOf(f.namespace)[DATAPLANE_MODE_LABEL];
  const enrolled = isAmbientEnrolled(labelsOf(pod), f.namespace ? labelsOf(f.namespace) : undefined);
  let why: string;
  if (podMode === 'ambient') why = `the pod is labelled ${DATAPLANE_MODE_LABEL}=ambient`;
  else if (podMode === 'none') why = `the pod is labelled ${DATAPLANE_MODE_LABEL}=none, which opts it out whatever its namespace says`;
  else if (!f.namespace) why = `namespace ${ns} does not exist, and the pod has no ${DATAPLANE_MODE_LABEL} label`;
  else if (nsMode === 'ambient') why = `namespace ${ns} is labelled ${DATAPLANE_MODE_LABEL}=ambient and the pod has no label of its own`;
  else why = `neither the pod nor namespace ${ns} is labelled ${DATAPLANE_MODE_LABEL}=ambient`;
  out.lines.push(`Ambient mode:     ${enrolled ? 'ENROLLED' : 'NOT enrolled'} — ${why}`);
  if (!enrolled && podMode !== 'none') out.hints.push(`to enroll it: \`${ambit} label namespace ${ns} ${DATAPLANE_MODE_LABEL}=ambient\` (or label just the pod); no restart needed`);
  const redirection = pod.metadata.annotations?.[REDIRECTION_ANNOTATION];
  if (enrolled) {
    if (redirection === 'enabled') out.lines.push(`  Capture:        ztunnel on ${node} took the pod (${REDIRECTION_ANNOTATION}=enabled): its traffic goes through the mesh`);
    else if (redirection === 'pending') {
      out.lines.push(`  Capture:        capture rules installed, but ztunnel on ${node} has not taken the pod (${REDIRECTION_ANNOTATION}=pending): its connections are refused (fail closed)`);
      out.hints.push(`ztunnel on ${node} has not acknowledged the pod: check it runs (\`${ambit} cluster info\`) and its log`);
    } else out.lines.push(`  Capture:        not yet: the node agent on ${node ?? 'its node'} has not installed capture rules (no ${REDIRECTION_ANNOTATION} annotation)`);
  } else if (redirection) {
    out.lines.push(`  Capture:        still captured (${REDIRECTION_ANNOTATION}=${redirection}); the node agent will release it shortly`);
  }
  if (w) out.lines.push(`  Control plane:  workload ${w.uid}, protocol ${w.tunnelProtocol === 'HBONE' ? 'HBONE (mTLS)' : 'TCP (plain)'}`);
  else if (f.ambientError) out.lines.push(`  Control plane:  not checked: ${f.ambientError}`);
  else out.lines.push(`  Control plane:  no workload record for this pod yet (it needs an IP: is it running?)`);

  // Certificate.
  out.lines.push('');
  if (f.ztunnelDump) {
    const cert = (f.ztunnelDump.certificates ?? []).find((c) => c.identity === identity);
    if (!cert) out.lines.push(`Certificate:      ztunnel on ${node} holds none for ${identity}${enrolled ? ' yet' : ' (it fetches one only for enrolled pods)'}`);
    else {
      const leaf = cert.certChain?.[0];
      out.lines.push(`Certificate:      ${cert.state}${leaf ? `, serial ${leaf.serialNumber}, valid ${leaf.validFrom} to ${leaf.expirationTime}` : ''} (ztunnel on ${node})`);
      if (!cert.state.startsWith('Available')) out.hints.push(`the certificate for ${identity} is ${cert.state}: see ztunnel's log on ${node} and the control plane's CA log`);
    }
  } else {
    out.lines.push(`Certificate:      not checked: ${f.ztunnelError ?? 'ztunnel admin not reachable'}`);
  }

  // Policies ztunnel enforces for this pod: GLOBAL from the root namespace, NAMESPACE in its namespace, and
  // WORKLOAD_SELECTOR ones the control plane attached to its workload record.
  out.lines.push('');
  const root = f.ambient?.config?.rootNamespace ?? ROOT_NAMESPACE;
  const attached = new Set(w?.authorizationPolicies ?? []);
  const records = (f.ambient?.authorizations ?? []).map((a) => a.resource as unknown as AuthzRecord).filter((p) =>
    (p.scope === 'GLOBAL' && p.namespace === root) || (p.scope === 'NAMESPACE' && p.namespace === ns) || attached.has(`${p.namespace}/${p.name}`));
  records.sort((a, b) => (a.action === b.action ? `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`) : a.action === 'DENY' ? -1 : 1));
  if (f.ambientError) out.lines.push(`Policies:         not checked: ${f.ambientError}`);
  else if (!records.length) out.lines.push('Policies (ztunnel, L4): none apply: every connection that reaches the pod is allowed');
  else {
    out.lines.push('Policies (ztunnel, L4):');
    for (const p of records) {
      const scope = p.scope === 'WORKLOAD_SELECTOR' ? 'selects this pod' : p.scope === 'NAMESPACE' ? `whole namespace ${ns}` : `mesh-wide (root namespace ${root})`;
      out.lines.push(`  ${p.action.padEnd(5)} ${p.namespace}/${p.name}  (${scope}${p.dryRun ? ', DRY RUN: logged, not enforced' : ''})`);
      for (const r of describeRules(p)) out.lines.push(`        ${p.action === 'DENY' ? 'denies' : 'allows'}: ${r}`);
    }
    const denies = records.filter((p) => p.action === 'DENY' && !p.dryRun);
    const allows = records.filter((p) => p.action === 'ALLOW' && !p.dryRun);
    out.lines.push(`  Effect:         ${denies.length ? `connections matching a DENY rule above are refused${allows.length ? '; of the rest' : ''}` : ''}${allows.length ? `${denies.length ? ' ' : ''}only connections matching an ALLOW rule are accepted` : denies.length ? '; everything else is allowed' : ''}`);
    for (const d of denies) {
      out.hints.push(`${d.namespace}/${d.name} (DENY) refuses ${describeRules(d).join('; ')}; if that is not intended: \`${ambit} delete authorizationpolicy ${d.name} -n ${d.namespace}\``);
    }
    if (allows.length && !enrolled) out.hints.push('ALLOW/DENY policies are enforced by ztunnel only for enrolled pods: this pod is not enrolled, so they have no effect');
  }
  // Policies that select the pod but that ztunnel does not enforce (L7 rules, targetRefs): say where they go.
  const selecting = f.policies.filter((p) => {
    const sel = rec(rec(p.spec)['selector'])['matchLabels'] as Record<string, string> | undefined;
    const targets = rec(p.spec)['targetRefs'] ?? rec(p.spec)['targetRef'];
    const sameNs = p.metadata.namespace === ns;
    if (targets) return sameNs;
    return (sameNs || p.metadata.namespace === root) && !!sel && Object.entries(sel).every(([k, v]) => labelsOf(pod)[k] === v);
  });
  for (const p of selecting) {
    const key = `${p.metadata.namespace}/${p.metadata.name}`;
    if (records.some((r) => `${r.namespace}/${r.name}` === key)) continue;
    const cond = f.ambient?.conditions?.[`AuthorizationPolicy/${key}`];
    const z = cond?.[ZTUNNEL_ACCEPTED];
    const wp = cond?.['WaypointAccepted'];
    const note = z?.status === 'False' ? z.message : wp ? `${wp.status === 'True' ? 'enforced by a waypoint' : 'not enforced'}: ${wp.message}` : 'not sent to ztunnel';
    out.lines.push(`  ----- ${key}  not enforced by ztunnel here: ${note}`);
  }

  // Waypoints: per Service the pod backs, and for traffic to the pod itself.
  out.lines.push('');
  out.lines.push('Waypoint:');
  const services = servicesOf(f, w);
  for (const s of services) {
    const ports = (s.ports ?? []).map((p) => (p.targetPort ? `${p.servicePort}->${p.targetPort}` : String(p.servicePort))).join(',');
    const vip = s.addresses?.[0]?.address;
    const cond = f.ambient?.conditions?.[`Service/${s.namespace}/${s.name}`]?.[WAYPOINT_BOUND];
    let text: string;
    if (s.waypoint && cond?.status === 'False') {
      // Bound to a waypoint that cannot take traffic: ztunnel refuses it (fail closed).
      text = `REFUSED — bound to a waypoint that is not ready (${cond.reason}): ${cond.message}`;
      out.hints.push(`traffic to service ${s.name} is refused until its waypoint is ready: check \`${ambit} waypoint status -n ${s.namespace}\`, or unbind it (\`${ambit} waypoint delete\` or remove the ${USE_WAYPOINT_LABEL} label)`);
    } else if (s.waypoint) text = `through waypoint ${waypointName(s.waypoint)}${cond ? ` (${cond.message})` : ''}`;
    else if (cond && cond.status === 'False') {
      text = `direct — NOT bound (${cond.reason}): ${cond.message}`;
      out.hints.push(`service ${s.name} is not behind a waypoint: ${cond.message}`);
    } else text = 'direct (no waypoint requested)';
    out.lines.push(`  Service ${s.name}${vip ? ` ${vip}` : ''}${ports ? ` (${ports})` : ''}:  ${text}`);
  }
  if (!services.length && w) out.lines.push('  (no Service selects this pod)');
  podWaypoint(f, w, out, ambit);
  return out;
}

/** The page `x describe pod` prints. */
export function renderPodExplanation(f: PodFacts, ambit = 'ambit'): string {
  const e = explainPod(f, ambit);
  const lines = [...e.lines, ''];
  if (e.hints.length) {
    lines.push('Hints:');
    for (const h of [...new Set(e.hints)]) lines.push(`  - ${h}`);
  } else lines.push('Hints:            none: nothing here looks wrong');
  return `${lines.join('\n')}\n`;
}

// --- gathering ---

const POD = kindByName('Pod')!;
const NAMESPACE = kindByName('Namespace')!;
const AUTHZ = kindByName('AuthorizationPolicy')!;
const GATEWAY = kindByName('Gateway')!;

export async function gatherPodFacts(api: ApiClient, state: MeshState, ns: string, name: string): Promise<PodFacts> {
  let pod: KubeObject;
  try {
    pod = await api.get(POD, ns, name);
  } catch (err) {
    if (isNotFound(err)) throw new CliError(`pod "${name}" not found in namespace ${ns}`);
    throw err;
  }
  const namespace = await api.get(NAMESPACE, undefined, ns).catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
  const facts: PodFacts = { pod, namespace, policies: [], gateways: [] };
  try {
    facts.ambient = (await state.controlPlane('/debug/ambient')) as AmbientSnapshot;
  } catch (err) {
    facts.ambientError = `the control plane's ambient index is not available (${describeError(err)})`;
  }
  const root = facts.ambient?.config?.rootNamespace ?? ROOT_NAMESPACE;
  for (const n of new Set([ns, root])) facts.policies.push(...(await api.list(AUTHZ, { namespace: n })).items);
  facts.gateways = (await api.list(GATEWAY)).items;
  const node = rec(pod.spec)['nodeName'];
  if (typeof node !== 'string') facts.ztunnelError = 'the pod is not scheduled on a node yet';
  else {
    try {
      facts.ztunnelDump = (await state.ztunnelConfigDump(node)) as PodFacts['ztunnelDump'];
    } catch (err) {
      facts.ztunnelError = describeError(err);
    }
  }
  return facts;
}

export function register(program: Command, ctx: CliContext): void {
  const x = program.commands.find((c) => c.name() === 'x') ?? program.command('x').description('experimental commands (istioctl x): describe');
  const describe = x.command('describe').description('explain an object\'s place in the mesh');
  describe
    .command('pod')
    .description('enrolment and why, identity, node, certificate, policies and what they allow/deny, waypoint and why, hints')
    .argument('<name>', 'pod name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const ns = namespaceOf(cmd);
      const facts = await gatherPodFacts(ctx.client(cmd), meshStateOf(ctx, cmd), ns, name);
      const ambit = g.kubeconfig ? `ambit --kubeconfig ${g.kubeconfig}` : g.dataDir ? `ambit --data-dir ${g.dataDir}` : 'ambit';
      ctx.stdout.write(renderPodExplanation(facts, ambit));
    });
}
