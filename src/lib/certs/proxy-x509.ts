// The X.509 a proxy needs (ztunnel, waypoint): PEM handling, P-256 keys, its workload CSR, and facts of the
// certificates it holds or is shown, with Node's own crypto only. @peculiar/x509 (with tsyringe and its ASN.1
// schemas, about 12 MiB of private memory once loaded) stays with the CA (x509.ts); a data-path process does
// not load it.
//
// The CSR is written by hand in DER, as Istio's ztunnel sends it: version 0, empty subject, the key's
// SubjectPublicKeyInfo, one extensionRequest attribute holding a critical subjectAltName with the SPIFFE URI,
// signed ECDSA with SHA-256.
import { KeyObject, X509Certificate, sign, webcrypto } from 'node:crypto';
import { SPIFFE_SCHEME } from './spiffe-id.js';

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** WebCrypto parameters of the only key type the proxies generate (PROTOCOLS.md §6.4). */
const P256_KEY_PARAMS = { name: 'ECDSA', namedCurve: 'P-256' } as const;

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
  return toPem(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** SubjectPublicKeyInfo DER of a public key. */
export async function publicKeySpki(key: CryptoKey): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.exportKey('spki', key));
}

// --- DER, just what the CSR needs ---

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a! + b!];
  for (const v of rest) {
    const chunk = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) chunk.unshift(0x80 | (x & 0x7f));
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/**
 * A PKCS#10 request as Istio's ztunnel sends it: no subject, one critical URI SAN (the SPIFFE id), signed with
 * ECDSA SHA-256 by `keys`.
 */
export async function createWorkloadCsr(identity: string, keys: CryptoKeyPair): Promise<string> {
  const spki = await publicKeySpki(keys.publicKey);
  // GeneralName uniformResourceIdentifier: [6] IMPLICIT IA5String.
  const san = der(SEQUENCE, der(0x86, Buffer.from(identity, 'ascii')));
  const extension = der(SEQUENCE, oid(OID_SUBJECT_ALT_NAME), der(0x01, Buffer.from([0xff])), der(0x04, san));
  const attributes = der(0xa0, der(SEQUENCE, oid(OID_EXTENSION_REQUEST), der(SET, der(SEQUENCE, extension))));
  const info = der(SEQUENCE, der(0x02, Buffer.from([0])), der(SEQUENCE), spki, attributes);
  const signature = sign('sha256', info, { key: KeyObject.from(keys.privateKey), dsaEncoding: 'der' });
  const csr = der(SEQUENCE, info, der(SEQUENCE, oid(OID_ECDSA_WITH_SHA256)), der(0x03, Buffer.from([0]), signature));
  return toPem(csr, 'CERTIFICATE REQUEST');
}

// --- certificate facts ---

/** A certificate from PEM, DER or an already parsed one. */
function parsed(cert: Uint8Array | string | X509Certificate): X509Certificate {
  return cert instanceof X509Certificate ? cert : new X509Certificate(cert);
}

/**
 * URI SANs of a certificate (empty without a SAN extension). Node lists SANs as `URI:value, DNS:value, …`, quoting
 * a value as a JSON string when it holds characters that would make the list ambiguous.
 */
export function uriSans(cert: Uint8Array | string | X509Certificate): string[] {
  const list = parsed(cert).subjectAltName ?? '';
  const out: string[] = [];
  for (const m of list.matchAll(/(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const v = m[1]!;
    out.push(v.startsWith('"') ? (JSON.parse(v) as string) : v);
  }
  return out;
}

/** The first `spiffe://` URI SAN of a DER or PEM certificate: the peer identity used for authz and telemetry. */
export function spiffeIdOf(cert: Uint8Array | string | X509Certificate): string | undefined {
  return uriSans(cert).find((u) => u.startsWith(SPIFFE_SCHEME));
}

/** Facts about one certificate as config dumps show them (PROTOCOLS.md §9.3). */
export interface CertificateFacts {
  /** Lower-case hex without leading zeros. */
  serialNumber: string;
  /** RFC 3339. */
  validFrom: string;
  /** RFC 3339. */
  expirationTime: string;
}

export function certificateFacts(cert: string | X509Certificate): CertificateFacts {
  const c = parsed(cert);
  return {
    serialNumber: c.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    validFrom: new Date(c.validFrom).toISOString(),
    expirationTime: new Date(c.validTo).toISOString(),
  };
}

/** SubjectPublicKeyInfo DER of a certificate's key. */
export function certificatePublicKeySpki(cert: string | X509Certificate): Buffer {
  return parsed(cert).publicKey.export({ type: 'spki', format: 'der' });
}
