// Checks a certificate signing request before anything is signed: one PEM PKCS#10 block, an accepted key
// (ECDSA P-256 or RSA ≥ 2048), a valid self-signature with SHA-256 or stronger, and exactly one SAN which is
// a SPIFFE URI in the CA's trust domain matching the impersonated identity. Every refusal is a CaError
// `CA_INVALID_ARGUMENT` whose message names the field and the problem (it is returned to the caller as is).
import { verify as verifySignature, type KeyObject } from 'node:crypto';
import { x509, describePublicKey, OID_SUBJECT_ALT_NAME } from '../../lib/certs/x509.js';
import { splitPem } from '../../lib/certs/proxy-x509.js';
import { formatSpiffeId, parseSpiffeId, type SpiffeId } from '../../lib/certs/spiffe-id.js';
import { CaError } from './ca-error.js';

/** Upper bound on the CSR text we parse at all (a P-256 CSR is ~500 bytes, an RSA-4096 one ~1.7 KiB). */
const MAX_CSR_BYTES = 64 * 1024;
const MIN_RSA_BITS = 2048;

interface CheckedCsr {
  /** SubjectPublicKeyInfo DER of the requester's key: what the leaf certifies. */
  spki: ArrayBuffer;
  /** The requested SPIFFE id (the CSR's only URI SAN). */
  identity: string;
  spiffe: SpiffeId;
}

/** One DER TLV at `at`: where its content starts and where the whole element ends. */
function readTlv(der: Buffer, at: number): { contentStart: number; end: number } {
  let i = at + 1;
  let len = der[i++]!;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + der[i++]!;
  }
  if (i + len > der.length) throw new Error('truncated DER');
  return { contentStart: i, end: i + len };
}

/**
 * Verifies a PKCS#10 self-signature with node:crypto over the exact TBS bytes (several times faster than
 * re-encoding through the ASN.1 library). CertificationRequest ::= SEQUENCE { info, algorithm, BIT STRING sig }.
 */
function selfSignatureVerifies(der: Buffer, key: KeyObject, hash: string): boolean {
  const outer = readTlv(der, 0);
  const info = readTlv(der, outer.contentStart);
  const alg = readTlv(der, info.end);
  if (der[alg.end] !== 0x03) return false;
  const sig = readTlv(der, alg.end);
  if (der[sig.contentStart] !== 0) return false; // unused-bits byte of the BIT STRING
  const tbs = der.subarray(outer.contentStart, info.end);
  const signature = der.subarray(sig.contentStart + 1, sig.end);
  return verifySignature(hash.replace('-', '').toLowerCase(), tbs, key, signature);
}

function invalid(message: string): CaError {
  return new CaError('CA_INVALID_ARGUMENT', message);
}

/** Parses and checks `metadata.ImpersonatedIdentity` when present. */
export function checkImpersonatedIdentity(value: unknown, trustDomain: string): SpiffeId | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(`metadata.ImpersonatedIdentity: must be a string SPIFFE id, got ${Array.isArray(value) ? 'a list' : typeof value}`);
  const id = parseSpiffeId(value);
  if (typeof id === 'string') throw invalid(`metadata.ImpersonatedIdentity: ${id}`);
  if (id.trustDomain !== trustDomain) throw invalid(`metadata.ImpersonatedIdentity: '${value}' is in trust domain '${id.trustDomain}', but this CA issues only for '${trustDomain}'`);
  return id;
}

