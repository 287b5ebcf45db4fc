// Errors as the API returns them: Kubernetes `Status` bodies and the mapping from coded errors to HTTP codes.
import { MeshError, describeError, findCause } from '../../lib/errors.js';
import { StoreError } from '../store/store.js';

interface StatusCause {
  field: string;
  message: string;
}

export interface StatusDetails {
  name?: string;
  kind?: string;
  causes?: StatusCause[];
}

/** A Kubernetes `Status` object with status Failure. */
interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  code: number;
  details?: StatusDetails;
}

/** A failure with its HTTP status and Kubernetes reason, thrown inside request handling and answered as a Status. */
export class HttpStatusError extends MeshError {
  constructor(
    readonly httpStatus: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(`APISERVER_${reason.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`, message);
  }
}

export function statusBody(code: number, reason: string, message: string, details?: StatusDetails): StatusBody {
  const body: StatusBody = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details && Object.keys(details).length > 0) body.details = details;
  return body;
}

const STORE_STATUS: Record<StoreError['code'], [number, string]> = {
  STORE_NOT_FOUND: [404, 'NotFound'],
  STORE_ALREADY_EXISTS: [409, 'AlreadyExists'],
  STORE_CONFLICT: [409, 'Conflict'],
  STORE_GONE: [410, 'Expired'],
  STORE_INVALID: [400, 'BadRequest'],
  STORE_CLOSED: [503, 'ServiceUnavailable'],
  STORE_LOCKED: [503, 'ServiceUnavailable'],
};

/**
 * The Status answering `err`. Unknown errors become 500 InternalError with a one-line description (never a
 * stack trace); `internal` says so, so the caller can log them.
 */
export function statusForError(err: unknown, details?: StatusDetails): { body: StatusBody; internal: boolean } {
  const http = findCause(err, HttpStatusError);
  if (http) return { body: statusBody(http.httpStatus, http.reason, http.message, http.details ?? details), internal: false };
  const store = findCause(err, StoreError);
  if (store) {
    const [code, reason] = STORE_STATUS[store.code] ?? [500, 'InternalError'];
    return { body: statusBody(code, reason, store.message, details), internal: code >= 500 };
  }
  return { body: statusBody(500, 'InternalError', `internal error: ${describeError(err)}`, details), internal: true };
}

/** Splits validation lines (`<ref>: <field path>: <reason>`) into Status causes. */
export function causesOf(lines: readonly string[]): StatusCause[] {
  return lines.map((line) => {
    const a = line.indexOf(': ');
    const b = a < 0 ? -1 : line.indexOf(': ', a + 2);
    return b < 0 ? { field: '', message: line } : { field: line.slice(a + 2, b), message: line.slice(b + 2) };
  });
}
