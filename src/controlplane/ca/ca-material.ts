// The CA's signing material: a self-managed root kept under `<dataDir>/ca/` (created on first start, reused after,
// rotatable), or a plugged-in intermediate loaded from Istio's `cacerts` layout. Also issues every certificate.
//
// Self-managed layout (directory 0700; private keys 0600):
//   <dataDir>/ca/state.json                 {"signing": "<id>", "previous"?: "<id>", "rotatedAt"?: RFC 3339}
//   <dataDir>/ca/roots/<id>/root-cert.pem   a root (ECDSA P-256, 10 years, CN "Ambit root CA <id>", O=<trust domain>)
//   <dataDir>/ca/roots/<id>/root-key.pem    its PKCS#8 key; deleted once the root is no longer the signing root
//   <dataDir>/ca/roots/<id>/cross-cert.pem  this root certified by the previous root (written at rotation)
//   <dataDir>/ca/root-cert.pem              the current trust bundle (derived, public; point clients here)
// Rotation: a new root becomes the signing root; until `retireOld`, the bundle holds both roots and every new
// chain carries the cross certificate, so peers that still trust only the old root verify new leaves too.
//
// Plugged-in layout (read-only, Istio's `cacerts`): ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem.
// ca-cert signs leaves; chains are leaf, ca-cert, further intermediates of cert-chain.pem, root-cert.pem bundle.
import { webcrypto, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, readdir, chmod } from 'node:fs/promises';
import { writeFileDurable } from '../../lib/durable-file.js';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { x509, ECDSA_SHA256, randomSerialHex, type CryptoKey } from '../../lib/certs/x509.js';
import { generateP256KeyPair, privateKeyToPem, splitCertificates, splitPem } from '../../lib/certs/proxy-x509.js';
import { CaError } from './ca-error.js';

/** Leaves are backdated by this much so peers with slightly slow clocks accept them at once. */
export const BACKDATE_MS = 5 * 60_000;
const ROOT_VALIDITY_MS = 10 * 365 * 24 * 3600_000;

interface LeafSpec {
  /** SubjectPublicKeyInfo DER of the key being certified. */
  spki: ArrayBuffer | Uint8Array;
  uris: string[];
  dnsNames?: string[];
  ips?: string[];
  /** Requested lifetime; the caller has already applied its maximum. */
  ttlSeconds: number;
}

interface Signer {
  cert: x509.X509Certificate;
  key: CryptoKey;
  algorithm: { name: string; hash: string };
}

interface RootEntry {
  id: string;
  cert: x509.X509Certificate;
  pem: string;
}

interface RootInfo {
  id: string;
  role: 'signing' | 'previous' | 'trusted';
  subject: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
}

export interface CaInfo {
  mode: 'self-managed' | 'plugged-in';
  /** The certificate that signs leaves. */
  signingCertificate: { subject: string; serialNumber: string; notAfter: string };
  /** Every root in the trust bundle. */
  roots: RootInfo[];
  /** Set while an old root is still trusted after a rotation. */
  rotatedAt?: string;
}

export interface RotationResult {
  previousRootId: string;
  newRootId: string;
  rotatedAt: string;
}

export interface RetireResult {
  retiredRootId: string;
}

// --- small file helpers ---

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function importSigningKey(pem: string, where: string): Promise<{ key: CryptoKey; algorithm: { name: string; hash: string } }> {
  let ko;
  try {
    ko = createPrivateKey(pem);
  } catch (err) {
    throw new CaError('CA_CONFIG', `${where}: not a readable private key (${(err as Error).message})`, { cause: err });
  }
  const der = ko.export({ format: 'der', type: 'pkcs8' });
  const d = ko.asymmetricKeyDetails ?? {};
  if (ko.asymmetricKeyType === 'ec' && (d.namedCurve === 'prime256v1' || d.namedCurve === 'secp384r1')) {
    const p256 = d.namedCurve === 'prime256v1';
    const key = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: p256 ? 'P-256' : 'P-384' }, false, ['sign']);
    return { key, algorithm: { name: 'ECDSA', hash: p256 ? 'SHA-256' : 'SHA-384' } };
  }
  if (ko.asymmetricKeyType === 'rsa' && (d.modulusLength ?? 0) >= 2048) {
    const key = await webcrypto.subtle.importKey('pkcs8', der, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
    return { key, algorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } };
  }
  throw new CaError('CA_CONFIG', `${where}: key type ${ko.asymmetricKeyType}${d.namedCurve ? ` (${d.namedCurve})` : ''}${d.modulusLength ? ` (${d.modulusLength} bits)` : ''} is not supported; use ECDSA P-256/P-384 or RSA ≥ 2048`);
}

