// Certificates made for one benchmark run with openssl: an ECDSA P-256 CA and P-256 leaves usable as both TLS
// client and server (the peers use mutual TLS, like HBONE). Valid for one day; the directory is the run's.
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../../src/platform/index.js';

export interface LeafFiles {
  cert: string;
  key: string;
  /** Certificate followed by its key (HAProxy's `crt` format). */
  combined: string;
}

export interface BenchPki {
  caCert: string;
  leaf(name: string): Promise<LeafFiles>;
}

export async function createBenchPki(dir: string): Promise<BenchPki> {
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.pem');
  await runCommand(['openssl', 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey]);
  await runCommand(['openssl', 'req', '-x509', '-new', '-key', caKey, '-subj', '/CN=ambit-bench-ca', '-days', '1', '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', caCert]);
  let serial = 1;
  return {
    caCert,
    async leaf(name: string): Promise<LeafFiles> {
      const key = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const cert = join(dir, `${name}.pem`);
      const ext = join(dir, `${name}.ext`);
      const combined = join(dir, `${name}.combined.pem`);
      writeFileSync(ext, [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth,clientAuth',
        `subjectAltName=DNS:${name}.bench.local`,
        '',
      ].join('\n'));
      await runCommand(['openssl', 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
      await runCommand(['openssl', 'req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr]);
      await runCommand(['openssl', 'x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', String(++serial),
        '-days', '1', '-sha256', '-extfile', ext, '-out', cert]);
      writeFileSync(combined, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'), { mode: 0o600 });
      return { cert, key, combined };
    },
  };
}
