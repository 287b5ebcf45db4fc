// Reads a kubeconfig (the file kubectl uses) into a Kubernetes endpoint for ApiClient. Supported: the current (or a named) context; server with certificate-authority(-data) and
// tls-server-name; users with token, tokenFile, or client-certificate(-data) + client-key(-data). Anything else a
// kubeconfig can say (exec plugins, auth providers, insecure-skip-tls-verify, proxies) is refused by name rather
// than ignored: a mesh must not talk to its API server less securely than the user asked.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { MeshError } from '../../lib/errors.js';
import type { KubeEndpoint } from './api-client.js';

class KubeconfigError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KUBECONFIG_INVALID', message, options);
  }
}

type Named<T> = Array<{ name?: string } & T>;

interface KubeconfigFile {
  'current-context'?: string;
  clusters?: Named<{ cluster?: Record<string, unknown> }>;
  users?: Named<{ user?: Record<string, unknown> }>;
  contexts?: Named<{ context?: { cluster?: string; user?: string } }>;
}

const CLUSTER_FIELDS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'tls-server-name', 'extensions']);
const USER_FIELDS = new Set(['token', 'tokenFile', 'client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'extensions']);

/** The endpoint a kubeconfig's current context (or `context`) names. */
export function loadKubeconfig(path: string, context?: string): KubeEndpoint {
  let doc: KubeconfigFile;
  try {
    doc = (parse(readFileSync(path, 'utf8')) ?? {}) as KubeconfigFile;
  } catch (err) {
    throw new KubeconfigError(`kubeconfig ${path}: cannot read it: ${(err as Error).message}`, { cause: err });
  }
  const where = `kubeconfig ${path}`;
  const ctxName = context ?? doc['current-context'];
  if (!ctxName) throw new KubeconfigError(`${where}: no current-context is set (pass a context name)`);
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new KubeconfigError(`${where}: context "${ctxName}" is not defined`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster) throw new KubeconfigError(`${where}: context "${ctxName}" names cluster "${ctx.cluster ?? ''}", which is not defined`);
  const user = ctx.user ? doc.users?.find((u) => u.name === ctx.user)?.user : {};
  if (!user) throw new KubeconfigError(`${where}: context "${ctxName}" names user "${ctx.user}", which is not defined`);
  for (const k of Object.keys(cluster)) {
    if (!CLUSTER_FIELDS.has(k)) throw new KubeconfigError(`${where}: clusters[${ctx.cluster}].${k}: not supported by ambit`);
  }
  for (const k of Object.keys(user)) {
    if (!USER_FIELDS.has(k)) throw new KubeconfigError(`${where}: users[${ctx.user}].${k}: not supported by ambit (use a token or a client certificate)`);
  }
  const server = String(cluster['server'] ?? '');
  if (!/^https:\/\/[^/]+\/?$/.test(server)) throw new KubeconfigError(`${where}: clusters[${ctx.cluster}].server: must be https://host:port, got "${server}"`);
  const base = dirname(path);
  const file = (field: string, value: unknown): string => {
    const p = String(value);
    try {
      return readFileSync(isAbsolute(p) ? p : join(base, p), 'utf8');
    } catch (err) {
      throw new KubeconfigError(`${where}: ${field}: cannot read ${p}: ${(err as Error).message}`, { cause: err });
    }
  };
  const pem = (dataField: string, fileField: string, from: Record<string, unknown>): string | undefined => {
    if (from[dataField] !== undefined) return Buffer.from(String(from[dataField]), 'base64').toString('utf8');
    if (from[fileField] !== undefined) return file(fileField, from[fileField]);
    return undefined;
  };
  const endpoint: KubeEndpoint = { server: server.replace(/\/$/, '') };
  const ca = pem('certificate-authority-data', 'certificate-authority', cluster);
  if (ca) endpoint.caPem = ca;
  if (cluster['tls-server-name']) endpoint.tlsServerName = String(cluster['tls-server-name']);
  if (user['token'] !== undefined) endpoint.token = String(user['token']);
  else if (user['tokenFile'] !== undefined) endpoint.token = file('tokenFile', user['tokenFile']).trim();
  const cert = pem('client-certificate-data', 'client-certificate', user);
  const key = pem('client-key-data', 'client-key', user);
  if (Boolean(cert) !== Boolean(key)) throw new KubeconfigError(`${where}: users[${ctx.user}]: a client certificate needs its key and the key its certificate`);
  if (cert && key) Object.assign(endpoint, { certPem: cert, keyPem: key });
  return endpoint;
}

/** The API server a pod reaches: `KUBERNETES_SERVICE_HOST`/`_PORT` and the mounted service-account files. */
export function inClusterEndpoint(host: string | undefined, port: string | undefined, serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount'): KubeEndpoint {
  if (!host || !port) throw new KubeconfigError('--in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (is this a pod?)');
  const read = (name: string) => {
    try {
      return readFileSync(join(serviceAccountDir, name), 'utf8');
    } catch (err) {
      throw new KubeconfigError(`--in-cluster: cannot read ${join(serviceAccountDir, name)}: ${(err as Error).message}`, { cause: err });
    }
  };
  return { server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, caPem: read('ca.crt'), token: read('token').trim() };
}