export async function checkCsr(csrPem: string, opts: { trustDomain: string; impersonated?: SpiffeId }): Promise<CheckedCsr> {
  if (!csrPem.trim()) throw invalid('csr: empty; expected a PEM-encoded CERTIFICATE REQUEST');
  const size = Buffer.byteLength(csrPem);
  if (size > MAX_CSR_BYTES) throw invalid(`csr: ${size} bytes is larger than the ${MAX_CSR_BYTES}-byte limit`);
  const blocks = splitPem(csrPem);
  if (blocks.length === 0) throw invalid("csr: no PEM block found; expected '-----BEGIN CERTIFICATE REQUEST-----'");
  if (blocks.length > 1) throw invalid(`csr: holds ${blocks.length} PEM blocks; expected exactly one CERTIFICATE REQUEST`);
  const block = blocks[0]!;
  if (block.type !== 'CERTIFICATE REQUEST' && block.type !== 'NEW CERTIFICATE REQUEST') {
    throw invalid(`csr: PEM block is '${block.type}'; expected 'CERTIFICATE REQUEST'`);
  }
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(new Uint8Array(block.der));
  } catch (err) {
    throw invalid(`csr: not a valid PKCS#10 request (${(err as Error).message})`);
  }

  // Key type and size.
  const spki = csr.publicKey.rawData;
  let key;
  try {
    key = describePublicKey(new Uint8Array(spki));
  } catch (err) {
    throw invalid(`csr: the public key cannot be read (${(err as Error).message})`);
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve !== 'prime256v1') throw invalid(`csr: EC key on curve ${details.namedCurve ?? 'unknown'} is not accepted; use ECDSA P-256 (prime256v1)`);
  } else if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw invalid(`csr: RSA key of ${bits} bits is too small; at least ${MIN_RSA_BITS} bits are required`);
  } else {
    throw invalid(`csr: key type '${key.asymmetricKeyType ?? 'unknown'}' is not accepted; use ECDSA P-256 or RSA (at least ${MIN_RSA_BITS} bits)`);
  }

  // Signature: algorithm strength, then the proof of possession itself.
  let hash: string | undefined;
  try {
    hash = (csr.signatureAlgorithm as { hash?: { name?: string } }).hash?.name;
  } catch {
    hash = undefined;
  }
  if (!hash || !['SHA-256', 'SHA-384', 'SHA-512'].includes(hash)) {
    throw invalid(`csr: signature algorithm ${hash ? `with ${hash}` : '(unrecognised)'} is not accepted; sign with SHA-256 or stronger`);
  }
  let verified = false;
  try {
    verified = selfSignatureVerifies(block.der, key, hash);
  } catch {
    verified = false;
  }
  if (!verified) throw invalid("csr: signature does not verify against the request's own public key (tampered or corrupt request)");

  // Subject alternative names: exactly one, a SPIFFE URI.
  let sanExts: x509.Extension[];
  try {
    sanExts = csr.getExtensions(OID_SUBJECT_ALT_NAME);
  } catch (err) {
    throw invalid(`csr: extensions cannot be parsed (${(err as Error).message})`);
  }
  if (sanExts.length === 0) throw invalid('csr: has no subjectAltName extension; exactly one SPIFFE URI SAN is required');
  if (sanExts.length > 1) throw invalid(`csr: has ${sanExts.length} subjectAltName extensions; expected one`);
  let names: readonly x509.GeneralName[];
  try {
    names = new x509.SubjectAlternativeNameExtension(sanExts[0]!.rawData).names.items;
  } catch (err) {
    throw invalid(`csr: subjectAltName cannot be parsed (${(err as Error).message}); only one SPIFFE URI SAN is allowed`);
  }
  const labels: Record<string, string> = { dns: 'DNS', ip: 'IP', email: 'email', dn: 'directory-name', guid: 'GUID', upn: 'UPN', id: 'registered-id' };
  for (const n of names) {
    if (n.type !== 'url') throw invalid(`csr: ${labels[n.type] ?? n.type} SAN '${n.value}' is not allowed; the request must carry exactly one SPIFFE URI SAN and nothing else`);
  }
  if (names.length === 0) throw invalid('csr: subjectAltName is empty; exactly one SPIFFE URI SAN is required');
  if (names.length > 1) throw invalid(`csr: has ${names.length} URI SANs (${names.map((n) => n.value).join(', ')}); exactly one is allowed`);
  const uri = names[0]!.value;
  const spiffe = parseSpiffeId(uri);
  if (typeof spiffe === 'string') throw invalid(`csr: URI SAN ${spiffe}`);
  if (spiffe.trustDomain !== opts.trustDomain) {
    throw invalid(`csr: URI SAN '${uri}' is in trust domain '${spiffe.trustDomain}', but this CA issues only for '${opts.trustDomain}'`);
  }
  const identity = formatSpiffeId(spiffe);
  if (opts.impersonated) {
    const wanted = formatSpiffeId(opts.impersonated);
    if (wanted !== identity) throw invalid(`csr: URI SAN '${identity}' does not match metadata.ImpersonatedIdentity '${wanted}'`);
  }
  return { spki, identity, spiffe };
}
