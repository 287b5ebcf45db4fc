// VirtualService (the waypoint subset): HTTP and TCP routes with matches, weights, rewrites, retries, faults.
import { checkCidr, checkExclusive, checkHeaderName, checkIpOrCidr, checkIstioDuration, checkPositiveIstioDuration, checkRegex, checkWildcardHostname, isSet, port } from './checks.js';
import { any, arr, bool, defineKind, enumOf, ignored, int, map, num, obj, req, str, strings, type Ctx, type ObjectSchema } from './schema.js';

// --- Fields Ambit stores but does not act on in its first release (shrink as features land) ---
const VS_IGNORED = {
  gateways: 'only the mesh (waypoint) applies VirtualServices; ingress gateways are not implemented',
  tls: 'TLS (SNI) routes are not implemented',
  mirror: 'traffic mirroring is not implemented',
  delegate: 'delegate VirtualServices are not implemented',
  exportTo: 'visibility scoping is not implemented: every VirtualService is visible mesh-wide',
  corsPolicy: 'CORS is not implemented for VirtualService (use an HTTPRoute CORS filter)',
  sourceLabels: 'source-based matching is not implemented at waypoints',
  subset: 'waypoints do not route to DestinationRule subsets; use one Service per version',
  retryRemoteLocalities: 'locality-aware routing is not implemented',
  statPrefix: 'per-route stats prefixes are not implemented',
};

const stringMatch = (): ObjectSchema =>
  obj(
    { exact: str(), prefix: str(), regex: str({ check: checkRegex }) },
    {
      check: (m, path, { p }) => {
        const set = ['exact', 'prefix', 'regex'].filter((k) => m[k] !== undefined);
        if (set.length > 1) p.error(path, `only one of exact, prefix, regex may be set, got ${set.join(' and ')}`);
      },
    },
  );

const destination = obj({
  host: req(str({ check: checkWildcardHostname })),
  subset: ignored(str(), VS_IGNORED.subset),
  port: obj({ number: req(port()) }),
});

const headerOps = obj({
  set: map(str(), { keyCheck: checkHeaderName }),
  add: map(str(), { keyCheck: checkHeaderName }),
  remove: strings({ check: checkHeaderName }),
});
const HEADERS = obj({ request: headerOps, response: headerOps });

const percent = obj({ value: req(num({ min: 0, max: 100 })) });
const headerMatches = map(stringMatch(), { keyCheck: checkHeaderName });

const httpMatch = obj({
  name: str(),
  uri: stringMatch(),
  scheme: stringMatch(),
  method: stringMatch(),
  authority: stringMatch(),
  headers: headerMatches,
  port: port(),
  queryParams: map(stringMatch()),
  ignoreUriCase: bool(),
  withoutHeaders: headerMatches,
  sourceLabels: ignored(map(str()), VS_IGNORED.sourceLabels),
  sourceNamespace: ignored(str(), VS_IGNORED.sourceLabels),
  gateways: ignored(strings(), VS_IGNORED.gateways),
  statPrefix: ignored(str(), VS_IGNORED.statPrefix),
});

const routeDestination = obj({ destination: req(destination), weight: int({ min: 0 }), headers: HEADERS });

function checkHttpRoute(r: Record<string, unknown>, path: string, ctx: Ctx): void {
  const actions = ['route', 'redirect', 'directResponse', 'delegate'].filter((k) => isSet(r[k]));
  if (actions.length === 0) return ctx.p.error(path, 'one of route, redirect, directResponse, delegate must be set');
  if (actions.length > 1) return ctx.p.error(`${path}.${actions[1]}`, `must not be set together with ${path}.${actions[0]} (they are mutually exclusive)`);
  checkExclusive(r, path, 'redirect', 'rewrite', ctx);
  checkExclusive(r, path, 'directResponse', 'rewrite', ctx);
}

