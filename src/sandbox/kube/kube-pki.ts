// The key material a throwaway Kubernetes control plane needs: a local CA, the API server's serving cert, the
// service-account signing key, and bearer tokens for the admin and the controller manager and scheduler.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { ECDSA_SHA256, generateP256KeyPair, privateKeyToPem, randomSerialHex, x509 } from '../../lib/certs/x509.js';

export interface KubePki {
  /** PEM of the CA every component and client trusts (it signed the serving certificate). */
  caCertPem: string;
  /** The API server's serving certificate and its PKCS#8 key. */
  servingCertPem: string;
  servingKeyPem: string;
  /** Service-account token signing key (ES256): the private half for the API server's signer and the controller manager. */
  serviceAccountKeyPem: string;
  /** Its public half, which the API server verifies tokens with. */
  serviceAccountPubPem: string;
  /** Bearer tokens, one per identity in the token file. */
  tokens: { admin: string; controllerManager: string; scheduler: string };
}

/** Names the serving certificate carries besides the given addresses, as kubeadm's does (in-cluster clients use them). */
const API_SERVER_DNS_NAMES = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'];
/** Lifetime of every certificate: longer than any test or demo, short enough that a leaked one is soon useless. */
const VALIDITY_MS = 7 * 24 * 3600 * 1000;
/** Backdating covers small clock differences between the generator and the verifier. */
const BACKDATE_MS = 3600 * 1000;

/** Generates a fresh PKI; `addresses` are the IPs the API server is reached at (e.g. 127.0.0.1 and its service IP). */
export async function createKubePki(addresses: readonly string[]): Promise<KubePki> {
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const notAfter = new Date(Date.now() + VALIDITY_MS);
  const caKeys = await generateP256KeyPair();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: 'CN=ambit-kube-ca',
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
  const servingKeys = await generateP256KeyPair();
  const sans = [
    ...API_SERVER_DNS_NAMES.map((value) => ({ type: 'dns' as const, value })),
    ...addresses.filter((a) => isIP(a) !== 0).map((value) => ({ type: 'ip' as const, value })),
  ];
  const serving = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: 'CN=kube-apiserver',
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: servingKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const sa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    caCertPem: ca.toString('pem') + '\n',
    servingCertPem: serving.toString('pem') + '\n',
    servingKeyPem: await privateKeyToPem(servingKeys.privateKey),
    serviceAccountKeyPem: sa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    serviceAccountPubPem: sa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    tokens: { admin: newToken(), controllerManager: newToken(), scheduler: newToken() },
  };
}

/**
 * The API server's `--token-auth-file` (CSV: token,user,uid,"groups"). The admin is in system:masters; the
 * controller manager and scheduler use the user names that Kubernetes' bootstrap RBAC roles are bound to.
 */
export function renderTokenFile(tokens: KubePki['tokens']): string {
  return [
    `${tokens.admin},ambit-admin,ambit-admin,"system:masters"`,
    `${tokens.controllerManager},system:kube-controller-manager,system:kube-controller-manager`,
    `${tokens.scheduler},system:kube-scheduler,system:kube-scheduler`,
  ].join('\n') + '\n';
}

function newToken(): string {
  return randomBytes(24).toString('hex');
}
