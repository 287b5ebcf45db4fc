// A throwaway local certificate authority (ECDSA P-256) for TLS servers outside the mesh: the sandbox's Kubernetes test
// control plane, the outside world's HTTPS hosts, tests. Short-lived by design; never the mesh CA.
import { ECDSA_SHA256, randomSerialHex, x509 } from './x509.js';
import { generateP256KeyPair, privateKeyToPem } from './proxy-x509.js';

/** Lifetime of every certificate: longer than any test or demo, short enough that a leaked one is soon useless. */
const VALIDITY_MS = 7 * 24 * 3600 * 1000;
/** Backdating covers small clock differences between the generator and the verifier. */
const BACKDATE_MS = 3600 * 1000;

export interface CertAndKey {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
}

type SubjectAltName = { type: 'dns' | 'ip'; value: string };

interface LocalCa {
  /** PEM of the CA certificate (what clients trust). */
  certPem: string;
  /** A leaf for `subject` (e.g. `CN=x`) with one extended key usage (x509.ExtendedKeyUsage.*) and these SANs. */
  issue(subject: string, usage: string, sans: SubjectAltName[]): Promise<CertAndKey>;
}

export async function createLocalCa(commonName: string): Promise<LocalCa> {
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const notAfter = new Date(Date.now() + VALIDITY_MS);
  const caKeys = await generateP256KeyPair();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: `CN=${commonName}`,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  return {
    certPem: ca.toString('pem') + '\n',
    async issue(subject, usage, sans) {
      const keys = await generateP256KeyPair();
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: randomSerialHex(),
        subject,
        issuer: ca.subject,
        notBefore,
        notAfter,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        signingAlgorithm: ECDSA_SHA256,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([usage]),
          ...(sans.length ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
          await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
        ],
      });
      return { certPem: cert.toString('pem') + '\n', keyPem: await privateKeyToPem(keys.privateKey) };
    },
  };
}
