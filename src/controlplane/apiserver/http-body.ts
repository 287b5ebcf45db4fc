// Request bodies: reading them with a size bound and parsing JSON with errors a user can act on.
import type { IncomingMessage } from 'node:http';
import { MAX_REQUEST_BYTES, formatBytes } from '../../api/limits.js';
import { HttpStatusError } from './http-status.js';

/** Largest accepted request body (Kubernetes' own limit is 3 MiB too). */
const MAX_BODY_BYTES = MAX_REQUEST_BYTES;

/** Reads the whole body; fails with 413 as soon as it exceeds `limit` bytes. */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit, declared));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
      failed = true;
    });
  });
}

/** `size`: the declared length when the client sent one (else the body was cut off while streaming). */
function tooLarge(limit: number, size?: number): HttpStatusError {
  const what = size === undefined ? 'request body' : `request body of ${formatBytes(size)}`;
  return new HttpStatusError(413, 'RequestEntityTooLarge', `${what} is larger than the ${formatBytes(limit)} the API accepts`);
}

/** Parses a JSON body; an empty body is `undefined`. A syntax error is a 400 naming the problem. */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpStatusError(400, 'BadRequest', `request body is not valid JSON: ${(err as Error).message}`);
  }
}
