// The benchmark's world: a two-node sandbox cluster (built with the real `ambit` CLI), the client/server workload
// pairs deployed in it, the extra processes the harness starts inside its netns (proxies), and their teardown.
import { mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { SandboxFixture, type AfterHook } from '../../src/sandbox/testing/sandbox-fixture.js';
import { runIn, spawnIn } from '../../src/platform/index.js';
import type { KubeObject } from '../../src/api/meta.js';
import { isAlive, type ProxyProcess } from './proc-stats.js';

/** Ports of the server pod's apps (the same in every pair). */
export const SERVER_PORTS = { http: 8080, iperf: 5201, echo: 9000 } as const;

export interface Endpoint {
  host: string;
  port: number;
}

/** Where the client reaches each server app on a given path. */
export interface PathTargets {
  http: Endpoint;
  iperf: Endpoint;
  echo: Endpoint;
}

export interface BenchNode {
  name: string;
  netns: string;
  /** The node's address on the cluster fabric. */
  ip: string;
  /** The node's address as seen from its pods (every pod's default gateway). */
  podGateway: string;
}

/** A client pod on node1 and a server pod on node2 in one namespace. */
export interface WorkloadPair {
  namespace: string;
  clientNetns: string;
  clientIp: string;
  serverNetns: string;
  serverIp: string;
  /** The server's apps addressed directly by pod IP. */
  direct: PathTargets;
}

interface ClusterInfoJson {
  nodes: Array<{ name: string; netns: string; ip: string; podCidr: string }>;
}

const SERVER_SCRIPT = fileURLToPath(new URL('./server/main.js', import.meta.url));

export class BenchCluster {
  #closing = false;
  /** Processes started by startProcess that died before close(), with the reason. */
  readonly earlyExits: string[] = [];
  readonly #children: Array<{ name: string; child: ChildProcess }> = [];
  readonly #pairs = new Map<string, Promise<WorkloadPair>>();
  readonly #tuned = new Set<string>();

  readonly #hooks: AfterHook & { run(): Promise<void> };

  private constructor(
    readonly fixture: SandboxFixture,
    readonly nodes: BenchNode[],
    /** Scratch directory of this run: certificates, proxy configs and logs. */
    readonly workDir: string,
    hooks: AfterHook & { run(): Promise<void> },
  ) {
    this.#hooks = hooks;
  }

  static async create(): Promise<BenchCluster> {
    const hooks = afterHooks();
    const workDir = mkdtempSync(join(tmpdir(), 'ambit-bench-'));
    hooks.after(() => rmSync(workDir, { recursive: true, force: true }));
    try {
      const fixture = await SandboxFixture.create(hooks, 2);
      const info = JSON.parse((await fixture.cli(['cluster', 'info', '-o', 'json'])).stdout) as ClusterInfoJson;
      const nodes = info.nodes.map((n) => ({
        name: n.name, netns: n.netns, ip: n.ip,
        // cluster-layout: the pod gateway is the first address of the node's pod CIDR.
        podGateway: n.podCidr.replace(/\.0\/\d+$/, '.1'),
      }));
      return new BenchCluster(fixture, nodes, workDir, hooks);
    } catch (err) {
      await hooks.run();
      throw err;
    }
  }

  get dataDir(): string {
    return this.fixture.dataDir;
  }

  /** `<dataDir>/run`: the sandbox's pid files (`<role>.pid`). */
  get runDir(): string {
    return join(this.fixture.dataDir, 'run');
  }

  node(name: 'node1' | 'node2'): BenchNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`the bench cluster has no ${name}`);
    return n;
  }

  /**
   * Live processes of the sandbox whose pid file in `<dataDir>/run/` is named `<prefix>…​.pid` (e.g. `ztunnel-` finds
   * ztunnel-node1.pid and ztunnel-node2.pid), sorted by file name.
   */
  sandboxProcesses(prefix: string): ProxyProcess[] {
    if (!existsSync(this.runDir)) return [];
    return readdirSync(this.runDir)
      .filter((f) => f.startsWith(prefix) && f.endsWith('.pid'))
      .sort()
      .map((f) => ({ name: f.slice(0, -4), pid: Number(readFileSync(join(this.runDir, f), 'utf8').trim()) }))
      .filter((p) => Number.isInteger(p.pid) && p.pid > 0 && isAlive(p.pid));
  }

  /**
   * A client (node1) / server (node2) pair in `namespace`, created on first use with the namespace carrying
   * `namespaceLabels` (e.g. `istio.io/dataplane-mode: ambient`). Resolves once the server's apps listen.
   */
  deployPair(namespace: string, namespaceLabels: Record<string, string> = {}): Promise<WorkloadPair> {
    let pair = this.#pairs.get(namespace);
    if (!pair) {
      pair = this.#createPair(namespace, namespaceLabels);
      this.#pairs.set(namespace, pair);
    }
    return pair;
  }

  async #createPair(namespace: string, namespaceLabels: Record<string, string>): Promise<WorkloadPair> {
    const fx = this.fixture;
    await fx.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: namespaceLabels } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bench-server', namespace, labels: { app: 'bench-server' } },
        spec: { nodeName: 'node2', containers: [
          { name: 'app', command: [process.execPath, SERVER_SCRIPT, String(SERVER_PORTS.http), String(SERVER_PORTS.echo)],
            ports: [{ name: 'http', containerPort: SERVER_PORTS.http }, { name: 'echo', containerPort: SERVER_PORTS.echo }] },
          { name: 'iperf3', command: ['iperf3', '--server', '--port', String(SERVER_PORTS.iperf)], ports: [{ name: 'iperf', containerPort: SERVER_PORTS.iperf }] },
        ] } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bench-client', namespace, labels: { app: 'bench-client' } },
        spec: { nodeName: 'node1', containers: [{ name: 'app', command: ['sleep', 'infinity'] }] } },
    ]);
    const [server, client] = await Promise.all([fx.running(namespace, 'bench-server'), fx.running(namespace, 'bench-client')]);
    const serverIp = (server.status as { podIP: string }).podIP;
    const pair: WorkloadPair = {
      namespace,
      clientNetns: netnsOf(client),
      clientIp: (client.status as { podIP: string }).podIP,
      serverNetns: netnsOf(server),
      serverIp,
      direct: {
        http: { host: serverIp, port: SERVER_PORTS.http },
        iperf: { host: serverIp, port: SERVER_PORTS.iperf },
        echo: { host: serverIp, port: SERVER_PORTS.echo },
      },
    };
    await this.waitListening(pair.serverNetns, Object.values(SERVER_PORTS));
    await this.tuneNetns(pair.clientNetns);
    return pair;
  }

  /** A pod that only provides a netns and an IP (the harness runs its own process there, e.g. HAProxy). */
  async deployHostPod(namespace: string, name: string, node: 'node1' | 'node2'): Promise<{ netns: string; ip: string }> {
    await this.fixture.apply([{ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { app: name } },
      spec: { nodeName: node, containers: [{ name: 'app', command: ['sleep', 'infinity'] }] } }]);
    const pod = await this.fixture.running(namespace, name);
    const netns = netnsOf(pod);
    await this.tuneNetns(netns);
    return { netns, ip: (pod.status as { podIP: string }).podIP };
  }

  /**
   * Lets a netns open many short connections: the connection-rate phase would otherwise run out of ephemeral ports
   * to TIME_WAIT (the side that closes first keeps each for 60 s). Both are per-netns sysctls.
   */
  async tuneNetns(netns: string): Promise<void> {
    if (this.#tuned.has(netns)) return;
    this.#tuned.add(netns);
    await runIn(netns, ['sysctl', '-q', '-w', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65000']);
  }

  /**
   * Starts a long-running process inside `netns` with its file-descriptor limit raised to the hard limit (1,000
   * idle connections need 2,000+ descriptors in a proxy), output to `<workDir>/<name>.log`; stopped by close().
   */
  startProcess(name: string, netns: string, argv: string[]): ProxyProcess {
    const logFile = join(this.workDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawnIn(netns, ['sh', '-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...argv], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    if (!child.pid) throw new Error(`could not start ${name} (${argv[0]}) in ${netns}`);
    this.#children.push({ name, child });
    child.on('exit', (code, signal) => {
      if (!this.#closing) this.earlyExits.push(`${name} exited (${signal ?? `code ${code}`}); see ${logFile}: ${tail(logFile)}`);
    });
    // `ip netns exec` and `sh -c 'exec …'` both exec in place: the child's pid is the process's pid.
    return { name, pid: child.pid };
  }

  /** Waits until TCP listeners on every port exist in `netns` (ss), or throws naming the missing ones. */
  async waitListening(netns: string, ports: readonly number[], timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let missing: number[] = [...ports];
    while (Date.now() < deadline) {
      const { stdout } = await runIn(netns, ['ss', '-Hltn']);
      const listening = new Set([...stdout.matchAll(/:(\d+)\s/g)].map((m) => Number(m[1])));
      missing = ports.filter((p) => !listening.has(p));
      if (missing.length === 0) return;
      if (this.earlyExits.length) throw new Error(this.earlyExits.join('; '));
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`nothing listens on port(s) ${missing.join(', ')} in ${netns} after ${timeoutMs} ms`);
  }

  /** Stops every process started here, deletes the cluster and the scratch directory. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const { child } of this.#children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.all(this.#children.map(({ child }) => waitExit(child, 3000)));
    await this.#hooks.run();
  }
}

/** The pod's netns, from the sandbox's annotation on a Running pod. */
function netnsOf(pod: KubeObject): string {
  const netns = pod.metadata.annotations?.['sandbox.ambit.io/netns'];
  if (!netns) throw new Error(`pod ${pod.metadata.namespace}/${pod.metadata.name} is Running but has no sandbox.ambit.io/netns annotation`);
  return netns;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '(no log)';
  }
}

async function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

/** A node:test-like `after` registry run in reverse order (the sandbox fixture registers its teardown here). */
function afterHooks(): AfterHook & { run(): Promise<void> } {
  const fns: Array<() => Promise<void> | void> = [];
  return {
    after: (fn) => void fns.push(fn),
    async run() {
      while (fns.length) {
        try {
          await fns.pop()!();
        } catch {
          // Teardown continues with the rest; a leftover is visible in `ip netns` and `ambit cluster info`.
        }
      }
    },
  };
}
