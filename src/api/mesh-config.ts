// The mesh config, as Istio keeps it: ConfigMap `istio` in the root namespace, key `mesh`, a YAML MeshConfig. Ambit
// reads its `extensionProviders` of types `envoyExtAuthzHttp`, `envoyExtAuthzGrpc` (external authorizers for
// CUSTOM AuthorizationPolicies) and `opentelemetry`, and `outboundTrafficPolicy.mode` (ALLOW_ANY, the default, or
// REGISTRY_ONLY: ztunnel refuses destinations outside the registry); other provider types are kept as unsupported,
// other MeshConfig fields are not read. Parsing returns problems by field path, so an apply is refused with the reason and the control
// plane can say why a provider is missing.
import { parse } from 'yaml';
import { parseIstioDurationMs } from './kinds/checks.js';

export const MESH_CONFIG_NAME = 'istio';
export const MESH_CONFIG_KEY = 'mesh';

/** `envoyExtAuthzHttp`: an HTTP authorization service (Istio's fields). */
export interface HttpExtAuthzProvider {
  service: string;
  port: number;
  /** Istio duration; default 600ms (Istio's). */
  timeout?: string;
  pathPrefix?: string;
  failOpen?: boolean;
  /** HTTP status for a failed or timed-out check when not failing open; default 403. */
  statusOnError?: string;
  includeRequestHeadersInCheck?: string[];
  includeAdditionalHeadersInCheck?: Record<string, string>;
  headersToUpstreamOnAllow?: string[];
  headersToDownstreamOnDeny?: string[];
}

/** `envoyExtAuthzGrpc`: a gRPC authorizer (envoy.service.auth.v3.Authorization/Check). */
export interface GrpcExtAuthzProvider {
  service: string;
  port: number;
  timeout?: string;
  failOpen?: boolean;
  statusOnError?: string;
}

/** `opentelemetry` with `http`: an OTLP/HTTP (protobuf) trace collector. */
export interface OtelTracingProvider {
  service: string;
  port: number;
  /** The collector's traces path; default /v1/traces. */
  path: string;
  timeout?: string;
  headers?: Record<string, string>;
}

interface ExtensionProvider {
  name: string;
  opentelemetry?: OtelTracingProvider;
  envoyExtAuthzHttp?: HttpExtAuthzProvider;
  envoyExtAuthzGrpc?: GrpcExtAuthzProvider;
  /** The provider's type when Ambit cannot use it yet (`envoyExtAuthzGrpc`, `opentelemetry`, …). */
  unsupported?: string;
}

const PROVIDER_TYPES = ['envoyExtAuthzHttp', 'envoyExtAuthzGrpc', 'zipkin', 'datadog', 'stackdriver', 'opencensus', 'skywalking', 'opentelemetry', 'prometheus', 'envoyFileAccessLog', 'envoyHttpAls', 'envoyTcpAls', 'envoyOtelAls', 'sds', 'lightstep'];
const GRPC_FIELDS = ['service', 'port', 'timeout', 'failOpen', 'statusOnError', 'includeRequestBodyInCheck'];
const HTTP_FIELDS = ['service', 'port', 'timeout', 'pathPrefix', 'failOpen', 'statusOnError', 'includeRequestHeadersInCheck', 'includeAdditionalHeadersInCheck', 'headersToUpstreamOnAllow', 'headersToDownstreamOnDeny', 'includeHeadersInCheck', 'includeRequestBodyInCheck'];

/** An Istio duration the rest of Ambit reads the same way (parseIstioDurationMs). */
const isDuration = (v: unknown): boolean => typeof v === 'string' && parseIstioDurationMs(v) !== undefined;
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string' && x !== '');

/** What Ambit reads of a MeshConfig, and its problems (`field.path: reason`). */
interface ParsedMeshConfig {
  providers: ExtensionProvider[];
  /** `outboundTrafficPolicy.mode`; ALLOW_ANY when absent (or invalid, which is a problem). */
  outboundTrafficMode: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  problems: string[];
}

const OUTBOUND_MODES = ['ALLOW_ANY', 'REGISTRY_ONLY'] as const;

