// The external tools the benchmark drives (iperf3, wrk, stunnel, HAProxy, openssl): finding them, installing the
// missing ones from Debian's packages when allowed, their versions, and a description of the machine.
import { cpus, loadavg, totalmem } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { runCommand } from '../../src/platform/index.js';

/** Binary → Debian package. */
export const TOOLS: Record<string, string> = {
  iperf3: 'iperf3',
  wrk: 'wrk',
  stunnel4: 'stunnel4',
  haproxy: 'haproxy',
  openssl: 'openssl',
  ss: 'iproute2',
};

async function has(bin: string): Promise<boolean> {
  try {
    await runCommand(['sh', '-c', `command -v ${bin}`]);
    return true;
  } catch {
    return false;
  }
}

/** Binaries from TOOLS that are not on PATH. */
export async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const bin of Object.keys(TOOLS)) if (!(await has(bin))) missing.push(bin);
  return missing;
}

/** Installs the packages of the missing tools with apt-get (root); returns what is still missing afterwards. */
export async function installMissingTools(progress: (line: string) => void): Promise<string[]> {
  const missing = await missingTools();
  if (missing.length === 0) return [];
  const pkgs = [...new Set(missing.map((b) => TOOLS[b]!))];
  progress(`installing ${pkgs.join(' ')} with apt-get`);
  await runCommand(['apt-get', 'update', '-qq'], { timeoutMs: 300_000 });
  await runCommand(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '-qq', ...pkgs], { timeoutMs: 600_000 });
  return missingTools();
}

/** The first line of a command's output (stdout, else stderr) matching `pattern`, whatever its exit status. */
function versionLine(argv: string[], pattern: RegExp): string {
  // Some tools (wrk) print their version and exit non-zero: read both streams whatever the status.
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 10_000 });
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  return text.split('\n').map((l) => l.trim()).find((l) => pattern.test(l)) ?? 'unknown';
}

export interface MachineDescription {
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  tools: Record<string, string>;
  /** 1-minute load average when the run started and when it ended: other work on the machine skews every figure. */
  loadAverage: { start: number; end?: number };
}

export function describeMachine(): MachineDescription {
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? 'unknown';
  const debian = existsSync('/etc/debian_version') ? ` (${readFileSync('/etc/debian_version', 'utf8').trim()})` : '';
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: versionLine(['uname', '-r'], /\S/),
    os: pretty + debian,
    node: process.version,
    loadAverage: { start: Math.round(loadavg()[0]! * 100) / 100 },
    tools: {
      iperf3: versionLine(['iperf3', '--version'], /^iperf /),
      wrk: (versionLine(['wrk', '--version'], /^wrk /)).replace(/ Copyright.*/, ''),
      stunnel: versionLine(['stunnel4', '-version'], /^stunnel \d/),
      haproxy: versionLine(['haproxy', '-v'], /^HAProxy version/),
      openssl: versionLine(['openssl', 'version'], /^OpenSSL/),
    },
  };
}