async function keyIdentifierOf(cert: x509.X509Certificate): Promise<string> {
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) return ski.keyId;
  return Buffer.from(await cert.publicKey.getKeyIdentifier()).toString('hex');
}

function rootExtensions(ski: x509.SubjectKeyIdentifierExtension): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
    ski,
  ];
}

async function isSelfSigned(cert: x509.X509Certificate): Promise<boolean> {
  if (cert.subject !== cert.issuer) return false;
  try {
    return await cert.verify({ signatureOnly: true });
  } catch {
    return false;
  }
}

async function signedBy(cert: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  if (cert.issuer !== issuer.subject) return false;
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

/** Signing material and everything that changes when it rotates. One instance per control plane. */
export class CaMaterial {
  readonly mode: 'self-managed' | 'plugged-in';
  readonly #caDir: string | undefined;
  readonly #trustDomain: string;
  readonly #log: Logger;
  #signer!: Signer;
  #signerKeyId = '';
  /** Certificates after the leaf in every chain. */
  #intermediates: string[] = [];
  #roots: RootEntry[] = [];
  #signingRootId = '';
  #previousRootId: string | undefined;
  #rotatedAt: string | undefined;
  #pluggedDir: string | undefined;

  private constructor(mode: 'self-managed' | 'plugged-in', caDir: string | undefined, trustDomain: string, log: Logger) {
    this.mode = mode;
    this.#caDir = caDir;
    this.#trustDomain = trustDomain;
    this.#log = log;
  }

  /** Loads a plugged-in CA when `pluggedCaDir` is set, else the self-managed root under `<dataDir>/ca` (created if absent). */
  static async open(opts: { dataDir: string; trustDomain: string; pluggedCaDir?: string; log: Logger }): Promise<CaMaterial> {
    if (opts.pluggedCaDir) {
      const m = new CaMaterial('plugged-in', undefined, opts.trustDomain, opts.log);
      await m.#loadPlugged(opts.pluggedCaDir);
      return m;
    }
    const m = new CaMaterial('self-managed', join(opts.dataDir, 'ca'), opts.trustDomain, opts.log);
    await m.#loadOrCreate();
    return m;
  }

  /** The trust bundle: every trusted root, concatenated PEM. */
  bundlePem(): string {
    return this.#roots.map((r) => r.pem).join('');
  }

  /** Expiry of the signing root (self-managed) or of the first plugged-in root, ms since epoch. */
  rootExpiry(): number {
    const signingRoot = this.#roots.find((r) => r.id === this.#signingRootId) ?? this.#roots[0]!;
    return signingRoot.cert.notAfter.getTime();
  }

  /** Expiry of the certificate that signs leaves, ms since epoch. */
  signingCertExpiry(): number {
    return this.#signer.cert.notAfter.getTime();
  }

  info(): CaInfo {
    const roots: RootInfo[] = this.#roots.map((r) => ({
      id: r.id,
      role: r.id === this.#signingRootId && this.mode === 'self-managed' ? 'signing' : r.id === this.#previousRootId ? 'previous' : 'trusted',
      subject: r.cert.subject,
      serialNumber: r.cert.serialNumber.toLowerCase(),
      notBefore: r.cert.notBefore.toISOString(),
      notAfter: r.cert.notAfter.toISOString(),
    }));
    const s = this.#signer.cert;
    const info: CaInfo = { mode: this.mode, signingCertificate: { subject: s.subject, serialNumber: s.serialNumber.toLowerCase(), notAfter: s.notAfter.toISOString() }, roots };
    if (this.#rotatedAt) info.rotatedAt = this.#rotatedAt;
    return info;
  }

  /** When an old root was rotated out but is still trusted: the rotation instant (ms). */
  rotatedAtMs(): number | undefined {
    return this.#rotatedAt ? Date.parse(this.#rotatedAt) : undefined;
  }

  /**
   * Signs a leaf: empty subject, critical SAN, keyUsage digitalSignature+keyEncipherment, extKeyUsage
   * serverAuth+clientAuth, CA:false, random 128-bit serial, backdated by BACKDATE_MS, never outliving the signer.
   * Returns the response chain: leaf, intermediates…, trust bundle.
   */
  async issue(spec: LeafSpec, now = Date.now()): Promise<string[]> {
    const signer = this.#signer;
    const notBefore = new Date(now - BACKDATE_MS);
    const notAfter = new Date(Math.min(now + spec.ttlSeconds * 1000, signer.cert.notAfter.getTime()));
    const names: { type: 'url' | 'dns' | 'ip'; value: string }[] = [
      ...spec.uris.map((value) => ({ type: 'url' as const, value })),
      ...(spec.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(spec.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ];
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerialHex(),
      issuer: signer.cert.subjectName,
      publicKey: spec.spki instanceof ArrayBuffer ? spec.spki : Buffer.from(spec.spki),
      signingKey: signer.key,
      signingAlgorithm: signer.algorithm,
      notBefore,
      notAfter,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
        new x509.AuthorityKeyIdentifierExtension(this.#signerKeyId, false),
        // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
        new x509.SubjectAlternativeNameExtension(names, true),
      ],
    });
    return [leaf.toString('pem') + '\n', ...this.#intermediates, this.bundlePem()];
  }

  /**
   * Introduces a new root. It signs all new leaves at once; the old root stays in the bundle and certifies the
   * new one (cross certificate in every chain) until `retireOld`. Refused while a previous rotation is pending.
   */
  async rotate(now = Date.now()): Promise<RotationResult> {
    if (this.mode !== 'self-managed') {
      throw new CaError('CA_ROTATION', `the CA uses a plugged-in certificate from ${this.#pluggedDir}; rotate it by replacing the files there (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem) and restarting the control plane`);
    }
    if (this.#previousRootId) {
      throw new CaError('CA_ROTATION', `a rotation is already in progress (root ${this.#previousRootId} is still trusted since ${this.#rotatedAt}); retire the old root first with 'ambit ca retire-old-root'`);
    }
    const caDir = this.#caDir!;
    const oldId = this.#signingRootId;
    const old = this.#roots.find((r) => r.id === oldId)!;
    const oldSigner = this.#signer;
    const created = await this.#createRoot(now);
    // The cross certificate: the new root's name and key, certified by the old root.
    const newSki = created.cert.getExtension(x509.SubjectKeyIdentifierExtension)!;
    const cross = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerialHex(),
      subject: created.cert.subjectName,
      issuer: old.cert.subjectName,
      publicKey: created.cert.publicKey,
      signingKey: oldSigner.key,
      signingAlgorithm: oldSigner.algorithm,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(Math.min(old.cert.notAfter.getTime(), created.cert.notAfter.getTime())),
      extensions: [...rootExtensions(new x509.SubjectKeyIdentifierExtension(newSki.keyId)), new x509.AuthorityKeyIdentifierExtension(await keyIdentifierOf(old.cert), false)],
    });
    const crossPem = cross.toString('pem') + '\n';
    await writeFileDurable(join(caDir, 'roots', created.id, 'cross-cert.pem'), crossPem, 0o644);
    const rotatedAt = new Date(now).toISOString();
    await this.#writeState({ signing: created.id, previous: oldId, rotatedAt });
    // Commit point passed: switch in memory, then tidy up what is no longer needed.
    this.#signer = { cert: created.cert, key: created.key, algorithm: { ...ECDSA_SHA256 } };
    this.#signerKeyId = await keyIdentifierOf(created.cert);
    this.#signingRootId = created.id;
    this.#previousRootId = oldId;
    this.#rotatedAt = rotatedAt;
    this.#roots = [{ id: created.id, cert: created.cert, pem: created.pem }, old];
    this.#intermediates = [crossPem];
    await this.#writeBundle();
    await rm(join(caDir, 'roots', oldId, 'root-key.pem'), { force: true });
    this.#log.info({ previousRoot: oldId, newRoot: created.id }, 'CA root rotated; old root stays trusted until retired');
    return { previousRootId: oldId, newRootId: created.id, rotatedAt };
  }

  /** Removes the previous root from the bundle and stops sending the cross certificate. */
  async retireOld(): Promise<RetireResult> {
    if (this.mode !== 'self-managed') throw new CaError('CA_ROTATION', 'the CA uses a plugged-in certificate; there is no old root to retire');
    const oldId = this.#previousRootId;
    if (!oldId) throw new CaError('CA_ROTATION', "no old root to retire: run 'ambit ca rotate' first");
    const caDir = this.#caDir!;
    await this.#writeState({ signing: this.#signingRootId });
    this.#previousRootId = undefined;
    this.#rotatedAt = undefined;
    this.#roots = this.#roots.filter((r) => r.id !== oldId);
    this.#intermediates = [];
    await this.#writeBundle();
    await rm(join(caDir, 'roots', oldId), { recursive: true, force: true });
    this.#log.info({ retiredRoot: oldId }, 'old CA root retired');
    return { retiredRootId: oldId };
  }

  // --- self-managed root ---

  async #createRoot(now: number): Promise<{ id: string; cert: x509.X509Certificate; key: CryptoKey; pem: string }> {
    const id = `${new Date(now).toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`;
    const keys = await generateP256KeyPair();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerialHex(),
      name: `CN=Ambit root CA ${id}, O=${this.#trustDomain}`,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + ROOT_VALIDITY_MS),
      keys,
      signingAlgorithm: ECDSA_SHA256,
      extensions: rootExtensions(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)),
    });
    const dir = join(this.#caDir!, 'roots', id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pem = cert.toString('pem') + '\n';
    await writeFileDurable(join(dir, 'root-key.pem'), await privateKeyToPem(keys.privateKey), 0o600);
    await writeFileDurable(join(dir, 'root-cert.pem'), pem, 0o644);
    // Re-import the key as non-extractable for signing.
    const { key } = await importSigningKey(await readFile(join(dir, 'root-key.pem'), 'utf8'), join(dir, 'root-key.pem'));
    return { id, cert, key, pem };
  }

  async #writeState(state: { signing: string; previous?: string; rotatedAt?: string }): Promise<void> {
    await writeFileDurable(join(this.#caDir!, 'state.json'), JSON.stringify(state, null, 2) + '\n', 0o644);
  }

  async #writeBundle(): Promise<void> {
    await writeFileDurable(join(this.#caDir!, 'root-cert.pem'), this.bundlePem(), 0o644);
  }

  async #readRoot(id: string): Promise<RootEntry> {
    const path = join(this.#caDir!, 'roots', id, 'root-cert.pem');
    const text = await readOptional(path);
    if (!text) throw new CaError('CA_CONFIG', `${path}: missing (referenced by ${join(this.#caDir!, 'state.json')})`);
    const pems = splitCertificates(text);
    if (pems.length !== 1) throw new CaError('CA_CONFIG', `${path}: expected one certificate, found ${pems.length}`);
    return { id, cert: new x509.X509Certificate(pems[0]!), pem: pems[0]! };
  }

  async #loadOrCreate(): Promise<void> {
    const caDir = this.#caDir!;
    await mkdir(join(caDir, 'roots'), { recursive: true, mode: 0o700 });
    await chmod(caDir, 0o700);
    const statePath = join(caDir, 'state.json');
    const stateText = await readOptional(statePath);
    let state: { signing: string; previous?: string; rotatedAt?: string };
    if (!stateText) {
      const created = await this.#createRoot(Date.now());
      state = { signing: created.id };
      await this.#writeState(state);
      this.#log.info({ root: created.id, caDir }, 'created a new CA root');
    } else {
      try {
        state = JSON.parse(stateText) as typeof state;
        if (typeof state.signing !== 'string' || !state.signing) throw new Error('"signing" must name a root');
      } catch (err) {
        throw new CaError('CA_CONFIG', `${statePath}: unreadable (${(err as Error).message})`, { cause: err });
      }
    }
    const signing = await this.#readRoot(state.signing);
    const keyPath = join(caDir, 'roots', state.signing, 'root-key.pem');
    const keyPem = await readOptional(keyPath);
    if (!keyPem) throw new CaError('CA_CONFIG', `${keyPath}: the signing root's private key is missing`);
    const { key, algorithm } = await importSigningKey(keyPem, keyPath);
    this.#signer = { cert: signing.cert, key, algorithm };
    this.#signerKeyId = await keyIdentifierOf(signing.cert);
    this.#signingRootId = state.signing;
    this.#roots = [signing];
    this.#intermediates = [];
    if (state.previous) {
      this.#roots.push(await this.#readRoot(state.previous));
      const crossPath = join(caDir, 'roots', state.signing, 'cross-cert.pem');
      const cross = await readOptional(crossPath);
      if (cross) this.#intermediates = splitCertificates(cross);
      this.#previousRootId = state.previous;
      this.#rotatedAt = state.rotatedAt;
      await rm(join(caDir, 'roots', state.previous, 'root-key.pem'), { force: true });
    }
    // Roots not referenced by state.json are leftovers of an interrupted rotation or of a retirement.
    const keep = new Set([state.signing, state.previous].filter(Boolean));
    for (const name of await readdir(join(caDir, 'roots'))) {
      if (!keep.has(name)) {
        await rm(join(caDir, 'roots', name), { recursive: true, force: true });
        this.#log.info({ root: name }, 'removed an unreferenced CA root directory');
      }
    }
    await this.#writeBundle();
  }

  // --- plugged-in CA ---

  async #loadPlugged(dir: string): Promise<void> {
    this.#pluggedDir = dir;
    const read = async (name: string): Promise<string> => {
      const path = join(dir, name);
      const text = await readOptional(path);
      if (text === undefined) throw new CaError('CA_CONFIG', `plugged-in CA: ${path}: file not found (expected Istio's cacerts layout: ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem)`);
      return text;
    };
    const caCertText = await read('ca-cert.pem');
    const caKeyText = await read('ca-key.pem');
    const chainText = await read('cert-chain.pem');
    const rootText = await read('root-cert.pem');
    const caCerts = splitCertificates(caCertText);
    if (caCerts.length !== 1) throw new CaError('CA_CONFIG', `plugged-in CA: ${join(dir, 'ca-cert.pem')}: expected one certificate, found ${caCerts.length}`);
    const caCert = new x509.X509Certificate(caCerts[0]!);
    const bc = caCert.getExtension(x509.BasicConstraintsExtension);
    if (!bc || !bc.ca) throw new CaError('CA_CONFIG', `plugged-in CA: ${join(dir, 'ca-cert.pem')}: not a CA certificate (basicConstraints CA:TRUE is required)`);
    if (caCert.notAfter.getTime() <= Date.now()) throw new CaError('CA_CONFIG', `plugged-in CA: ${join(dir, 'ca-cert.pem')}: expired at ${caCert.notAfter.toISOString()}`);
    if (splitPem(caKeyText).length === 0) throw new CaError('CA_CONFIG', `plugged-in CA: ${join(dir, 'ca-key.pem')}: no PEM block found`);
    const { key, algorithm } = await importSigningKey(caKeyText, `plugged-in CA: ${join(dir, 'ca-key.pem')}`);
    // The key must belong to the certificate.
    const caPub = createPrivateKey(caKeyText);
    const derivedSpki = createPublicKey(caPub).export({ format: 'der', type: 'spki' });
    if (!Buffer.from(caCert.publicKey.rawData).equals(derivedSpki)) {
      throw new CaError('CA_CONFIG', `plugged-in CA: ${join(dir, 'ca-key.pem')} is not the private key of ${join(dir, 'ca-cert.pem')}`);
    }
    const roots = splitCertificates(rootText).map((pem, i) => ({ id: `plugged-root-${i}`, cert: new x509.X509Certificate(pem), pem }));
    if (roots.length === 0) throw new CaError('CA_CONFIG', `plugged-in CA: ${join(dir, 'root-cert.pem')}: no certificate found`);
    // Intermediates: ca-cert first, then the non-root certificates of cert-chain.pem, each once.
    const seen = new Set<string>([caCerts[0]!]);
    const chain: string[] = [caCerts[0]!];
    const chainCerts: x509.X509Certificate[] = [caCert];
    for (const pem of splitCertificates(chainText)) {
      if (seen.has(pem)) continue;
      seen.add(pem);
      const c = new x509.X509Certificate(pem);
      if (await isSelfSigned(c)) continue;
      chain.push(pem);
      chainCerts.push(c);
    }
    // ca-cert must chain, through those intermediates, to a root in root-cert.pem.
    let cur = caCert;
    for (let depth = 0; ; depth++) {
      const root = await (async () => {
        for (const r of roots) if (await signedBy(cur, r.cert)) return r;
        return undefined;
      })();
      if (root) break;
      let next: x509.X509Certificate | undefined;
      for (const c of chainCerts) if (c !== cur && (await signedBy(cur, c))) next = c;
      if (!next || depth > 8) {
        throw new CaError('CA_CONFIG', `plugged-in CA: ${join(dir, 'ca-cert.pem')} does not chain to any certificate in ${join(dir, 'root-cert.pem')} (through ${join(dir, 'cert-chain.pem')})`);
      }
      cur = next;
    }
    this.#signer = { cert: caCert, key, algorithm };
    this.#signerKeyId = await keyIdentifierOf(caCert);
    this.#intermediates = chain;
    this.#roots = roots;
    this.#signingRootId = roots[0]!.id;
    this.#log.info({ dir, subject: caCert.subject }, 'loaded plugged-in CA certificate');
  }
}
