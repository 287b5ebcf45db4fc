// `ambit x authz check POD -n NS --from SA --method M --path P [--header k=v]… [--jwt FILE]`: what the waypoint in
// front of a pod's service would decide for one request, with the same engine (src/authz), and which policy and rule
// decided — offline, from the objects in the API. The waypoint is the one the service's `istio.io/WaypointBound`
// condition names; its policies are the AuthorizationPolicies and RequestAuthentications attached with targetRefs to
// the service, the waypoint's Gateway, or the `istio-waypoint` GatewayClass from the root namespace.
//
// A token given with --jwt is checked for issuer, audiences and expiry; its signature only when the rule's keys are
// inline (remote keys are the waypoint's to fetch), which the output says. A matching CUSTOM policy's authorizer
// answers at request time: the output names it and gives the decision should it allow.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { kindByName, type KubeObject } from '../api/index.js';
import { authenticateRequest, customMatches, evaluateL7, policyMatch, type L7Policy, type RequestAuth, type RequestAuthnPolicy, type RequestFacts } from '../authz/index.js';
import type { ApiClient } from '../controlplane/client/index.js';
import { formatSpiffeId } from '../lib/certs/spiffe-id.js';
import { ROOT_NAMESPACE, WAYPOINT_GATEWAY_CLASS } from '../lib/mesh-contract.js';
import { CliError, namespaceOf, type CliContext } from './cli-context.js';

const POD = kindByName('Pod')!;
const SERVICE = kindByName('Service')!;
const AUTHZ = kindByName('AuthorizationPolicy')!;
const AUTHN = kindByName('RequestAuthentication')!;

interface CheckFlags {
  from: string;
  fromNamespace?: string;
  trustDomain: string;
  method: string;
  path: string;
  header: string[];
  host?: string;
  service?: string;
  port?: string;
  sourceIp?: string;
  jwt?: string;
}

type Ref = { kind?: string; name?: string };
const refsOf = (o: KubeObject): Ref[] => ((o.spec as { targetRefs?: Ref[]; targetRef?: Ref } | undefined)?.targetRefs ?? [((o.spec as { targetRef?: Ref } | undefined)?.targetRef)].filter((r): r is Ref => !!r));

function selects(svc: KubeObject, pod: KubeObject): boolean {
  const sel = (svc.spec as { selector?: Record<string, string> } | undefined)?.selector;
  if (!sel || !Object.keys(sel).length) return false;
  return Object.entries(sel).every(([k, v]) => pod.metadata.labels?.[k] === v);
}

/** The waypoint `ns/name` the control plane bound the service to, from its WaypointBound condition. */
function boundWaypoint(svc: KubeObject): string | undefined {
  const conds = (svc.status as { conditions?: Array<{ type: string; status: string; message?: string }> } | undefined)?.conditions ?? [];
  const c = conds.find((x) => x.type === 'istio.io/WaypointBound' && x.status === 'True');
  return c?.message ? /^bound to waypoint (\S+\/\S+?)(?: |$)/.exec(c.message)?.[1] : undefined;
}

/** Attached to the service, its waypoint's Gateway, or the waypoint GatewayClass from the root namespace. */
function attached(o: KubeObject, svc: KubeObject, waypoint: string): boolean {
  const [gwNs, gwName] = waypoint.split('/');
  const ns = o.metadata.namespace;
  return refsOf(o).some((r) =>
    ((r.kind === 'Service') && ns === svc.metadata.namespace && r.name === svc.metadata.name)
    || (r.kind === 'Gateway' && ns === gwNs && r.name === gwName)
    || (r.kind === 'GatewayClass' && ns === ROOT_NAMESPACE && r.name === WAYPOINT_GATEWAY_CLASS));
}

async function listBoth(api: ApiClient, kind: typeof AUTHZ, namespaces: string[]): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const n of new Set(namespaces)) out.push(...(await api.list(kind, { namespace: n })).items);
  return out;
}

function headersOf(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of list) {
    const eq = h.indexOf('=');
    const colon = h.indexOf(':');
    const at = eq > 0 && (colon < 0 || eq < colon) ? eq : colon;
    if (at <= 0) throw new CliError(`--header ${JSON.stringify(h)}: expected name=value (or "name: value")`);
    out[h.slice(0, at).trim().toLowerCase()] = h.slice(at + 1).trim();
  }
  return out;
}

