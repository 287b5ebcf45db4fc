// `ambit proxy-status`: every client connected to the control plane's xDS server (ztunnels and waypoints) with
// resource counts per type, the last ACKed nonce, NACKs and the time since the last push, and the node agents
// holding watches on its API. Reads GET /debug/xds/clients and GET /debug/api/watchers from the control plane
// (mesh-state.ts says how). On Kubernetes node agents watch the API server, not the control plane: no watcher rows.
import type { Command } from 'commander';
import { CliError, type CliContext } from './cli-context.js';
import { humanDuration } from './age.js';
import { renderTable } from './table.js';
import { meshStateOf } from './mesh-state.js';
import { NODE_AGENT_USER_AGENT, WATCH_CLIENTS_PATH, type WatchClientStatus } from '../lib/watch-clients.js';

/** The shape served at /debug/xds/clients (see controlplane/xds/xds-server.ts XdsClientStatus). */
interface ClientRow {
  connectionId: string;
  nodeId: string;
  kind: string;
  caller: string;
  peer: string;
  connectedAt: string;
  types: Array<{ type: string; resources: number; lastAckedNonce?: string; lastSentNonce?: string; nacks: number; lastNack?: { message: string; at: string }; lastPushAt?: string }>;
  /** Node agents only: how many API watches it holds. */
  watches?: number;
}

const TYPES = ['Address', 'Authorization', 'WaypointConfig'];

/**
 * A node agent's watches shown as a client row: its config comes over API watches, not xDS, so the xDS columns
 * stay empty. Only clients that name themselves node agents are shown (the CLI's own watches are not proxies).
 */
export function nodeAgentRows(watchers: WatchClientStatus[]): ClientRow[] {
  return watchers.filter((w) => w.client.startsWith(NODE_AGENT_USER_AGENT)).map((w) => {
    const node = w.client.slice(NODE_AGENT_USER_AGENT.length);
    return { connectionId: `nodeagent~${node}`, nodeId: `nodeagent~${node}`, kind: 'nodeagent', caller: `node/${node}`, peer: '', connectedAt: w.connectedAt, types: [], watches: w.watches };
  });
}

/** Renders the clients table (exported for tests). */
export function renderProxyStatus(items: ClientRow[], nowMs: number, wide: boolean): string {
  const header = ['NAME', 'KIND', 'CALLER', 'CONNECTED', 'ADDRESSES', 'AUTHORIZATIONS', 'WAYPOINT CONFIGS', 'LAST ACKED NONCE', 'NACKS', 'LAST PUSH'];
  if (wide) header.push('LAST NACK');
  const rows = [...items]
    .sort((a, b) => (a.nodeId || a.caller).localeCompare(b.nodeId || b.caller))
    .map((c) => {
      const byType = new Map(c.types.map((t) => [t.type, t]));
      const xds = c.kind !== 'nodeagent';
      const count = (t: string) => (byType.has(t) ? String(byType.get(t)!.resources) : '-');
      const acked = c.types.map((t) => t.lastAckedNonce).filter((x): x is string => !!x).sort((a, b) => nonceOrder(a) - nonceOrder(b)).pop() ?? '-';
      const nacks = c.types.reduce((n, t) => n + t.nacks, 0);
      const lastPush = c.types.map((t) => (t.lastPushAt ? Date.parse(t.lastPushAt) : 0)).reduce((a, b) => Math.max(a, b), 0);
      const connected = Date.parse(c.connectedAt);
      const row = [c.nodeId || c.connectionId, c.kind, c.caller, Number.isFinite(connected) ? `${humanDuration(Math.max(0, nowMs - connected))} ago` : '-',
        count(TYPES[0]!), count(TYPES[1]!), count(TYPES[2]!), acked, xds ? String(nacks) : '-', !xds ? '-' : lastPush ? `${humanDuration(nowMs - lastPush)} ago` : 'never'];
      if (wide) {
        const last = c.types.filter((t) => t.lastNack).sort((a, b) => Date.parse(b.lastNack!.at) - Date.parse(a.lastNack!.at))[0];
        row.push(last ? `${last.type}: ${last.lastNack!.message}` : '-');
      }
      return row;
    });
  return renderTable(header, rows);
}

// Nonces are `<connection>-<n>`; order by n.
function nonceOrder(nonce: string): number {
  const n = Number(nonce.slice(nonce.lastIndexOf('-') + 1));
  return Number.isFinite(n) ? n : 0;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('proxy-status')
    .description('list the ztunnels and waypoints connected to the control plane and their xDS sync state')
    .option('-o, --output <format>', 'wide (adds the last NACK) or json', '')
    .action(async (opts: { output: string }, cmd: Command) => {
      if (opts.output && !['wide', 'json'].includes(opts.output)) throw new CliError(`--output: unknown format '${opts.output}' (use wide or json)`);
      const state = meshStateOf(ctx, cmd);
      const body = (await state.controlPlane('/debug/xds/clients')) as { items?: unknown } | null;
      if (!body || !Array.isArray(body.items)) throw new CliError('the control plane answered /debug/xds/clients without an items list (is its xDS server running?)');
      const watchers = ctx.client(cmd).isKube ? null : (await state.controlPlane(WATCH_CLIENTS_PATH)) as { items?: unknown } | null;
      const items = [...(body.items as ClientRow[]), ...nodeAgentRows(Array.isArray(watchers?.items) ? (watchers.items as WatchClientStatus[]) : [])];
      if (opts.output === 'json') {
        ctx.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
        return;
      }
      if (!items.length) {
        ctx.stdout.write('No ztunnel, waypoint or node agent is connected.\n');
        return;
      }
      ctx.stdout.write(renderProxyStatus(items, ctx.now(), opts.output === 'wide'));
    });
}
