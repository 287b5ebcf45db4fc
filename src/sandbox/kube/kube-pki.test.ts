// The throwaway Kubernetes PKI: the serving certificate chains to the CA and names loopback and the service IP;
// the token file gives the admin system:masters; kubeconfigs and service IPs render as kubectl expects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { parse } from 'yaml';
import { createKubePki, renderTokenFile } from './kube-pki.js';
import { firstServiceIp, renderKubeconfig } from './kube-control-plane.js';

test('the serving certificate is signed by the CA and names 127.0.0.1, the service IP and kubernetes.default.svc', async () => {
  const pki = await createKubePki(['127.0.0.1', '10.0.0.1']);
  const ca = new X509Certificate(pki.caCertPem);
  const serving = new X509Certificate(pki.servingCertPem);
  assert.ok(ca.ca, 'the CA certificate is a CA');
  assert.ok(serving.verify(ca.publicKey), 'the CA signed the serving certificate');
  assert.ok(serving.checkIP('127.0.0.1') && serving.checkIP('10.0.0.1'));
  assert.ok(serving.checkHost('kubernetes.default.svc') && serving.checkHost('localhost'));
  assert.ok(serving.publicKey.equals(createPublicKey(createPrivateKey(pki.servingKeyPem))), 'key and certificate match');
  assert.ok(createPublicKey(createPrivateKey(pki.serviceAccountKeyPem)).equals(createPublicKey(pki.serviceAccountPubPem)));
  const tokens = Object.values(pki.tokens);
  assert.equal(new Set(tokens).size, 3, 'every identity has its own token');
  assert.ok(tokens.every((t) => /^[0-9a-f]{48}$/.test(t)));
});

test('the token file puts the admin in system:masters and names the components as bootstrap RBAC expects', () => {
  const text = renderTokenFile({ admin: 'a1', controllerManager: 'c1', scheduler: 's1' });
  assert.deepEqual(text.trim().split('\n'), [
    'a1,ambit-admin,ambit-admin,"system:masters"',
    'c1,system:kube-controller-manager,system:kube-controller-manager',
    's1,system:kube-scheduler,system:kube-scheduler',
  ]);
});

test('a kubeconfig carries the server, the CA inline and the token user as its current context', () => {
  const cfg = parse(renderKubeconfig('https://127.0.0.1:6443', 'PEM', 'ambit-admin', 'tok')) as Record<string, any>;
  assert.equal(cfg['current-context'], 'ambit');
  assert.equal(cfg.clusters[0].cluster.server, 'https://127.0.0.1:6443');
  assert.equal(Buffer.from(cfg.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), 'PEM');
  assert.deepEqual(cfg.users[0], { name: 'ambit-admin', user: { token: 'tok' } });
  assert.deepEqual(cfg.contexts[0], { name: 'ambit', context: { cluster: 'ambit', user: 'ambit-admin' } });
});

test('the kubernetes Service IP is the first address of the service range', () => {
  assert.equal(firstServiceIp('10.0.0.0/24'), '10.0.0.1');
  assert.equal(firstServiceIp('10.96.0.0/12'), '10.96.0.1');
  assert.equal(firstServiceIp('192.168.255.0/24'), '192.168.255.1');
  assert.throws(() => firstServiceIp('fd00::/108'), /not an IPv4 CIDR/);
});
