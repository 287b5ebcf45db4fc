// Errors the control-plane REST client raises: a server Status (with its HTTP code and reason), an unreachable
// control plane, or a response the client cannot make sense of.
import { MeshError } from '../../lib/errors.js';

/** One field-level cause of a Status (a 422 carries one per validation line). */
interface StatusCause {
  field?: string;
  message: string;
}

/** The Kubernetes `Status` body the API server sends with every error response. */
export interface ApiStatus {
  kind: 'Status';
  apiVersion: string;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  code: number;
  details?: { name?: string; kind?: string; causes?: StatusCause[] };
}

type ClientErrorCode =
  /** The server answered with a Status; `status`, `reason` and `causes` say which. */
  | 'CLIENT_API_ERROR'
  /** The socket or TCP endpoint did not accept a connection (missing, refused, timed out). */
  | 'CLIENT_UNREACHABLE'
  /** The server answered with something that is not the REST contract (bad JSON, unexpected shape). */
  | 'CLIENT_BAD_RESPONSE'
  /** The object's kind is not one Ambit serves, so there is no path to send it to. */
  | 'CLIENT_UNKNOWN_KIND';

export class ClientError extends MeshError {
  declare readonly code: ClientErrorCode;
  /** HTTP status code of the server's answer (`0` when there was no answer). */
  readonly status: number;
  /** The Status reason (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `Expired`, …) or '' without one. */
  readonly reason: string;
  /** Field-level causes; for `Invalid` one per validation line. */
  readonly causes: StatusCause[];
  constructor(
    code: ClientErrorCode,
    message: string,
    opts: { status?: number; reason?: string; causes?: StatusCause[]; cause?: unknown } = {},
  ) {
    super(code, message, { cause: opts.cause });
    this.status = opts.status ?? 0;
    this.reason = opts.reason ?? '';
    this.causes = opts.causes ?? [];
  }

  /** Builds the error for a non-2xx answer, from its Status body when it has one. */
  static fromResponse(httpStatus: number, body: unknown): ClientError {
    if (isStatus(body)) {
      return new ClientError('CLIENT_API_ERROR', body.message || `the server answered ${httpStatus} ${body.reason}`, {
        status: typeof body.code === 'number' && body.code > 0 ? body.code : httpStatus,
        reason: body.reason ?? '',
        causes: Array.isArray(body.details?.causes) ? body.details.causes : [],
      });
    }
    const text = typeof body === 'string' && body.trim() ? `: ${body.trim().split('\n')[0]}` : '';
    return new ClientError('CLIENT_API_ERROR', `the server answered HTTP ${httpStatus}${text}`, { status: httpStatus });
  }
}

function isStatus(body: unknown): body is ApiStatus {
  return typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'Status';
}

/** True when `err` is the server saying the object does not exist. */
export function isNotFound(err: unknown): boolean {
  return err instanceof ClientError && err.code === 'CLIENT_API_ERROR' && err.status === 404;
}
