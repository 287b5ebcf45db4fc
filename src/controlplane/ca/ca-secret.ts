// On Kubernetes the self-managed CA's directory (`<dataDir>/ca`, ca-material.ts) is kept in a Secret as well, as
// istiod keeps its self-signed root in `istio-ca-secret`: a control plane pod's data dir is an emptyDir, and a root
// that changed with every restart would cut every workload's mTLS until all certificates were reissued.
//
// Layout: one Secret key per file, `/` written as `.` (`state.json`, `root-cert.pem`, `roots.<id>.root-key.pem`,
// `roots.<id>.root-cert.pem`, `roots.<id>.cross-cert.pem`); any other key makes the Secret unusable (refused by
// name, never half-read). At start the Secret, if present, replaces the local directory; else the local root (new
// or kept) is written to it, create-only, so of two control planes starting at once the second adopts the first's
// root. After a rotation or retirement the directory is written again (retried every 10 s until it is saved). With
// no such namespace yet (a control plane outside a cluster not yet installed) the root stays in the data dir only.
// Reading and writing it needs RBAC get/create/update on that one Secret; nothing else touches it.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ClientError, type ApiClient } from '../client/index.js';
import { describeError } from '../../lib/errors.js';
import { CaError } from './ca-error.js';
import { CaMaterial } from './ca-material.js';

/** Files of the CA directory a Secret may hold, as Secret keys. */
const KEY_PATTERN = /^(state\.json|root-cert\.pem|roots\.[0-9a-zA-Z_-]+\.(root-cert|root-key|cross-cert)\.pem)$/;
const RETRY_MS = 10_000;

export interface CaSecretRef {
  namespace: string;
  name: string;
}

function secretPath(ref: CaSecretRef): string {
  return `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/secrets/${encodeURIComponent(ref.name)}`;
}

/** `namespace/name` → a reference, or why not. */
export function parseCaSecretRef(text: string, flag: string): CaSecretRef {
  const m = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$/.exec(text);
  if (!m) throw new CaError('CA_CONFIG', `${flag} must be <namespace>/<secret name>, got "${text}"`);
  return { namespace: m[1]!, name: m[3]! };
}

async function filesOf(caDir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of ['state.json', 'root-cert.pem']) out[f] = (await readFile(join(caDir, f))).toString('base64');
  for (const id of await readdir(join(caDir, 'roots'))) {
    for (const f of await readdir(join(caDir, 'roots', id))) out[`roots.${id}.${f}`] = (await readFile(join(caDir, 'roots', id, f))).toString('base64');
  }
  return out;
}

/** The Secret's data, checked key by key; undefined when there is no such Secret. */
async function readSecret(api: ApiClient, ref: CaSecretRef): Promise<{ data: Record<string, string>; resourceVersion: string } | undefined> {
  let secret: { data?: Record<string, string>; metadata?: { resourceVersion?: string } };
  try {
    secret = (await api.requestJson('GET', secretPath(ref))) as typeof secret;
  } catch (err) {
    if (err instanceof ClientError && err.status === 404) return undefined;
    throw new CaError('CA_CONFIG', `cannot read the CA Secret ${ref.namespace}/${ref.name}: ${describeError(err)}`, { cause: err });
  }
  const data = secret.data ?? {};
  const bad = Object.keys(data).filter((k) => !KEY_PATTERN.test(k));
  if (bad.length || !data['state.json']) {
    throw new CaError('CA_CONFIG', `the CA Secret ${ref.namespace}/${ref.name} is not an Ambit CA: ${bad.length ? `unexpected key(s) ${bad.join(', ')}` : 'no state.json'} (delete it to start a new root)`);
  }
  return { data, resourceVersion: secret.metadata?.resourceVersion ?? '' };
}

