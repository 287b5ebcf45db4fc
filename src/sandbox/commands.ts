// The sandbox verbs: `cluster create|info|delete` (and the hidden `cluster supervise` and `cluster outside-world`), `exec` and `logs`.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import { kindByName, type KubeObject } from '../api/index.js';
import type { ApiClient } from '../controlplane/client/index.js';
import { describeError, MeshError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { runCommand, spawnIn, listNetns } from '../platform/index.js';
import { checkClusterName, clusterLayout, type ClusterLayout } from './cluster-layout.js';
import { lookupRegistered, registerCluster, unregisterCluster } from './cluster-registry.js';
import {
  CLUSTER_DATA_ENTRIES, clusterPaths, layoutOf, livePid, readClusterRecord, writeClusterRecord, type ClusterRecord,
} from './cluster-state.js';
import { containerEnvironment, containerLogPath } from './pod-runner.js';
import { hostKubeconfigPath, kubeBinDir } from './kube/kube-cluster.js';
import { ambitMainScript, clusterRoleNames, roleHoldPath, runSupervisor } from './supervisor.js';
import { outsideCaPath, startOutsideWorld } from './outside-world.js';
import { parseIngressPort, type IngressPortMapping } from './ingress-forward.js';
import { buildTopology, destroyTopology, killNetnsProcesses, topologyExists } from './topology.js';
import { untilSignal } from '../lib/signals.js';
import { POD_NETNS_ANNOTATION, REDIRECTION_ANNOTATION } from '../lib/mesh-contract.js';

/** What the verbs need from the composition root (the CLI context satisfies it structurally). */
export interface SandboxVerbContext {
  readonly stdout: Writable;
  readonly stderr: Writable;
  dataDir(cmd: Command): string;
  client(cmd: Command): ApiClient;
  exitCode: number;
}

class SandboxCommandError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SANDBOX_COMMAND', message, options);
  }
}

const DEFAULT_CLUSTER = 'ambit';
const DEFAULT_NODES = 2;
const READY_TIMEOUT_MS = 45_000;
const KUBE_READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 20_000;
/** A held ztunnel drains for its grace period (30 s by default) before it is killed. */
const ROLE_STOP_TIMEOUT_MS = 60_000;
const POD = kindByName('Pod')!;

