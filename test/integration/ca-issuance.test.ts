// CA over real gRPC/TLS on loopback with the real file store: node-scoped authorization, token lifecycle, malformed
// requests, the issued leaf profile checked with the real `openssl` binary, waypoint renewal, metrics, restarts,
// and that no private key ever reaches logs, REST answers or config dumps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, stat, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { inspect } from 'node:util';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { Registry } from 'prom-client';
import { webcrypto } from 'node:crypto';
import { openFileStore } from '../../src/controlplane/store/file-store.js';
import type { Store } from '../../src/controlplane/store/store.js';
import type { KubeObject } from '../../src/api/meta.js';
import { startCaServer, caRoutes, type CaServer } from '../../src/controlplane/ca/index.js';
import { createLogger } from '../../src/lib/log.js';
import { readNodeToken, nodeTokenPath } from '../../src/lib/certs/node-token.js';
import { createCaClient } from '../../src/lib/certs/ca-client.js';
import { CertificateManager } from '../../src/lib/certs/certificate-manager.js';
import { istioCertificateServiceDefinition, IstioCertificateRequestSchema, type IstioCertificateResponse } from '../../src/lib/certs/ca-service.js';
import { x509, ECDSA_SHA256 } from '../../src/lib/certs/x509.js';
import { createWorkloadCsr, generateP256KeyPair, privateKeyToPem, splitCertificates } from '../../src/lib/certs/proxy-x509.js';
import { peerSpiffeId } from '../../src/lib/certs/tls-identity.js';

const TD = 'cluster.local';
const id = (ns: string, sa: string): string => `spiffe://${TD}/ns/${ns}/sa/${sa}`;

interface Harness {
  dir: string;
  store: Store;
  ca: CaServer;
  registry: Registry;
  logs: string[];
  restart(): Promise<void>;
}

async function startHarness(t: { after(fn: () => Promise<void> | void): void }, maxTtlSeconds = 86_400): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-ca-'));
  const store = await openFileStore(join(dir, 'store'));
  const logs: string[] = [];
  const log = createLogger('controlplane', { level: 'debug', destination: { write: (s: string) => void logs.push(s) } });
  const h: Harness = {
    dir,
    store,
    logs,
    registry: new Registry(),
    ca: undefined as unknown as CaServer,
    async restart() {
      await h.ca.close();
      h.registry = new Registry();
      h.ca = await startCaServer({ dataDir: dir, source: store, listen: { host: '127.0.0.1', port: 0 }, metrics: h.registry, log, maxTtlSeconds });
    },
  };
  h.ca = await startCaServer({ dataDir: dir, source: store, listen: { host: '127.0.0.1', port: 0 }, metrics: h.registry, log, maxTtlSeconds });
  t.after(async () => {
    await h.ca.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return h;
}

function node(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name } };
}

function pod(ns: string, name: string, sa: string | undefined, nodeName: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec: { nodeName, ...(sa ? { serviceAccountName: sa } : {}), containers: [{ name: 'app', image: 'x', command: ['sleep', '1'] }] } };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const Client = grpc.makeGenericClientConstructor(istioCertificateServiceDefinition, 'IstioCertificateService');

interface RawCall {
  token?: string;
  authorization?: string;
  csr: string;
  validity?: number;
  metadata?: Record<string, unknown>;
  clientCert?: { chain: string; key: string };
}

/** One CreateCertificate call with full control over every field; resolves to the chain or {code, details}. */
async function rawCall(h: Harness, c: RawCall): Promise<{ chain: string[] } | { code: string; details: string }> {
  const creds = grpc.credentials.createSsl(Buffer.from(h.ca.rootBundlePem()), c.clientCert ? Buffer.from(c.clientCert.key) : null, c.clientCert ? Buffer.from(c.clientCert.chain) : null);
  const client = new Client(`127.0.0.1:${h.ca.port}`, creds, { 'grpc.ssl_target_name_override': 'ambit-controlplane' });
  const md = new grpc.Metadata();
  if (c.token) md.set('authorization', `Bearer ${c.token}`);
  if (c.authorization) md.set('authorization', c.authorization);
  const req = create(IstioCertificateRequestSchema, { csr: c.csr, validityDuration: BigInt(c.validity ?? 0), metadata: c.metadata as never });
  try {
    return await new Promise((resolve) => {
      (client as unknown as { CreateCertificate: (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: IstioCertificateResponse) => void) => void }).CreateCertificate(
        req,
        md,
        { deadline: Date.now() + 5000 },
        (err, res) => resolve(err ? { code: grpc.status[err.code]!, details: err.details } : { chain: res!.certChain }),
      );
    });
  } finally {
    client.close();
  }
}

