// Public types of the waypoint's L7 decision engine: the compiled route table, requests in, decisions out.
import type { AttachedResourceRecord } from '../lib/xds/waypoint-records.js';

/** A configuration problem the waypoint reports (status condition / log): valid config it cannot enforce or resolve. */
export interface RouteProblem {
  kind: string;
  namespace: string;
  name: string;
  /** Field path inside the spec, e.g. `spec.rules[0].filters[1]`. */
  field: string;
  reason: string;
}

/** Which attached resource (and which rule of it) produced a decision. */
export interface RouteRef {
  kind: 'HTTPRoute' | 'GRPCRoute' | 'TCPRoute' | 'VirtualService';
  namespace: string;
  name: string;
  /** Index into `spec.rules` (Gateway API) or `spec.http` / `spec.tcp` (VirtualService). */
  rule: number;
  /** `rules[].name` (Gateway API) or `http[].name` (VirtualService) when set. */
  ruleName?: string;
}

/** One header operation list; names are lowercase. */
export interface HeaderEdits {
  /** Replace (or create) the header. */
  set: Array<{ name: string; value: string }>;
  /** Append a value (a second header line / comma-joined value). */
  add: Array<{ name: string; value: string }>;
  remove: string[];
}

/** Load balancing hint from a DestinationRule. */
export type LoadBalancerHint =
  | { policy: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'PASSTHROUGH' }
  | {
      policy: 'CONSISTENT_HASH';
      /** What was hashed: the key is computed from the request, except `sourceIp` which the proxy fills in. */
      on: 'header' | 'cookie' | 'queryParameter' | 'sourceIp';
      /** The hash input (undefined when the request lacks the header/cookie/parameter: the proxy then picks at random). */
      key?: string;
    };

/** DestinationRule `connectionPool`, in plain units. */
export interface ConnectionPoolLimits {
  maxConnections?: number;
  connectTimeoutMs?: number;
  maxConnectionDurationMs?: number;
  tcpIdleTimeoutMs?: number;
  http1MaxPendingRequests?: number;
  http2MaxRequests?: number;
  maxRequestsPerConnection?: number;
  maxRetries?: number;
  httpIdleTimeoutMs?: number;
  maxConcurrentStreams?: number;
}

/** DestinationRule `outlierDetection`, in plain units (Istio defaults filled in where the field is set but parts are not). */
export interface OutlierDetectionSettings {
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
  minHealthPercent: number;
}