export function registerSandboxVerbs(program: Command, ctx: SandboxVerbContext): void {
  const cluster = program.command('cluster').description('create, inspect and delete the local sandbox cluster');

  cluster
    .command('create')
    .description('build a local cluster of network namespaces and start its control plane and node agents')
    .option('--name <name>', 'cluster name (netns are named <name>.*)', DEFAULT_CLUSTER)
    .option('--nodes <count>', 'number of nodes', String(DEFAULT_NODES))
    .option('--ztunnel-grace-period <seconds>', 'how long a stopping or restarting ztunnel lets open connections finish (default 30)')
    .option('--ingress-port <host[:gateway]>', 'carry 127.0.0.1:HOST on this machine to port GATEWAY of the ingress gateway (repeatable, e.g. 8443:443)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--kubernetes', 'run a real Kubernetes control plane (kube-apiserver, etcd, controller manager, scheduler) with the sandbox as its kubelet; use kubectl with <data dir>/kubeconfig')
    .addOption(new Option('--without-ztunnel', 'start no ztunnel (tests of the node agent alone; enrolled pods fail closed)').hideHelp())
    .action(async (opts: { name: string; nodes: string; withoutZtunnel?: boolean; ztunnelGracePeriod?: string; kubernetes?: boolean; ingressPort: string[] }, cmd: Command) => {
      const nodes = Number(opts.nodes);
      const ingressPorts = opts.ingressPort.map(parseIngressPort);
      clusterLayout(checkClusterName(opts.name), 0, nodes); // refuses a bad --name or --nodes before anything is touched
      const grace = opts.ztunnelGracePeriod === undefined ? undefined : Number(opts.ztunnelGracePeriod);
      if (grace !== undefined && (!Number.isFinite(grace) || grace < 0 || grace > 3600)) {
        throw new SandboxCommandError(`--ztunnel-grace-period must be a number of seconds from 0 to 3600, got "${opts.ztunnelGracePeriod}"`);
      }
      await createCluster(ctx, ctx.dataDir(cmd), checkClusterName(opts.name), nodes, (l) => ctx.stderr.write(`${l}\n`), {
        withoutZtunnel: opts.withoutZtunnel === true, ztunnelGracePeriodSeconds: grace, kubernetes: opts.kubernetes === true,
        ...(ingressPorts.length ? { ingressPorts } : {}),
      });
    });

  cluster
    .command('info')
    .description('show nodes, pods, processes and log files of the cluster')
    .option('-o, --output <format>', 'output format: text or json', 'text')
    .action(async (opts: { output: string }, cmd: Command) => {
      if (opts.output !== 'text' && opts.output !== 'json') throw new SandboxCommandError(`--output must be text or json, got "${opts.output}"`);
      const info = await clusterInfo(ctx.dataDir(cmd), ctx.client(cmd));
      ctx.stdout.write(opts.output === 'json' ? `${JSON.stringify(info, null, 2)}\n` : formatInfo(info));
    });

  cluster
    .command('delete')
    .description('stop every process of the cluster and remove its namespaces, rules and files')
    .option('--name <name>', 'cluster to delete when the data dir has no record of it')
    .action(async (opts: { name?: string }, cmd: Command) => {
      await deleteCluster(ctx.dataDir(cmd), opts.name, (l) => ctx.stderr.write(`${l}\n`));
    });

  cluster
    .command('stop')
    .description('stop one process of the cluster and keep it stopped (a planned outage) until `cluster start`')
    .argument('<role>', 'controlplane, nodeagent-<node> or ztunnel-<node> (see `cluster info`)')
    .action(async (role: string, _opts: unknown, cmd: Command) => {
      await holdRole(ctx.dataDir(cmd), role, true, (l) => ctx.stderr.write(`${l}\n`));
    });

  cluster
    .command('start')
    .description('start a process stopped by `cluster stop` again; waits until it runs (the control plane: until its API answers)')
    .argument('<role>', 'controlplane, nodeagent-<node> or ztunnel-<node>')
    .action(async (role: string, _opts: unknown, cmd: Command) => {
      await holdRole(ctx.dataDir(cmd), role, false, (l) => ctx.stderr.write(`${l}\n`), ctx.client(cmd));
    });

  cluster
    .command('supervise', { hidden: true })
    .description('run the cluster supervisor in the foreground (started by cluster create)')
    .option('--log-level <level>', 'log level', 'info')
    .action(async (opts: { logLevel: string }, cmd: Command) => {
      const log = createLogger('supervisor', { level: opts.logLevel });
      const stop = untilSignal();
      const handle = await runSupervisor({ dataDir: ctx.dataDir(cmd), log, nodeBinary: process.execPath, logLevel: opts.logLevel });
      const sig = await stop;
      log.info({ signal: sig }, 'stopping the cluster processes');
      await handle.stop();
      log.info('supervisor stopped');
    });

  cluster
    .command('outside-world', { hidden: true })
    .description("serve the cluster's nameserver and outside hosts (run by the supervisor in the outside netns)")
    .option('--log-level <level>', 'log level', 'info')
    .action(async (opts: { logLevel: string }, cmd: Command) => {
      const log = createLogger('outside-world', { level: opts.logLevel });
      const dataDir = ctx.dataDir(cmd);
      const record = readClusterRecord(dataDir);
      if (!record) throw new SandboxCommandError(`no cluster in ${dataDir} (run ambit cluster create first)`);
      const stop = untilSignal();
      const world = await startOutsideWorld({ layout: layoutOf(record), dataDir, log });
      await stop;
      await world.close();
    });

  program
    .command('exec')
    .description("run a command in a pod's network namespace (stdin, stdout and exit code passed through)")
    .argument('<pod>', 'pod name')
    .argument('<command...>', 'command and arguments (after --)')
    .action(async (pod: string, argv: string[], _opts: unknown, cmd: Command) => {
      const ns = namespaceOf(cmd);
      const obj = await getPod(ctx.client(cmd), ns, pod);
      const netns = await podNetns(obj);
      // The command sees what the pod's (first) container sees: its environment and working directory.
      const container = ((obj.spec ?? {}) as { containers?: Array<{ env?: Array<{ name: string; value?: string }>; workingDir?: string }> }).containers?.[0];
      const status = (obj.status ?? {}) as { podIP?: string };
      const env = containerEnvironment(
        { namespace: ns, name: pod, ip: status.podIP ?? '', node: ((obj.spec ?? {}) as { nodeName?: string }).nodeName ?? '' }, container);
      const child = spawnIn(netns, argv, { stdio: 'inherit', env, cwd: container?.workingDir || '/' });
      const code = await new Promise<number>((resolve, reject) => {
        child.once('error', (err) => reject(new SandboxCommandError(`cannot run ${argv[0]} in pod ${ns}/${pod}: ${err.message}`)));
        child.once('close', (c, signal) => resolve(c ?? (signal ? 128 + 15 : 1)));
      });
      ctx.exitCode = code;
    });

  program
    .command('logs')
    .description("print a pod's container output")
    .argument('<pod>', 'pod name')
    .option('-c, --container <name>', 'container (default: the only or first one)')
    .action(async (pod: string, opts: { container?: string }, cmd: Command) => {
      const ns = namespaceOf(cmd);
      const obj = await getPod(ctx.client(cmd), ns, pod);
      const containers = ((obj.spec ?? {}) as { containers?: Array<{ name: string }> }).containers ?? [];
      const name = opts.container ?? containers[0]?.name;
      if (!name || !containers.some((c) => c.name === name)) {
        throw new SandboxCommandError(`pod ${ns}/${pod} has no container "${opts.container}" (containers: ${containers.map((c) => c.name).join(', ')})`);
      }
      const path = containerLogPath(ctx.dataDir(cmd), ns, pod, name);
      if (!existsSync(path)) throw new SandboxCommandError(`no output recorded for pod ${ns}/${pod} container ${name} yet (${path})`);
      ctx.stdout.write(readFileSync(path));
    });
}

