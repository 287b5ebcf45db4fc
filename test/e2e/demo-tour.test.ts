// e2e (root): `ambit demo` from nothing to a running 2-node mesh, then the tour's printed commands run verbatim
// (mTLS identities shown, deny applied → refused, un-enroll → plaintext), then `demo --down` leaves nothing behind.
// Also: a missing prerequisite (not root) stops the demo with exit 2 and the fix, changing nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommandError, listNetns, runCommand } from '../../src/platform/index.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

interface Run { code: number; stdout: string; stderr: string }

async function sh(script: string, timeoutMs = 20_000): Promise<Run> {
  // `ambit` in the printed commands is this build's CLI.
  const prelude = `ambit() { ${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} "$@"; }\n`;
  try {
    const r = await runCommand(['bash', '-c', prelude + script], { timeoutMs });
    return { code: 0, ...r };
  } catch (err) {
    if (err instanceof CommandError && err.exitCode !== null) return { code: err.exitCode, stdout: '', stderr: err.stderr };
    throw err;
  }
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The tour's command lines (comments stripped), in order. */
function tourCommands(stdout: string): string[] {
  const tour = stdout.slice(stdout.indexOf('Your mesh:'));
  return tour.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.replace(/\s+#.*$/, '').trim());
}

test('ambit demo, its tour verbatim, and --down leaving nothing', { timeout: 330_000 }, async (t) => {
  const name = `d${process.pid % 100000}`;
  const base = mkdtempSync(join(tmpdir(), 'ambit-demo-e2e-'));
  const dataDir = join(base, 'data');
  t.after(async () => {
    await sh(`ambit --data-dir ${dataDir} cluster delete --name ${name}`).catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  });

  const started = Date.now();
  const demo = await sh(`ambit --data-dir ${dataDir} demo --name ${name}`, 180_000);
  const upSeconds = (Date.now() - started) / 1000;
  assert.equal(demo.code, 0, `demo exit ${demo.code}\n${demo.stdout}\n${demo.stderr}`);
  // Every step ran and passed, with its duration; nothing reported as not shown.
  for (const title of ['check prerequisites', `create a 2-node sandbox cluster "${name}"`, 'deploy the sample apps', 'prove traffic works before enrolment (plain TCP)',
    'enroll the namespace in ambient mode (no pod restarts)', 'ztunnel takes the enrolled pods', 'a certificate for each workload identity',
    'mTLS between client and echo, in ztunnel metrics', 'a DENY policy refuses the client', 'a waypoint adds L7: a 90/10 canary and retries',
    'egress: TLS origination and policy at an egress waypoint, REGISTRY_ONLY', 'ingress: HTTPS from this machine into the mesh']) {
    assert.match(demo.stdout, new RegExp(`^ +\\d+\\. ${title.replace(/[()".]/g, '\\$&')} +ok +\\d+\\.\\d s$`, 'm'), title);
  }
  assert.doesNotMatch(demo.stdout, /NOT SHOWN|FAILED/);
  assert.match(demo.stdout, /client -> http:\/\/echo\/: echo v[12] pod=echo-v[12] node=node[12] caller=/);
  assert.match(demo.stdout, /spiffe:\/\/cluster\.local\/ns\/ambit-demo\/sa\/client +Available/);
  assert.match(demo.stdout, /client -> http:\/\/echo\/: refused/);
  assert.match(demo.stdout, /^ {4}100 requests to http:\/\/echo\/: v1 answered \d+, v2 answered \d+ \(route weights 90\/10\)$/m);
  assert.match(demo.stdout, /^ {4}20 requests to \/flaky .*: 20 answered 200/m);
  assert.match(demo.stdout, /the outside host saw GET \/hello over TLS, SNI api\.example\.test$/m);
  assert.match(demo.stdout, /POST http:\/\/api\.example\.test\/orders: 403 RBAC: access denied/);
  assert.match(demo.stdout, /REGISTRY_ONLY: refused by ztunnel/);
  assert.match(demo.stdout, /this machine -> https:\/\/shop\.example\.test:\d+\/ .*: echo v[12] pod=echo-v[12] /);
  assert.match(demo.stdout, /echo's ztunnel: inbound HBONE from spiffe:\/\/cluster\.local\/ns\/ambit-demo\/sa\/public/);
  t.diagnostic(`demo up in ${upSeconds.toFixed(1)} s`);

  const cmds = tourCommands(demo.stdout);
  const find = (re: RegExp): string => {
    const c = cmds.find((x) => re.test(x));
    assert.ok(c, `the tour prints a command matching ${re}:\n${cmds.join('\n')}`);
    return c;
  };
  const run = async (cmd: string): Promise<Run> => sh(cmd);

  // Look around: every printed command works.
  for (const c of [find(/get pods,svc/), find(/cluster info/), find(/proxy-status/), find(/waypoint list/)]) {
    const r = await run(c);
    assert.equal(r.code, 0, `${c}\n${r.stderr}`);
  }
  // The dashboard, as printed: it serves the page on 127.0.0.1:20001 until stopped.
  const dashboardCmd = find(/ dashboard$/);
  const dashboard = spawn('bash', ['-c', `ambit() { ${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} "$@"; }\n${dashboardCmd} --no-browser`], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      dashboard.stdout!.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        const m = /Dashboard: (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      dashboard.once('exit', (code) => reject(new Error(`${dashboardCmd} exited ${code}: ${out}`)));
    });
    assert.equal(url, 'http://127.0.0.1:20001/');
    assert.match(await (await fetch(url)).text(), /<title>Ambit mesh dashboard<\/title>/);
    const graph = (await (await fetch(`${url}api/graph`)).json()) as { nodes: Array<{ id: string }> };
    assert.ok(graph.nodes.some((n) => n.id === 'wl:ambit-demo/client'), 'the graph shows the demo');
  } finally {
    process.kill(-dashboard.pid!, 'SIGTERM');
  }
  // Traffic through the mesh: HTTP, TCP echo, server-first.
  const curl = find(/exec client .* curl -s http:\/\/echo\/$/);
  assert.match((await run(curl)).stdout, /^echo v[12] pod=echo-v[12] /);
  assert.match((await run(find(/tcp-client\.mjs tcp-echo 9000 hello$/))).stdout, /^tcp-echo: hello$/m);
  assert.match((await run(find(/tcp-client\.mjs server-first 9001$/))).stdout, /^220 server-first ready/);
  // mTLS identities: the certificate on the pod's page, and the destination ztunnel's metrics.
  const describe = find(/x describe pod echo-v1/);
  const page = (await run(describe)).stdout;
  assert.match(page, /^Certificate: +Available, serial [0-9a-f]+, valid \S+ to \S+ \(ztunnel on node1\)$/m);
  assert.match(page, /^Identity: +spiffe:\/\/cluster\.local\/ns\/ambit-demo\/sa\/echo$/m);
  const certs = await run(find(/ztunnel-config certificates$/));
  assert.match(certs.stdout, /^node1 +spiffe:\/\/cluster\.local\/ns\/ambit-demo\/sa\/client +Leaf +Available +true /m);
  const workloads = await run(find(/ztunnel-config workloads$/));
  assert.match(workloads.stdout, /^ambit-demo +client +\S+ +node1 +None +HBONE$/m);
  const metricsCmd = find(/localhost:15020\/stats\/prometheus/);
  const metrics = (await run(metricsCmd)).stdout;
  assert.match(metrics, /istio_tcp_connections_opened_total\{[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/ambit-demo\/sa\/client"[^}]*\}/);
  assert.match(metrics, /connection_security_policy="mutual_tls"/);

  // Deny applied → refused (and the pod page names the policy); deleted → works again.
  assert.equal((await run(find(/apply -f .*deny-client\.yaml$/))).code, 0);
  const strictCurl = find(/curl -sS --max-time 3 http:\/\/echo\/$/);
  await until('the client refused', async () => (await run(strictCurl)).code !== 0);
  assert.match((await run(describe)).stdout, /^ {2}DENY {2}ambit-demo\/deny-client {2}\(selects this pod\)$/m);
  assert.equal((await run(find(/delete -f .*deny-client\.yaml$/))).code, 0);
  await until('the client allowed again', async () => (await run(strictCurl)).code === 0);

  // A waypoint: applied and programmed, the canary route retries /flaky, deleted → the namespace is unbound.
  const wpApply = await run(find(/waypoint apply -n ambit-demo --enroll-namespace --wait$/));
  assert.equal(wpApply.code, 0, wpApply.stderr);
  assert.match(wpApply.stdout, /^waypoint ambit-demo\/waypoint applied$/m);
  assert.equal((await run(find(/apply -f .*canary\.yaml$/))).code, 0);
  const flaky = find(/curl -s http:\/\/echo\/flaky$/);
  await until('the canary route in force', async () => /^echo v1 pod=echo-v1 /.test((await run(flaky)).stdout));
  for (let i = 0; i < 6; i++) {
    const out = (await run(flaky)).stdout;
    assert.match(out, /^echo v1 pod=echo-v1 /m);
    assert.doesNotMatch(out, /status=503/, 'every /flaky call answers 200 (the waypoint retries the 503s)');
  }
  assert.match((await run(find(/waypoint status -n ambit-demo$/))).stdout, /^waypoint +True +Programmed +Programmed /m);
  assert.equal((await run(find(/delete -f .*canary\.yaml$/))).code, 0);
  assert.match((await run(find(/waypoint delete waypoint -n ambit-demo$/))).stdout, /^waypoint ambit-demo\/waypoint deleted$/m);

  // Ingress from this machine, as printed; egress through the egress waypoint, as printed.
  assert.match((await run(find(/^curl --resolve shop\.example\.test:\d+:127\.0\.0\.1 /))).stdout, /^echo v[12] pod=echo-v[12] /);
  assert.equal((await run(find(/apply -f .*egress\.yaml$/))).code, 0);
  const egressCurl = find(/curl -s http:\/\/api\.example\.test\/hello$/);
  await until('TLS originated by the egress waypoint', async () => (await run(egressCurl)).stdout.includes('"tls":true'), 45_000);
  assert.equal((await run(find(/delete -f .*egress\.yaml$/))).code, 0);

  // Un-enroll → plaintext: no capture, the echo still answers, and ztunnel counts no new mTLS connection.
  const opened = async (): Promise<number> => {
    const text = (await sh(`ip netns exec ${name}.node1 curl -s localhost:15020/stats/prometheus; ip netns exec ${name}.node2 curl -s localhost:15020/stats/prometheus`)).stdout;
    return text.split('\n').filter((l) => l.startsWith('istio_tcp_connections_opened_total{') && l.includes('reporter="destination"') && l.includes('sa/client"'))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  };
  assert.equal((await run(find(/label namespace ambit-demo istio\.io\/dataplane-mode-$/))).code, 0);
  await until('every demo pod released from capture', async () => {
    const pods = JSON.parse((await sh(`ambit --data-dir ${dataDir} get pods -n ambit-demo -o json`)).stdout) as { items: Array<{ metadata: { annotations?: Record<string, string> } }> };
    return pods.items.every((p) => !p.metadata.annotations?.['ambient.istio.io/redirection']);
  });
  const before = await opened();
  const plain = await run(curl);
  assert.match(plain.stdout, /^echo v[12] pod=echo-v[12] /);
  assert.equal(await opened(), before, 'an un-enrolled call does not go through ztunnel');
  assert.match((await run(describe)).stdout, /^Ambient mode: +NOT enrolled — neither the pod nor namespace ambit-demo is labelled/m);
  // And back.
  assert.equal((await run(find(/label namespace ambit-demo istio\.io\/dataplane-mode=ambient$/))).code, 0);

  // --down: the demo created the cluster, so everything goes.
  const down = await sh(`ambit --data-dir ${dataDir} demo --down`, 30_000);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /demo removed/);
  const leftovers = {
    netns: (await listNetns()).filter((n) => n.startsWith(`${name}.`)),
    etcNetns: existsSync('/etc/netns') ? readdirSync('/etc/netns').filter((n) => n.startsWith(`${name}.`)) : [],
    files: [dataDir, `/run/ambit/clusters/${name}.json`].filter((f) => existsSync(f)),
    processes: (await runCommand(['ps', '-eo', 'pid=,args='])).stdout.split('\n').filter((l) => l.includes(dataDir)).map((l) => l.trim()),
  };
  assert.deepEqual(leftovers, { netns: [], etcNetns: [], files: [], processes: [] });
  // A second --down has nothing to do and says so.
  const again = await sh(`ambit --data-dir ${dataDir} demo --down`);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /nothing to remove/);
});

test('ambit demo as a non-root user: exit 2, the missing prerequisite and its fix, nothing created', { timeout: 30_000 }, async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'ambit-demo-noroot-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  // The checkout may sit where only root can enter (e.g. under /root): run a copy of the build the other user can
  // read — compiled code, dependencies, the native addon and package.json (it makes the .js files ES modules).
  chmodSync(base, 0o755);
  const tree = join(base, 'tree');
  const checkout = fileURLToPath(new URL('../../../', import.meta.url));
  for (const part of ['package.json', 'dist', 'node_modules', join('native', 'build', 'Release', 'ambit_net.node')]) {
    cpSync(join(checkout, part), join(tree, part), { recursive: true });
  }
  const main = join(tree, 'dist', 'src', 'main.js');
  const dataDir = join(base, 'data');
  const r = await sh(`setpriv --reuid=65534 --regid=65534 --clear-groups ${JSON.stringify(process.execPath)} ${JSON.stringify(main)} --data-dir ${dataDir} demo --name nr${process.pid % 1000}`);
  assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /^error: the demo cannot run on this machine:$/m);
  assert.match(r.stderr, /^error: running as root: uid 65534: network namespaces and nftables need root$/m);
  assert.match(r.stderr, /^error: {3}fix: run as root/m);
  assert.equal(existsSync(dataDir), false, 'nothing was created');
});
