// REST handlers for CA administration, registered by the control plane on its API server:
//   GET  /ambit/v1/ca                  → the CA status (mode, trust domain, roots, expiry; never keys)
//   POST /ambit/v1/ca/rotate           → introduces a new root (old root stays trusted until retired)
//   POST /ambit/v1/ca/retire-old-root  → drops the old root; body {"force": true} (or ?force=true) skips the
//                                        wait until every leaf of the old root has expired
// Errors are Kubernetes Status objects: 409 Conflict for refused rotations, 400 for bad bodies, 500 otherwise.
import type { IncomingMessage } from 'node:http';
import { describeError } from '../../lib/errors.js';
import { CaError } from './ca-error.js';
import type { CaServer } from './ca-server.js';

interface CaRoute {
  method: string;
  path: string;
  handler: (req: IncomingMessage, body: Buffer) => Promise<{ status: number; body: unknown }>;
}

function statusBody(code: number, reason: string, message: string): { status: number; body: unknown } {
  return { status: code, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code, details: { kind: 'ca' } } };
}

function failure(err: unknown): { status: number; body: unknown } {
  if (err instanceof CaError && err.code === 'CA_ROTATION') return statusBody(409, 'Conflict', err.message);
  return statusBody(500, 'InternalError', describeError(err));
}

function parseForce(req: IncomingMessage, body: Buffer): boolean | { status: number; body: unknown } {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams.get('force');
  if (query !== null) return query === '' || query === 'true' || query === '1';
  const text = body.toString('utf8').trim();
  if (!text) return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return statusBody(400, 'BadRequest', `request body: not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return statusBody(400, 'BadRequest', 'request body: expected an object like {"force": true}');
  const force = (parsed as { force?: unknown }).force;
  if (force !== undefined && typeof force !== 'boolean') return statusBody(400, 'BadRequest', 'request body: force: must be a boolean');
  return force === true;
}

export function caRoutes(ca: CaServer): CaRoute[] {
  return [
    {
      method: 'GET',
      path: '/ambit/v1/ca',
      handler: async () => ({ status: 200, body: ca.status() }),
    },
    {
      method: 'POST',
      path: '/ambit/v1/ca/rotate',
      handler: async () => {
        try {
          const result = await ca.rotateRoot();
          return { status: 200, body: { ...result, ca: ca.status() } };
        } catch (err) {
          return failure(err);
        }
      },
    },
    {
      method: 'POST',
      path: '/ambit/v1/ca/retire-old-root',
      handler: async (req, body) => {
        const force = parseForce(req, body);
        if (typeof force !== 'boolean') return force;
        try {
          const result = await ca.retireOldRoot({ force });
          return { status: 200, body: { ...result, ca: ca.status() } };
        } catch (err) {
          return failure(err);
        }
      },
    },
  ];
}
