// kubeconfig loading: the current or a named context, CA/cert/key as data or files (relative to the kubeconfig),
// token or tokenFile, and refusals by name for what Ambit does not support.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { inClusterEndpoint, loadKubeconfig } from './kubeconfig.js';

function write(t: { after(fn: () => void): void }, doc: object, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-kubeconfig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  const path = join(dir, 'config');
  writeFileSync(path, stringify(doc));
  return path;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('current context with a token and inline CA; a named context with files relative to the kubeconfig', (t) => {
  const path = write(t, {
    'current-context': 'a',
    contexts: [{ name: 'a', context: { cluster: 'c1', user: 'u1' } }, { name: 'b', context: { cluster: 'c2', user: 'u2' } }],
    clusters: [
      { name: 'c1', cluster: { server: 'https://10.0.0.1:6443', 'certificate-authority-data': b64('CA1') } },
      { name: 'c2', cluster: { server: 'https://[::1]:443/', 'certificate-authority': 'ca.crt', 'tls-server-name': 'kubernetes' } },
    ],
    users: [
      { name: 'u1', user: { token: 'tok1' } },
      { name: 'u2', user: { tokenFile: 'token', 'client-certificate': 'c.crt', 'client-key-data': b64('KEY') } },
    ],
  }, { 'ca.crt': 'CA2', token: 'tok2\n', 'c.crt': 'CERT' });
  assert.deepEqual(loadKubeconfig(path), { server: 'https://10.0.0.1:6443', caPem: 'CA1', token: 'tok1' });
  assert.deepEqual(loadKubeconfig(path, 'b'), { server: 'https://[::1]:443', caPem: 'CA2', tlsServerName: 'kubernetes', token: 'tok2', certPem: 'CERT', keyPem: 'KEY' });
});

test('what a kubeconfig can say that Ambit does not do is refused by name', (t) => {
  const base = (user: object, cluster: object = { server: 'https://h:6443' }) => ({
    'current-context': 'x', contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    clusters: [{ name: 'c', cluster }], users: [{ name: 'u', user }],
  });
  assert.throws(() => loadKubeconfig(write(t, base({ exec: { command: 'aws' } }))), /users\[u\]\.exec: not supported by ambit/);
  assert.throws(() => loadKubeconfig(write(t, base({}, { server: 'https://h:6443', 'insecure-skip-tls-verify': true }))), /clusters\[c\]\.insecure-skip-tls-verify: not supported/);
  assert.throws(() => loadKubeconfig(write(t, base({}, { server: 'http://h:8080' }))), /server: must be https:\/\/host:port, got "http:\/\/h:8080"/);
  assert.throws(() => loadKubeconfig(write(t, base({ 'client-certificate-data': b64('C') }))), /a client certificate needs its key/);
  assert.throws(() => loadKubeconfig(write(t, base({ tokenFile: 'missing' }))), /tokenFile: cannot read missing/);
  assert.throws(() => loadKubeconfig(write(t, base({})), 'nope'), /context "nope" is not defined/);
  assert.throws(() => loadKubeconfig('/nonexistent/kubeconfig'), /kubeconfig \/nonexistent\/kubeconfig: cannot read it/);
});

test('in-cluster: the service host and port from the environment, token and CA from the mounted files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-sa-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ca.crt'), 'CA');
  writeFileSync(join(dir, 'token'), 'jwt\n');
  assert.deepEqual(inClusterEndpoint('10.96.0.1', '443', dir), { server: 'https://10.96.0.1:443', caPem: 'CA', token: 'jwt' });
  assert.throws(() => inClusterEndpoint(undefined, undefined, dir), /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set/);
});
