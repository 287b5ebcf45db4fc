// `ambit check` (like `istioctl x precheck`): can this machine run the sandbox mesh? One line per check with
// PASS/FAIL/WARN/SKIP, the fix under every problem, exit 1 when anything blocks the sandbox.
import { release } from 'node:os';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { MeshError } from '../lib/errors.js';
import { blockingFailures, runPrechecks, type CheckResult } from '../platform/precheck.js';

class CheckCommandError extends MeshError {
  constructor(message: string) {
    super('CHECK_COMMAND', message);
  }
}

interface CheckVerbContext {
  readonly stdout: Writable;
  exitCode: number;
}

/** Runs the machine checks for this process (uid, Node version, kernel) with a probe netns named after the pid. */
export function checkThisMachine(): Promise<CheckResult[]> {
  return runPrechecks({
    uid: typeof process.getuid === 'function' ? process.getuid() : -1,
    nodeVersion: process.version,
    kernelRelease: release(),
    probeNetns: `ambit-precheck-${process.pid}`,
  });
}

const MARK: Record<CheckResult['status'], string> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' };

/** The report: one line per check, `fix:` lines under problems, and a verdict line. */
function formatCheckReport(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.title.length));
  const out: string[] = [];
  for (const r of results) {
    out.push(`[${MARK[r.status]}] ${r.title.padEnd(width)}  ${r.detail}`);
    if (r.status !== 'pass' && r.fix) out.push(`       fix: ${r.fix}`);
  }
  const failed = blockingFailures(results).length;
  const warned = results.filter((r) => r.status === 'warn').length;
  out.push('');
  out.push(failed === 0
    ? `This machine can run the Ambit sandbox${warned ? ` (${warned} warning${warned > 1 ? 's' : ''} above)` : ''}: try \`ambit demo\`.`
    : `${failed} problem${failed > 1 ? 's' : ''} block${failed > 1 ? '' : 's'} the Ambit sandbox: apply the fix${failed > 1 ? 'es' : ''} above, then run \`ambit check\` again.`);
  return `${out.join('\n')}\n`;
}

export function registerCheckVerb(program: Command, ctx: CheckVerbContext): void {
  program
    .command('check')
    .description('check that this machine can run the sandbox mesh: root, kernel features, binaries, ports (each with its fix)')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { output: string }) => {
      if (opts.output !== 'text' && opts.output !== 'json') throw new CheckCommandError(`--output must be text or json, got "${opts.output}"`);
      const results = await checkThisMachine();
      ctx.stdout.write(opts.output === 'json' ? `${JSON.stringify(results, null, 2)}\n` : formatCheckReport(results));
      if (blockingFailures(results).length) ctx.exitCode = 1;
    });
}
