// `ambit ca show|rotate|retire-old-root`: inspect the mesh CA and rotate its root through the control plane's REST API.
import type { Command } from 'commander';
import { CliError, type CliContext } from './cli-context.js';

interface RootView {
  id: string;
  role: string;
  subject: string;
  serialNumber: string;
  notAfter: string;
}

interface CaStatusView {
  mode: string;
  trustDomain: string;
  maxTtlSeconds: number;
  signingCertificate: { subject: string; serialNumber: string; notAfter: string };
  roots: RootView[];
  rotatedAt?: string;
  retireAllowedAfter?: string;
}

function asStatus(body: unknown): CaStatusView {
  const s = body as Partial<CaStatusView> | null;
  if (!s || typeof s !== 'object' || !Array.isArray(s.roots) || !s.signingCertificate) throw new CliError('the control plane returned an unexpected CA status');
  return s as CaStatusView;
}

function renderStatus(s: CaStatusView): string {
  const lines = [
    `Mode:            ${s.mode}`,
    `Trust domain:    ${s.trustDomain}`,
    `Max leaf TTL:    ${s.maxTtlSeconds}s`,
    `Signing cert:    ${s.signingCertificate.subject} (serial ${s.signingCertificate.serialNumber}, expires ${s.signingCertificate.notAfter})`,
  ];
  if (s.rotatedAt) lines.push(`Rotated at:      ${s.rotatedAt} (old root still trusted; retire after ${s.retireAllowedAfter ?? 'its leaves expire'})`);
  const rows = [['ROLE', 'ID', 'EXPIRES', 'SUBJECT'], ...s.roots.map((r) => [r.role, r.id, r.notAfter, r.subject])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  lines.push('Trust bundle:');
  for (const r of rows) lines.push('  ' + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join(''));
  return lines.join('\n') + '\n';
}

export function register(program: Command, ctx: CliContext): void {
  const ca = program.command('ca').description("inspect the mesh certificate authority and rotate its root");

  ca.command('show')
    .description('show the CA mode, trust domain, signing certificate and trusted roots (never keys)')
    .option('-o, --output <format>', 'json for machine-readable output')
    .action(async (opts: { output?: string }, cmd: Command) => {
      if (opts.output !== undefined && opts.output !== 'json') throw new CliError(`--output: unsupported format '${opts.output}' (use json)`);
      const status = asStatus(await ctx.client(cmd).requestJson('GET', '/ambit/v1/ca'));
      ctx.stdout.write(opts.output === 'json' ? JSON.stringify(status, null, 2) + '\n' : renderStatus(status));
    });

  ca.command('rotate')
    .description('introduce a new root: it signs new certificates at once, the old root stays trusted until retired')
    .action(async (_opts: unknown, cmd: Command) => {
      const body = (await ctx.client(cmd).requestJson('POST', '/ambit/v1/ca/rotate', {})) as { newRootId?: string; previousRootId?: string; ca?: unknown };
      const status = asStatus(body.ca);
      ctx.stdout.write(
        `CA root rotated: new root ${body.newRootId} signs new certificates; old root ${body.previousRootId} stays trusted.\n` +
          `Retire it after ${status.retireAllowedAfter ?? 'its certificates expire'} with 'ambit ca retire-old-root'.\n`,
      );
    });

  ca.command('retire-old-root')
    .description('remove the previous root from the trust bundle once its certificates have expired')
    .option('--force', 'retire now even if certificates signed by the old root may still be valid', false)
    .action(async (opts: { force: boolean }, cmd: Command) => {
      const body = (await ctx.client(cmd).requestJson('POST', '/ambit/v1/ca/retire-old-root', { force: opts.force })) as { retiredRootId?: string };
      ctx.stdout.write(`old CA root ${body.retiredRootId} retired; the trust bundle now holds only the current root.\n`);
    });
}