function namespaceOf(cmd: Command): string {
  return (cmd.optsWithGlobals() as { namespace?: string }).namespace || 'default';
}

async function getPod(api: ApiClient, ns: string, name: string): Promise<KubeObject> {
  try {
    return await api.get(POD, ns, name);
  } catch (err) {
    throw new SandboxCommandError(`pod ${ns}/${name}: ${describeError(err)}`, { cause: err });
  }
}

async function podNetns(pod: KubeObject): Promise<string> {
  const ns = pod.metadata.namespace ?? 'default';
  const name = pod.metadata.name;
  const netns = pod.metadata.annotations?.[POD_NETNS_ANNOTATION];
  if (!netns || !(await listNetns()).includes(netns)) {
    throw new SandboxCommandError(`pod ${ns}/${name} is not running in the sandbox yet (no network namespace)`);
  }
  return netns;
}

// --- create ---

/**
 * Idempotent: a running cluster of the same name and size is left as it is; a half-built or stopped one is torn
 * down (keeping its store) and built again.
 */
export async function createCluster(
  ctx: Pick<SandboxVerbContext, 'stdout'>,
  dataDir: string,
  name: string,
  nodes: number,
  progress: (l: string) => void,
  opts: { withoutZtunnel?: boolean; ztunnelGracePeriodSeconds?: number; kubernetes?: boolean; ingressPorts?: IngressPortMapping[] } = {},
): Promise<void> {
  const existing = readClusterRecord(dataDir);
  if (existing && Boolean(existing.kubernetes) !== Boolean(opts.kubernetes)) {
    throw new SandboxCommandError(`cluster "${existing.name}" exists ${existing.kubernetes ? 'with' : 'without'} --kubernetes; delete it first to change that`);
  }
  // Refused before anything is built: the binaries take minutes to build, never silently during create.
  if (opts.kubernetes) await kubeBinDir();
  if (existing && existing.name !== name) {
    throw new SandboxCommandError(`the data dir ${dataDir} already holds cluster "${existing.name}"; use another --data-dir for a second cluster, or delete it first`);
  }
  if (existing && existing.nodes !== nodes) {
    throw new SandboxCommandError(`cluster "${name}" exists with ${existing.nodes} node(s); delete it first to change --nodes`);
  }
  if (existing && opts.ingressPorts && JSON.stringify(existing.ingressPorts ?? []) !== JSON.stringify(opts.ingressPorts)) {
    throw new SandboxCommandError(`cluster "${name}" exists with other --ingress-port mappings; delete it first to change them`);
  }
  const ownsDataDir = existing ? existing.ownsDataDir : !existsSync(dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const entry = registerCluster(name, dataDir);
  const record: ClusterRecord = existing ?? { name, slot: entry.slot, nodes, createdAt: new Date().toISOString(), ownsDataDir };
  if (opts.withoutZtunnel) record.withoutZtunnel = true;
  if (opts.ztunnelGracePeriodSeconds !== undefined) record.ztunnelGracePeriodSeconds = opts.ztunnelGracePeriodSeconds;
  if (opts.kubernetes) record.kubernetes = true;
  if (opts.ingressPorts) record.ingressPorts = opts.ingressPorts;
  record.slot = entry.slot;
  const layout = layoutOf(record);
  const paths = clusterPaths(dataDir);
  if (livePid(paths.supervisorPid) && existsSync(paths.ready) && (await topologyExists(layout))) {
    progress(`cluster "${name}" is already running`);
    ctx.stdout.write(summary(layout, dataDir, record.ingressPorts));
    return;
  }
  writeClusterRecord(dataDir, record);
  progress(`creating cluster "${name}" (${nodes} node(s), slot ${layout.slot}) in ${dataDir}`);
  await stopSupervisor(paths.supervisorPid, progress);
  await killNetnsProcesses(name);
  await destroyTopology(name, () => undefined);
  await buildTopology(layout, progress);
  mkdirSync(paths.logs, { recursive: true });
  mkdirSync(paths.run, { recursive: true });
  progress('starting the supervisor (control plane, node agents, pod runner)');
  // start-stop-daemon detaches the supervisor into its own session, in the host's mount namespace (netns it
  // creates must be visible to everyone), with its output in the log file.
  await runCommand([
    'start-stop-daemon', '--start', '--background', '--make-pidfile', '--pidfile', paths.supervisorPid,
    '--output', paths.supervisorLog, '--exec', process.execPath, '--',
    ambitMainScript(), '--data-dir', dataDir, 'cluster', 'supervise',
  ]);
  // A Kubernetes control plane (etcd, API server, CRDs) adds half a minute or more to the start.
  const readyTimeoutMs = record.kubernetes ? KUBE_READY_TIMEOUT_MS : READY_TIMEOUT_MS;
  const deadline = Date.now() + readyTimeoutMs;
  while (!existsSync(paths.ready)) {
    if (!livePid(paths.supervisorPid)) {
      throw new SandboxCommandError(`the supervisor exited during start-up; see ${paths.supervisorLog}:\n${tail(paths.supervisorLog, 10)}`);
    }
    if (Date.now() > deadline) throw new SandboxCommandError(`the cluster was not ready within ${readyTimeoutMs / 1000} s; see ${paths.supervisorLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  progress(`cluster "${name}" is ready`);
  ctx.stdout.write(summary(layout, dataDir, record.ingressPorts));
  if (record.kubernetes) ctx.stdout.write(`kubernetes: kubectl --kubeconfig ${hostKubeconfigPath(dataDir)} get nodes\n`);
}

function summary(layout: ClusterLayout, dataDir: string, ingressPorts: ReadonlyArray<{ host: number; gateway: number }> = []): string {
  const lines = [`cluster ${layout.name}: ${layout.nodes.length} node(s), services ${layout.serviceCidr}, data dir ${dataDir}`];
  for (const n of layout.nodes) lines.push(`  ${n.name}  netns ${n.netns}  ip ${n.ip}  pods ${n.podCidr}`);
  for (const p of ingressPorts) lines.push(`  ingress  127.0.0.1:${p.host} -> port ${p.gateway} of the ingress gateway Service`);
  return `${lines.join('\n')}\n`;
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// --- delete ---

async function stopSupervisor(pidFile: string, progress: (l: string) => void): Promise<void> {
  const pid = livePid(pidFile);
  if (!pid) return;
  progress(`stopping the supervisor (pid ${pid})`);
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (livePid(pidFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (livePid(pidFile)) {
    progress(`the supervisor did not stop within ${STOP_TIMEOUT_MS / 1000} s; killing it`);
    process.kill(pid, 'SIGKILL');
  }
}

export async function deleteCluster(dataDir: string, nameFlag: string | undefined, progress: (l: string) => void): Promise<void> {
  const record = readClusterRecord(dataDir);
  const name = record?.name ?? (nameFlag ? checkClusterName(nameFlag) : undefined);
  if (!name) throw new SandboxCommandError(`no cluster in ${dataDir} (pass --name to clean up a cluster whose data dir is gone)`);
  if (record && nameFlag && nameFlag !== record.name) {
    throw new SandboxCommandError(`the data dir ${dataDir} holds cluster "${record.name}", not "${nameFlag}"`);
  }
  const registered = lookupRegistered(name);
  if (!record && registered && registered.dataDir !== dataDir) {
    throw new SandboxCommandError(`cluster "${name}" lives in data dir ${registered.dataDir}; pass --data-dir ${registered.dataDir}`);
  }
  progress(`deleting cluster "${name}"`);
  await stopSupervisor(clusterPaths(dataDir).supervisorPid, progress);
  const killed = await killNetnsProcesses(name);
  if (killed > 0) progress(`killed ${killed} leftover process(es)`);
  const removed = await destroyTopology(name, progress);
  if (record?.ownsDataDir) {
    rmSync(dataDir, { recursive: true, force: true });
  } else if (record) {
    for (const entry of CLUSTER_DATA_ENTRIES) rmSync(join(dataDir, entry), { recursive: true, force: true });
    try {
      if (readdirSync(dataDir).length === 0) rmdirSync(dataDir);
    } catch {
      // not empty or already gone: other files are not ours
    }
  }
  unregisterCluster(name);
  progress(`cluster "${name}" deleted (${removed.length} network namespace(s) removed)`);
}

// --- info ---

interface ClusterInfo {
  name: string;
  dataDir: string;
  slot: number;
  fabric: { netns: string; ip: string };
  serviceCidr: string;
  /** The nameserver pods use and the hosts beyond the cluster (src/sandbox/outside-world.ts). */
  outside: { netns: string; nameserver: string; caCertificate: string; hosts: Array<{ name: string; ip: string }> };
  /** `--ingress-port` mappings: 127.0.0.1:host → the ingress gateway's port. */
  ingressPorts: Array<{ host: number; gateway: number }>;
  nodes: Array<{ name: string; netns: string; ip: string; podCidr: string }>;
  pods: Array<{ namespace: string; name: string; node: string; netns: string; ip: string; phase: string; redirection: string }>;
  processes: Array<{ role: string; pid: number | null; log: string; held?: boolean }>;
  controlPlane: { socket: string; reachable: boolean; error?: string };
}

/**
 * `cluster stop|start <role>`: asks the supervisor (through the role's hold file) to stop or start a role and waits
 * until it did. Stopping returns once the process is gone; starting once it runs again, and for the control plane
 * once its API answers.
 */
async function holdRole(dataDir: string, role: string, stop: boolean, progress: (l: string) => void, api?: ApiClient): Promise<void> {
  const record = readClusterRecord(dataDir);
  if (!record) throw new SandboxCommandError(`no cluster in ${dataDir} (run ambit cluster create)`);
  const roles = clusterRoleNames(layoutOf(record));
  if (!roles.includes(role)) throw new SandboxCommandError(`cluster ${record.name} has no process "${role}" (one of: ${roles.join(', ')})`);
  const paths = clusterPaths(dataDir);
  if (!livePid(paths.supervisorPid)) throw new SandboxCommandError(`the supervisor of cluster ${record.name} is not running (run ambit cluster create to start it)`);
  const hold = roleHoldPath(paths.run, role);
  const pidFile = join(paths.run, `${role}.pid`);
  const deadline = Date.now() + (stop ? ROLE_STOP_TIMEOUT_MS : READY_TIMEOUT_MS);
  const until = async (what: string, done: () => Promise<boolean> | boolean): Promise<void> => {
    while (!(await done())) {
      if (Date.now() > deadline) throw new SandboxCommandError(`${role} did not ${what} in time (see ${join(paths.logs, `${role}.log`)} and ${paths.supervisorLog})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  if (stop) {
    writeFileSync(hold, `${new Date().toISOString()}\n`);
    await until('stop', () => livePid(pidFile) === undefined);
    progress(`${role} stopped; it stays stopped until \`ambit cluster start ${role}\``);
    return;
  }
  rmSync(hold, { force: true });
  await until('start', () => livePid(pidFile) !== undefined);
  if (role === 'controlplane' && api) {
    await until('answer on its API', () => api.version().then(() => true, () => false));
  }
  progress(`${role} started`);
}

async function clusterInfo(dataDir: string, api: ApiClient): Promise<ClusterInfo> {
  const record = readClusterRecord(dataDir);
  if (!record) throw new SandboxCommandError(`no cluster in ${dataDir} (run ambit cluster create)`);
  const layout = layoutOf(record);
  const paths = clusterPaths(dataDir);
  const processes: ClusterInfo['processes'] = [{ role: 'supervisor', pid: livePid(paths.supervisorPid) ?? null, log: paths.supervisorLog }];
  const roleNames = clusterRoleNames(layout);
  for (const r of roleNames) {
    const held = existsSync(roleHoldPath(paths.run, r));
    processes.push({ role: r, pid: livePid(join(paths.run, `${r}.pid`)) ?? null, log: join(paths.logs, `${r}.log`), ...(held ? { held } : {}) });
  }
  const info: ClusterInfo = {
    name: layout.name, dataDir, slot: layout.slot,
    fabric: { netns: layout.fabricNetns, ip: layout.fabricIp },
    serviceCidr: layout.serviceCidr,
    outside: { netns: layout.outside.netns, nameserver: layout.dnsIp, caCertificate: outsideCaPath(dataDir), hosts: layout.outside.hosts },
    ingressPorts: record.ingressPorts ?? [],
    nodes: layout.nodes.map((n) => ({ name: n.name, netns: n.netns, ip: n.ip, podCidr: n.podCidr })),
    pods: [],
    processes,
    controlPlane: { socket: paths.socket, reachable: false },
  };
  try {
    const list = await api.list(POD);
    info.controlPlane.reachable = true;
    for (const p of list.items) {
      const st = (p.status ?? {}) as { phase?: string; podIP?: string };
      info.pods.push({
        namespace: p.metadata.namespace ?? 'default', name: p.metadata.name,
        node: ((p.spec ?? {}) as { nodeName?: string }).nodeName ?? '',
        netns: p.metadata.annotations?.[POD_NETNS_ANNOTATION] ?? '', ip: st.podIP ?? '', phase: st.phase ?? 'Pending',
        redirection: p.metadata.annotations?.[REDIRECTION_ANNOTATION] ?? '',
      });
      const logDir = join(paths.logs, 'pods', `${p.metadata.namespace}_${p.metadata.name}`);
      for (const c of ((p.spec ?? {}) as { containers?: Array<{ name: string }> }).containers ?? []) {
        const log = join(logDir, `${c.name}.log`);
        processes.push({ role: `pod ${p.metadata.namespace}/${p.metadata.name}:${c.name}`, pid: null, log });
      }
    }
  } catch (err) {
    info.controlPlane.error = describeError(err);
  }
  return info;
}

function formatInfo(info: ClusterInfo): string {
  const out: string[] = [];
  out.push(`cluster ${info.name}  data dir ${info.dataDir}  control plane ${info.controlPlane.reachable ? 'reachable' : `UNREACHABLE (${info.controlPlane.error})`}`);
  out.push(`fabric  netns ${info.fabric.netns}  ip ${info.fabric.ip}  services ${info.serviceCidr}`);
  out.push(`outside  netns ${info.outside.netns}  nameserver ${info.outside.nameserver}  hosts ${info.outside.hosts.map((h) => `${h.name}=${h.ip}`).join(' ')}  CA ${info.outside.caCertificate}`);
  if (info.ingressPorts.length) out.push(`ingress  ${info.ingressPorts.map((p) => `127.0.0.1:${p.host} -> gateway port ${p.gateway}`).join(', ')}`);
  out.push('', 'NODE     NETNS                      IP             POD CIDR');
  for (const n of info.nodes) out.push(`${n.name.padEnd(8)} ${n.netns.padEnd(26)} ${n.ip.padEnd(14)} ${n.podCidr}`);
  out.push('', 'POD                            NODE     IP             PHASE      MESH      NETNS');
  for (const p of info.pods) {
    out.push(`${`${p.namespace}/${p.name}`.padEnd(30)} ${p.node.padEnd(8)} ${p.ip.padEnd(14)} ${p.phase.padEnd(10)} ${(p.redirection || '-').padEnd(9)} ${p.netns}`);
  }
  out.push('', 'PROCESS                        PID      LOG');
  for (const p of info.processes) out.push(`${p.role.padEnd(30)} ${(p.held ? 'stopped' : String(p.pid ?? '-')).padEnd(8)} ${p.log}`);
  return `${out.join('\n')}\n`;
}