/** Providers, settings and problems of a `mesh` YAML text. */
export function parseMeshConfig(text: string): ParsedMeshConfig {
  const problems: string[] = [];
  const result: ParsedMeshConfig = { providers: [], outboundTrafficMode: 'ALLOW_ANY', problems };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    problems.push(`not YAML: ${(err as Error).message.split('\n')[0]}`);
    return result;
  }
  if (doc === null || doc === undefined) return result;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    problems.push('expected a MeshConfig mapping');
    return result;
  }
  const otp = (doc as Record<string, unknown>)['outboundTrafficPolicy'];
  if (otp !== undefined && (otp === null || typeof otp !== 'object' || Array.isArray(otp))) {
    problems.push('outboundTrafficPolicy: expected a mapping with a mode');
  } else if (otp !== undefined) {
    const mode = (otp as Record<string, unknown>)['mode'];
    const known = OUTBOUND_MODES.find((m) => m === mode);
    if (known) result.outboundTrafficMode = known;
    else if (mode !== undefined) problems.push(`outboundTrafficPolicy.mode: expected ALLOW_ANY or REGISTRY_ONLY, got ${JSON.stringify(mode)}`);
  }
  const list = (doc as Record<string, unknown>)['extensionProviders'];
  if (list === undefined) return result;
  if (!Array.isArray(list)) {
    problems.push('extensionProviders: expected a list');
    return result;
  }
  const providers = result.providers;
  list.forEach((raw, i) => {
    const at = `extensionProviders[${i}]`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return void problems.push(`${at}: expected a mapping`);
    const p = raw as Record<string, unknown>;
    const name = p['name'];
    if (typeof name !== 'string' || !name) return void problems.push(`${at}.name: required`);
    if (providers.some((x) => x.name === name)) return void problems.push(`${at}.name: ${JSON.stringify(name)} is defined twice`);
    const types = Object.keys(p).filter((k) => k !== 'name');
    const unknown = types.filter((k) => !PROVIDER_TYPES.includes(k));
    if (unknown.length) return void problems.push(`${at}: unknown provider type ${unknown.join(', ')} (known: ${PROVIDER_TYPES.join(', ')})`);
    if (types.length !== 1) return void problems.push(`${at}: exactly one provider type is required, got ${types.length ? types.join(', ') : 'none'}`);
    const type = types[0]!;
    if (type === 'opentelemetry') return void parseOtel(name, p[type], `${at}.${type}`, providers, problems);
    if (type !== 'envoyExtAuthzHttp' && type !== 'envoyExtAuthzGrpc') return void providers.push({ name, unsupported: type });
    const h = p[type];
    if (!h || typeof h !== 'object' || Array.isArray(h)) return void problems.push(`${at}.${type}: expected a mapping`);
    const f = h as Record<string, unknown>;
    const before = problems.length;
    for (const k of Object.keys(f)) if (!(type === 'envoyExtAuthzHttp' ? HTTP_FIELDS : GRPC_FIELDS).includes(k)) problems.push(`${at}.${type}.${k}: unknown field`);
    if (typeof f['service'] !== 'string' || !f['service']) problems.push(`${at}.${type}.service: required (the authorizer's host, e.g. ext-authz.foo.svc.cluster.local)`);
    if (typeof f['port'] !== 'number' || !Number.isInteger(f['port']) || f['port'] < 1 || f['port'] > 65535) problems.push(`${at}.${type}.port: required, a port number`);
    if (f['timeout'] !== undefined && !isDuration(f['timeout'])) problems.push(`${at}.${type}.timeout: expected a duration like 500ms or 1s`);
    if (f['failOpen'] !== undefined && typeof f['failOpen'] !== 'boolean') problems.push(`${at}.${type}.failOpen: expected true or false`);
    if (f['statusOnError'] !== undefined && !(typeof f['statusOnError'] === 'string' && /^[1-5]\d\d$/.test(f['statusOnError']))) problems.push(`${at}.${type}.statusOnError: expected an HTTP status code as a string, e.g. "503"`);
    if (f['pathPrefix'] !== undefined && !(typeof f['pathPrefix'] === 'string' && f['pathPrefix'].startsWith('/'))) problems.push(`${at}.${type}.pathPrefix: must start with /`);
    for (const k of ['includeRequestHeadersInCheck', 'headersToUpstreamOnAllow', 'headersToDownstreamOnDeny', 'includeHeadersInCheck']) {
      if (f[k] !== undefined && !isStringList(f[k])) problems.push(`${at}.${type}.${k}: expected a list of header names`);
    }
    const extra = f['includeAdditionalHeadersInCheck'];
    if (extra !== undefined && (!extra || typeof extra !== 'object' || Array.isArray(extra) || !Object.values(extra).every((v) => typeof v === 'string'))) {
      problems.push(`${at}.${type}.includeAdditionalHeadersInCheck: expected a map of header name to value`);
    }
    if (f['includeRequestBodyInCheck'] !== undefined) problems.push(`${at}.${type}.includeRequestBodyInCheck: sending the body to the authorizer is not supported`);
    if (problems.length > before) return;
    const common = {
      service: f['service'] as string, port: f['port'] as number,
      ...(f['timeout'] ? { timeout: f['timeout'] as string } : {}),
      ...(f['failOpen'] !== undefined ? { failOpen: f['failOpen'] as boolean } : {}),
      ...(f['statusOnError'] ? { statusOnError: f['statusOnError'] as string } : {}),
    };
    if (type === 'envoyExtAuthzGrpc') return void providers.push({ name, envoyExtAuthzGrpc: common });
    const includes = [...((f['includeRequestHeadersInCheck'] as string[] | undefined) ?? []), ...((f['includeHeadersInCheck'] as string[] | undefined) ?? [])];
    providers.push({
      name,
      envoyExtAuthzHttp: {
        ...common,
        ...(f['pathPrefix'] ? { pathPrefix: f['pathPrefix'] as string } : {}),
        ...(includes.length ? { includeRequestHeadersInCheck: includes } : {}),
        ...(extra ? { includeAdditionalHeadersInCheck: extra as Record<string, string> } : {}),
        ...(f['headersToUpstreamOnAllow'] ? { headersToUpstreamOnAllow: f['headersToUpstreamOnAllow'] as string[] } : {}),
        ...(f['headersToDownstreamOnDeny'] ? { headersToDownstreamOnDeny: f['headersToDownstreamOnDeny'] as string[] } : {}),
      },
    });
  });
  return result;
}

