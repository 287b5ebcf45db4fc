// The agent's decisions on plugin invocations: VERSION, ADD passing the primary plugin's result on and reporting the
// pod, a refused report failing the ADD (CNI error 11), excluded namespaces, DEL, and configuration errors in the
// CNI error format. The executable's own part (forwarding, deciding alone while the agent is away) is
// test/integration/cni-plugin-executable.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCniPlugin } from './cni-plugin.js';
import type { CniReply, CniReport } from '../lib/cni-report.js';

const PREV = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/cni-1' }], ips: [{ interface: 0, address: '10.244.1.7/24', gateway: '10.244.1.1' }] };
const env = (command: string, ns = 'shop') => ({
  CNI_COMMAND: command, CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/cni-1', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=web-1;K8S_POD_UID=u-1`,
});
const conf = (extra: object = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'ambit-cni', nodeAgentSocket: '/run/a.sock', prevResult: PREV, ...extra });

function agent(reply: CniReply = { ok: true }): { reports: CniReport[]; report: (r: CniReport) => CniReply } {
  const reports: CniReport[] = [];
  return { reports, report: (r) => (reports.push(r), reply) };
}

test('VERSION answers the supported versions without any config', () => {
  const out = runCniPlugin({ env: { CNI_COMMAND: 'VERSION' }, stdin: '', report: agent().report });
  assert.equal(out.code, 0);
  assert.deepEqual(JSON.parse(out.stdout).supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0']);
});

test('ADD reports the pod and its netns, and passes the primary result on unchanged', () => {
  const a = agent();
  const out = runCniPlugin({ env: env('ADD'), stdin: conf(), report: a.report });
  assert.equal(out.code, 0, out.stdout);
  assert.deepEqual(JSON.parse(out.stdout), PREV);
  assert.deepEqual(a.reports, [{ command: 'ADD', containerId: 'c1', netns: '/run/netns/cni-1', podNamespace: 'shop', podName: 'web-1', podUid: 'u-1', ips: ['10.244.1.7/24'] }]);
});

test('ADD fails (CNI error 11) when the agent refuses the report; excluded namespaces are not reported', () => {
  const refusing = agent({ ok: false, error: 'netns outside /run/netns' });
  const refused = runCniPlugin({ env: env('ADD'), stdin: conf(), report: refusing.report });
  assert.equal(refused.code, 1);
  const e = JSON.parse(refused.stdout) as { code: number; msg: string; details: string };
  assert.equal(e.code, 11);
  assert.equal(e.msg, 'ambit-cni: the node agent refused pod shop/web-1');
  assert.equal(e.details, 'netns outside /run/netns');
  const a = agent();
  assert.equal(runCniPlugin({ env: env('ADD', 'kube-system'), stdin: conf(), report: a.report }).code, 0, 'kube-system pods never wait for the mesh');
  assert.equal(runCniPlugin({ env: env('ADD', 'infra'), stdin: conf({ excludeNamespaces: ['infra'] }), report: a.report }).code, 0);
  assert.deepEqual(a.reports, []);
});

test('DEL is reported and always succeeds; a plugin with no prevResult or a bad config says why', () => {
  const a = agent({ ok: false, error: 'whatever' });
  assert.deepEqual(runCniPlugin({ env: env('DEL'), stdin: conf({ prevResult: undefined }), report: a.report }), { code: 0, stdout: '' });
  assert.equal(a.reports[0]?.command, 'DEL');
  const alone = JSON.parse(runCniPlugin({ env: env('ADD'), stdin: conf({ prevResult: undefined }), report: a.report }).stdout) as { code: number; msg: string };
  assert.equal(alone.code, 7);
  assert.match(alone.msg, /chained plugin: it must follow a primary plugin/);
  const garbage = JSON.parse(runCniPlugin({ env: env('ADD'), stdin: '{not json', report: a.report }).stdout) as { code: number };
  assert.equal(garbage.code, 7);
  const old = JSON.parse(runCniPlugin({ env: env('ADD'), stdin: JSON.stringify({ cniVersion: '0.2.0' }), report: a.report }).stdout) as { msg: string };
  assert.match(old.msg, /cniVersion 0\.2\.0 is not supported/);
});
