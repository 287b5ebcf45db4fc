// Routing scenarios as data, modelled on the Gateway API (GAMMA) conformance suite, replayed by unit and e2e tests.
//
// Topology every scenario assumes (namespace CONFORMANCE_NAMESPACE): Service `echo` (ports 80 `http` and 8080
// `http-alt`) bound to the waypoint; `grpc-echo` (9000 `grpc`) and `tcp-echo` (9090 `tcp`) bound too; backends
// `echo-v1`, `echo-v2`, `echo-v3` (port 80), `grpc-echo-v1`/`-v2` (9000), `tcp-echo-v1`/`-v2` (9090) are plain
// mesh Services (not bound). Pods behind `echo-vN` carry label `version: vN`. Each case names one request and the
// decision essentials a real waypoint must show: which backend answered, status, Location, the path/Host/headers
// the backend received, the response headers the client received.
import type { BoundServiceRecord, WaypointConfigRecord } from '../lib/xds/waypoint-records.js';
import type { CompileExtras, RetryPolicy, Timeouts } from './types.js';
import { PORT_HBONE } from '../lib/mesh-contract.js';

export const CONFORMANCE_NAMESPACE = 'gateway-conformance-mesh';
const NS = CONFORMANCE_NAMESPACE;

/** apiVersion per kind, for writing the manifests out. */
const API_VERSIONS: Record<RouteManifest['kind'], string> = {
  HTTPRoute: 'gateway.networking.k8s.io/v1',
  GRPCRoute: 'gateway.networking.k8s.io/v1',
  TCPRoute: 'gateway.networking.k8s.io/v1alpha2',
  VirtualService: 'networking.istio.io/v1',
  DestinationRule: 'networking.istio.io/v1',
};

interface RouteManifest {
  kind: 'HTTPRoute' | 'GRPCRoute' | 'TCPRoute' | 'VirtualService' | 'DestinationRule';
  name: string;
  /** Default CONFORMANCE_NAMESPACE; another one makes a GAMMA consumer route. */
  namespace?: string;
  spec: Record<string, unknown>;
}

interface CaseExpectation {
  /** Short name (first DNS label) of the backend service that gets the request. */
  backend?: string;
  port?: number;
  subset?: string;
  /** Status the waypoint answers itself (respond / redirect); undefined for forwarded requests. */
  status?: number;
  flag?: 'NR' | 'FI' | 'NC' | 'DR';
  grpcStatus?: number;
  location?: string;
  /** Path with query the backend receives. */
  path?: string;
  /** Host / :authority the backend receives. */
  host?: string;
  /** Headers the backend receives (null = absent; arrays = several values, in order). */
  requestHeaders?: Record<string, string | string[] | null>;
  /** Headers the client receives on top of the backend's (null = absent). */
  responseHeaders?: Record<string, string | string[] | null>;
  /** Short names of mirror targets that receive a copy. */
  mirrors?: string[];
  timeouts?: Timeouts;
  retry?: Partial<RetryPolicy>;
  faultDelayMs?: number;
  /** Shares over many requests: backend short name, or a status code as a string, → fraction (0..1). */
  distribution?: Record<string, number>;
  upstream?: { loadBalancer?: string; hashKey?: string; http1MaxPendingRequests?: number; consecutive5xxErrors?: number };
}

export interface RoutingCase {
  name: string;
  /** Target service short name and port (default `echo`:80). */
  service?: string;
  port?: number;
  /** Namespace of the calling workload (default CONFORMANCE_NAMESPACE). */
  sourceNamespace?: string;
  /** HTTP request (default method GET, authority = service short name). */
  request?: { method?: string; path: string; headers?: Record<string, string>; authority?: string };
  /** gRPC call (instead of `request`). */
  grpc?: { service: string; method: string; headers?: Record<string, string> };
  /** A TCP connection (instead of `request`). */
  tcp?: true;
  /** Headers the backend answers with (an e2e echo backend must be asked to send them). */
  backendResponseHeaders?: Record<string, string>;
  expect: CaseExpectation;
}

interface RoutingScenario {
  name: string;
  manifests: RouteManifest[];
  /** `name: field` of the problems the waypoint must report for this config (none when unset). */
  problems?: string[];
  cases: RoutingCase[];
}

const echoParent = [{ group: '', kind: 'Service', name: 'echo', port: 80 }];
const echoAllPorts = [{ group: '', kind: 'Service', name: 'echo' }];
const be = (name: string, extra: Record<string, unknown> = {}) => ({ name, port: name.startsWith('grpc') ? 9000 : name.startsWith('tcp') ? 9090 : 80, ...extra });
const http = (name: string, rules: unknown[], parentRefs: unknown[] = echoParent): RouteManifest => ({ kind: 'HTTPRoute', name, spec: { parentRefs, rules } });
const get = (path: string, headers?: Record<string, string>, method = 'GET') => ({ method, path, ...(headers ? { headers } : {}) });