/** `opentelemetry`: OTLP/HTTP when `http` is set (Ambit's exporter); OTLP/gRPC otherwise, which is kept as unsupported. */
function parseOtel(name: string, raw: unknown, at: string, providers: ExtensionProvider[], problems: string[]): void {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return void problems.push(`${at}: expected a mapping`);
  const f = raw as Record<string, unknown>;
  const before = problems.length;
  for (const k of Object.keys(f)) if (!['service', 'port', 'maxTagLength', 'http', 'resourceDetectors', 'dynatraceSampler'].includes(k)) problems.push(`${at}.${k}: unknown field`);
  if (typeof f['service'] !== 'string' || !f['service']) problems.push(`${at}.service: required (the collector's host)`);
  if (typeof f['port'] !== 'number' || !Number.isInteger(f['port']) || f['port'] < 1 || f['port'] > 65535) problems.push(`${at}.port: required, a port number`);
  const http = f['http'] as Record<string, unknown> | undefined;
  if (http !== undefined && (!http || typeof http !== 'object' || Array.isArray(http))) problems.push(`${at}.http: expected a mapping`);
  else if (http) {
    if (http['path'] !== undefined && !(typeof http['path'] === 'string' && http['path'].startsWith('/'))) problems.push(`${at}.http.path: must start with /`);
    if (http['timeout'] !== undefined && !isDuration(http['timeout'])) problems.push(`${at}.http.timeout: expected a duration like 500ms or 1s`);
    const headers = http['headers'];
    if (headers !== undefined && !(Array.isArray(headers) && headers.every((h) => h && typeof h === 'object' && typeof (h as Record<string, unknown>)['name'] === 'string' && typeof (h as Record<string, unknown>)['value'] === 'string'))) {
      problems.push(`${at}.http.headers: expected a list of {name, value}`);
    }
  }
  if (problems.length > before) return;
  if (!http) return void providers.push({ name, unsupported: 'opentelemetry over OTLP/gRPC (set http: {path: /v1/traces} for OTLP/HTTP)' });
  const headers = (http['headers'] as Array<{ name: string; value: string }> | undefined) ?? [];
  providers.push({
    name,
    opentelemetry: {
      service: f['service'] as string, port: f['port'] as number, path: (http['path'] as string | undefined) ?? '/v1/traces',
      ...(http['timeout'] ? { timeout: http['timeout'] as string } : {}),
      ...(headers.length ? { headers: Object.fromEntries(headers.map((h) => [h.name, h.value])) } : {}),
    },
  });
}