async function csrFor(identity: string): Promise<{ csr: string; keys: CryptoKeyPair }> {
  const keys = await generateP256KeyPair();
  return { csr: await createWorkloadCsr(identity, keys), keys };
}
type CryptoKeyPair = Awaited<ReturnType<typeof generateP256KeyPair>>;

async function metric(h: Harness, name: string, labels: Record<string, string> = {}): Promise<number> {
  const all = await h.registry.getMetricsAsJSON();
  const m = all.find((x) => x.name === name);
  const v = (m?.values ?? []).find((x) => Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val));
  return v ? Number(v.value) : 0;
}

test('a node gets certificates only for service accounts of pods on it; moving the pod changes the answer', { timeout: 30_000 }, async (t) => {
  const h = await startHarness(t);
  await h.store.create(node('node-a'));
  await h.store.create(node('node-b'));
  await h.store.create(pod('shop', 'cart-1', 'cart', 'node-b'));
  await h.store.create(pod('shop', 'web-1', undefined, 'node-a')); // uses the `default` service account
  const tokenA = await waitFor('node-a token', () => readNodeToken(h.dir, 'node-a'));
  await waitFor('node-b token', () => readNodeToken(h.dir, 'node-b'));

  const cart = await csrFor(id('shop', 'cart'));
  const denied = await rawCall(h, { token: tokenA, csr: cart.csr, metadata: { ImpersonatedIdentity: id('shop', 'cart') } });
  assert.deepEqual(denied, {
    code: 'PERMISSION_DENIED',
    details: `node 'node-a' may not obtain ${id('shop', 'cart')}: no running Pod in namespace 'shop' with serviceAccountName 'cart' is scheduled on node 'node-a'`,
  });
  assert.ok(h.logs.some((l) => l.includes('certificate request refused') && l.includes('PERMISSION_DENIED')), 'refusal is logged');

  const live = h.store.get({ group: '', kind: 'Pod', namespace: 'shop', name: 'cart-1' })!;
  await h.store.update({ ...live, spec: { ...(live.spec as object), nodeName: 'node-a' } });
  const allowed = await rawCall(h, { token: tokenA, csr: cart.csr, metadata: { ImpersonatedIdentity: id('shop', 'cart') } });
  assert.ok('chain' in allowed, `expected a chain, got ${JSON.stringify(allowed)}`);
  assert.equal(allowed.chain.length, 2, 'self-managed root: leaf + bundle');

  // The default service account, and no impersonation metadata (identity taken from the CSR).
  const web = await csrFor(id('shop', 'default'));
  assert.ok('chain' in (await rawCall(h, { token: tokenA, csr: web.csr })));

  // A finished pod no longer authorizes its node.
  const cartPod = h.store.get({ group: '', kind: 'Pod', namespace: 'shop', name: 'cart-1' })!;
  await h.store.updateStatus({ ...cartPod, status: { phase: 'Succeeded' } });
  const after = await rawCall(h, { token: tokenA, csr: cart.csr, metadata: { ImpersonatedIdentity: id('shop', 'cart') } });
  assert.equal('code' in after && after.code, 'PERMISSION_DENIED');

  assert.equal(await metric(h, 'citadel_server_csr_count'), 4);
  assert.equal(await metric(h, 'citadel_server_success_cert_issuance_count'), 2);
  assert.equal(await metric(h, 'citadel_server_csr_sign_error_count', { error: 'PERMISSION_DENIED' }), 2);
});