export const CONFORMANCE_SCENARIOS: RoutingScenario[] = [
  {
    name: 'HTTPRouteExactPathMatching',
    manifests: [http('exact-path', [
      { matches: [{ path: { type: 'Exact', value: '/one' } }], backendRefs: [be('echo-v1')] },
      { matches: [{ path: { type: 'Exact', value: '/two' } }], backendRefs: [be('echo-v2')] },
    ])],
    cases: [
      { name: 'exact /one', request: get('/one'), expect: { backend: 'echo-v1', path: '/one' } },
      { name: 'exact /two', request: get('/two'), expect: { backend: 'echo-v2' } },
      { name: 'no rule for /', request: get('/'), expect: { status: 404, flag: 'NR' } },
      { name: 'exact does not match a longer path', request: get('/one/example'), expect: { status: 404, flag: 'NR' } },
      { name: 'exact does not match a trailing slash', request: get('/two/'), expect: { status: 404, flag: 'NR' } },
      { name: 'exact ignores the query string', request: get('/one?x=1'), expect: { backend: 'echo-v1', path: '/one?x=1' } },
    ],
  },
  {
    name: 'HTTPRouteMatching (PathPrefix is element-wise)',
    manifests: [http('prefix-path', [
      { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [be('echo-v1')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/v2' } }], backendRefs: [be('echo-v2')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/v3/' } }], backendRefs: [be('echo-v3')] },
    ])],
    cases: [
      { name: 'root prefix', request: get('/'), expect: { backend: 'echo-v1' } },
      { name: 'root prefix catches others', request: get('/example'), expect: { backend: 'echo-v1' } },
      { name: 'prefix equals path', request: get('/v2'), expect: { backend: 'echo-v2' } },
      { name: 'prefix with trailing slash path', request: get('/v2/'), expect: { backend: 'echo-v2' } },
      { name: 'prefix with sub-path', request: get('/v2/example'), expect: { backend: 'echo-v2' } },
      { name: 'prefix does not match inside a segment', request: get('/v2example'), expect: { backend: 'echo-v1' } },
      { name: 'prefix matches only at the start', request: get('/foo/v2/example'), expect: { backend: 'echo-v1' } },
      { name: 'trailing slash in the prefix is ignored', request: get('/v3'), expect: { backend: 'echo-v3' } },
    ],
  },
  {
    name: 'HTTPRouteMatchingAcrossRoutes (exact > prefix > regex, longest prefix)',
    manifests: [
      http('across-a', [
        { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [be('echo-v1')] },
        { matches: [{ path: { type: 'RegularExpression', value: '/api/v[0-9]+/.*' } }], backendRefs: [be('echo-v3')] },
        { matches: [{ path: { type: 'RegularExpression', value: '/reports/[a-z]+' } }], backendRefs: [be('echo-v3')] },
      ]),
      http('across-b', [
        { matches: [{ path: { type: 'PathPrefix', value: '/api/users' } }], backendRefs: [be('echo-v2')] },
        { matches: [{ path: { type: 'Exact', value: '/api/users/me' } }], backendRefs: [be('echo-v3')] },
      ]),
    ],
    cases: [
      { name: 'prefix of route a', request: get('/api/orders'), expect: { backend: 'echo-v1' } },
      { name: 'a prefix beats a regex', request: get('/api/v1/items'), expect: { backend: 'echo-v1' } },
      { name: 'longer prefix of another route wins', request: get('/api/users/42'), expect: { backend: 'echo-v2' } },
      { name: 'exact beats prefixes', request: get('/api/users/me'), expect: { backend: 'echo-v3' } },
      { name: 'regex is a full match', request: get('/reports/daily'), expect: { backend: 'echo-v3' } },
      { name: 'regex does not match a partial path', request: get('/reports/daily/x'), expect: { status: 404, flag: 'NR' } },
    ],
  },
  {
    name: 'HTTPRouteHeaderMatching',
    manifests: [http('headers', [
      { matches: [{ headers: [{ name: 'Version', value: 'one' }] }], backendRefs: [be('echo-v1')] },
      { matches: [{ headers: [{ name: 'version', value: 'two' }] }], backendRefs: [be('echo-v2')] },
      { matches: [{ headers: [{ name: 'version', value: 'two' }, { name: 'color', value: 'orange' }] }], backendRefs: [be('echo-v3')] },
      { matches: [{ headers: [{ type: 'RegularExpression', name: 'x-build', value: 'build-[0-9]+' }] }], backendRefs: [be('echo-v3')] },
    ])],
    cases: [
      { name: 'header names are case-insensitive', request: get('/', { version: 'one' }), expect: { backend: 'echo-v1' } },
      { name: 'exact header value', request: get('/', { version: 'two' }), expect: { backend: 'echo-v2' } },
      { name: 'more header matches win', request: get('/', { version: 'two', color: 'orange' }), expect: { backend: 'echo-v3' } },
      { name: 'unmatched header value', request: get('/', { version: 'three' }), expect: { status: 404, flag: 'NR' } },
      { name: 'header values are case-sensitive', request: get('/', { version: 'ONE' }), expect: { status: 404, flag: 'NR' } },
      { name: 'regex header value', request: get('/', { 'x-build': 'build-123' }), expect: { backend: 'echo-v3' } },
      { name: 'regex header value is a full match', request: get('/', { 'x-build': 'build-12a' }), expect: { status: 404, flag: 'NR' } },
    ],
  },
  {
    name: 'HTTPRouteQueryParamMatching',
    manifests: [http('query', [
      { matches: [{ queryParams: [{ name: 'animal', value: 'whale' }] }], backendRefs: [be('echo-v1')] },
      { matches: [{ queryParams: [{ name: 'animal', value: 'dolphin' }] }], backendRefs: [be('echo-v2')] },
      { matches: [{ queryParams: [{ name: 'animal', value: 'dolphin' }, { name: 'color', value: 'blue' }] }], backendRefs: [be('echo-v3')] },
      { matches: [{ queryParams: [{ type: 'RegularExpression', name: 'size', value: 'x?large' }] }], backendRefs: [be('echo-v1')] },
    ])],
    cases: [
      { name: 'exact query value', request: get('/?animal=whale'), expect: { backend: 'echo-v1', path: '/?animal=whale' } },
      { name: 'other query value', request: get('/?animal=dolphin'), expect: { backend: 'echo-v2' } },
      { name: 'more query matches win', request: get('/?animal=dolphin&color=blue'), expect: { backend: 'echo-v3' } },
      { name: 'query order does not matter', request: get('/?color=blue&animal=dolphin'), expect: { backend: 'echo-v3' } },
      { name: 'unmatched query value', request: get('/?animal=shark'), expect: { status: 404, flag: 'NR' } },
      { name: 'regex query value', request: get('/?size=xlarge'), expect: { backend: 'echo-v1' } },
      { name: 'query names are case-sensitive', request: get('/?ANIMAL=whale'), expect: { status: 404, flag: 'NR' } },
    ],
  },
  {
    name: 'HTTPRouteMethodMatching',
    manifests: [http('method', [
      { matches: [{ method: 'POST' }], backendRefs: [be('echo-v1')] },
      { matches: [{ method: 'GET' }], backendRefs: [be('echo-v2')] },
    ])],
    cases: [
      { name: 'POST', request: get('/', undefined, 'POST'), expect: { backend: 'echo-v1' } },
      { name: 'GET', request: get('/'), expect: { backend: 'echo-v2' } },
      { name: 'HEAD has no rule', request: get('/', undefined, 'HEAD'), expect: { status: 404, flag: 'NR' } },
      { name: 'DELETE has no rule', request: get('/x', undefined, 'DELETE'), expect: { status: 404, flag: 'NR' } },
    ],
  },
  {
    name: 'HTTPRouteMatchPrecedence (prefix length, method, headers, query)',
    manifests: [http('precedence', [
      { matches: [{ path: { type: 'PathPrefix', value: '/match' } }], backendRefs: [be('echo-v1')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/match' }, method: 'POST' }], backendRefs: [be('echo-v2')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/match' }, headers: [{ name: 'x-a', value: '1' }] }], backendRefs: [be('echo-v3')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/match' }, headers: [{ name: 'x-a', value: '1' }, { name: 'x-b', value: '1' }] }], backendRefs: [be('echo')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/match/longer' } }], backendRefs: [be('echo-v3')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/match' }, headers: [{ name: 'x-a', value: '1' }], queryParams: [{ name: 'q', value: '1' }] }], backendRefs: [be('echo-v1')] },
    ])],
    cases: [
      { name: 'plain prefix', request: get('/match'), expect: { backend: 'echo-v1' } },
      { name: 'method match wins', request: get('/match', undefined, 'POST'), expect: { backend: 'echo-v2' } },
      { name: 'method match beats header matches', request: get('/match', { 'x-a': '1', 'x-b': '1' }, 'POST'), expect: { backend: 'echo-v2' } },
      { name: 'one header match', request: get('/match', { 'x-a': '1' }), expect: { backend: 'echo-v3' } },
      { name: 'two header matches beat one', request: get('/match', { 'x-a': '1', 'x-b': '1' }), expect: { backend: 'echo' } },
      { name: 'longer prefix beats header matches', request: get('/match/longer', { 'x-a': '1', 'x-b': '1' }), expect: { backend: 'echo-v3' } },
      { name: 'query match breaks a header-count tie', request: get('/match?q=1', { 'x-a': '1' }), expect: { backend: 'echo-v1' } },
    ],
  },
  {
    name: 'HTTPRouteTieBreak (oldest route ~ namespace/name order, then rule order)',
    manifests: [
      http('tie-b', [{ matches: [{ path: { type: 'PathPrefix', value: '/tie' } }], backendRefs: [be('echo-v2')] }]),
      http('tie-a', [
        { matches: [{ path: { type: 'PathPrefix', value: '/tie' } }], backendRefs: [be('echo-v1')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/tie' } }], backendRefs: [be('echo-v3')] },
      ]),
    ],
    cases: [{ name: 'alphabetically first route, first rule', request: get('/tie/x'), expect: { backend: 'echo-v1' } }],
  },
  {
    name: 'HTTPRouteRewritePath',
    manifests: [http('rewrite-path', [
      { matches: [{ path: { type: 'PathPrefix', value: '/prefix/one' } }], filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/one' } } }], backendRefs: [be('echo-v1')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/strip-prefix' } }], filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }], backendRefs: [be('echo-v1')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/full/one' } }], filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/one' } } }], backendRefs: [be('echo-v1')] },
      {
        matches: [{ path: { type: 'PathPrefix', value: '/full/rewrite-path-and-modify-headers' } }],
        filters: [
          { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/test' } } },
          { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Header-Set', value: 'set-overwrites-values' }], add: [{ name: 'X-Header-Add-Append', value: 'header-val-2' }], remove: ['X-Header-Remove'] } },
        ],
        backendRefs: [be('echo-v1')],
      },
    ])],
    cases: [
      { name: 'replace prefix', request: get('/prefix/one/two'), expect: { backend: 'echo-v1', path: '/one/two' } },
      { name: 'replace prefix, path equals prefix', request: get('/prefix/one'), expect: { backend: 'echo-v1', path: '/one' } },
      { name: 'replace prefix keeps a trailing slash', request: get('/prefix/one/'), expect: { backend: 'echo-v1', path: '/one/' } },
      { name: 'strip a prefix', request: get('/strip-prefix/three'), expect: { backend: 'echo-v1', path: '/three' } },
      { name: 'strip the whole path', request: get('/strip-prefix'), expect: { backend: 'echo-v1', path: '/' } },
      { name: 'replace full path', request: get('/full/one/two'), expect: { backend: 'echo-v1', path: '/one' } },
      {
        name: 'replace full path keeps the query, headers modified',
        request: get('/full/rewrite-path-and-modify-headers/test?query=abc', { 'x-header-remove': 'remove-val', 'x-header-set': 'old', 'x-header-add-append': 'header-val-1' }),
        expect: { backend: 'echo-v1', path: '/test?query=abc', requestHeaders: { 'x-header-set': 'set-overwrites-values', 'x-header-add-append': ['header-val-1', 'header-val-2'], 'x-header-remove': null } },
      },
    ],
  },
  {
    name: 'HTTPRouteRewriteHost',
    manifests: [http('rewrite-host', [
      { matches: [{ path: { type: 'PathPrefix', value: '/one' } }], filters: [{ type: 'URLRewrite', urlRewrite: { hostname: 'one.example.org' } }], backendRefs: [be('echo-v1')] },
      { filters: [{ type: 'URLRewrite', urlRewrite: { hostname: 'example.org', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/other' } } }], backendRefs: [be('echo-v2')] },
    ])],
    cases: [
      { name: 'rewrite host', request: get('/one'), expect: { backend: 'echo-v1', host: 'one.example.org', path: '/one' } },
      { name: 'rewrite host and prefix of /', request: get('/x/y'), expect: { backend: 'echo-v2', host: 'example.org', path: '/other/x/y' } },
    ],
  },
  {
    name: 'HTTPRouteRedirect (host, status, scheme, port, path)',
    manifests: [http('redirect', [
      { matches: [{ path: { type: 'Exact', value: '/hostname-redirect' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'example.org' } }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/host-and-status' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'example.org', statusCode: 301 } }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/scheme-and-host' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', hostname: 'example.org' } }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/port' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { port: 8083 } }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/scheme-and-port' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', port: 8443 } }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/original-prefix' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/replacement-prefix' } } }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/full' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplaceFullPath', replaceFullPath: '/full-path-replacement' } } }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/path-and-host' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'example.org', statusCode: 308, path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/replacement-prefix' } } }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/https-port-443' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', port: 443, statusCode: 307 } }] },
    ], echoAllPorts)],
    cases: [
      { name: 'hostname, default 302', request: get('/hostname-redirect'), expect: { status: 302, location: 'http://example.org/hostname-redirect' } },
      { name: 'hostname and 301', request: get('/host-and-status'), expect: { status: 301, location: 'http://example.org/host-and-status' } },
      { name: 'scheme https drops port 443', request: get('/scheme-and-host'), expect: { status: 302, location: 'https://example.org/scheme-and-host' } },
      { name: 'explicit port', request: get('/port'), expect: { status: 302, location: 'http://echo:8083/port' } },
      { name: 'scheme and port', request: get('/scheme-and-port'), expect: { status: 302, location: 'https://echo:8443/scheme-and-port' } },
      { name: 'replace prefix', request: get('/original-prefix/lemon'), expect: { status: 302, location: 'http://echo/replacement-prefix/lemon' } },
      { name: 'replace full path', request: get('/full/path/original'), expect: { status: 302, location: 'http://echo/full-path-replacement' } },
      { name: 'host, path prefix and 308', request: get('/path-and-host/x'), expect: { status: 308, location: 'http://example.org/replacement-prefix/x' } },
      { name: 'https on 443 and 307', request: get('/https-port-443'), expect: { status: 307, location: 'https://echo/https-port-443' } },
      { name: 'the query is kept', request: get('/host-and-status?a=1&b=2'), expect: { status: 301, location: 'http://example.org/host-and-status?a=1&b=2' } },
      { name: 'listener (service) port 8080 kept when scheme unset', port: 8080, request: { path: '/hostname-redirect', authority: 'echo:8080' }, expect: { status: 302, location: 'http://example.org:8080/hostname-redirect' } },
    ],
  },
  {
    name: 'HTTPRouteRequestHeaderModifier',
    manifests: [http('request-headers', [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/set' } }],
        filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Header-Set', value: 'set-overwrites-values' }] } }],
        backendRefs: [be('echo-v1')],
      },
      {
        matches: [{ path: { type: 'PathPrefix', value: '/add' } }],
        filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'X-Header-Add', value: 'add-appends-values' }] } }],
        backendRefs: [be('echo-v1')],
      },
      {
        matches: [{ path: { type: 'PathPrefix', value: '/remove' } }],
        filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { remove: ['X-Header-Remove'] } }],
        backendRefs: [be('echo-v1')],
      },
      {
        matches: [{ path: { type: 'PathPrefix', value: '/backend-filter' } }],
        backendRefs: [be('echo-v2', { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-backend', value: 'v2' }] } }] })],
      },
    ])],
    cases: [
      { name: 'set creates', request: get('/set'), expect: { backend: 'echo-v1', requestHeaders: { 'x-header-set': 'set-overwrites-values' } } },
      { name: 'set overwrites', request: get('/set', { 'x-header-set': 'some-other-value' }), expect: { requestHeaders: { 'x-header-set': 'set-overwrites-values' } } },
      { name: 'add creates', request: get('/add'), expect: { requestHeaders: { 'x-header-add': 'add-appends-values' } } },
      { name: 'add appends', request: get('/add', { 'x-header-add': 'some-other-value' }), expect: { requestHeaders: { 'x-header-add': ['some-other-value', 'add-appends-values'] } } },
      { name: 'remove', request: get('/remove', { 'x-header-remove': 'val', 'x-keep': 'k' }), expect: { requestHeaders: { 'x-header-remove': null, 'x-keep': 'k' } } },
      { name: 'backend-level filter', request: get('/backend-filter'), expect: { backend: 'echo-v2', requestHeaders: { 'x-backend': 'v2' } } },
    ],
  },
  {
    name: 'HTTPRouteResponseHeaderModifier',
    manifests: [http('response-headers', [
      {
        filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'X-Header-Set', value: 'set-value' }], add: [{ name: 'X-Header-Add', value: 'add-value' }], remove: ['X-Header-Remove'] } }],
        backendRefs: [be('echo-v1')],
      },
    ])],
    cases: [{ name: 'set, add, remove on the response', request: get('/'), backendResponseHeaders: { 'x-header-remove': 'from-backend', 'x-header-set': 'from-backend' }, expect: { backend: 'echo-v1', responseHeaders: { 'x-header-set': 'set-value', 'x-header-add': 'add-value', 'x-header-remove': null } } }],
  },
  {
    name: 'HTTPRouteRequestMirror',
    manifests: [http('mirror', [
      { matches: [{ path: { type: 'PathPrefix', value: '/mirror' } }], filters: [{ type: 'RequestMirror', requestMirror: { backendRef: be('echo-v2') } }], backendRefs: [be('echo-v1')] },
      {
        matches: [{ path: { type: 'PathPrefix', value: '/multi-mirror' } }],
        filters: [{ type: 'RequestMirror', requestMirror: { backendRef: be('echo-v2') } }, { type: 'RequestMirror', requestMirror: { backendRef: be('echo-v3') } }],
        backendRefs: [be('echo-v1')],
      },
      { matches: [{ path: { type: 'PathPrefix', value: '/mirror-none' } }], filters: [{ type: 'RequestMirror', requestMirror: { backendRef: be('echo-v2'), percent: 0 } }], backendRefs: [be('echo-v1')] },
    ])],
    cases: [
      { name: 'one mirror', request: get('/mirror'), expect: { backend: 'echo-v1', mirrors: ['echo-v2'] } },
      { name: 'several mirrors', request: get('/multi-mirror'), expect: { backend: 'echo-v1', mirrors: ['echo-v2', 'echo-v3'] } },
      { name: 'mirror at 0 percent', request: get('/mirror-none'), expect: { backend: 'echo-v1', mirrors: [] } },
    ],
  },
  {
    name: 'HTTPRouteWeight',
    problems: ['weights: spec.rules[3].backendRefs[0]', 'weights: spec.rules[4].backendRefs[1]'],
    manifests: [http('weights', [
      { matches: [{ path: { type: 'PathPrefix', value: '/split' } }], backendRefs: [be('echo-v1', { weight: 90 }), be('echo-v2', { weight: 10 })] },
      { matches: [{ path: { type: 'PathPrefix', value: '/all-zero' } }], backendRefs: [be('echo-v1', { weight: 0 }), be('echo-v2', { weight: 0 })] },
      { matches: [{ path: { type: 'PathPrefix', value: '/one-zero' } }], backendRefs: [be('echo-v1', { weight: 0 }), be('echo-v2', { weight: 1 })] },
      { matches: [{ path: { type: 'PathPrefix', value: '/unresolved' } }], backendRefs: [{ name: 'echo', port: 81 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/half-unresolved' } }], backendRefs: [be('echo-v1'), { name: 'echo', port: 81 }] },
    ])],
    cases: [
      { name: '90/10 split', request: get('/split'), expect: { distribution: { 'echo-v1': 0.9, 'echo-v2': 0.1 } } },
      { name: 'all weights 0 → 500', request: get('/all-zero'), expect: { status: 500, flag: 'NC' } },
      { name: 'a 0-weight backend is never chosen', request: get('/one-zero'), expect: { distribution: { 'echo-v2': 1 } } },
      { name: 'unresolvable backend → 500', request: get('/unresolved'), expect: { status: 500, flag: 'NC' } },
      { name: 'unresolvable backend gets 500 for its share', request: get('/half-unresolved'), expect: { distribution: { 'echo-v1': 0.5, '500': 0.5 } } },
    ],
  },
  {
    name: 'HTTPRouteTimeoutsAndRetry',
    manifests: [http('resilience', [
      { matches: [{ path: { type: 'PathPrefix', value: '/timeout' } }], timeouts: { request: '2s', backendRequest: '500ms' }, backendRefs: [be('echo-v1')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/retry' } }], retry: { attempts: 3, codes: [500, 503], backoff: '10ms' }, backendRefs: [be('echo-v1')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/no-retry' } }], retry: { attempts: 0 }, backendRefs: [be('echo-v1')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [be('echo-v1')] },
    ])],
    cases: [
      { name: 'request and backendRequest timeouts', request: get('/timeout'), expect: { backend: 'echo-v1', timeouts: { requestMs: 2000, backendRequestMs: 500 }, retry: { perTryTimeoutMs: 500 } } },
      { name: 'retry attempts, codes, backoff', request: get('/retry'), expect: { retry: { attempts: 3, codes: [500, 503], backoffMs: 10 } } },
      { name: 'retries disabled', request: get('/no-retry'), expect: { retry: { attempts: 0 } } },
      { name: 'Istio default retry, no timeout', request: get('/other'), expect: { timeouts: {}, retry: { attempts: 2, codes: [503] } } },
    ],
  },
  {
    name: 'HTTPRoutePortAttachmentAndDefaultRoute',
    manifests: [http('port-80-only', [{ backendRefs: [be('echo-v1')] }])],
    cases: [
      { name: 'route attached to port 80', request: get('/'), expect: { backend: 'echo-v1' } },
      { name: 'the Host header does not select mesh routes (the service VIP does)', request: { path: '/', authority: 'echo-v2' }, expect: { backend: 'echo-v1', host: 'echo-v2' } },
      { name: 'port 8080 has no route: default route to the service', port: 8080, request: { path: '/', authority: 'echo:8080' }, expect: { backend: 'echo', port: 8080 } },
      { name: 'a service without routes: default route', service: 'grpc-echo', port: 9000, request: get('/'), expect: { backend: 'grpc-echo', port: 9000 } },
    ],
  },
  {
    name: 'HTTPRouteConsumerRoute (MeshConsumerRoute)',
    manifests: [
      {
        kind: 'HTTPRoute',
        name: 'consumer',
        namespace: `${NS}-consumer`,
        spec: {
          parentRefs: [{ group: '', kind: 'Service', name: 'echo', namespace: NS, port: 80 }],
          rules: [{ filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'X-Header-Set', value: 'set' }] } }], backendRefs: [be('echo-v1', { namespace: NS })] }],
        },
      },
      http('producer', [{ backendRefs: [be('echo-v2')] }]),
    ],
    problems: ['consumer: spec.rules[0].backendRefs[0].namespace'],
    cases: [
      { name: 'a caller in the consumer namespace gets the consumer route', sourceNamespace: `${NS}-consumer`, request: get('/'), expect: { backend: 'echo-v1', responseHeaders: { 'x-header-set': 'set' } } },
      { name: 'a caller elsewhere gets the producer route', request: get('/'), expect: { backend: 'echo-v2', responseHeaders: { 'x-header-set': null } } },
    ],
  },
  {
    name: 'HTTPRouteUnsupportedFilter',
    problems: ['extension: spec.rules[0].filters[0]'],
    manifests: [http('extension', [{ filters: [{ type: 'ExtensionRef', extensionRef: { group: 'example.com', kind: 'Foo', name: 'bar' } }], backendRefs: [be('echo-v1')] }])],
    cases: [{ name: 'an unsupported filter fails its requests with 500', request: get('/'), expect: { status: 500 } }],
  },
  {
    name: 'GRPCRouteMatching',
    manifests: [{
      kind: 'GRPCRoute',
      name: 'grpc',
      spec: {
        parentRefs: [{ group: '', kind: 'Service', name: 'grpc-echo', port: 9000 }],
        rules: [
          {
            matches: [{ method: { service: 'grpc.examples.echo.Echo', method: 'UnaryEcho' } }],
            filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-grpc-route', value: 'unary' }] } }],
            backendRefs: [be('grpc-echo-v1')],
          },
          { matches: [{ method: { service: 'grpc.examples.echo.Echo' } }], backendRefs: [be('grpc-echo-v2')] },
          { matches: [{ method: { type: 'RegularExpression', method: 'Server.*' } }], backendRefs: [be('grpc-echo-v1')] },
          { matches: [{ method: { service: 'grpc.examples.echo.Echo', method: 'BidiStreamingEcho' }, headers: [{ name: 'x-canary', value: 'true' }] }], backendRefs: [be('grpc-echo-v1')] },
        ],
      },
    }],
    cases: [
      { name: 'service and method exact', service: 'grpc-echo', port: 9000, grpc: { service: 'grpc.examples.echo.Echo', method: 'UnaryEcho' }, expect: { backend: 'grpc-echo-v1', requestHeaders: { 'x-grpc-route': 'unary' } } },
      { name: 'service only', service: 'grpc-echo', port: 9000, grpc: { service: 'grpc.examples.echo.Echo', method: 'ServerStreamingEcho' }, expect: { backend: 'grpc-echo-v2' } },
      { name: 'method regex on another service', service: 'grpc-echo', port: 9000, grpc: { service: 'other.Service', method: 'ServerPing' }, expect: { backend: 'grpc-echo-v1' } },
      { name: 'method and header match beat service only', service: 'grpc-echo', port: 9000, grpc: { service: 'grpc.examples.echo.Echo', method: 'BidiStreamingEcho', headers: { 'x-canary': 'true' } }, expect: { backend: 'grpc-echo-v1' } },
      { name: 'no match: UNIMPLEMENTED', service: 'grpc-echo', port: 9000, grpc: { service: 'unknown.Svc', method: 'Foo' }, expect: { status: 404, flag: 'NR', grpcStatus: 12 } },
    ],
  },
  {
    name: 'TCPRouteWeights',
    manifests: [{
      kind: 'TCPRoute',
      name: 'tcp',
      spec: { parentRefs: [{ group: '', kind: 'Service', name: 'tcp-echo', port: 9090 }], rules: [{ backendRefs: [be('tcp-echo-v1', { weight: 90 }), be('tcp-echo-v2', { weight: 10 })] }] },
    }],
    cases: [
      { name: 'weighted TCP split', service: 'tcp-echo', port: 9090, tcp: true, expect: { distribution: { 'tcp-echo-v1': 0.9, 'tcp-echo-v2': 0.1 } } },
      { name: 'TCP to a service without TCPRoute', service: 'echo', port: 80, tcp: true, expect: { backend: 'echo', port: 80 } },
    ],
  },
  {
    name: 'VirtualService',
    manifests: [
      {
        kind: 'DestinationRule',
        name: 'echo',
        spec: {
          host: 'echo',
          trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' }, connectionPool: { http: { http1MaxPendingRequests: 1 } }, outlierDetection: { consecutive5xxErrors: 3, interval: '1s', baseEjectionTime: '30s' } },
          subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } } }],
        },
      },
      {
        kind: 'VirtualService',
        name: 'echo',
        spec: {
          hosts: ['echo'],
          http: [
            { match: [{ uri: { prefix: '/vs/fault-abort' } }], fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }, route: [{ destination: { host: 'echo-v1' } }] },
            { match: [{ uri: { prefix: '/vs/fault-delay' } }], fault: { delay: { fixedDelay: '2s', percentage: { value: 100 } } }, route: [{ destination: { host: 'echo-v1' } }] },
            { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'echo-v2' } }] },
            { match: [{ uri: { prefix: '/vs/retry' } }], timeout: '5s', retries: { attempts: 3, perTryTimeout: '1s', retryOn: '5xx,connect-failure' }, route: [{ destination: { host: 'echo-v1' } }] },
            { match: [{ uri: { prefix: '/vs/rewrite' } }], rewrite: { uri: '/v2', authority: 'new.example.org' }, route: [{ destination: { host: 'echo-v1' } }] },
            { match: [{ uri: { exact: '/vs/redirect' } }], redirect: { uri: '/new-location', authority: 'example.org', redirectCode: 301 } },
            { match: [{ uri: { prefix: '/vs/direct' } }], directResponse: { status: 418, body: { string: 'teapot' } } },
            { match: [{ uri: { prefix: '/vs/mirror' } }], mirror: { host: 'echo-v2' }, mirrorPercentage: { value: 100 }, route: [{ destination: { host: 'echo-v1' } }] },
            {
              match: [{ uri: { prefix: '/vs/headers' } }],
              headers: { request: { set: { 'x-vs': 'yes' }, remove: ['x-drop'] }, response: { add: { 'x-vs-resp': '1' } } },
              route: [{ destination: { host: 'echo-v1' } }],
            },
            { match: [{ uri: { prefix: '/vs/subset' } }], route: [{ destination: { host: 'echo', subset: 'v1' }, weight: 90 }, { destination: { host: 'echo', subset: 'v2' }, weight: 10 }] },
            { match: [{ uri: { prefix: '/vs/sticky' } }], route: [{ destination: { host: 'echo', subset: 'v2' } }] },
            { match: [{ method: { exact: 'POST' }, uri: { regex: '/vs/items/[0-9]+' } }], route: [{ destination: { host: 'echo-v3' } }] },
            { match: [{ queryParams: { debug: { exact: 'true' } } }], route: [{ destination: { host: 'echo-v3' } }] },
            { match: [{ uri: { prefix: '/vs/without' }, withoutHeaders: { 'x-skip': {} } }], route: [{ destination: { host: 'echo-v2' } }] },
            { route: [{ destination: { host: 'echo-v1' } }] },
          ],
        },
      },
    ],
    cases: [
      { name: 'fault abort 100%', request: get('/vs/fault-abort'), expect: { status: 503, flag: 'FI' } },
      { name: 'fault delay 100%', request: get('/vs/fault-delay'), expect: { backend: 'echo-v1', faultDelayMs: 2000 } },
      { name: 'header match (first match wins, in order)', request: get('/vs/retry', { 'end-user': 'jason' }), expect: { backend: 'echo-v2' } },
      { name: 'retries and timeout', request: get('/vs/retry'), expect: { backend: 'echo-v1', timeouts: { requestMs: 5000, backendRequestMs: 1000 }, retry: { attempts: 3, retryOn: ['5xx', 'connect-failure'], perTryTimeoutMs: 1000 } } },
      { name: 'rewrite uri prefix and authority', request: get('/vs/rewrite/x?y=1'), expect: { backend: 'echo-v1', path: '/v2/x?y=1', host: 'new.example.org' } },
      { name: 'redirect', request: get('/vs/redirect'), expect: { status: 301, location: 'http://example.org/new-location' } },
      { name: 'direct response', request: get('/vs/direct'), expect: { status: 418, flag: 'DR' } },
      { name: 'mirror', request: get('/vs/mirror'), expect: { backend: 'echo-v1', mirrors: ['echo-v2'] } },
      { name: 'request and response headers', request: get('/vs/headers', { 'x-drop': '1' }), expect: { backend: 'echo-v1', requestHeaders: { 'x-vs': 'yes', 'x-drop': null }, responseHeaders: { 'x-vs-resp': '1' } } },
      { name: 'weighted subsets 90/10', request: get('/vs/subset'), expect: { distribution: { 'echo/v1': 0.9, 'echo/v2': 0.1 } } },
      { name: 'subset with DestinationRule policy', request: get('/vs/sticky', { 'x-user': 'alice' }), expect: { backend: 'echo', subset: 'v2', upstream: { loadBalancer: 'CONSISTENT_HASH', hashKey: 'alice', http1MaxPendingRequests: 1, consecutive5xxErrors: 3 } } },
      { name: 'method and regex uri', request: get('/vs/items/42', undefined, 'POST'), expect: { backend: 'echo-v3' } },
      { name: 'regex uri needs the method too', request: get('/vs/items/42'), expect: { backend: 'echo-v1' } },
      { name: 'query parameter', request: get('/anything?debug=true'), expect: { backend: 'echo-v3' } },
      { name: 'withoutHeaders: header absent', request: get('/vs/without'), expect: { backend: 'echo-v2' } },
      { name: 'withoutHeaders: header present falls through', request: get('/vs/without', { 'x-skip': '1' }), expect: { backend: 'echo-v1' } },
      { name: 'catch-all route', request: get('/'), expect: { backend: 'echo-v1' } },
    ],
  },
];