/** Replaces the local CA directory with the Secret's files (keys 0600). */
async function restore(caDir: string, data: Record<string, string>): Promise<void> {
  await rm(caDir, { recursive: true, force: true });
  await mkdir(join(caDir, 'roots'), { recursive: true, mode: 0o700 });
  for (const [key, value] of Object.entries(data)) {
    const parts = key.startsWith('roots.') ? ['roots', key.slice(6, key.indexOf('.', 6)), key.slice(key.indexOf('.', 6) + 1)] : [key];
    if (parts.length === 3) await mkdir(join(caDir, parts[0]!, parts[1]!), { recursive: true, mode: 0o700 });
    await writeFile(join(caDir, ...parts), Buffer.from(value, 'base64'), { mode: key.endsWith('root-key.pem') ? 0o600 : 0o644 });
  }
}

function secretObject(ref: CaSecretRef, data: Record<string, string>, resourceVersion?: string): object {
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: { name: ref.name, namespace: ref.namespace, labels: { 'app.kubernetes.io/managed-by': 'ambit' }, ...(resourceVersion ? { resourceVersion } : {}) },
    data,
  };
}

/** Adopts the Secret's root if there is one (true). */
async function adopt(api: ApiClient, ref: CaSecretRef, caDir: string, log: Logger): Promise<boolean> {
  const found = await readSecret(api, ref);
  if (!found) return false;
  await restore(caDir, found.data);
  log.info({ secret: `${ref.namespace}/${ref.name}` }, 'CA root taken from its Secret');
  return true;
}

/**
 * Before the CA starts on `<dataDir>`: the Secret's root replaces the local one; without a Secret, the local root
 * (kept or made now) is published to it, create-only; losing that race to another control plane adopts its root.
 */
export async function syncCaDirWithSecret(o: { api: ApiClient; ref: CaSecretRef; dataDir: string; trustDomain: string; log: Logger }): Promise<void> {
  const caDir = join(o.dataDir, 'ca');
  if (await adopt(o.api, o.ref, caDir, o.log)) return;
  await CaMaterial.open({ dataDir: o.dataDir, trustDomain: o.trustDomain, log: o.log });
  try {
    await o.api.requestJson('POST', `/api/v1/namespaces/${encodeURIComponent(o.ref.namespace)}/secrets`, secretObject(o.ref, await filesOf(caDir)));
    o.log.info({ secret: `${o.ref.namespace}/${o.ref.name}` }, 'CA root saved to its Secret');
  } catch (err) {
    if (err instanceof ClientError && err.status === 404) {
      // A control plane outside the cluster, before anything is installed: the root stays in the data dir (which
      // then is what must be kept), and the next start publishes it once the namespace exists.
      o.log.warn({ secret: `${o.ref.namespace}/${o.ref.name}` }, `namespace ${o.ref.namespace} does not exist: the CA root is kept in ${caDir} only for now`);
      return;
    }
    if (!(err instanceof ClientError && err.status === 409)) {
      throw new CaError('CA_CONFIG', `cannot create the CA Secret ${o.ref.namespace}/${o.ref.name}: ${describeError(err)}`, { cause: err });
    }
    await adopt(o.api, o.ref, caDir, o.log);
  }
}

/** After a rotation or retirement: writes the directory to the Secret, retrying in the background until saved. */
export function saveCaSecretSoon(api: ApiClient, ref: CaSecretRef, caDir: string, log: Logger): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const attempt = async (): Promise<void> => {
    try {
      const current = await readSecret(api, ref);
      const body = secretObject(ref, await filesOf(caDir), current?.resourceVersion);
      if (current) await api.requestJson('PUT', secretPath(ref), body);
      else await api.requestJson('POST', `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/secrets`, body);
      log.info({ secret: `${ref.namespace}/${ref.name}` }, 'CA saved to its Secret');
    } catch (err) {
      log.error({ secret: `${ref.namespace}/${ref.name}`, err: describeError(err) }, `cannot save the CA to its Secret; retrying in ${RETRY_MS / 1000} s (a restart now would bring back the previous root)`);
      if (!stopped) timer = setTimeout(() => void attempt(), RETRY_MS);
    }
  };
  void attempt();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
