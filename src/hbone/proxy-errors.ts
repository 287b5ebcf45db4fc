// Coded proxy errors (one registry for ztunnel's data path) and the response flag each one maps to (PROTOCOLS.md §9.1).
import { MeshError, findCause } from '../lib/errors.js';

/** Envoy-style response flags as ztunnel reports them; `-` means none. */
export type ResponseFlag =
  | '-' | 'DENY' | 'CONNECT' | 'TLS_FAILURE' | 'H2_HANDSHAKE_FAILURE' | 'NETWORK_POLICY' | 'IDENTITY_ERROR';

/** Flags that count a connection as failed (`istio_tcp_connections_failed_total`). */
export const FAILURE_FLAGS: ReadonlySet<ResponseFlag> = new Set([
  'DENY', 'CONNECT', 'TLS_FAILURE', 'H2_HANDSHAKE_FAILURE', 'NETWORK_POLICY', 'IDENTITY_ERROR',
]);

/** Base of every data-path error: a stable code and the response flag it is reported with. */
export class ProxyError extends MeshError {
  readonly flag: ResponseFlag;
  constructor(code: string, flag: ResponseFlag, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.flag = flag;
  }
}

/** L4 authorization refused the connection (HBONE 401; inbound plaintext closed). */
export class PolicyDeniedError extends ProxyError {
  /** namespace/name of the DENY policy that matched, when one did (not for "no ALLOW policy matched"). */
  readonly policy: string | undefined;
  constructor(reason: string, policy?: string) {
    super('ZT_DENY', 'DENY', `connection closed due to policy rejection: ${reason}`);
    this.policy = policy;
  }
}

/** The local app (or a plaintext upstream) could not be reached. */
export class UpstreamConnectError extends ProxyError {
  constructor(target: string, options?: { cause?: unknown }) {
    super('ZT_CONNECT', 'CONNECT', `failed to connect to ${target}${causeText(options?.cause)}`, options);
  }
}

/**
 * The server refused a CONNECT stream unprocessed (HTTP/2 REFUSED_STREAM, as a draining server does with streams
 * that crossed its GOAWAY): nothing reached the destination, so another connection may be tried.
 */
export class StreamRefusedError extends UpstreamConnectError {}

/** Dialling a peer's HBONE port timed out: usually something on the path drops port 15008. */
export class HboneConnectTimeoutError extends ProxyError {
  constructor(target: string) {
    super('ZT_NETWORK_POLICY', 'NETWORK_POLICY', `connection to ${target} timed out, maybe a NetworkPolicy is blocking HBONE port 15008`);
  }
}

export class TlsHandshakeError extends ProxyError {
  constructor(target: string, options?: { cause?: unknown }) {
    super('ZT_TLS_FAILURE', 'TLS_FAILURE', `tls handshake with ${target} failed${causeText(options?.cause)}`, options);
  }
}

export class H2HandshakeError extends ProxyError {
  constructor(target: string, options?: { cause?: unknown }) {
    super('ZT_H2_HANDSHAKE', 'H2_HANDSHAKE_FAILURE', `http/2 handshake with ${target} failed${causeText(options?.cause)}`, options);
  }
}

/** The HBONE server answered the CONNECT with a status other than 200. */
export class ConnectRejectedError extends ProxyError {
  readonly status: number;
  constructor(authority: string, status: number) {
    super('ZT_CONNECT_REJECTED', status === 401 ? 'DENY' : 'CONNECT', `CONNECT ${authority} was answered with status ${status}${status === 401 ? ' (denied by the destination\'s authorization policy)' : ''}`);
    this.status = status;
  }
}

/** No certificate for an identity we must present. */
export class IdentityError extends ProxyError {
  constructor(identity: string, options?: { cause?: unknown }) {
    super('ZT_IDENTITY', 'IDENTITY_ERROR', `no certificate available for ${identity}${causeText(options?.cause)}`, options);
  }
}

/** A service has no endpoint that can take the connection. */
export class NoHealthyUpstreamError extends ProxyError {
  constructor(service: string) {
    super('ZT_NO_HEALTHY_UPSTREAM', 'CONNECT', `no healthy upstream for ${service}`);
  }
}

/**
 * Outbound traffic policy REGISTRY_ONLY: the destination is neither a mesh service or workload nor in a
 * ServiceEntry. Reported against Istio's BlackHoleCluster, as a sidecar reports the same refusal.
 */
export class RegistryOnlyError extends ProxyError {
  constructor(destination: string) {
    super('ZT_REGISTRY_ONLY', 'NETWORK_POLICY', `refused: ${destination} is not in the mesh registry (no Service, workload or ServiceEntry) and the outbound traffic policy is REGISTRY_ONLY`);
  }
}

/** The connection cannot be routed (unknown source workload, illegal port, loop…). */
export class RoutingError extends ProxyError {
  constructor(message: string) {
    super('ZT_ROUTING', 'CONNECT', message);
  }
}

/** A live connection was closed because a policy change now denies it. */
export class PolicyRevokedError extends ProxyError {
  readonly policy: string | undefined;
  constructor(reason: string, policy?: string) {
    super('ZT_DENY', 'DENY', `connection closed due to policy change: ${reason}`);
    this.policy = policy;
  }
}

/** The response flag for a failure: the first ProxyError in its cause chain decides; anything else is CONNECT. */
export function flagFor(err: unknown): ResponseFlag {
  if (err === undefined || err === null) return '-';
  return findCause(err, ProxyError)?.flag ?? 'CONNECT';
}

function causeText(cause: unknown): string {
  if (cause === undefined) return '';
  const msg = cause instanceof Error ? cause.message : String(cause);
  return msg ? `: ${msg}` : '';
}
