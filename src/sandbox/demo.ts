// `ambit demo` (and `ambit check`): one command from a bare Linux machine to a 2-node sandbox mesh with the sample
// apps, enrolled in ambient mode, traffic proven, the mesh steps shown (or plainly reported as not shown), and a
// guided tour; `ambit demo --down` removes what the demo made. Exit codes: see DEMO_EXIT.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { kindByName, type KubeObject } from '../api/index.js';
import type { ApiClient } from '../controlplane/client/index.js';
import { describeError, MeshError } from '../lib/errors.js';
import { blockingFailures } from '../platform/precheck.js';
import { checkClusterName } from './cluster-layout.js';
import { clusterPaths, layoutOf, readClusterRecord } from './cluster-state.js';
import { checkThisMachine, registerCheckVerb } from './check-command.js';
import { createCluster, deleteCluster, type SandboxVerbContext } from './commands.js';
import { applyObjects, DEMO_NAMESPACE, deleteNamespaceObjects, loadDemoObjects, repositoryRoot } from './demo-manifests.js';
import { scanZtunnels, showCertificates, showDenyPolicy, showMtlsTraffic, showZtunnelTakesPods, type MeshDemoContext } from './demo-mesh.js';
import { DEMO_EXIT, DemoReporter, DemoStepFailed, exitCodeOf, renderSummary, type StepContext } from './demo-steps.js';
import { showWaypoint } from './demo-waypoint.js';
import { DEMO_INGRESS_CA_FILE, DEMO_INGRESS_PORT, showEgress, showIngress } from './demo-edge.js';
import { renderTour } from './demo-tour.js';
import { curlArgv, podNetnsOf, retryProbe, runInPod, tcpClientArgv } from './demo-traffic.js';
import { DATAPLANE_MODE_AMBIENT, DATAPLANE_MODE_LABEL, REDIRECTION_ANNOTATION } from '../lib/mesh-contract.js';

const DEFAULT_CLUSTER = 'ambit';
const DEMO_NODES = 2;
const MARKER_FILE = 'demo.json';
const POD = kindByName('Pod')!;
const NAMESPACE = kindByName('Namespace')!;
const ECHO_URL = 'http://echo/';

/** A prerequisite is missing: the demo changed nothing (exit DEMO_EXIT.prerequisite). */
class DemoPrerequisiteError extends MeshError {
  constructor(message: string) {
    super('DEMO_PREREQUISITE', message);
  }
}

/** What the demo records in the data dir so `--down` knows whether the cluster is the demo's to delete. */
interface DemoMarker {
  cluster: string;
  namespace: string;
  createdCluster: boolean;
  at: string;
}

function readMarker(dataDir: string): DemoMarker | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, MARKER_FILE), 'utf8')) as DemoMarker;
  } catch {
    return undefined;
  }
}

interface DemoOptions {
  name: string;
  /** The data dir and how the user named it (for the tour's commands). */
  dataDir: string;
  dataDirFlag?: string;
  nodeBinary: string;
  repoDir: string;
  cwd: string;
}

export function registerDemoVerbs(program: Command, ctx: SandboxVerbContext): void {
  program
    .command('demo')
    .description('bring up a 2-node sandbox mesh with sample apps, enroll them in ambient mode, prove traffic, print a tour (--down removes it)')
    .option('--down', 'remove the demo: its namespace, and its cluster if the demo created it', false)
    .option('--name <cluster>', 'sandbox cluster to create or reuse', DEFAULT_CLUSTER)
    .action(async (opts: { down: boolean; name: string }, cmd: Command) => {
      const o: DemoOptions = {
        name: checkClusterName(opts.name),
        dataDir: ctx.dataDir(cmd),
        dataDirFlag: (cmd.optsWithGlobals() as { dataDir?: string }).dataDir,
        nodeBinary: process.execPath,
        repoDir: repositoryRoot(),
        cwd: process.cwd(),
      };
      ctx.exitCode = opts.down ? await demoDown(ctx, o, ctx.client(cmd)) : await runDemo(ctx, o, () => ctx.client(cmd));
    });
  registerCheckVerb(program, ctx);
}

