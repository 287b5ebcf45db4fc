// The ambit-cni plugin against a real Unix socket standing in for the node agent: VERSION, ADD passing the primary
// plugin's result on and reporting the pod, fail closed while the agent is away, excluded namespaces, DEL tolerance,
// and configuration errors in the CNI error format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCniPlugin } from './cni-plugin.js';
import type { CniReport } from '../lib/cni-report.js';

const PREV = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/cni-1' }], ips: [{ interface: 0, address: '10.244.1.7/24', gateway: '10.244.1.1' }] };
const env = (command: string, ns = 'shop') => ({
  CNI_COMMAND: command, CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/cni-1', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=web-1;K8S_POD_UID=u-1`,
});

async function agent(t: { after(fn: () => void): void }, reply: object): Promise<{ socket: string; reports: CniReport[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-cni-test-'));
  const socket = join(dir, 'report.sock');
  const reports: CniReport[] = [];
  const server = net.createServer((s) => {
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      if (!buf.includes('\n')) return;
      reports.push(JSON.parse(buf.split('\n')[0]!) as CniReport);
      s.end(`${JSON.stringify(reply)}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(socket, () => r()));
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { socket, reports };
}

test('VERSION answers the supported versions without any config', async () => {
  const out = await runCniPlugin({ env: { CNI_COMMAND: 'VERSION' }, stdin: '' });
  assert.equal(out.code, 0);
  assert.deepEqual(JSON.parse(out.stdout).supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0']);
});

test('ADD reports the pod and its netns, and passes the primary result on unchanged', async (t) => {
  const a = await agent(t, { ok: true });
  const out = await runCniPlugin({ env: env('ADD'), stdin: JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'ambit-cni', nodeAgentSocket: a.socket, prevResult: PREV }) });
  assert.equal(out.code, 0, out.stdout);
  assert.deepEqual(JSON.parse(out.stdout), PREV);
  assert.deepEqual(a.reports, [{ command: 'ADD', containerId: 'c1', netns: '/run/netns/cni-1', podNamespace: 'shop', podName: 'web-1', podUid: 'u-1', ips: ['10.244.1.7/24'] }]);
});

test('ADD fails closed (CNI error 11) while the node agent is unreachable or refuses; excluded namespaces pass', async (t) => {
  const conf = (socket: string) => JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'ambit-cni', nodeAgentSocket: socket, prevResult: PREV });
  const away = await runCniPlugin({ env: env('ADD'), stdin: conf('/nonexistent/report.sock') });
  assert.equal(away.code, 1);
  const e = JSON.parse(away.stdout) as { code: number; msg: string; details: string };
  assert.equal(e.code, 11);
  assert.match(e.msg, /node agent is unreachable at \/nonexistent\/report\.sock; pod shop\/web-1 waits for it/);
  const refusing = await agent(t, { ok: false, error: 'netns outside /run/netns' });
  const refused = JSON.parse((await runCniPlugin({ env: env('ADD'), stdin: conf(refusing.socket) })).stdout) as { code: number; details: string };
  assert.equal(refused.code, 11);
  assert.equal(refused.details, 'netns outside /run/netns');
  const system = await runCniPlugin({ env: env('ADD', 'kube-system'), stdin: conf('/nonexistent/report.sock') });
  assert.equal(system.code, 0, 'kube-system pods never wait for the mesh');
});

test('DEL succeeds even when the agent is away; a plugin with no prevResult or a bad config says why', async () => {
  const del = await runCniPlugin({ env: env('DEL'), stdin: JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'ambit-cni', nodeAgentSocket: '/nonexistent' }) });
  assert.deepEqual(del, { code: 0, stdout: '' });
  const alone = JSON.parse((await runCniPlugin({ env: env('ADD'), stdin: JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'ambit-cni', nodeAgentSocket: '/x' }) })).stdout) as { code: number; msg: string };
  assert.equal(alone.code, 7);
  assert.match(alone.msg, /chained plugin: it must follow a primary plugin/);
  const garbage = JSON.parse((await runCniPlugin({ env: env('ADD'), stdin: '{not json' })).stdout) as { code: number };
  assert.equal(garbage.code, 7);
  const old = JSON.parse((await runCniPlugin({ env: env('ADD'), stdin: JSON.stringify({ cniVersion: '0.2.0' }) })).stdout) as { msg: string };
  assert.match(old.msg, /cniVersion 0\.2\.0 is not supported/);
});
