// HTTPRoute, GRPCRoute and TCPRoute: matches, filters, weighted backends, timeouts and retries (Gateway API v1.x rules).
import { checkExclusive, checkGatewayDuration, checkHeaderName, checkRegex, checkUnique, parseGatewayDurationMs, port } from './checks.js';
import { backendRef, checkGatewayHostname, checkPreciseHostname, parentRef, weight, type BackendRef } from './gateway-common.js';
import { any, arr, bool, defineKind, enumOf, ignored, int, obj, req, str, strings, type Check, type Ctx, type ObjectSchema, type Schema } from './schema.js';

interface HTTPHeader {
  name: string;
  value: string;
}
interface HeaderModifier {
  set?: HTTPHeader[];
  add?: HTTPHeader[];
  remove?: string[];
}
interface PathModifier {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}
type HTTPFilterType = 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestMirror' | 'RequestRedirect' | 'URLRewrite' | 'ExtensionRef' | 'CORS';
interface HTTPRouteFilter {
  type: HTTPFilterType;
  requestHeaderModifier?: HeaderModifier;
  responseHeaderModifier?: HeaderModifier;
  requestMirror?: { backendRef: BackendRef; percent?: number; fraction?: { numerator: number; denominator?: number } };
  requestRedirect?: { scheme?: 'http' | 'https'; hostname?: string; path?: PathModifier; port?: number; statusCode?: 301 | 302 | 303 | 307 | 308 };
  urlRewrite?: { hostname?: string; path?: PathModifier };
  extensionRef?: { group: string; kind: string; name: string };
  cors?: unknown;
}
interface HTTPRouteMatch {
  /** Default `{type: PathPrefix, value: "/"}`. */
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
  headers?: Array<{ type?: 'Exact' | 'RegularExpression'; name: string; value: string }>;
  queryParams?: Array<{ type?: 'Exact' | 'RegularExpression'; name: string; value: string }>;
  method?: string;
}
interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: Array<BackendRef & { filters?: HTTPRouteFilter[] }>;
  /** Gateway API durations (`10s`, `500ms`). */
  timeouts?: { request?: string; backendRequest?: string };
  retry?: { codes?: number[]; attempts?: number; backoff?: string };
}

// --- Fields Ambit stores but does not act on in its first release (shrink as features land) ---
const ROUTE_IGNORED = {
  RequestMirror: 'request mirroring is not implemented',
  CORS: 'the CORS filter is not implemented',
  ExtensionRef: 'extension filters are not supported (Istio rejects them as well)',
  sessionPersistence: 'session persistence is not implemented',
  retryBackoff: 'retry backoff is fixed (Envoy defaults)',
};

// --- Filters ---

const header = obj({ name: req(str({ check: checkHeaderName })), value: req(str({ maxLength: 4096 })) });
const headerModifier = obj(
  {
    set: arr(header, { maxItems: 16 }),
    add: arr(header, { maxItems: 16 }),
    remove: strings({ check: checkHeaderName }, { maxItems: 16 }),
  },
  {
    check: (m, path, ctx) => {
      for (const op of ['set', 'add'] as const) {
        const list = (m[op] as HTTPHeader[] | undefined) ?? [];
        checkUnique(list, (h, i) => ({ value: h.name.toLowerCase(), path: `${path}.${op}[${i}].name`, show: JSON.stringify(h.name) }), 'header', ctx);
      }
      checkUnique((m['remove'] as string[] | undefined) ?? [], (h, i) => ({ value: h.toLowerCase(), path: `${path}.remove[${i}]`, show: JSON.stringify(h) }), 'header', ctx);
    },
  },
);

const checkAbsolutePath: Check<string> = (v, path, { p }) => {
  if (!v.startsWith('/')) p.error(path, `${JSON.stringify(v)} must start with '/'`);
  else if (/\/\/|\/\.\.?(\/|$)|%2f|%2F|#/.test(v)) p.error(path, `${JSON.stringify(v)} must not contain '//', '/./', '/../', '%2f' or '#'`);
};

const pathModifier = obj(
  {
    type: req(enumOf(['ReplaceFullPath', 'ReplacePrefixMatch'])),
    replaceFullPath: str({ check: checkAbsolutePath }),
    replacePrefixMatch: str({ check: checkAbsolutePath }),
  },
  {
    check: (m, path, { p }) => {
      const want = m['type'] === 'ReplaceFullPath' ? 'replaceFullPath' : 'replacePrefixMatch';
      const other = want === 'replaceFullPath' ? 'replacePrefixMatch' : 'replaceFullPath';
      if (m[want] === undefined) p.error(`${path}.${want}`, `required field is missing (for type ${String(m['type'])})`);
      if (m[other] !== undefined) p.error(`${path}.${other}`, `must not be set for type ${String(m['type'])}`);
    },
  },
);

const FILTER_FIELDS: Record<HTTPFilterType, string> = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  ExtensionRef: 'extensionRef',
  CORS: 'cors',
};