/** Runs the demo; resolves with the exit code (DEMO_EXIT). Output goes to ctx.stdout as it happens. */
async function runDemo(ctx: Pick<SandboxVerbContext, 'stdout' | 'stderr'>, o: DemoOptions, client: () => ApiClient): Promise<number> {
  const out = ctx.stdout;
  out.write(`ambit demo: a ${DEMO_NODES}-node ambient mesh with sample apps (each step shows the command it stands for)\n`);
  const rep = new DemoReporter(out);
  try {
    await rep.step('check prerequisites', 'ambit check', (s) => checkPrerequisites(s, o, client));
  } catch (err) {
    if (err instanceof DemoStepFailed && err.cause instanceof DemoPrerequisiteError) {
      ctx.stderr.write(`error: ${err.cause.message.split('\n').join('\nerror: ')}\n`);
      return DEMO_EXIT.prerequisite;
    }
    throw err;
  }
  try {
    await bringUp(rep, o, client);
  } catch (err) {
    if (!(err instanceof DemoStepFailed)) throw err;
    out.write(`\nSummary:\n${renderSummary(rep.outcomes)}`);
    out.write(`\nThe demo stopped. Logs: ${clusterPaths(o.dataDir).logs}/ ; remove it with: ${ambitCommand(o)} demo --down\n`);
    return DEMO_EXIT.failed;
  }
  return exitCodeOf(rep.outcomes);
}

function ambitCommand(o: DemoOptions): string {
  return o.dataDirFlag ? `ambit --data-dir ${o.dataDirFlag}` : 'ambit';
}

async function checkPrerequisites(s: StepContext, o: DemoOptions, client: () => ApiClient): Promise<void> {
  const results = await checkThisMachine();
  const failed = blockingFailures(results);
  const warnings = results.filter((r) => r.status === 'warn');
  // curl is optional for the mesh but the demo's client uses it.
  const curl = results.find((r) => r.id === 'bin-curl');
  if (curl && curl.status !== 'pass') failed.push({ ...curl, status: 'fail' });
  if (failed.length) {
    throw new DemoPrerequisiteError(`the demo cannot run on this machine:\n${failed.map((f) => `${f.title}: ${f.detail}\n  fix: ${f.fix ?? '-'}`).join('\n')}\n(run \`ambit check\` for the full list)`);
  }
  s.say(`${results.filter((r) => r.status === 'pass').length} checks passed${warnings.length ? `, ${warnings.length} warning(s): ${warnings.map((w) => w.title).join('; ')}` : ''}`);
  // A control plane on the data dir's socket that no sandbox cluster owns (e.g. scripts/demo.sh's) would clash.
  const socket = clusterPaths(o.dataDir).socket;
  if (!readClusterRecord(o.dataDir) && existsSync(socket)) {
    const live = await client().version().then(() => true, () => false);
    if (live) {
      throw new DemoPrerequisiteError(
        `a control plane that belongs to no sandbox cluster is serving ${socket} (started by scripts/demo.sh or \`ambit controlplane\`?)\n  fix: stop it (scripts/demo.sh --down), or give the demo another data dir: ambit --data-dir DIR demo`);
    }
  }
}