// --- Turning a scenario into waypoint input ---

const svcPort = (port: number, name: string, protocol: string) => ({ port, targetPort: port === 80 ? 8080 : port, name, protocol });
const bound = (name: string, ports: BoundServiceRecord['ports']): BoundServiceRecord => ({
  key: `${NS}/${name}.${NS}.svc.cluster.local`,
  kind: 'Service',
  name,
  namespace: NS,
  hostname: `${name}.${NS}.svc.cluster.local`,
  vips: [],
  ports,
});

/** The services the scenarios assume bound to the waypoint. */
export const CONFORMANCE_BOUND_SERVICES: BoundServiceRecord[] = [
  bound('echo', [svcPort(80, 'http', 'http'), svcPort(8080, 'http-alt', 'http')]),
  bound('grpc-echo', [svcPort(9000, 'grpc', 'grpc')]),
  bound('tcp-echo', [svcPort(9090, 'tcp', 'tcp')]),
];

/** Service key of a bound service short name. */
export function conformanceServiceKey(shortName: string): string {
  return `${NS}/${shortName}.${NS}.svc.cluster.local`;
}

/**
 * The waypoint config and extras the control plane would produce for a scenario: Gateway API routes attached to
 * the Services their parentRefs name; VirtualServices and DestinationRules as extras.
 */