test('missing, malformed, forged and revoked tokens are UNAUTHENTICATED', { timeout: 30_000 }, async (t) => {
  const h = await startHarness(t);
  await h.store.create(node('node-a'));
  await h.store.create(pod('default', 'p', 'web', 'node-a'));
  const token = await waitFor('token', () => readNodeToken(h.dir, 'node-a'));
  const path = nodeTokenPath(h.dir, 'node-a');
  assert.equal((await stat(path)).mode & 0o777, 0o600, 'token file is 0600');
  assert.equal((await stat(join(h.dir, 'nodes', 'node-a'))).mode & 0o777, 0o700, 'token dir is 0700');
  const { csr } = await csrFor(id('default', 'web'));

  assert.deepEqual(await rawCall(h, { csr }), { code: 'UNAUTHENTICATED', details: "no credentials: send 'authorization: Bearer <node token>' or present a mesh client certificate" });
  assert.deepEqual(await rawCall(h, { csr, authorization: `Basic ${token}` }), { code: 'UNAUTHENTICATED', details: "authorization: expected exactly one 'Bearer <token>' header" });
  const forged = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
  assert.deepEqual(await rawCall(h, { csr, token: forged }), { code: 'UNAUTHENTICATED', details: 'authorization: the bearer token is not a valid node token (unknown, revoked or from another control plane)' });
  assert.ok('chain' in (await rawCall(h, { csr, token })), 'the real token works');

  await h.store.delete({ group: '', kind: 'Node', name: 'node-a' });
  await waitFor('token file removal', () => !existsSync(path) || undefined);
  const revoked = await rawCall(h, { csr, token });
  assert.equal('code' in revoked && revoked.code, 'UNAUTHENTICATED');
  assert.equal(await metric(h, 'citadel_server_authentication_failure_count'), 4);
  assert.ok(!h.logs.some((l) => l.includes(token)), 'the token never appears in a log line');
});