async function check(api: ApiClient, ns: string, podName: string, f: CheckFlags): Promise<string> {
  const pod = await api.get(POD, ns, podName);
  const services = (await api.list(SERVICE, { namespace: ns })).items.filter((s) => (f.service ? s.metadata.name === f.service : selects(s, pod)));
  if (!services.length) throw new CliError(f.service ? `service ${ns}/${f.service} does not exist` : `no Service in ${ns} selects pod ${podName}: the waypoint judges traffic sent to a service (pass --service)`);
  if (services.length > 1 && !f.service) throw new CliError(`pod ${podName} is behind several services (${services.map((s) => s.metadata.name).join(', ')}): pick one with --service`);
  const svc = services[0]!;
  const ports = ((svc.spec as { ports?: Array<{ port: number }> }).ports ?? []).map((p) => p.port);
  const port = f.port ? Number(f.port) : ports[0];
  if (port === undefined || !Number.isInteger(port) || (f.port && !ports.includes(port))) throw new CliError(`--port ${f.port}: service ${ns}/${svc.metadata.name} has ports ${ports.join(', ')}`);
  const waypoint = boundWaypoint(svc);
  const lines = [`pod ${ns}/${podName} · service ${ns}/${svc.metadata.name}:${port} · waypoint ${waypoint ?? '(none)'}`];
  if (!waypoint) {
    lines.push(`service ${ns}/${svc.metadata.name} is not bound to a waypoint: only ztunnel's L4 policies apply (see ambit x describe pod ${podName} -n ${ns})`);
    return `${lines.join('\n')}\n`;
  }
  const [sa, saNs] = f.from.includes('/') ? [f.from.split('/')[1]!, f.from.split('/')[0]!] : [f.from, f.fromNamespace ?? ns];
  const identity = formatSpiffeId({ trustDomain: f.trustDomain, namespace: saNs, serviceAccount: sa });
  const headers = headersOf(f.header);
  const host = f.host ?? `${svc.metadata.name}.${ns}.svc.cluster.local`;
  const namespaces = [ns, waypoint.split('/')[0]!, ROOT_NAMESPACE];
  const policies = (await listBoth(api, AUTHZ, namespaces)).filter((o) => attached(o, svc, waypoint));
  const authns = (await listBoth(api, AUTHN, namespaces)).filter((o) => attached(o, svc, waypoint));
  lines.push(`request: ${f.method} ${f.path} host ${host} from ${identity}${Object.keys(headers).length ? ` headers ${JSON.stringify(headers)}` : ''}`);
  let auth: RequestAuth | undefined;
  if (f.jwt) {
    const token = readFileSync(f.jwt, 'utf8').trim();
    headers['authorization'] = `Bearer ${token}`;
    const ras: RequestAuthnPolicy[] = authns.map((o) => ({ namespace: o.metadata.namespace!, name: o.metadata.name, spec: (o.spec ?? {}) as RequestAuthnPolicy['spec'] }));
    const r = await authenticateRequest(ras, { path: f.path, headers }, 'claims-only');
    const remote = ras.some((p) => (p.spec.jwtRules ?? []).some((rule) => rule.jwksUri));
    if (r.kind === 'refused') {
      lines.push(`decision: DENY (401 ${r.reason})${r.policy ? ` — RequestAuthentication ${r.policy}` : ''}`);
      return `${lines.join('\n')}\n`;
    }
    if (r.kind === 'authenticated') {
      auth = r.auth;
      lines.push(`token: principal ${r.auth.principal}, accepted by RequestAuthentication ${r.policy}${remote ? ' (claims checked; the signature is the waypoint\'s to verify with the remote keys)' : ''}`);
    } else lines.push('token: no RequestAuthentication applies, so it is not looked at');
  }
  const facts: RequestFacts = {
    sourceIdentity: identity, sourceIp: f.sourceIp ?? '', destinationIp: (svc.spec as { clusterIP?: string }).clusterIP ?? '', destinationPort: port,
    http: { host, method: f.method, path: f.path, headers }, ...(auth ? { auth } : {}),
  };
  const enforced: L7Policy[] = [];
  lines.push(policies.length ? `policies at the waypoint (${policies.length}):` : 'no AuthorizationPolicy is attached at the waypoint');
  for (const o of policies) {
    const p: L7Policy = { namespace: o.metadata.namespace!, name: o.metadata.name, spec: (o.spec ?? {}) as L7Policy['spec'] };
    const dry = o.metadata.annotations?.['istio.io/dry-run'] === 'true';
    if (!dry) enforced.push(p);
    const rule = policyMatch(p, facts);
    lines.push(`  ${(p.spec.action ?? 'ALLOW').padEnd(6)} ${`${p.namespace}/${p.name}`.padEnd(32)} ${rule >= 0 ? `rule ${rule} matches` : 'no rule matches'}${dry ? ' (dry run: not enforced)' : ''}`);
  }
  // A matching CUSTOM policy hands the request to its external authorizer first: its answer cannot be known offline.
  const custom = customMatches(enforced, facts)[0];
  if (custom) lines.push(`external authorization: CUSTOM policy ${custom.policy} rule ${custom.rule} matches, so provider ${JSON.stringify(custom.provider)} decides first; if it allows:`);
  const d = evaluateL7(enforced, facts, { customChecked: custom !== undefined });
  lines.push(d.allowed ? `decision: ALLOW — ${d.reason}` : `decision: DENY (403 RBAC: access denied) — ${d.reason}`);
  if (d.audit.length) lines.push(`audited by: ${d.audit.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

export function register(program: Command, ctx: CliContext): void {
  const x = program.commands.find((c) => c.name() === 'x') ?? program.command('x').description('experimental commands (istioctl x)');
  const authz = x.command('authz').description('authorization policy tools');
  authz
    .command('check')
    .description('what the waypoint in front of POD\'s service decides for one request, and which policy and rule decided')
    .argument('<pod>', 'the destination pod')
    .requiredOption('--from <sa>', 'the caller\'s service account (`sa`, in the pod\'s namespace unless --from-namespace, or `ns/sa`)')
    .option('--from-namespace <ns>', 'namespace of the --from service account')
    .option('--trust-domain <domain>', 'trust domain of the caller\'s identity', 'cluster.local')
    .option('--method <method>', 'HTTP method', 'GET')
    .option('--path <path>', 'request path (with query)', '/')
    .option('--header <name=value>', 'a request header (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--host <host>', 'the request\'s host (default the service\'s cluster name)')
    .option('--service <name>', 'the service the request is sent to, when several select the pod')
    .option('--port <port>', 'the service port (default its first)')
    .option('--source-ip <ip>', 'the caller\'s IP, for ipBlocks and source.ip rules')
    .option('--jwt <file>', 'a JWT sent as Authorization: Bearer')
    .action(async (pod: string, opts: CheckFlags, cmd: Command) => {
      ctx.stdout.write(await check(ctx.client(cmd), namespaceOf(cmd), pod, opts));
    });
}
