// CPU time and resident memory of running processes, read from /proc (Linux): the proxy cost figures come from here.
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { ProcessUsage } from './figures.js';

/** A process whose cost is charged to a path (a proxy): its display name and pid. */
export interface ProxyProcess {
  name: string;
  pid: number;
}

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every mainstream Linux build). */
const TICKS_PER_SECOND = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds of the whole process (all threads; reaped children excluded). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14 and stime field 15.
  return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND;
}

function statusKiB(pid: number, key: 'VmRSS' | 'VmHWM' | 'RssAnon'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`/proc/${pid}/status has no ${key} line`);
  return Number(m[1]);
}

/** Current resident set in KiB. */
export function rssKiB(pid: number): number {
  return statusKiB(pid, 'VmRSS');
}

/**
 * Starts a measurement window over `processes`: resets each one's peak-RSS watermark (clear_refs 5, Linux ≥ 4.0)
 * and records its CPU time. `finish()` returns the CPU seconds spent and the peak RSS reached inside the window, and
 * the private (anonymous) resident memory at its end: RSS also counts the pages of the executable and libraries a
 * process has touched, which every process running the same binary shares (≈45 MiB of `node`, a few of stunnel's).
 */
export function startUsageWindow(processes: readonly ProxyProcess[]): { finish(): ProcessUsage[] } {
  const start = processes.map((p) => {
    try {
      writeFileSync(`/proc/${p.pid}/clear_refs`, '5');
    } catch {
      // Without the reset the peak is the lifetime peak: an over-estimate, never an under-estimate.
    }
    return cpuSeconds(p.pid);
  });
  return {
    finish: () => processes.map((p, i) => ({
      name: p.name,
      pid: p.pid,
      cpuSeconds: round(cpuSeconds(p.pid) - start[i]!, 3),
      peakRssMiB: round(statusKiB(p.pid, 'VmHWM') / 1024, 2),
      privateMiB: round(statusKiB(p.pid, 'RssAnon') / 1024, 2),
    })),
  };
}

/** Total private resident memory (RssAnon) of `processes` right now, MiB. */
export function totalPrivateMiB(processes: readonly ProxyProcess[]): number {
  return round(processes.reduce((sum, p) => sum + statusKiB(p.pid, 'RssAnon'), 0) / 1024, 1);
}

/** Total resident KiB of `processes` right now. */
export function totalRssKiB(processes: readonly ProxyProcess[]): number {
  return processes.reduce((sum, p) => sum + rssKiB(p.pid), 0);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
