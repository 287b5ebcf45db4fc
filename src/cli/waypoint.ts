// `ambit waypoint generate|apply|list|status|delete` (istioctl waypoint): waypoints are Gateways of class
// istio-waypoint (listener `mesh`, port 15008, HBONE); the control plane's waypoint controller deploys each one.
//
// One difference from istioctl, on purpose: `delete` also removes the `istio.io/use-waypoint=<name>` labels of its
// namespace and of the Services, ServiceEntries and Pods there that point at it — a bound waypoint that is missing
// refuses traffic (fail closed), so deleting a waypoint without unbinding it would cut traffic instead of returning
// it to L4 only. For the same reason `apply --enroll-namespace` labels the namespace only once the waypoint is
// programmed (ready), so enrolling never refuses traffic.
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { kindByName, type KindInfo, type KubeObject } from '../api/index.js';
import type { ApiClient } from '../controlplane/client/index.js';
import { CliError, namespaceOf, type CliContext } from './cli-context.js';
import { renderTable } from './table.js';
import {
  DATAPLANE_MODE_AMBIENT, DATAPLANE_MODE_LABEL, PORT_HBONE, USE_WAYPOINT_LABEL, USE_WAYPOINT_NAMESPACE_LABEL, WAYPOINT_FOR_LABEL,
  WAYPOINT_GATEWAY_CLASS,
} from '../lib/mesh-contract.js';

const TRAFFIC_TYPES = ['service', 'workload', 'all', 'none'];
const DEFAULT_TIMEOUT_S = 90;

const REVISION = 'istio.io/rev';

const rec = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/**
 * The traffic type a waypoint takes: its own label, else its GatewayClass's, else `service` (the ambient default;
 * this is what the control plane binds by, so the column says what actually happens).
 */
export function trafficTypeOf(gw: KubeObject, classes: readonly KubeObject[]): string {
  const own = gw.metadata.labels?.[WAYPOINT_FOR_LABEL];
  if (own) return own;
  const cls = classes.find((c) => c.metadata.name === rec(gw.spec)['gatewayClassName']);
  return cls?.metadata.labels?.[WAYPOINT_FOR_LABEL] ?? 'service';
}

/** `True`/`False` of the Programmed condition, `Unknown` when the Gateway has none yet. */
export function programmedOf(gw: KubeObject): string {
  const conds = rec(gw.status)['conditions'];
  const c = Array.isArray(conds) ? conds.map(rec).find((x) => x['type'] === 'Programmed') : undefined;
  return typeof c?.['status'] === 'string' ? c['status'] : 'Unknown';
}

export function renderWaypointList(gateways: readonly KubeObject[], classes: readonly KubeObject[], allNamespaces: boolean): string {
  const waypoints = gateways
    .filter((g) => rec(g.spec)['gatewayClassName'] === WAYPOINT_GATEWAY_CLASS)
    .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  const header = [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'REVISION', 'TRAFFIC TYPE', 'PROGRAMMED'];
  const rows = waypoints.map((g) => [
    ...(allNamespaces ? [g.metadata.namespace ?? 'default'] : []),
    g.metadata.name, g.metadata.labels?.[REVISION] ?? 'default', trafficTypeOf(g, classes), programmedOf(g),
  ]);
  return renderTable(header, rows);
}

/** The Gateway `waypoint generate` prints and `apply` stores. */
export function waypointGateway(name: string, namespace: string, trafficType: string | undefined): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace, ...(trafficType ? { labels: { [WAYPOINT_FOR_LABEL]: trafficType } } : {}) },
    spec: { gatewayClassName: WAYPOINT_GATEWAY_CLASS, listeners: [{ name: 'mesh', port: PORT_HBONE, protocol: 'HBONE' }] },
  };
}

function checkName(name: string): string {
  if (name === 'none') throw new CliError('invalid name provided for waypoint, "none" is a reserved value');
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) throw new CliError(`--name: "${name}" is not a valid waypoint name (a DNS label: lowercase letters, digits and '-')`);
  return name;
}

