// X.509 helpers shared by the CA and the proxies: PEM splitting, P-256 keys, workload CSRs, certificate facts.
// Uses @peculiar/x509 on Node's WebCrypto; importing this module installs WebCrypto as its provider.
// @peculiar/x509 resolves algorithms through tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import { webcrypto, createPublicKey, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { SPIFFE_SCHEME } from './spiffe-id.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** WebCrypto parameters of the only key type the proxies generate (PROTOCOLS.md §6.4). */
const P256_KEY_PARAMS = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

export const OID_SUBJECT_ALT_NAME = '2.5.29.17';

/** One `-----BEGIN X-----` block of a PEM text. */
interface PemBlock {
  /** The label, e.g. `CERTIFICATE`, `CERTIFICATE REQUEST`, `PRIVATE KEY`. */
  type: string;
  der: Buffer;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n\t ]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order. Text between blocks is ignored; malformed blocks are skipped. */
export function splitPem(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_RE)) out.push({ type: m[1]!, der: Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') });
  return out;
}

/** Encodes DER as a PEM block with 64-column lines and a trailing newline. */
function toPem(der: Uint8Array | ArrayBuffer, type: string): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

/** The CERTIFICATE blocks of a PEM text, each re-encoded canonically (one PEM string per certificate). */
export function splitCertificates(text: string): string[] {
  return splitPem(text).filter((b) => b.type === 'CERTIFICATE').map((b) => toPem(b.der, 'CERTIFICATE'));
}

/** A fresh extractable ECDSA P-256 key pair. */
export async function generateP256KeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(P256_KEY_PARAMS, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** PKCS#8 PEM of a private key (for node:tls). Keep the result in memory only. */
export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return toPem(der, 'PRIVATE KEY');
}

/** SubjectPublicKeyInfo DER of a public key. */
export async function publicKeySpki(key: CryptoKey): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.exportKey('spki', key));
}

/**
 * A PKCS#10 request as Istio's ztunnel sends it: no subject, one critical URI SAN (the SPIFFE id), signed with
 * ECDSA SHA-256 by `keys`.
 */
export async function createWorkloadCsr(identity: string, keys: CryptoKeyPair): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }], true)],
  });
  return csr.toString('pem') + '\n';
}

/** URI SANs of a certificate (empty when it has no SAN extension). */
export function uriSans(cert: x509.X509Certificate): string[] {
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!ext) return [];
  return ext.names.items.filter((n) => n.type === 'url').map((n) => n.value);
}

/** The first `spiffe://` URI SAN of a DER or PEM certificate: the peer identity used for authz and telemetry. */
export function spiffeIdOf(cert: Uint8Array | string | x509.X509Certificate): string | undefined {
  const c = cert instanceof x509.X509Certificate ? cert : new x509.X509Certificate(cert);
  return uriSans(c).find((u) => u.startsWith(SPIFFE_SCHEME));
}

/** Facts about one certificate as config dumps show them (PROTOCOLS.md §9.3). */
export interface CertificateFacts {
  /** Lower-case hex without leading zero padding. */
  serialNumber: string;
  /** RFC 3339. */
  validFrom: string;
  /** RFC 3339. */
  expirationTime: string;
}

export function certificateFacts(pem: string): CertificateFacts {
  const c = new x509.X509Certificate(pem);
  return { serialNumber: c.serialNumber.toLowerCase(), validFrom: c.notBefore.toISOString(), expirationTime: c.notAfter.toISOString() };
}

/** Node's view of a public key (type, curve, size) from SPKI DER. */
export function describePublicKey(spki: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
}

/** 16 random bytes as hex: a 128-bit serial number (the generator encodes it as a positive INTEGER). */
export function randomSerialHex(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex');
}
