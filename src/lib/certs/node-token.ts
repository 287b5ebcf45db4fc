// Node bootstrap tokens on disk: `<dataDir>/nodes/<node>/token` (file 0600, directory 0700), one random secret per node.
// The control plane creates one when a Node object appears and deletes it when the Node is deleted; the sandbox
// reads it to hand to that node's ztunnel, which sends it as `authorization: Bearer <token>` to the CA.
// Creation is race-free between processes: the token is written to a temp file and hard-linked into place.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, unlink, chmod, rmdir } from 'node:fs/promises';
import { createFileExclusive } from '../durable-file.js';
import { join } from 'node:path';
import { MeshError } from '../errors.js';

/** A node name that is safe as a directory name (Kubernetes DNS-subdomain form). */
const NODE_NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

class NodeTokenError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NODE_TOKEN', message, options);
  }
}

function checkNodeName(node: string): void {
  if (!NODE_NAME_RE.test(node) || node.includes('..')) throw new NodeTokenError(`node name '${node}' is not a valid DNS subdomain; no token can be stored for it`);
}

/** `<dataDir>/nodes/<node>/token`. */
export function nodeTokenPath(dataDir: string, node: string): string {
  checkNodeName(node);
  return join(dataDir, 'nodes', node, 'token');
}

/** SHA-256 of a token, hex: what the CA keeps in memory instead of the token. */
export function hashNodeToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of two token hashes (hex strings of equal length). */
export function tokenHashesEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/** The node's token, or undefined when none is stored. */
export async function readNodeToken(dataDir: string, node: string): Promise<string | undefined> {
  try {
    const text = (await readFile(nodeTokenPath(dataDir, node), 'utf8')).trim();
    return text || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new NodeTokenError(`cannot read the token of node '${node}': ${(err as Error).message}`, { cause: err });
  }
}

/** Returns the node's token, creating it (32 random bytes, base64url) when absent. */
export async function ensureNodeToken(dataDir: string, node: string): Promise<string> {
  const path = nodeTokenPath(dataDir, node);
  const dir = join(dataDir, 'nodes', node);
  const existing = await readNodeToken(dataDir, node);
  if (existing) return existing;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const token = randomBytes(32).toString('base64url');
  try {
    // Exclusive: if another process won the race, its token is the token.
    await createFileExclusive(path, token + '\n', 0o600);
  } catch (err) {
    throw new NodeTokenError(`cannot create the token of node '${node}' at ${path}: ${(err as Error).message}`, { cause: err });
  }
  const stored = await readNodeToken(dataDir, node);
  if (!stored) throw new NodeTokenError(`the token of node '${node}' vanished while it was being created (${path})`);
  return stored;
}

/** Deletes the node's token (revocation) and its directory when empty. Absent tokens are fine. */
export async function removeNodeToken(dataDir: string, node: string): Promise<void> {
  const path = nodeTokenPath(dataDir, node);
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw new NodeTokenError(`cannot delete the token of node '${node}' at ${path}: ${err.message}`, { cause: err });
  });
  await rmdir(join(dataDir, 'nodes', node)).catch(() => undefined);
}

class BearerTokenError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BEARER_TOKEN_UNAVAILABLE', message, options);
  }
}

/**
 * The bearer token a proxy authenticates to the control plane with, read anew for every request: a projected
 * service-account token file (Kubernetes; rotated by whoever writes it) when `tokenFile` is set, else its node's
 * bootstrap token under the data dir (the sandbox).
 */
export function bearerTokenReader(o: { tokenFile?: string; dataDir: string; node: string }): () => Promise<string> {
  return async () => {
    if (o.tokenFile) {
      const t = (await readFile(o.tokenFile, 'utf8').catch((err: unknown) => {
        throw new BearerTokenError(`cannot read the service-account token ${o.tokenFile}: ${(err as Error).message}`, { cause: err });
      })).trim();
      if (!t) throw new BearerTokenError(`the service-account token file ${o.tokenFile} is empty`);
      return t;
    }
    const t = await readNodeToken(o.dataDir, o.node);
    if (!t) throw new BearerTokenError(`no bootstrap token for node ${o.node} under ${nodeTokenPath(o.dataDir, o.node)}`);
    return t;
  };
}