const httpRoute = obj(
  {
    name: str(),
    match: arr(httpMatch),
    route: arr(routeDestination),
    redirect: obj(
      {
        uri: str(),
        authority: str(),
        port: port(),
        derivePort: enumOf(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']),
        scheme: str(),
        redirectCode: int({ min: 300, max: 399 }),
      },
      { check: (r, path, ctx) => void checkExclusive(r, path, 'port', 'derivePort', ctx) },
    ),
    directResponse: obj({ status: req(int({ min: 200, max: 599 })), body: obj({ string: str(), bytes: str() }, { check: (b, path, ctx) => void checkExclusive(b, path, 'string', 'bytes', ctx) }) }),
    delegate: ignored(obj({ name: str(), namespace: str() }), VS_IGNORED.delegate),
    rewrite: obj(
      { uri: str(), authority: str(), uriRegexRewrite: obj({ match: req(str({ check: checkRegex })), rewrite: req(str()) }) },
      { check: (r, path, ctx) => void checkExclusive(r, path, 'uri', 'uriRegexRewrite', ctx) },
    ),
    timeout: str({ check: checkIstioDuration }),
    retries: obj({
      attempts: int({ min: 0 }),
      perTryTimeout: str({ check: checkPositiveIstioDuration }),
      retryOn: str(),
      retryRemoteLocalities: ignored(bool(), VS_IGNORED.retryRemoteLocalities),
    }),
    fault: obj({
      delay: obj({ fixedDelay: req(str({ check: checkIstioDuration })), percentage: percent, percent: int({ min: 0, max: 100 }) }),
      abort: obj(
        { httpStatus: int({ min: 200, max: 599 }), grpcStatus: str(), http2Error: str(), percentage: percent },
        {
          check: (a, path, { p }) => {
            const set = ['httpStatus', 'grpcStatus', 'http2Error'].filter((k) => a[k] !== undefined);
            if (set.length !== 1) p.error(path, `exactly one of httpStatus, grpcStatus, http2Error must be set${set.length ? `, got ${set.join(' and ')}` : ''}`);
          },
        },
      ),
    }),
    mirror: ignored(destination, VS_IGNORED.mirror),
    mirrors: ignored(arr(obj({ destination: req(destination), percentage: percent })), VS_IGNORED.mirror),
    mirrorPercentage: ignored(percent, VS_IGNORED.mirror),
    mirrorPercent: ignored(int({ min: 0, max: 100 }), VS_IGNORED.mirror),
    mirror_percent: ignored(int({ min: 0, max: 100 }), VS_IGNORED.mirror),
    corsPolicy: ignored(any(), VS_IGNORED.corsPolicy),
    headers: HEADERS,
  },
  { check: checkHttpRoute },
);

const tcpRoute = obj({
  match: arr(
    obj({
      destinationSubnets: strings({ check: checkIpOrCidr }),
      port: port(),
      sourceLabels: ignored(map(str()), VS_IGNORED.sourceLabels),
      sourceNamespace: ignored(str(), VS_IGNORED.sourceLabels),
      sourceSubnet: ignored(str({ check: checkCidr }), VS_IGNORED.sourceLabels),
      gateways: ignored(strings(), VS_IGNORED.gateways),
    }),
  ),
  route: arr(obj({ destination: req(destination), weight: int({ min: 0 }) }), { minItems: 1 }),
});

defineKind('VirtualService', {
  spec: obj(
    {
      hosts: req(strings({ check: checkWildcardHostname }, { minItems: 1 })),
      gateways: strings({}, { ignore: (v) => ((v as string[]).every((g) => g === 'mesh') ? undefined : VS_IGNORED.gateways) }),
      http: arr(httpRoute),
      tcp: arr(tcpRoute),
      tls: ignored(arr(any()), VS_IGNORED.tls),
      exportTo: ignored(strings(), VS_IGNORED.exportTo),
    },
    {
      check: (spec, path, { p }) => {
        if (!isSet(spec['http']) && !isSet(spec['tcp']) && !isSet(spec['tls'])) p.error(path, 'one of http, tcp, tls must be set');
      },
    },
  ),
});
