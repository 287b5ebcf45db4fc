// The real ambit-cni executable (static, native/ambit_cni.c) run as a container runtime runs it — CNI_* environment,
// config on stdin, result on stdout, exit code — against the node agent's real CNI socket server: it forwards each
// invocation and relays the agent's answer byte for byte, and while the agent is away it decides alone, failing
// closed for pods outside the excluded namespaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cniPluginExecutable } from '../../src/platform/index.js';
import { CniReportServer } from '../../src/nodeagent/cni-server.js';
import { silentLogger } from '../../src/lib/log.js';

// A result with characters that need JSON escaping on the way to the agent and back.
const PREV = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/cni-1' }], ips: [{ interface: 0, address: '10.244.1.7/24' }], dns: { search: ['a"b\\c', 'tab\there', 'ünï'] } };
const env = (command: string, ns = 'shop', netns = '/run/netns/cni-1') => ({
  CNI_COMMAND: command, CNI_CONTAINERID: 'c1', CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=web-1;K8S_POD_UID=u-1`,
});

function run(envVars: Record<string, string>, stdin: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cniPluginExecutable(), [], { env: envVars, stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout });
    });
    // A plugin may exit without reading stdin (VERSION): a closed pipe is not a failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

test('the executable is static: it needs nothing of the node it is installed on', () => {
  const exe = cniPluginExecutable();
  assert.ok(statSync(exe).mode & 0o111, 'executable');
  const image = readFileSync(exe);
  assert.equal(image.subarray(0, 4).toString('latin1'), '\x7fELF');
  // A dynamically linked ELF names its loader (PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2); a static one does not.
  assert.ok(!/\/ld-linux[^\0]*\.so/.test(image.toString('latin1')), 'no dynamic loader is named');
});

test('with the agent up: VERSION, ADD reported and the result relayed unchanged, a refusal and DEL', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-cni-exe-'));
  const socket = join(dir, 'cni.sock');
  const server = await CniReportServer.start(socket, silentLogger(), () => undefined);
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'ambit-cni', nodeAgentSocket: socket, prevResult: PREV });

  const version = await run({ CNI_COMMAND: 'VERSION' }, '');
  assert.equal(version.code, 0);
  assert.deepEqual(JSON.parse(version.stdout).supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0']);

  const add = await run(env('ADD'), conf);
  assert.equal(add.code, 0, add.stdout);
  assert.deepEqual(JSON.parse(add.stdout), PREV);
  assert.equal(server.netnsOf('shop', 'web-1'), 'cni-1', 'the agent learnt the pod\'s netns');

  const outside = await run(env('ADD', 'shop', '/tmp/elsewhere'), conf);
  assert.equal(outside.code, 1);
  const e = JSON.parse(outside.stdout) as { code: number; msg: string; details: string };
  assert.equal(e.code, 11);
  assert.match(e.details, /netns \/tmp\/elsewhere is not under/);

  const del = await run(env('DEL'), conf);
  assert.deepEqual(del, { code: 0, stdout: '' });
  assert.equal(server.netnsOf('shop', 'web-1'), undefined);
});

test('with the agent away: fail closed (CNI error 11) for pods, the result passed on for excluded ones, DEL succeeds', async () => {
  const socket = '/nonexistent/ambit/cni.sock';
  const conf = (extra: object = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'ambit-cni', nodeAgentSocket: socket, prevResult: PREV, ...extra });
  const away = await run(env('ADD'), conf());
  assert.equal(away.code, 1);
  const e = JSON.parse(away.stdout) as { cniVersion: string; code: number; msg: string; details: string };
  assert.deepEqual(e, { cniVersion: '1.0.0', code: 11, msg: `ambit-cni: the Ambit node agent is unreachable at ${socket}; pod shop/web-1 waits for it`, details: 'No such file or directory' });

  const system = await run(env('ADD', 'kube-system'), conf());
  assert.equal(system.code, 0, 'kube-system pods never wait for the mesh');
  assert.deepEqual(JSON.parse(system.stdout), PREV);
  const listed = await run(env('ADD', 'infra'), conf({ excludeNamespaces: ['infra'] }));
  assert.deepEqual(JSON.parse(listed.stdout), PREV, 'the conflist entry\'s own exclusions hold too');
  const notListed = await run(env('ADD', 'kube-system'), conf({ excludeNamespaces: ['infra'] }));
  assert.equal(notListed.code, 1, 'an explicit list replaces the default');

  assert.deepEqual(await run(env('DEL'), conf()), { code: 0, stdout: '' });
  const alone = JSON.parse((await run(env('ADD'), conf({ prevResult: undefined }))).stdout) as { code: number };
  assert.equal(alone.code, 7, 'a chained plugin with no prevResult');
  const noSocket = JSON.parse((await run(env('ADD'), JSON.stringify({ cniVersion: '1.0.0', prevResult: PREV }))).stdout) as { code: number; msg: string };
  assert.deepEqual([noSocket.code, noSocket.msg], [7, 'ambit-cni: nodeAgentSocket is not set in its conflist entry']);
});