export function conformanceInput(s: RoutingScenario): { config: WaypointConfigRecord; extras: CompileExtras } {
  const record = (m: RouteManifest, services: string[]) => ({ kind: m.kind, namespace: m.namespace ?? NS, name: m.name, resourceVersion: '1', spec: m.spec as never, services });
  const routes = s.manifests
    .filter((m) => m.kind === 'HTTPRoute' || m.kind === 'GRPCRoute' || m.kind === 'TCPRoute')
    .map((m) => record(m, ((m.spec['parentRefs'] as Array<{ name: string }>) ?? []).map((p) => conformanceServiceKey(p.name))));
  return {
    config: {
      name: 'waypoint',
      namespace: NS,
      trafficType: 'service',
      trustDomain: 'cluster.local',
      hbonePort: PORT_HBONE,
      services: CONFORMANCE_BOUND_SERVICES,
      workloadUids: [],
      routes,
      authorizationPolicies: [],
      requestAuthentications: [],
    },
    extras: {
      virtualServices: s.manifests.filter((m) => m.kind === 'VirtualService').map((m) => record(m, [])),
      destinationRules: s.manifests.filter((m) => m.kind === 'DestinationRule').map((m) => record(m, [])),
    },
  };
}

/** A scenario's resources as Kubernetes-shaped objects (to apply through the API / CLI in an e2e run). */
export function conformanceManifests(s: RoutingScenario): Array<{ apiVersion: string; kind: string; metadata: { name: string; namespace: string }; spec: Record<string, unknown> }> {
  return s.manifests.map((m) => ({ apiVersion: API_VERSIONS[m.kind], kind: m.kind, metadata: { name: m.name, namespace: m.namespace ?? NS }, spec: m.spec }));
}

/** Deterministic uniform [0, 1) generator (mulberry32) for reproducible weighted/percentage decisions. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
