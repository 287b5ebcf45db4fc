// `kubernetes.io/tls` Secrets: reading their certificate and key (data is base64, stringData plain) and checking
// that both parse and belong together.
import { createPrivateKey, X509Certificate } from 'node:crypto';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

/** What is wrong with a certificate chain + key pair (field path and reason), or undefined when usable. */
export function tlsSecretProblem(certPem: string | undefined, keyPem: string | undefined): { field: string; reason: string } | undefined {
  if (!certPem) return { field: 'data.tls.crt', reason: 'required for type kubernetes.io/tls' };
  if (!keyPem) return { field: 'data.tls.key', reason: 'required for type kubernetes.io/tls' };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    return { field: 'data.tls.crt', reason: `not a PEM certificate: ${(err as Error).message}` };
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return { field: 'data.tls.key', reason: 'does not match the certificate in tls.crt' };
  } catch (err) {
    return { field: 'data.tls.key', reason: `not a PEM private key: ${(err as Error).message}` };
  }
  return undefined;
}

interface SecretLike {
  type?: unknown;
  data?: unknown;
  stringData?: unknown;
}

/** One key of a Secret as text: `stringData` (plain) wins over `data` (base64), as the API server merges them. */
export function secretValue(secret: SecretLike, key: string): string | undefined {
  const plain = (secret.stringData ?? {}) as Record<string, string>;
  const data = (secret.data ?? {}) as Record<string, string>;
  return plain[key] ?? (data[key] !== undefined ? Buffer.from(data[key], 'base64').toString('utf8') : undefined);
}

/** The certificate chain and key of a Secret object (undefined when it is not a usable kubernetes.io/tls Secret). */
export function tlsSecretMaterial(secret: SecretLike | undefined): { certPem: string; keyPem: string } | undefined {
  if (!secret || secret.type !== TLS_SECRET_TYPE) return undefined;
  const certPem = secretValue(secret, 'tls.crt');
  const keyPem = secretValue(secret, 'tls.key');
  return certPem && keyPem && !tlsSecretProblem(certPem, keyPem) ? { certPem, keyPem } : undefined;
}