async function bringUp(rep: DemoReporter, o: DemoOptions, client: () => ApiClient): Promise<void> {
  const existing = readClusterRecord(o.dataDir);
  const title = existing ? `reuse sandbox cluster "${existing.name}"` : `create a ${DEMO_NODES}-node sandbox cluster "${o.name}"`;
  // A new cluster carries a port of this machine (8443, or the next free one) to the ingress gateway's 443.
  const ingressPort = existing ? undefined : await firstFreePort(DEMO_INGRESS_PORT, 20);
  await rep.step(title, `ambit cluster create --name ${o.name} --nodes ${DEMO_NODES}${ingressPort ? ` --ingress-port ${ingressPort}:443` : ''}`, async (s) => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        s.say(chunk.toString().trimEnd());
        done();
      },
    });
    await createCluster({ stdout: sink }, o.dataDir, o.name, DEMO_NODES, (l) => s.say(l), ingressPort ? { ingressPorts: [{ host: ingressPort, gateway: 443 }] } : {});
    const prior = readMarker(o.dataDir);
    const marker: DemoMarker = { cluster: o.name, namespace: DEMO_NAMESPACE, createdCluster: prior?.createdCluster ?? !existing, at: new Date().toISOString() };
    writeFileSync(join(o.dataDir, MARKER_FILE), `${JSON.stringify(marker, null, 2)}\n`, { mode: 0o600 });
  });
  const api = client();
  const record = readClusterRecord(o.dataDir)!;
  const layout = layoutOf(record);

  await rep.step('deploy the sample apps', `ambit apply -f examples/demo/   (with \${AMBIT_REPO} = ${o.repoDir})`, async (s) => {
    const objects = loadDemoObjects(o.repoDir, o.nodeBinary);
    for (const line of await applyObjects(api, objects)) s.say(line);
    const pods = objects.filter((x) => x.kind === 'Pod').map((x) => x.metadata.name);
    await waitForPods(api, pods, 30_000, (p) => (p.status as { phase?: string } | undefined)?.phase === 'Running', 'Running');
    for (const p of (await api.list(POD, { namespace: DEMO_NAMESPACE })).items) {
      const st = (p.status ?? {}) as { podIP?: string };
      s.say(`pod/${p.metadata.name.padEnd(13)} Running  ${String(st.podIP).padEnd(13)} ${String((p.spec as { nodeName?: string }).nodeName)}`);
    }
  });

  const clientNetns = await podNetnsOf(api, DEMO_NAMESPACE, 'client');
  const a = ambitCommand(o);
  await rep.step('prove traffic works before enrolment (plain TCP)', `${a} exec client -n ${DEMO_NAMESPACE} -- curl -s ${ECHO_URL}`, async (s) => {
    // The apps may still be starting, and a namespace enrolled by an earlier run takes a moment to be released.
    for (let i = 0; i < 4; i++) {
      const r = await retryProbe(() => runInPod(clientNetns, curlArgv(ECHO_URL)), 20_000);
      if (!r.ok) throw new Error(`client -> ${ECHO_URL}: ${r.error}`);
      s.say(`client -> ${ECHO_URL}: ${r.output}`);
    }
    const echo = await retryProbe(() => runInPod(clientNetns, tcpClientArgv(o.nodeBinary, o.repoDir, 'tcp-echo', 9000, 'hello')), 15_000);
    if (!echo.ok) throw new Error(`client -> tcp-echo:9000: ${echo.error}`);
    s.say(`client -> tcp-echo:9000 "hello": ${echo.output}`);
    const first = await retryProbe(() => runInPod(clientNetns, tcpClientArgv(o.nodeBinary, o.repoDir, 'server-first', 9001)), 15_000);
    if (!first.ok) throw new Error(`client -> server-first:9001: ${first.error}`);
    s.say(`client -> server-first:9001 (server speaks first): ${first.output}`);
  });

  await rep.step('enroll the namespace in ambient mode (no pod restarts)', `${a} label namespace ${DEMO_NAMESPACE} istio.io/dataplane-mode=ambient`, async (s) => {
    await api.patch(NAMESPACE, undefined, DEMO_NAMESPACE, { metadata: { labels: { [DATAPLANE_MODE_LABEL]: DATAPLANE_MODE_AMBIENT } } });
    s.say(`namespace/${DEMO_NAMESPACE} labeled`);
    const captured = (p: KubeObject) => ['pending', 'enabled'].includes(p.metadata.annotations?.[REDIRECTION_ANNOTATION] ?? '');
    const pods = (await api.list(POD, { namespace: DEMO_NAMESPACE })).items.map((p) => p.metadata.name);
    await waitForPods(api, pods, 20_000, captured, 'captured by the node agent');
    for (const p of (await api.list(POD, { namespace: DEMO_NAMESPACE })).items) {
      const state = p.metadata.annotations?.[REDIRECTION_ANNOTATION];
      s.say(`pod/${p.metadata.name.padEnd(13)} capture rules installed; ${REDIRECTION_ANNOTATION}=${state}${state === 'pending' ? ' (ztunnel has not taken it yet)' : ''}`);
    }
  });

  const snapshot = (await api.requestJson('GET', '/debug/ambient').catch(() => undefined)) as { config?: { trustDomain?: string } } | undefined;
  const mesh: MeshDemoContext = {
    api, layout, namespace: DEMO_NAMESPACE, repoDir: o.repoDir, nodeBinary: o.nodeBinary, clientNetns, echoUrl: ECHO_URL,
    trustDomain: snapshot?.config?.trustDomain ?? 'cluster.local',
  };
  const scan = await scanZtunnels(layout);
  const ztunnelRunning = [...scan.values()].some((z) => z.dump);
  const n1 = layout.nodes[0]!.netns;
  await rep.step('ztunnel takes the enrolled pods', `ip netns exec ${n1} curl -s localhost:15000/config_dump`, (s) => showZtunnelTakesPods(s, mesh, scan), { continueOnFailure: true });
  await rep.step('a certificate for each workload identity', `ip netns exec ${n1} curl -s localhost:15000/config_dump | grep '"identity"'`, (s) => showCertificates(s, mesh, scan), { continueOnFailure: true });
  await rep.step('mTLS between client and echo, in ztunnel metrics', `ip netns exec ${layout.nodes[1]?.netns ?? n1} curl -s localhost:15020/stats/prometheus | grep istio_tcp_connections_opened_total`,
    (s) => showMtlsTraffic(s, mesh, scan), { continueOnFailure: true });
  await rep.step('a DENY policy refuses the client', `${a} apply -f examples/demo/tour/deny-client.yaml`, (s) => showDenyPolicy(s, mesh, scan), { continueOnFailure: true });
  await rep.step('a waypoint adds L7: a 90/10 canary and retries', `${a} waypoint apply -n ${DEMO_NAMESPACE} --enroll-namespace --wait && ${a} apply -f examples/demo/tour/canary.yaml`,
    (s) => showWaypoint(s, mesh), { continueOnFailure: true });
  await rep.step('egress: TLS origination and policy at an egress waypoint, REGISTRY_ONLY', `${a} apply -f examples/demo/tour/egress.yaml`,
    (s) => showEgress(s, mesh), { continueOnFailure: true });
  const hostPort = record.ingressPorts?.find((p) => p.gateway === 443)?.host;
  await rep.step('ingress: HTTPS from this machine into the mesh', `${a} apply -f examples/demo/tour/ingress.yaml`,
    (s) => showIngress(s, mesh, { dataDir: o.dataDir, ...(hostPort ? { hostPort } : {}) }), { continueOnFailure: true });

  rep.out.write(`\nSummary:\n${renderSummary(rep.outcomes)}`);
  rep.out.write(`\n${renderTour({
    ambit: a, cluster: record.name, nodeNetns: layout.nodes.map((n) => n.netns), namespace: DEMO_NAMESPACE, repoDir: o.repoDir,
    nodeBinary: o.nodeBinary, cwd: o.cwd, ztunnelRunning, ...(hostPort ? { ingressPort: hostPort } : {}), ingressCaFile: join(o.dataDir, DEMO_INGRESS_CA_FILE),
  })}`);
}