/** The upstream policy the DestinationRule for the chosen backend (host, port, subset) resolves to. */
export interface UpstreamPolicy {
  /** `namespace/name` of the DestinationRule. */
  destinationRule: string;
  loadBalancer?: LoadBalancerHint;
  connectionPool?: ConnectionPoolLimits;
  outlierDetection?: OutlierDetectionSettings;
  tls?: { mode: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL'; sni?: string; subjectAltNames?: string[]; insecureSkipVerify?: boolean };
}

/** Where a request goes: a Service (or ServiceEntry host) port, optionally restricted to a DestinationRule subset. */
export interface Backend {
  namespace: string;
  hostname: string;
  /** Service port (not targetPort). */
  port: number;
  /** `ns/hostname` when the backend is a service bound to this waypoint. */
  serviceKey?: string;
  subset?: { name: string; labels: Record<string, string> };
}

export interface RetryPolicy {
  /** Retries after the first attempt (Envoy `num_retries`); 0 = none. */
  attempts: number;
  /** Envoy retry-on conditions, e.g. `connect-failure`, `5xx`, `gateway-error`, `retriable-status-codes`. */
  retryOn: string[];
  /** Status codes retried (meaningful with `retriable-status-codes`). */
  codes: number[];
  /** Base backoff between attempts (Envoy default 25 ms, grows exponentially with jitter). */
  backoffMs: number;
  perTryTimeoutMs?: number;
}

export interface Timeouts {
  /** Whole-request deadline including retries; undefined or 0 = none. */
  requestMs?: number;
  /** Deadline for each upstream attempt. */
  backendRequestMs?: number;
}

export interface ForwardDecision {
  action: 'forward';
  /** Undefined for the default route (no route attached to the target: go to the target service itself). */
  route?: RouteRef;
  backend: Backend;
  /** Route-level then backend-level filters, in order. Apply with `applyHeaderEdits`. */
  requestHeaders: HeaderEdits;
  responseHeaders: HeaderEdits;
  /** New `:path` (with the original query) when a rewrite applies or the path was normalized (`/a/../b` → `/b`). */
  rewritePath?: string;
  /** New `:authority`/Host when a rewrite applies. */
  rewriteHost?: string;
  /** Mirror destinations whose percentage fired for this request (fire-and-forget copies). */
  mirrors: Backend[];
  timeouts: Timeouts;
  retry: RetryPolicy;
  /** Injected delay before forwarding (already sampled against its percentage). */
  faultDelayMs?: number;
  upstream?: UpstreamPolicy;
}

/** Envoy-style response flags the decision can produce. */
type DecisionFlag = 'NR' | 'FI' | 'NC' | 'DR';

interface RedirectDecision {
  action: 'redirect';
  route: RouteRef;
  status: number;
  location: string;
  responseHeaders: HeaderEdits;
}

export interface RespondDecision {
  action: 'respond';
  route?: RouteRef;
  status: number;
  body: string;
  /**
   * NR no route matched; FI fault abort; NC backend unresolvable, all weights zero or unsupported filter;
   * DR direct response (VirtualService `directResponse`; Envoy logs `-` for these, so map DR to `-` in metrics).
   */
  flag: DecisionFlag;
  /** For gRPC requests: the grpc-status to send (fault abort grpcStatus, or mapped from `status`). */
  grpcStatus?: number;
  responseHeaders: HeaderEdits;
  /** Injected delay before answering (a fault delay that fired on an aborted request). */
  faultDelayMs?: number;
}

export type HttpDecision = ForwardDecision | RedirectDecision | RespondDecision;

export type TcpDecision =
  | { action: 'forward'; route?: RouteRef; backend: Backend; upstream?: UpstreamPolicy }
  | { action: 'reject'; route?: RouteRef; flag: 'NC' | 'NR'; reason: string };

/**
 * What the waypoint received the request for: a bound service (`ns/hostname`) and the service port dialled (the
 * VIP:port of the HBONE CONNECT authority — never the Host header: mesh routes follow the Service, not the name the
 * client typed). Workload-addressed traffic has no service and takes no routes: forward it to its destination.
 */
export interface Target {
  serviceKey: string;
  port: number;
  /**
   * Namespace of the caller (from its SPIFFE identity). Selects GAMMA consumer routes — routes declared in the
   * caller's namespace with a parentRef to a Service elsewhere; without it only producer routes apply.
   */
  sourceNamespace?: string;
}

/** The request facts routing looks at. */
export interface HttpRequestInfo {
  method: string;
  /** `:authority` / Host, possibly with a port. */
  authority: string;
  /** Path including the query string. */
  path: string;
  /** Lowercase header names. */
  headers: Record<string, string | string[] | undefined>;
  /** Default `http` (mesh traffic inside HBONE is plaintext HTTP). */
  scheme?: string;
}

/** gRPC call facts: decided as HTTP/2 POST `/service/method`. */
export interface GrpcRequestInfo {
  service: string;
  method: string;
  authority: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Optional inputs the control plane does not (yet) put into the waypoint config. */
export interface CompileExtras {
  /** VirtualServices, attached by `hosts` to bound services (when `services` is empty). */
  virtualServices?: AttachedResourceRecord[];
  /** DestinationRules, applied by `host` to chosen backends. */
  destinationRules?: AttachedResourceRecord[];
  /**
   * Resolves a Gateway API backendRef to a hostname and its ports; undefined = unresolvable (500 for its share).
   * Default: services bound to this waypoint are checked (port must exist); other Services are assumed to exist
   * at `name.namespace.svc.<cluster domain>` (the waypoint config lists only bound services).
   */
  resolveBackend?: (ref: { kind: string; namespace: string; name: string; port?: number }) => { hostname: string } | undefined;
}
