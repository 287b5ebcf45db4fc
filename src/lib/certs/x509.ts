// X.509 for the CA (and the sandbox's Kubernetes PKI): issuing and parsing with @peculiar/x509 on Node's WebCrypto;
// importing this module installs WebCrypto as its provider. @peculiar/x509 resolves algorithms through tsyringe,
// which needs the Reflect metadata API loaded first. What proxies need is in proxy-x509.ts, without this library.
import 'reflect-metadata';
import { webcrypto, createPublicKey, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export type { CryptoKey } from './proxy-x509.js';

export const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

export const OID_SUBJECT_ALT_NAME = '2.5.29.17';

/** Node's view of a public key (type, curve, size) from SPKI DER. */
export function describePublicKey(spki: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
}

/** 16 random bytes as hex: a 128-bit serial number (the generator encodes it as a positive INTEGER). */
export function randomSerialHex(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex');
}