function filter(types: readonly HTTPFilterType[]): ObjectSchema {
  const fields: Record<string, Schema> = {
    type: req(enumOf(types, { ignore: (v) => ROUTE_IGNORED[v as keyof typeof ROUTE_IGNORED] })),
    requestHeaderModifier: headerModifier,
    responseHeaderModifier: headerModifier,
    requestMirror: obj(
      {
        backendRef: req(backendRef()),
        percent: int({ min: 0, max: 100 }),
        fraction: obj(
          { numerator: req(int({ min: 0 })), denominator: int({ min: 1 }) },
          {
            check: (f, path, { p }) => {
              if ((f['numerator'] as number) > ((f['denominator'] as number | undefined) ?? 100)) p.error(`${path}.numerator`, 'must not exceed the denominator');
            },
          },
        ),
      },
      { check: (m, path, ctx) => void checkExclusive(m, path, 'percent', 'fraction', ctx) },
    ),
    requestRedirect: obj({
      scheme: enumOf(['http', 'https']),
      hostname: str({ check: checkPreciseHostname }),
      path: pathModifier,
      port: port(),
      statusCode: int({
        check: (v, path, { p }) => {
          if (![301, 302, 303, 307, 308].includes(v)) p.error(path, `unknown value ${v} (accepted: 301, 302, 303, 307, 308)`);
        },
      }),
    }),
    urlRewrite: obj({ hostname: str({ check: checkPreciseHostname }), path: pathModifier }),
    extensionRef: obj({ group: req(str()), kind: req(str({ nonEmpty: true })), name: req(str({ nonEmpty: true })) }),
    cors: obj({
      allowOrigins: strings({ nonEmpty: true }, { maxItems: 64 }),
      allowCredentials: bool(),
      allowMethods: strings({ nonEmpty: true }, { maxItems: 9 }),
      allowHeaders: strings({ check: checkHeaderName }, { maxItems: 64 }),
      exposeHeaders: strings({ check: checkHeaderName }, { maxItems: 64 }),
      maxAge: int({ min: 0 }),
    }),
  };
  for (const [t, f] of Object.entries(FILTER_FIELDS)) if (!types.includes(t as HTTPFilterType)) delete fields[f];
  return obj(fields, {
    check: (f, path, { p }) => {
      const type = f['type'] as HTTPFilterType;
      const want = FILTER_FIELDS[type];
      if (f[want] === undefined) p.error(`${path}.${want}`, `required field is missing (for type ${type})`);
      for (const other of Object.values(FILTER_FIELDS)) {
        if (other !== want && f[other] !== undefined) p.error(`${path}.${other}`, `must not be set for type ${type}`);
      }
    },
  });
}

/** Per-rule filter rules: singletons appear once; redirect and rewrite are exclusive. */
function checkFilterList(filters: unknown[], path: string, ctx: Ctx): void {
  const list = filters as HTTPRouteFilter[];
  checkUnique(
    list,
    (f, i) => (f.type === 'RequestMirror' || f.type === 'ExtensionRef' ? undefined : { value: f.type, path: `${path}[${i}].type`, show: f.type }),
    'filter',
    ctx,
  );
  const redirect = list.findIndex((f) => f.type === 'RequestRedirect');
  const rewrite = list.findIndex((f) => f.type === 'URLRewrite');
  if (redirect >= 0 && rewrite >= 0) ctx.p.error(`${path}[${Math.max(redirect, rewrite)}].type`, 'RequestRedirect and URLRewrite filters must not be used together');
}

// --- Matches ---

const MATCH_TYPES = ['Exact', 'RegularExpression'] as const;
const valueMatch = (nameCheck: Check<string>): ObjectSchema =>
  obj(
    { type: enumOf(MATCH_TYPES), name: req(str({ check: nameCheck })), value: req(str({ maxLength: 4096 })) },
    { check: (m, path, ctx) => (m['type'] === 'RegularExpression' ? checkRegex(m['value'] as string, `${path}.value`, ctx) : undefined) },
  );
const checkQueryParamName: Check<string> = (v, path, { p }) => {
  if (!/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(v)) p.error(path, `${JSON.stringify(v)} is not a valid query parameter name`);
};

const httpMatch = obj({
  path: obj(
    { type: enumOf(['Exact', 'PathPrefix', 'RegularExpression']), value: str({ maxLength: 1024 }) },
    {
      check: (m, path, ctx) => {
        const value = (m['value'] as string | undefined) ?? '/';
        if (m['type'] === 'RegularExpression') checkRegex(value, `${path}.value`, ctx);
        else checkAbsolutePath(value, `${path}.value`, ctx);
      },
    },
  ),
  headers: arr(valueMatch(checkHeaderName), {
    maxItems: 16,
    check: (hs, path, ctx) => checkUnique(hs as HTTPHeader[], (h, i) => ({ value: h.name.toLowerCase(), path: `${path}[${i}].name`, show: JSON.stringify(h.name) }), 'header', ctx),
  }),
  queryParams: arr(valueMatch(checkQueryParamName), {
    maxItems: 16,
    check: (qs, path, ctx) => checkUnique(qs as HTTPHeader[], (q, i) => ({ value: q.name, path: `${path}[${i}].name` }), 'query parameter', ctx),
  }),
  method: enumOf(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']),
});

// --- Rules ---

const HTTP_FILTERS: readonly HTTPFilterType[] = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'RequestRedirect', 'URLRewrite', 'ExtensionRef', 'CORS'];
const GRPC_FILTERS: readonly HTTPFilterType[] = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'ExtensionRef'];

