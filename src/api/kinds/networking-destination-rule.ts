// DestinationRule (applied by waypoints): load balancing, connection pool limits, TLS origination, per-port settings.
import { checkDns1123Label, checkExclusive, checkPositiveIstioDuration, checkIstioDuration, checkUnique, checkWildcardHostname, labelMap, port, workloadSelector } from './checks.js';
import { any, arr, bool, defineKind, enumOf, ignored, int, obj, req, str, strings, type Ctx, type ObjectSchema, type Schema } from './schema.js';

// --- Fields Ambit stores but does not act on in its first release (shrink as features land) ---
const DR_IGNORED = {
  outlierDetection: 'outlier detection is not implemented',
  subsets: 'waypoints do not route to subsets; use one Service per version',
  exportTo: 'visibility scoping is not implemented: every DestinationRule is visible mesh-wide',
  workloadSelector: 'workload-scoped DestinationRules are not implemented',
  consistentHash: 'consistent-hash load balancing is not implemented (round robin is used)',
  localityLbSetting: 'locality-aware routing is not implemented',
  warmup: 'slow-start warmup is not implemented',
  tcpKeepalive: 'TCP keepalive tuning is not implemented',
  tlsFiles: 'client certificates from files or secrets are not implemented',
  mutual: 'MUTUAL TLS origination (client certificates) is not implemented',
  istioMutual: 'ISTIO_MUTUAL has no effect: mesh traffic is always HBONE mTLS',
  tunnel: 'tunneling to the destination is not implemented',
  proxyProtocol: 'PROXY protocol to the destination is not implemented',
};

const loadBalancer = obj(
  {
    simple: enumOf(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST']),
    consistentHash: ignored(any(), DR_IGNORED.consistentHash),
    localityLbSetting: ignored(any(), DR_IGNORED.localityLbSetting),
    warmupDurationSecs: ignored(str({ check: checkIstioDuration }), DR_IGNORED.warmup),
    warmup: ignored(any(), DR_IGNORED.warmup),
  },
  { check: (lb, path, ctx) => void checkExclusive(lb, path, 'simple', 'consistentHash', ctx) },
);

const connectionPool = obj({
  tcp: obj({
    maxConnections: int({ min: 1 }),
    connectTimeout: str({ check: checkPositiveIstioDuration }),
    tcpKeepalive: ignored(any(), DR_IGNORED.tcpKeepalive),
    maxConnectionDuration: str({ check: checkPositiveIstioDuration }),
    idleTimeout: str({ check: checkIstioDuration }),
  }),
  http: obj({
    http1MaxPendingRequests: int({ min: 0 }),
    http2MaxRequests: int({ min: 0 }),
    maxRequestsPerConnection: int({ min: 0 }),
    maxRetries: int({ min: 0 }),
    idleTimeout: str({ check: checkIstioDuration }),
    h2UpgradePolicy: enumOf(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']),
    useClientProtocol: bool(),
    maxConcurrentStreams: int({ min: 0 }),
  }),
});

const outlierDetection = obj({
  consecutiveErrors: int({ min: 0 }),
  consecutiveGatewayErrors: int({ min: 0 }),
  consecutive5xxErrors: int({ min: 0 }),
  splitExternalLocalOriginErrors: bool(),
  consecutiveLocalOriginFailures: int({ min: 0 }),
  interval: str({ check: checkPositiveIstioDuration }),
  baseEjectionTime: str({ check: checkPositiveIstioDuration }),
  maxEjectionPercent: int({ min: 0, max: 100 }),
  minHealthPercent: int({ min: 0, max: 100 }),
});

const tls = obj(
  {
    mode: enumOf(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'], {
      ignore: (v) => (v === 'MUTUAL' ? DR_IGNORED.mutual : v === 'ISTIO_MUTUAL' ? DR_IGNORED.istioMutual : undefined),
    }),
    clientCertificate: ignored(str(), DR_IGNORED.tlsFiles),
    privateKey: ignored(str(), DR_IGNORED.tlsFiles),
    caCertificates: ignored(str(), DR_IGNORED.tlsFiles),
    credentialName: ignored(str(), DR_IGNORED.tlsFiles),
    caCrl: ignored(str(), DR_IGNORED.tlsFiles),
    subjectAltNames: strings({ nonEmpty: true }),
    sni: str({ check: checkWildcardHostname }),
    insecureSkipVerify: bool(),
  },
  {
    check: (t, path, { p }) => {
      if (t['mode'] === 'MUTUAL' && (!t['credentialName'] && (!t['clientCertificate'] || !t['privateKey']))) {
        p.error(path, 'mode MUTUAL needs credentialName or both clientCertificate and privateKey');
      }
    },
  },
);

function trafficPolicy(withPorts: boolean): ObjectSchema {
  const fields: Record<string, Schema> = {
    loadBalancer,
    connectionPool,
    outlierDetection: ignored(outlierDetection, DR_IGNORED.outlierDetection),
    tls,
    tunnel: ignored(obj({ protocol: str(), targetHost: req(str()), targetPort: req(port()) }), DR_IGNORED.tunnel),
    proxyProtocol: ignored(obj({ version: enumOf(['V1', 'V2']) }), DR_IGNORED.proxyProtocol),
  };
  if (withPorts) {
    fields['portLevelSettings'] = arr(obj({ ...trafficPolicy(false).fields, port: req(obj({ number: req(port()) })) }), {
      check: (settings, path, ctx: Ctx) =>
        checkUnique(settings as Array<{ port: { number: number } }>, (s, i) => ({ value: s.port.number, path: `${path}[${i}].port.number` }), 'port', ctx),
    });
  }
  return obj(fields);
}

defineKind('DestinationRule', {
  spec: obj(
    {
      host: req(str({ check: checkWildcardHostname })),
      trafficPolicy: trafficPolicy(true),
      subsets: ignored(
        arr(obj({ name: req(str({ check: checkDns1123Label })), labels: labelMap(), trafficPolicy: trafficPolicy(true) }), {
          check: (subsets, path, ctx) => checkUnique(subsets as Array<{ name: string }>, (s, i) => ({ value: s.name, path: `${path}[${i}].name` }), 'subset name', ctx),
        }),
        DR_IGNORED.subsets,
      ),
      exportTo: ignored(strings(), DR_IGNORED.exportTo),
      workloadSelector: ignored(workloadSelector(), DR_IGNORED.workloadSelector),
    },
  ),
});