test('malformed CSRs and requests each get their specific INVALID_ARGUMENT', { timeout: 60_000 }, async (t) => {
  const h = await startHarness(t);
  await h.store.create(node('node-a'));
  await h.store.create(pod('default', 'p', 'web', 'node-a'));
  const token = await waitFor('token', () => readNodeToken(h.dir, 'node-a'));
  const web = id('default', 'web');
  const subtle = webcrypto.subtle;

  async function csrWith(opts: { keys?: CryptoKeyPair; names?: { type: 'url' | 'dns' | 'ip' | 'email'; value: string }[]; hash?: string; noSan?: boolean; twoSanExts?: boolean }): Promise<string> {
    const keys = opts.keys ?? (await generateP256KeyPair());
    const names = opts.names ?? [{ type: 'url', value: web }];
    const extensions = opts.noSan ? [] : [new x509.SubjectAlternativeNameExtension(names, true)];
    if (opts.twoSanExts) extensions.push(new x509.SubjectAlternativeNameExtension([{ type: 'url', value: web }], false));
    const keyAlg = (keys.privateKey.algorithm as { name: string }).name;
    const signingAlgorithm = keyAlg === 'Ed25519' ? { name: 'Ed25519' } : keyAlg === 'ECDSA' ? { name: 'ECDSA', hash: opts.hash ?? 'SHA-256' } : { name: keyAlg, hash: opts.hash ?? 'SHA-256' };
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm, extensions } as never);
    return csr.toString('pem');
  }
  const rsa = async (bits: number): Promise<CryptoKeyPair> => (await subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const good = await csrWith({});
  const aCert = (await rawCall(h, { token, csr: good })) as { chain: string[] };
  const tampered = (() => {
    const der = Buffer.from(good.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('sa/web'));
    der.write('sa/wex', at);
    return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  })();

  const cases: { name: string; req: Partial<RawCall>; details: string }[] = [
    { name: 'empty csr', req: { csr: '' }, details: 'csr: empty; expected a PEM-encoded CERTIFICATE REQUEST' },
    { name: 'garbage', req: { csr: 'not a pem at all' }, details: "csr: no PEM block found; expected '-----BEGIN CERTIFICATE REQUEST-----'" },
    { name: 'certificate instead of csr', req: { csr: aCert.chain[0]! }, details: "csr: PEM block is 'CERTIFICATE'; expected 'CERTIFICATE REQUEST'" },
    { name: 'two csr blocks', req: { csr: good + good }, details: 'csr: holds 2 PEM blocks; expected exactly one CERTIFICATE REQUEST' },
    { name: 'undecodable DER', req: { csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAECAwQ=\n-----END CERTIFICATE REQUEST-----\n' }, details: 'csr: not a valid PKCS#10 request' },
    { name: 'oversized', req: { csr: good + 'x'.repeat(70_000) }, details: 'csr: 70' },
    { name: 'tiny RSA key', req: { csr: await csrWith({ keys: await rsa(1024) }) }, details: 'csr: RSA key of 1024 bits is too small; at least 2048 bits are required' },
    { name: 'P-384 key', req: { csr: await csrWith({ keys: (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify'])) as CryptoKeyPair, hash: 'SHA-384' }) }, details: 'csr: EC key on curve secp384r1 is not accepted; use ECDSA P-256 (prime256v1)' },
    { name: 'Ed25519 key', req: { csr: await csrWith({ keys: (await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair }) }, details: "csr: key type 'ed25519' is not accepted; use ECDSA P-256 or RSA (at least 2048 bits)" },
    { name: 'SHA-1 signature', req: { csr: await csrWith({ hash: 'SHA-1' }) }, details: 'csr: signature algorithm with SHA-1 is not accepted; sign with SHA-256 or stronger' },
    { name: 'bad signature', req: { csr: tampered }, details: "csr: signature does not verify against the request's own public key (tampered or corrupt request)" },
    { name: 'no SAN', req: { csr: await csrWith({ noSan: true }) }, details: 'csr: has no subjectAltName extension; exactly one SPIFFE URI SAN is required' },
    { name: 'two SAN extensions', req: { csr: await csrWith({ twoSanExts: true }) }, details: 'csr: has 2 subjectAltName extensions; expected one' },
    { name: 'DNS SAN', req: { csr: await csrWith({ names: [{ type: 'dns', value: 'web.default.svc' }] }) }, details: "csr: DNS SAN 'web.default.svc' is not allowed; the request must carry exactly one SPIFFE URI SAN and nothing else" },
    { name: 'URI plus DNS SAN', req: { csr: await csrWith({ names: [{ type: 'url', value: web }, { type: 'dns', value: 'web' }] }) }, details: "csr: DNS SAN 'web' is not allowed; the request must carry exactly one SPIFFE URI SAN and nothing else" },
    { name: 'IP SAN', req: { csr: await csrWith({ names: [{ type: 'ip', value: '10.0.0.1' }] }) }, details: "csr: IP SAN '10.0.0.1' is not allowed; the request must carry exactly one SPIFFE URI SAN and nothing else" },
    { name: 'email SAN', req: { csr: await csrWith({ names: [{ type: 'email', value: 'a@b.c' }] }) }, details: "csr: email SAN 'a@b.c' is not allowed; the request must carry exactly one SPIFFE URI SAN and nothing else" },
    { name: 'two URI SANs', req: { csr: await csrWith({ names: [{ type: 'url', value: web }, { type: 'url', value: id('default', 'db') }] }) }, details: `csr: has 2 URI SANs (${web}, ${id('default', 'db')}); exactly one is allowed` },
    { name: 'non-SPIFFE URI', req: { csr: await csrWith({ names: [{ type: 'url', value: 'https://example.com/x' }] }) }, details: "csr: URI SAN 'https://example.com/x' is not a SPIFFE id (expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>)" },
    { name: 'SPIFFE id of the wrong shape', req: { csr: await csrWith({ names: [{ type: 'url', value: 'spiffe://cluster.local/web' }] }) }, details: "csr: URI SAN 'spiffe://cluster.local/web' must have the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>" },
    { name: 'wrong trust domain', req: { csr: await csrWith({ names: [{ type: 'url', value: 'spiffe://other.local/ns/default/sa/web' }] }) }, details: "csr: URI SAN 'spiffe://other.local/ns/default/sa/web' is in trust domain 'other.local', but this CA issues only for 'cluster.local'" },
    { name: 'mismatched impersonation', req: { csr: good, metadata: { ImpersonatedIdentity: id('default', 'db') } }, details: `csr: URI SAN '${web}' does not match metadata.ImpersonatedIdentity '${id('default', 'db')}'` },
    { name: 'impersonation not a string', req: { csr: good, metadata: { ImpersonatedIdentity: 42 } }, details: 'metadata.ImpersonatedIdentity: must be a string SPIFFE id, got number' },
    { name: 'impersonation in another trust domain', req: { csr: good, metadata: { ImpersonatedIdentity: 'spiffe://evil.org/ns/default/sa/web' } }, details: "metadata.ImpersonatedIdentity: 'spiffe://evil.org/ns/default/sa/web' is in trust domain 'evil.org', but this CA issues only for 'cluster.local'" },
    { name: 'negative validity', req: { csr: good, validity: -5 }, details: 'validity_duration: -5 must not be negative (seconds; 0 asks for the default)' },
  ];
  assert.ok(cases.length >= 15);
  const seen = new Set<string>();
  for (const c of cases) {
    const res = await rawCall(h, { token, ...c.req } as RawCall);
    assert.ok('code' in res, `${c.name}: expected a refusal, got a certificate`);
    assert.equal(res.code, 'INVALID_ARGUMENT', `${c.name}: ${res.details}`);
    assert.ok(res.details.startsWith(c.details), `${c.name}: got '${res.details}', want '${c.details}…'`);
    seen.add(res.details);
  }
  assert.equal(seen.size, cases.length, 'every malformed request has its own message');
  // And the good ones still work: RSA 2048 is accepted.
  assert.ok('chain' in (await rawCall(h, { token, csr: await csrWith({ keys: await rsa(2048) }) })));
  assert.equal(await metric(h, 'citadel_server_csr_sign_error_count', { error: 'INVALID_ARGUMENT' }), cases.length);
});

test('issued chains pass `openssl verify`; `openssl x509 -text` shows the leaf profile', { timeout: 30_000 }, async (t) => {
  const h = await startHarness(t, 7200);
  await h.store.create(node('node-a'));
  await h.store.create(pod('default', 'p', 'web', 'node-a'));
  const token = await waitFor('token', () => readNodeToken(h.dir, 'node-a'));
  const work = join(h.dir, 'openssl');
  execFileSync('mkdir', ['-p', work]);
  const { csr } = await csrFor(id('default', 'web'));
  for (const [validity, expectSeconds] of [[3600, 3600], [0, 7200], [10 * 86_400, 7200]] as const) {
    const before = Math.floor(Date.now() / 1000);
    const res = await rawCall(h, { token, csr, validity, metadata: { ImpersonatedIdentity: id('default', 'web') } });
    assert.ok('chain' in res, JSON.stringify(res));
    const leafPath = join(work, 'leaf.pem');
    const bundlePath = join(work, 'bundle.pem');
    await writeFile(leafPath, res.chain[0]!);
    await writeFile(bundlePath, res.chain[res.chain.length - 1]!);
    const verify = execFileSync('openssl', ['verify', '-CAfile', bundlePath, '-purpose', 'sslserver', leafPath], { encoding: 'utf8' });
    assert.equal(verify.trim(), `${leafPath}: OK`);
    execFileSync('openssl', ['verify', '-CAfile', bundlePath, '-purpose', 'sslclient', leafPath], { encoding: 'utf8' });
    const text = execFileSync('openssl', ['x509', '-text', '-noout', '-in', leafPath], { encoding: 'utf8' });
    assert.match(text, /X509v3 Subject Alternative Name: critical\s*\n\s*URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/web\s*\n/);
    assert.match(text, /X509v3 Key Usage: critical\s*\n\s*Digital Signature, Key Encipherment\s*\n/);
    assert.match(text, /X509v3 Extended Key Usage:\s*\n\s*TLS Web Server Authentication, TLS Web Client Authentication\s*\n/);
    assert.match(text, /X509v3 Basic Constraints: critical\s*\n\s*CA:FALSE/);
    assert.match(text, /Subject: *\n/, 'empty subject');
    assert.match(text, /Public Key Algorithm: id-ecPublicKey[\s\S]*NIST CURVE: P-256/);
    const serialHex = execFileSync('openssl', ['x509', '-noout', '-serial', '-in', leafPath], { encoding: 'utf8' }).trim().replace('serial=', '');
    assert.ok(serialHex.length >= 30 && serialHex.length <= 34, `128-bit serial, got ${serialHex}`);
    const leaf = new x509.X509Certificate(res.chain[0]!);
    const lifetime = (leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 1000;
    assert.ok(Math.abs(lifetime - (expectSeconds + 300)) <= 2, `validity ${validity} → lifetime ${lifetime}s (TTL ${expectSeconds}s + 300s backdate)`);
    assert.ok(leaf.notBefore.getTime() / 1000 <= before - 299, 'backdated for clock skew');
  }
  // The serving certificate: issued by the same CA, with the control plane's identity.
  const sock = tls.connect({ host: '127.0.0.1', port: h.ca.port, ca: h.ca.rootBundlePem(), servername: 'ambit-controlplane', ALPNProtocols: ['h2'] });
  await new Promise<void>((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
  assert.equal(sock.authorized, true);
  assert.equal(peerSpiffeId(sock), 'spiffe://cluster.local/ns/istio-system/sa/ambit-controlplane');
  sock.destroy();
});

test('a waypoint renews its own identity with its mesh certificate, and only that', { timeout: 30_000 }, async (t) => {
  const h = await startHarness(t);
  await h.store.create(node('node-a'));
  await h.store.create(pod('shop', 'waypoint-1', 'waypoint', 'node-a'));
  const token = await waitFor('token', () => readNodeToken(h.dir, 'node-a'));
  const wp = id('shop', 'waypoint');
  const first = await csrFor(wp);
  const issued = await rawCall(h, { token, csr: first.csr, metadata: { ImpersonatedIdentity: wp } });
  assert.ok('chain' in issued);
  const clientCert = { chain: issued.chain.slice(0, -1).join(''), key: await privateKeyToPem(first.keys.privateKey) };

  const renew = await csrFor(wp);
  const renewed = await rawCall(h, { clientCert, csr: renew.csr });
  assert.ok('chain' in renewed, JSON.stringify(renewed));
  const other = await csrFor(id('shop', 'cart'));
  assert.deepEqual(await rawCall(h, { clientCert, csr: other.csr }), {
    code: 'PERMISSION_DENIED',
    details: `a workload authenticated as ${wp} may renew only its own identity, not ${id('shop', 'cart')}`,
  });
  // A certificate from a foreign CA is not a credential at all.
  const foreignKeys = await generateP256KeyPair();
  const foreign = await x509.X509CertificateGenerator.createSelfSigned({ keys: foreignKeys, signingAlgorithm: ECDSA_SHA256, extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: wp }], true)] });
  const res = await rawCall(h, { clientCert: { chain: foreign.toString('pem'), key: await privateKeyToPem(foreignKeys.privateKey) }, csr: renew.csr });
  assert.ok('code' in res, 'a self-signed client certificate must not authenticate');
});

test('restarts reuse the root; keys are 0600; no private key reaches logs, REST answers or dumps', { timeout: 30_000 }, async (t) => {
  const h = await startHarness(t);
  await h.store.create(node('node-a'));
  await h.store.create(pod('default', 'p', 'web', 'node-a'));
  const token = await waitFor('token', () => readNodeToken(h.dir, 'node-a'));
  const bundle = h.ca.rootBundlePem();
  const state = JSON.parse(await readFile(join(h.dir, 'ca', 'state.json'), 'utf8')) as { signing: string };
  assert.equal((await stat(join(h.dir, 'ca', 'roots', state.signing, 'root-key.pem'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(h.dir, 'ca'))).mode & 0o777, 0o700);
  await h.restart();
  assert.equal(h.ca.rootBundlePem(), bundle, 'the same root after a restart');
  assert.equal(await readFile(join(h.dir, 'ca', 'root-cert.pem'), 'utf8'), bundle, 'bundle file for clients');

  // Exercise everything that produces output, with debug logging on.
  const client = createCaClient({ address: `127.0.0.1:${h.ca.port}`, rootCertPem: bundle, token });
  const manager = new CertificateManager({ signer: client.signer, log: createLogger('ztunnel', { level: 'debug', destination: { write: (s: string) => void h.logs.push(s) } }) });
  t.after(() => {
    manager.close();
    client.close();
  });
  const cert = await manager.fetch(id('default', 'web'));
  await manager.fetch(id('default', 'nope')).catch(() => undefined);
  const routes = caRoutes(h.ca);
  const outputs: string[] = [...h.logs, JSON.stringify(manager.dump()), inspect(manager), inspect(cert), JSON.stringify(cert), String(cert)];
  for (const r of routes) {
    const res = await r.handler({ url: r.path } as never, Buffer.from(r.path.endsWith('retire-old-root') ? '{"force":true}' : ''));
    outputs.push(JSON.stringify(res.body));
  }
  const dumpPems = manager.dump().flatMap((d) => [...d.certChain, ...d.rootCerts]).map((c) => Buffer.from(c.pem, 'base64').toString());
  outputs.push(...dumpPems);
  const keyHeader = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
  // The detector works: the key is there, just never in any output.
  assert.match(cert.privateKeyPem(), keyHeader);
  for (const out of outputs) assert.doesNotMatch(out, keyHeader);
  assert.ok(splitCertificates(dumpPems.join('')).length >= 2);
});
