// `ambit waypoint list [-n NS | -A]` (istioctl waypoint list): the Gateways of class istio-waypoint with their
// revision, the traffic type they take and whether they are programmed.
import type { Command } from 'commander';
import { kindByName, type KubeObject } from '../api/index.js';
import { CliError, namespaceOf, type CliContext } from './cli-context.js';
import { renderTable } from './table.js';
import { WAYPOINT_FOR_LABEL, WAYPOINT_GATEWAY_CLASS } from '../lib/mesh-contract.js';

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

export function register(program: Command, ctx: CliContext): void {
  const waypoint = program.command('waypoint').description('inspect waypoints (Gateways of class istio-waypoint)');
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
