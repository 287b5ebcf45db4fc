// `ambit proxy-status`: every client connected to the control plane's xDS server (ztunnels and waypoints) with
// resource counts per type, the last ACKed nonce, NACKs and the time since the last push. Reads
// GET /debug/xds/clients from the control plane.
import type { Command } from 'commander';
import { CliError, type CliContext } from './cli-context.js';
import { humanDuration } from './age.js';
import { renderTable } from './table.js';

/** The shape served at /debug/xds/clients (see controlplane/xds/xds-server.ts XdsClientStatus). */
interface ClientRow {
  connectionId: string;
  nodeId: string;
  kind: string;
  caller: string;
  peer: string;
  connectedAt: string;
  types: Array<{ type: string; resources: number; lastAckedNonce?: string; lastSentNonce?: string; nacks: number; lastNack?: { message: string; at: string }; lastPushAt?: string }>;
}

const TYPES = ['Address', 'Authorization', 'WaypointConfig'];

/** Renders the clients table (exported for tests). */
export function renderProxyStatus(items: ClientRow[], nowMs: number, wide: boolean): string {
  const header = ['NAME', 'KIND', 'CALLER', 'ADDRESSES', 'AUTHORIZATIONS', 'WAYPOINT CONFIGS', 'LAST ACKED NONCE', 'NACKS', 'LAST PUSH'];
  if (wide) header.push('LAST NACK');
  const rows = [...items]
    .sort((a, b) => (a.nodeId || a.caller).localeCompare(b.nodeId || b.caller))
    .map((c) => {
      const byType = new Map(c.types.map((t) => [t.type, t]));
      const count = (t: string) => (byType.has(t) ? String(byType.get(t)!.resources) : '-');
      const acked = c.types.map((t) => t.lastAckedNonce).filter((x): x is string => !!x).sort((a, b) => nonceOrder(a) - nonceOrder(b)).pop() ?? '-';
      const nacks = c.types.reduce((n, t) => n + t.nacks, 0);
      const lastPush = c.types.map((t) => (t.lastPushAt ? Date.parse(t.lastPushAt) : 0)).reduce((a, b) => Math.max(a, b), 0);
      const row = [c.nodeId || c.connectionId, c.kind, c.caller, count(TYPES[0]!), count(TYPES[1]!), count(TYPES[2]!), acked, String(nacks), lastPush ? `${humanDuration(nowMs - lastPush)} ago` : 'never'];
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
      const body = (await ctx.client(cmd).requestJson('GET', '/debug/xds/clients')) as { items?: unknown } | null;
      if (!body || !Array.isArray(body.items)) throw new CliError('the control plane answered /debug/xds/clients without an items list (is its xDS server running?)');
      const items = body.items as ClientRow[];
      if (opts.output === 'json') {
        ctx.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
        return;
      }
      if (!items.length) {
        ctx.stdout.write('No xDS clients are connected.\n');
        return;
      }
      ctx.stdout.write(renderProxyStatus(items, ctx.now(), opts.output === 'wide'));
    });
}
