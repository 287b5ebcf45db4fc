// The proxies' X.509 without @peculiar/x509: the hand-written CSR is what the CA's parser and OpenSSL accept (signature,
// empty subject, one critical URI SAN); certificate facts and URI SANs read with node:crypto agree with @peculiar's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { OID_SUBJECT_ALT_NAME, x509 } from './x509.js';
import { certificateFacts, certificatePublicKeySpki, createWorkloadCsr, generateP256KeyPair, publicKeySpki, spiffeIdOf, uriSans } from './proxy-x509.js';
import { createTestCa } from '../../ztunnel/testing/test-ca.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/web';

test('the workload CSR: signed by its key, no subject, one critical URI SAN (OpenSSL and @peculiar/x509 agree)', async () => {
  const keys = await generateP256KeyPair();
  const pem = await createWorkloadCsr(ID, keys);
  const csr = new x509.Pkcs10CertificateRequest(pem);
  assert.ok(await csr.verify(), 'the signature verifies');
  assert.equal(csr.subject, '');
  assert.ok(Buffer.from(csr.publicKey.rawData).equals(await publicKeySpki(keys.publicKey)));
  const exts = csr.getExtensions(OID_SUBJECT_ALT_NAME);
  assert.equal(exts.length, 1);
  const san = new x509.SubjectAlternativeNameExtension(exts[0]!.rawData);
  assert.equal(san.critical, true);
  assert.deepEqual(san.names.items.map((n) => [n.type, n.value]), [['url', ID]]);
  const text = execFileSync('openssl', ['req', '-noout', '-verify', '-text'], { input: pem, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
  assert.match(text, /Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web/);
});

test('facts and SANs of an issued certificate, as @peculiar/x509 reads them', async () => {
  const ca = await createTestCa();
  const keys = await generateP256KeyPair();
  const [leafPem] = await ca.signer(await createWorkloadCsr(ID, keys), ID);
  const peculiar = new x509.X509Certificate(leafPem!);
  assert.deepEqual(uriSans(leafPem!), [ID]);
  assert.equal(spiffeIdOf(Buffer.from(peculiar.rawData)), ID);
  const facts = certificateFacts(leafPem!);
  assert.equal(facts.serialNumber, peculiar.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''));
  assert.equal(facts.validFrom, new Date(Math.floor(peculiar.notBefore.getTime() / 1000) * 1000).toISOString());
  assert.equal(facts.expirationTime, new Date(Math.floor(peculiar.notAfter.getTime() / 1000) * 1000).toISOString());
  assert.ok(certificatePublicKeySpki(leafPem!).equals(await publicKeySpki(keys.publicKey)));
});