function checkFor(value: string | undefined): string | undefined {
  if (value !== undefined && !TRAFFIC_TYPES.includes(value)) throw new CliError(`--for: "${value}" is not one of ${TRAFFIC_TYPES.join(', ')}`);
  return value;
}

function timeoutOf(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!m) throw new CliError(`--waypoint-timeout: "${text}" is not a duration (e.g. 90s, 2m)`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

function kinds(): { gateway: KindInfo; cls: KindInfo; ns: KindInfo } {
  const gateway = kindByName('Gateway');
  const cls = kindByName('GatewayClass');
  const ns = kindByName('Namespace');
  if (!gateway || !cls || !ns) throw new CliError('this build does not know the Gateway API kinds');
  return { gateway, cls, ns };
}

function programmedCondition(gw: KubeObject): Record<string, unknown> | undefined {
  const conds = rec(gw.status)['conditions'];
  return Array.isArray(conds) ? conds.map(rec).find((x) => x['type'] === 'Programmed') : undefined;
}

/** Polls until the Gateway is Programmed=True; on timeout throws with the condition's reason and message. */
async function waitProgrammed(api: ApiClient, ns: string, name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, unknown> | undefined;
  for (;;) {
    const gw = await api.get(kinds().gateway, ns, name).catch(() => undefined);
    last = gw ? programmedCondition(gw) : undefined;
    if (last?.['status'] === 'True') return;
    if (Date.now() >= deadline) {
      const why = last ? `${String(last['reason'])}: ${String(last['message'])}` : 'no Programmed condition yet (is the control plane running its waypoint controller?)';
      throw new CliError(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for waypoint ${ns}/${name} to be programmed: ${why}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Removes `istio.io/use-waypoint=<name>` from the namespace and the objects in it that point at this waypoint. */
async function unbind(api: ApiClient, ns: string, name: string, out: (line: string) => void): Promise<void> {
  const pointsHere = (o: KubeObject) => {
    const l = o.metadata.labels ?? {};
    return l[USE_WAYPOINT_LABEL] === name && (l[USE_WAYPOINT_NAMESPACE_LABEL] ?? ns) === ns;
  };
  const namespace = await api.get(kinds().ns, undefined, ns).catch(() => undefined);
  if (namespace && pointsHere(namespace)) {
    await api.patch(kinds().ns, undefined, ns, { metadata: { labels: { [USE_WAYPOINT_LABEL]: null, [USE_WAYPOINT_NAMESPACE_LABEL]: null } } });
    out(`namespace ${ns} unlabeled "${USE_WAYPOINT_LABEL}"`);
  }
  for (const kindName of ['Service', 'ServiceEntry', 'Pod']) {
    const kind = kindByName(kindName);
    if (!kind) continue;
    for (const o of (await api.list(kind, { namespace: ns })).items.filter(pointsHere)) {
      await api.patch(kind, ns, o.metadata.name, { metadata: { labels: { [USE_WAYPOINT_LABEL]: null, [USE_WAYPOINT_NAMESPACE_LABEL]: null } } });
      out(`${kindName.toLowerCase()}/${o.metadata.name} unlabeled "${USE_WAYPOINT_LABEL}"`);
    }
  }
}

export function renderWaypointStatus(gateways: readonly KubeObject[], allNamespaces: boolean): string {
  const header = [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'STATUS', 'TYPE', 'REASON', 'MESSAGE'];
  const rows = [...gateways]
    .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`))
    .map((g) => {
      const c = programmedCondition(g);
      return [...(allNamespaces ? [g.metadata.namespace ?? 'default'] : []), g.metadata.name, String(c?.['status'] ?? 'Unknown'), 'Programmed', String(c?.['reason'] ?? '-'), String(c?.['message'] ?? 'no status yet')];
    });
  return renderTable(header, rows);
}

export function register(program: Command, ctx: CliContext): void {
  const waypoint = program.command('waypoint').description('manage waypoints (Gateways of class istio-waypoint)');
  waypoint
    .command('generate')
    .description('print the Gateway YAML of a waypoint')
    .option('--name <name>', 'waypoint name', 'waypoint')
    .option('--for <type>', `traffic type: ${TRAFFIC_TYPES.join(', ')} (default: none set, the control plane's default applies)`)
    .action((opts: { name: string; for?: string }, cmd: Command) => {
      ctx.stdout.write(stringify(waypointGateway(checkName(opts.name), namespaceOf(cmd), checkFor(opts.for))));
    });
  waypoint
    .command('apply')
    .description('create or update a waypoint (the control plane deploys it)')
    .option('--name <name>', 'waypoint name', 'waypoint')
    .option('--for <type>', `traffic type: ${TRAFFIC_TYPES.join(', ')}`)
    .option('--enroll-namespace', 'label the namespace istio.io/use-waypoint=<name> once the waypoint is ready: its services use it', false)
    .option('--overwrite', 'replace an existing istio.io/use-waypoint label of the namespace', false)
    .option('-w, --wait', 'wait until the waypoint is programmed', false)
    .option('--waypoint-timeout <duration>', 'how long --wait waits', `${DEFAULT_TIMEOUT_S}s`)
    .action(async (opts: { name: string; for?: string; enrollNamespace: boolean; overwrite: boolean; wait: boolean; waypointTimeout: string }, cmd: Command) => {
      const name = checkName(opts.name);
      const trafficType = checkFor(opts.for);
      const timeoutMs = timeoutOf(opts.waypointTimeout);
      const ns = namespaceOf(cmd);
      const api = ctx.client(cmd);
      const { gateway, ns: nsKind } = kinds();
      const namespace = await api.get(nsKind, undefined, ns).catch(() => undefined);
      if (!namespace) throw new CliError(`namespace ${ns} does not exist`);
      const want = waypointGateway(name, ns, trafficType);
      const live = await api.get(gateway, ns, name).catch(() => undefined);
      if (live) {
        const labels = { ...(live.metadata.labels ?? {}) };
        if (trafficType) labels[WAYPOINT_FOR_LABEL] = trafficType;
        await api.update({ ...live, metadata: { ...live.metadata, labels }, spec: want.spec });
      } else {
        await api.create(want);
      }
      ctx.stdout.write(`waypoint ${ns}/${name} applied\n`);
      if (opts.enrollNamespace) {
        // A bound waypoint that is not ready refuses traffic (fail closed): bind the namespace once it is programmed.
        await waitProgrammed(api, ns, name, timeoutMs);
        const labels = namespace.metadata.labels ?? {};
        const current = labels[USE_WAYPOINT_LABEL];
        if (current !== undefined && current !== name && !opts.overwrite) {
          ctx.stderr.write(`warning: namespace ${ns} already uses waypoint "${current}" (${USE_WAYPOINT_LABEL}); not changed: use --overwrite to replace it\n`);
        } else if (current !== name) {
          await api.patch(nsKind, undefined, ns, { metadata: { labels: { [USE_WAYPOINT_LABEL]: name }, resourceVersion: namespace.metadata.resourceVersion } });
          ctx.stdout.write(`namespace ${ns} labeled with "${USE_WAYPOINT_LABEL}: ${name}"\n`);
        }
        if (labels[DATAPLANE_MODE_LABEL] !== DATAPLANE_MODE_AMBIENT) {
          ctx.stderr.write(`warning: namespace ${ns} is not enrolled in ambient (${DATAPLANE_MODE_LABEL}=${DATAPLANE_MODE_AMBIENT}): its traffic does not reach the waypoint until it is\n`);
        }
      }
      if (opts.wait) await waitProgrammed(api, ns, name, timeoutMs);
    });
  waypoint
    .command('status')
    .description('show whether waypoints are programmed: NAME STATUS TYPE REASON MESSAGE')
    .option('--name <name>', 'only this waypoint')
    .option('-A, --all-namespaces', 'across all namespaces', false)
    .option('--no-wait', 'do not wait for the waypoints to be programmed')
    .option('--waypoint-timeout <duration>', 'how long to wait', `${DEFAULT_TIMEOUT_S}s`)
    .action(async (opts: { name?: string; allNamespaces: boolean; wait: boolean; waypointTimeout: string }, cmd: Command) => {
      const timeoutMs = timeoutOf(opts.waypointTimeout);
      const api = ctx.client(cmd);
      const ns = namespaceOf(cmd);
      const list = async () => (await api.list(kinds().gateway, opts.allNamespaces ? {} : { namespace: ns })).items
        .filter((g) => rec(g.spec)['gatewayClassName'] === WAYPOINT_GATEWAY_CLASS && (!opts.name || g.metadata.name === opts.name));
      let gateways = await list();
      if (!gateways.length) {
        if (opts.name) throw new CliError(`waypoint ${ns}/${opts.name} not found`);
        ctx.stdout.write(opts.allNamespaces ? 'No waypoints found.\n' : `No waypoints found in namespace ${ns}.\n`);
        return;
      }
      if (opts.wait) {
        const deadline = Date.now() + timeoutMs;
        while (gateways.some((g) => programmedCondition(g)?.['status'] !== 'True') && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
          gateways = await list();
        }
      }
      ctx.stdout.write(renderWaypointStatus(gateways, opts.allNamespaces));
      if (gateways.some((g) => programmedCondition(g)?.['status'] !== 'True')) ctx.exitCode = 1;
    });
  waypoint
    .command('delete')
    .description('delete waypoints by name (or --all in the namespace), and unbind what pointed at them')
    .argument('[names...]', 'waypoint names')
    .option('--all', 'every waypoint in the namespace', false)
    .action(async (names: string[], opts: { all: boolean }, cmd: Command) => {
      if (opts.all && names.length) throw new CliError('cannot use waypoint names together with --all');
      if (!opts.all && !names.length) throw new CliError('name the waypoints to delete, or use --all');
      const api = ctx.client(cmd);
      const ns = namespaceOf(cmd);
      const { gateway } = kinds();
      const targets = opts.all
        ? (await api.list(gateway, { namespace: ns })).items.filter((g) => rec(g.spec)['gatewayClassName'] === WAYPOINT_GATEWAY_CLASS).map((g) => g.metadata.name)
        : names;
      for (const name of targets) {
        const live = await api.get(gateway, ns, name).catch(() => undefined);
        if (!live || rec(live.spec)['gatewayClassName'] !== WAYPOINT_GATEWAY_CLASS) throw new CliError(`waypoint ${ns}/${name} not found`);
        await unbind(api, ns, name, (line) => ctx.stdout.write(`${line}\n`));
        await api.delete(gateway, ns, name);
        ctx.stdout.write(`waypoint ${ns}/${name} deleted\n`);
      }
      if (opts.all && !targets.length) ctx.stdout.write(`No waypoints found in namespace ${ns}.\n`);
    });
  waypoint
    .command('list')
    .description('list waypoints: NAME REVISION TRAFFIC TYPE PROGRAMMED')
    .option('-A, --all-namespaces', 'list across all namespaces', false)
    .action(async (opts: { allNamespaces: boolean }, cmd: Command) => {
      const gatewayKind = kindByName('Gateway');
      const classKind = kindByName('GatewayClass');
      if (!gatewayKind || !classKind) throw new CliError('this build does not know the Gateway API kinds');
      const api = ctx.client(cmd);
      const ns = namespaceOf(cmd);
      const gateways = (await api.list(gatewayKind, opts.allNamespaces ? {} : { namespace: ns })).items;
      const classes = (await api.list(classKind)).items;
      if (!gateways.some((g) => rec(g.spec)['gatewayClassName'] === WAYPOINT_GATEWAY_CLASS)) {
        ctx.stdout.write(opts.allNamespaces ? 'No waypoints found.\n' : `No waypoints found in namespace ${ns}.\n`);
        return;
      }
      ctx.stdout.write(renderWaypointList(gateways, classes, opts.allNamespaces));
    });
}