const checkSectionName: Check<string> = (v, path, { p }) => {
  if (v.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v)) p.error(path, `${JSON.stringify(v)} is not a valid rule name (lowercase alphanumerics and '-')`);
};
const sectionName = () => str({ check: checkSectionName });

function filters(types: readonly HTTPFilterType[]) {
  return arr(filter(types), { maxItems: 16, check: checkFilterList });
}

function checkHttpRule(r: Record<string, unknown>, path: string, ctx: Ctx): void {
  const rule = r as HTTPRouteRule;
  const usesPrefixReplace = (rule.filters ?? []).some(
    (f) => f.urlRewrite?.path?.type === 'ReplacePrefixMatch' || f.requestRedirect?.path?.type === 'ReplacePrefixMatch',
  );
  if (usesPrefixReplace) {
    const matches = rule.matches ?? [];
    const ok = matches.length <= 1 && (matches[0]?.path?.type ?? 'PathPrefix') === 'PathPrefix';
    if (!ok) ctx.p.error(`${path}.matches`, 'ReplacePrefixMatch needs exactly one match, of path type PathPrefix');
  }
  const t = rule.timeouts;
  if (t?.request && t.backendRequest) {
    const request = parseGatewayDurationMs(t.request)!;
    const backend = parseGatewayDurationMs(t.backendRequest)!;
    if (request > 0 && backend > request) ctx.p.error(`${path}.timeouts.backendRequest`, `${t.backendRequest} must not exceed timeouts.request (${t.request})`);
  }
}

const hostnames = () => strings({ check: checkGatewayHostname }, { maxItems: 16 });
const parentRefs = () => arr(parentRef(), { maxItems: 32 });

defineKind('HTTPRoute', {
  spec: obj({
    parentRefs: parentRefs(),
    hostnames: hostnames(),
    rules: arr(
      obj(
        {
          name: sectionName(),
          matches: arr(httpMatch, { maxItems: 64 }),
          filters: filters(HTTP_FILTERS),
          backendRefs: arr(backendRef({ weight: weight(), filters: filters(HTTP_FILTERS) }), { maxItems: 16 }),
          timeouts: obj({ request: str({ check: checkGatewayDuration }), backendRequest: str({ check: checkGatewayDuration }) }),
          retry: obj({
            codes: arr(int({ min: 400, max: 599 })),
            attempts: int({ min: 0 }),
            backoff: ignored(str({ check: checkGatewayDuration }), ROUTE_IGNORED.retryBackoff),
          }),
          sessionPersistence: ignored(any(), ROUTE_IGNORED.sessionPersistence),
        },
        { check: checkHttpRule },
      ),
      { maxItems: 16 },
    ),
  }),
});

// GRPCRoute method matching: Exact needs a service and/or method in protobuf name syntax; RegularExpression compiles.
const GRPC_SERVICE = /^\.?[A-Za-z_][A-Za-z_0-9]*(\.[A-Za-z_][A-Za-z_0-9]*)*$/;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;
const grpcMethodMatch = obj(
  { type: enumOf(MATCH_TYPES), service: str({ maxLength: 1024 }), method: str({ maxLength: 1024 }) },
  {
    check: (m, path, ctx) => {
      if (m['service'] === undefined && m['method'] === undefined) return ctx.p.error(path, 'at least one of service, method must be set');
      for (const [field, re] of [['service', GRPC_SERVICE], ['method', GRPC_METHOD]] as const) {
        const v = m[field] as string | undefined;
        if (v === undefined) continue;
        if (m['type'] === 'RegularExpression') checkRegex(v, `${path}.${field}`, ctx);
        else if (!re.test(v)) ctx.p.error(`${path}.${field}`, `${JSON.stringify(v)} is not a valid gRPC ${field} name`);
      }
    },
  },
);

defineKind('GRPCRoute', {
  spec: obj({
    parentRefs: parentRefs(),
    hostnames: hostnames(),
    rules: arr(
      obj({
        name: sectionName(),
        matches: arr(obj({ method: grpcMethodMatch, headers: arr(valueMatch(checkHeaderName), { maxItems: 16 }) }), { maxItems: 64 }),
        filters: filters(GRPC_FILTERS),
        backendRefs: arr(backendRef({ weight: weight(), filters: filters(GRPC_FILTERS) }), { maxItems: 16 }),
        sessionPersistence: ignored(any(), ROUTE_IGNORED.sessionPersistence),
      }),
      { maxItems: 16 },
    ),
  }),
});

defineKind('TCPRoute', {
  spec: obj({
    parentRefs: parentRefs(),
    rules: req(
      arr(obj({ name: sectionName(), backendRefs: req(arr(backendRef({ weight: weight() }), { minItems: 1, maxItems: 16 })) }), { minItems: 1, maxItems: 16 }),
    ),
  }),
});
