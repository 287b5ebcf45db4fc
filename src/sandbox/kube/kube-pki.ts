// The key material a throwaway Kubernetes control plane needs: a local CA, the API server's serving cert, the
// service-account signing key, bearer tokens for the admin and the controller manager and scheduler, and the pair
// of certificates between the API server and kubelets (its client certificate, the kubelets' serving one).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { x509 } from '../../lib/certs/x509.js';
import { createLocalCa, type CertAndKey } from '../../lib/certs/local-ca.js';

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
  /** The API server's client certificate towards kubelets (`--kubelet-client-certificate`), CN KUBELET_CLIENT_NAME. */
  kubeletClient: CertAndKey;
  /**
   * The kubelets' serving certificate, naming every kubelet address given: the sandbox runs one kubelet for all its
   * nodes, so one certificate serves them all. The API server checks it against the CA (`--kubelet-certificate-authority`).
   */
  kubeletServing: CertAndKey;
}

/** The API server's identity towards kubelets (kubeadm's name); kubelets accept no other client. */
export const KUBELET_CLIENT_NAME = 'kube-apiserver-kubelet-client';

/** Names the serving certificate carries besides the given addresses, as kubeadm's does (in-cluster clients use them). */
const API_SERVER_DNS_NAMES = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'];

/**
 * Generates a fresh PKI; `addresses` are the IPs the API server is reached at (e.g. 127.0.0.1 and its service IP),
 * `kubeletAddresses` those its kubelets serve at.
 */
export async function createKubePki(addresses: readonly string[], kubeletAddresses: readonly string[] = []): Promise<KubePki> {
  const ca = await createLocalCa('ambit-kube-ca');
  const ips = (list: readonly string[]) => list.filter((a) => isIP(a) !== 0).map((value) => ({ type: 'ip' as const, value }));
  const serving = await ca.issue('CN=kube-apiserver', x509.ExtendedKeyUsage.serverAuth, [
    ...API_SERVER_DNS_NAMES.map((value) => ({ type: 'dns' as const, value })),
    ...ips(addresses),
  ]);
  // Organization system:masters, as kubeadm's: the name kubelets' authorizers grant everything.
  const kubeletClient = await ca.issue(`CN=${KUBELET_CLIENT_NAME}, O=system:masters`, x509.ExtendedKeyUsage.clientAuth, []);
  const kubeletServing = await ca.issue('CN=ambit-sandbox-kubelet', x509.ExtendedKeyUsage.serverAuth, ips(kubeletAddresses));
  const sa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    caCertPem: ca.certPem,
    servingCertPem: serving.certPem,
    servingKeyPem: serving.keyPem,
    serviceAccountKeyPem: sa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    serviceAccountPubPem: sa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    tokens: { admin: newToken(), controllerManager: newToken(), scheduler: newToken() },
    kubeletClient,
    kubeletServing,
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
