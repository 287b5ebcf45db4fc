// Test fixture for e2e tests: a real sandbox cluster driven through the `ambit` CLI, deleted when the test ends.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pollUntil } from './poll.js';
import type { KubeObject } from '../../api/index.js';
import { CommandError, listNetns, runCommand } from '../../platform/index.js';
import { POD_NETNS_ANNOTATION } from '../../lib/mesh-contract.js';
import { kubeBinDir } from '../kube/kube-cluster.js';

let seq = 0;

interface CliResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Registers cleanup on anything with `after` (node:test's TestContext). */
export interface AfterHook {
  after(fn: () => Promise<void> | void): void;
}

/**
 * A TCP client run inside a pod with bash's /dev/tcp: prints what the server sends and exits 0, or fails
 * (refused, unreachable, 3 s timeout) with the reason on stderr.
 */
const TCP_PROBE = 'exec 3<>"/dev/tcp/$0/$1" && cat <&3';

export class SandboxFixture {
  readonly mainScript = fileURLToPath(new URL('../../main.js', import.meta.url));
  #deleted = false;

  private constructor(readonly name: string, readonly dataDir: string) {}

  /** Creates a cluster with a unique name (`t<pid>x<n>`) in a fresh data dir; deleted after the test. */
  static async create(t: AfterHook, nodes: number, opts: { withoutZtunnel?: boolean; ztunnelGracePeriodSeconds?: number; kubernetes?: boolean; ingressPorts?: string[] } = {}): Promise<SandboxFixture> {
    const name = `t${process.pid}x${++seq}`;
    const dataDir = join(mkdtempSync(join(tmpdir(), `ambit-${name}-`)), 'data');
    const fx = new SandboxFixture(name, dataDir);
    t.after(() => fx.#cleanup());
    await fx.cli(['cluster', 'create', '--name', name, '--nodes', String(nodes), ...(opts.withoutZtunnel ? ['--without-ztunnel'] : []),
      ...(opts.kubernetes ? ['--kubernetes'] : []),
      ...(opts.ingressPorts ?? []).flatMap((p) => ['--ingress-port', p]),
      ...(opts.ztunnelGracePeriodSeconds === undefined ? [] : ['--ztunnel-grace-period', String(opts.ztunnelGracePeriodSeconds)])]);
    return fx;
  }

  /** Runs `ambit --data-dir D …`; rejects on a non-zero exit unless `allowFail`. */
  async cli(args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): Promise<CliResult> {
    try {
      const r = await runCommand([process.execPath, this.mainScript, '--data-dir', this.dataDir, ...args], { timeoutMs: opts.timeoutMs ?? 60_000 });
      return { ...r, code: 0 };
    } catch (err) {
      if (opts.allowFail && err instanceof CommandError && err.exitCode !== null) return { stdout: '', stderr: err.stderr, code: err.exitCode };
      throw err;
    }
  }

  /** Runs the built kubectl with the cluster's kubeconfig (clusters made with `kubernetes: true`); rejects on failure. */
  async kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const kubectl = join(await kubeBinDir(), 'kubectl');
    const r = await runCommand([kubectl, `--kubeconfig=${join(this.dataDir, 'kubeconfig')}`, ...args], { input: opts.input, timeoutMs: opts.timeoutMs ?? 30_000 });
    return r.stdout;
  }

  async apply(manifest: object[]): Promise<void> {
    const file = join(this.dataDir, '..', `manifest-${++seq}.json`);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifest }));
    await this.cli(['apply', '-f', file]);
  }

  async pod(namespace: string, name: string): Promise<KubeObject> {
    return JSON.parse((await this.cli(['get', 'pod', name, '-n', namespace, '-o', 'json'])).stdout) as KubeObject;
  }

  /** Polls `fn` until it returns a truthy value (returned) or `timeoutMs` passes (throws with `what`). */
  async waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 200): Promise<T> {
    return pollUntil(what, fn, timeoutMs, everyMs);
  }

  /** Waits until the pod is Running and returns it. */
  async running(namespace: string, name: string): Promise<KubeObject> {
    return this.waitFor(`pod ${namespace}/${name} Running`, async () => {
      const p = await this.pod(namespace, name);
      return (p.status as { phase?: string } | undefined)?.phase === 'Running' ? p : undefined;
    });
  }

  /** Connects from inside `pod` to host:port: the server's greeting, or `ERR <reason>` when the connection failed. */
  async connect(namespace: string, pod: string, host: string, port: number): Promise<string> {
    const r = await this.cli(['exec', pod, '-n', namespace, '--', 'timeout', '3', 'bash', '-c', TCP_PROBE, host, String(port)], { allowFail: true });
    if (r.code === 0) return r.stdout.trim();
    return `ERR ${r.code === 124 ? 'timeout' : r.stderr.trim().split('\n').pop()}`;
  }

  /** The netns of a pod, from the sandbox annotation. */
  async netnsOf(namespace: string, pod: string): Promise<string> {
    const p = await this.pod(namespace, pod);
    const ns = p.metadata.annotations?.[POD_NETNS_ANNOTATION];
    if (!ns) throw new Error(`pod ${namespace}/${pod} has no netns annotation`);
    return ns;
  }

  /** Pids of every process in the cluster's namespaces right now. */
  async processIds(): Promise<number[]> {
    const pids: number[] = [];
    for (const ns of (await listNetns()).filter((n) => n.startsWith(`${this.name}.`))) {
      const { stdout } = await runCommand(['ip', 'netns', 'pids', ns]);
      pids.push(...stdout.split(/\s+/).filter(Boolean).map(Number));
    }
    return pids;
  }

  /** `cluster delete`, then what is left of the cluster (all lists must be empty). */
  async deleteAndFindLeftovers(): Promise<{ netns: string[]; processes: number[]; files: string[]; etcNetns: string[] }> {
    const pids = await this.processIds();
    await this.cli(['cluster', 'delete']);
    this.#deleted = true;
    const isAlive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // A killed process may linger a moment until it is reaped.
    for (let i = 0; i < 30 && pids.some(isAlive); i++) await new Promise((r) => setTimeout(r, 100));
    const alive = pids.filter(isAlive);
    const byCmdline = (await runCommand(['ps', '-eo', 'pid=,args=']).then((r) => r.stdout)).split('\n')
      .filter((l) => l.includes(this.dataDir)).map((l) => Number(l.trim().split(/\s+/)[0]));
    const etc = existsSync('/etc/netns') ? readdirSync('/etc/netns').filter((n) => n.startsWith(`${this.name}.`)) : [];
    const files = [this.dataDir, `/run/ambit/clusters/${this.name}.json`].filter((f) => existsSync(f));
    return {
      netns: (await listNetns()).filter((n) => n.startsWith(`${this.name}.`)),
      processes: [...alive, ...byCmdline],
      files,
      etcNetns: etc,
    };
  }

  async #cleanup(): Promise<void> {
    if (!this.#deleted) await this.cli(['cluster', 'delete'], { allowFail: true }).catch(() => undefined);
    rmSync(join(this.dataDir, '..'), { recursive: true, force: true });
  }
}
