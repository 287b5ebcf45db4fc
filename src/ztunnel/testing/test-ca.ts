// Test support (imported only by tests): a throwaway CA that issues real P-256 workload certificates in memory.
import { webcrypto } from 'node:crypto';
import { WorkloadCertificate, type CertSigner } from '../../lib/certs/certificate-manager.js';
import { ECDSA_SHA256, randomSerialHex, x509 } from '../../lib/certs/x509.js';
import { generateP256KeyPair, privateKeyToPem, splitCertificates } from '../../lib/certs/proxy-x509.js';

interface IssueOptions {
  /** URI SANs to put in the leaf instead of just the identity (e.g. none, or a foreign one). */
  uris?: string[];
  validForMs?: number;
}

export interface TestCa {
  rootPem: string;
  /** A certificate + key for `identity` signed by this CA. */
  issue(identity: string, opts?: IssueOptions): Promise<WorkloadCertificate>;
  /** A CertSigner for CertificateManager: signs a CSR's public key for `identity`. */
  signer: CertSigner;
}

export async function createTestCa(commonName = 'ambit test root'): Promise<TestCa> {
  const rootKeys = await generateP256KeyPair();
  const now = Date.now();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${commonName}`,
    keys: rootKeys,
    serialNumber: randomSerialHex(),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 24 * 3600_000),
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const rootPem = root.toString('pem') + '\n';

  const sign = async (publicKey: webcrypto.CryptoKey, uris: string[], validForMs: number): Promise<string> => {
    const leaf = await x509.X509CertificateGenerator.create({
      subject: '',
      issuer: root.subject,
      publicKey,
      signingKey: rootKeys.privateKey,
      serialNumber: randomSerialHex(),
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + validForMs),
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        ...(uris.length ? [new x509.SubjectAlternativeNameExtension(uris.map((value) => ({ type: 'url' as const, value })), true)] : []),
      ],
    });
    return leaf.toString('pem') + '\n';
  };

  return {
    rootPem,
    async issue(identity, opts = {}) {
      const keys = await generateP256KeyPair();
      const leafPem = await sign(keys.publicKey, opts.uris ?? [identity], opts.validForMs ?? 3600_000);
      return new WorkloadCertificate(identity, [leafPem], [rootPem], await privateKeyToPem(keys.privateKey));
    },
    async signer(csrPem, identity) {
      const csr = new x509.Pkcs10CertificateRequest(csrPem);
      const publicKey = await csr.publicKey.export();
      const leafPem = await sign(publicKey, [identity], 3600_000);
      return [...splitCertificates(leafPem), rootPem];
    },
  };
}