/** The first of `count` ports from `from` that 127.0.0.1 can listen on now, if any. */
async function firstFreePort(from: number, count: number): Promise<number | undefined> {
  const free = (port: number) => new Promise<boolean>((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
  for (let p = from; p < from + count; p++) if (await free(p)) return p;
  return undefined;
}

async function waitForPods(api: ApiClient, names: readonly string[], timeoutMs: number, ready: (p: KubeObject) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const items = (await api.list(POD, { namespace: DEMO_NAMESPACE })).items;
    const notReady = names.filter((n) => {
      const p = items.find((x) => x.metadata.name === n);
      return !p || !ready(p);
    });
    if (!notReady.length) return;
    if (Date.now() > deadline) {
      const why = notReady.map((n) => {
        const p = items.find((x) => x.metadata.name === n);
        const st = (p?.status ?? {}) as { phase?: string; message?: string };
        return `${n} (${p ? `${st.phase ?? 'Pending'}${st.message ? `: ${st.message}` : ''}` : 'missing'})`;
      });
      throw new Error(`not ${what} after ${timeoutMs / 1000} s: ${why.join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** `ambit demo --down`: removes the demo namespace, and the cluster when the demo created it. Exit code. */
async function demoDown(ctx: Pick<SandboxVerbContext, 'stdout' | 'stderr'>, o: DemoOptions, api: ApiClient): Promise<number> {
  const say = (l: string) => ctx.stdout.write(`${l}\n`);
  const marker = readMarker(o.dataDir);
  const record = readClusterRecord(o.dataDir);
  rmSync(join(o.dataDir, DEMO_INGRESS_CA_FILE), { force: true });
  if (!record) {
    rmSync(join(o.dataDir, MARKER_FILE), { force: true });
    say(`nothing to remove: no sandbox cluster in ${o.dataDir}`);
    return DEMO_EXIT.ok;
  }
  if (marker?.createdCluster) {
    await deleteCluster(o.dataDir, undefined, say);
    rmSync(join(o.dataDir, MARKER_FILE), { force: true });
    say('demo removed');
    return DEMO_EXIT.ok;
  }
  // The cluster was there before the demo: only the demo's own objects go.
  try {
    const n = await deleteNamespaceObjects(api, DEMO_NAMESPACE);
    say(`deleted ${n} object(s) of namespace ${DEMO_NAMESPACE}; cluster "${record.name}" was there before the demo and is kept (ambit cluster delete removes it)`);
  } catch (err) {
    throw new MeshError('DEMO_DOWN', `could not delete the demo namespace ${DEMO_NAMESPACE} from cluster "${record.name}": ${describeError(err)}`, { cause: err });
  }
  rmSync(join(o.dataDir, MARKER_FILE), { force: true });
  return DEMO_EXIT.ok;
}
