// GatewayClass, Gateway (a waypoint when its class is istio-waypoint, an ingress gateway when it is istio or ambit) and
// ReferenceGrant.
import { checkDns1123Label, checkDns1123Subdomain, checkIp, checkUnique, isSet, labelSelector, port } from './checks.js';
import { checkGatewayHostname } from './gateway-common.js';
import { any, arr, defineKind, enumOf, ignored, map, obj, req, str, type Check, type Ctx } from './schema.js';
import { INGRESS_GATEWAY_CLASSES, WAYPOINT_GATEWAY_CLASS } from '../../lib/mesh-contract.js';

interface Listener {
  name: string;
  hostname?: string;
  port: number;
  /** `HTTP`, `HTTPS`, `TLS`, `TCP`, `UDP`, `HBONE` or a domain-prefixed name. */
  protocol: string;
  tls?: { mode?: 'Terminate' | 'Passthrough'; certificateRefs?: Array<{ group?: string; kind?: string; name: string; namespace?: string }>; options?: Record<string, string> };
  allowedRoutes?: {
    namespaces?: { from?: 'All' | 'Same' | 'Selector' | 'None'; selector?: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> } };
    kinds?: Array<{ group?: string; kind: string }>;
  };
}
interface GatewaySpec {
  gatewayClassName: string;
  listeners: Listener[];
  addresses?: Array<{ type?: string; value: string }>;
  infrastructure?: unknown;
}

// --- Fields Ambit stores but does not act on in its first release (shrink as features land) ---
const GATEWAY_IGNORED = {
  className: `Ambit deploys Gateways of class ${WAYPOINT_GATEWAY_CLASS} (waypoints) and ${INGRESS_GATEWAY_CLASSES.join(' or ')} (ingress) only`,
  addresses: 'waypoint addresses are assigned by Ambit; requested addresses are not honoured',
  infrastructure: 'infrastructure labels and parameters are not applied to waypoint pods',
  tlsMode: 'TLS passthrough is not implemented: ingress listeners terminate TLS (mode Terminate)',
  tlsOptions: 'listener TLS options are not applied',
  frontendValidation: 'client certificate validation at the gateway is not implemented',
  kinds: 'route kinds are not filtered per listener',
  backendTLS: 'gateway client certificates to backends are not implemented',
  allowedListeners: 'ListenerSets are not implemented',
  parametersRef: 'GatewayClass parameters are not implemented',
};

const STANDARD_PROTOCOLS = ['HTTP', 'HTTPS', 'TLS', 'TCP', 'UDP', 'HBONE'];
const checkProtocol: Check<string> = (v, path, { p }) => {
  if (!STANDARD_PROTOCOLS.includes(v) && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$/.test(v)) {
    p.error(path, `unknown value ${JSON.stringify(v)} (accepted: ${STANDARD_PROTOCOLS.join(', ')}, or a domain-prefixed protocol)`);
  }
};

const listener = obj(
  {
    name: req(str({ check: checkDns1123Label })),
    hostname: str({ check: checkGatewayHostname }),
    port: req(port()),
    protocol: req(str({ check: checkProtocol })),
    tls: obj({
      mode: enumOf(['Terminate', 'Passthrough'], { ignore: (v) => (v === 'Passthrough' ? GATEWAY_IGNORED.tlsMode : undefined) }),
      certificateRefs: arr(obj({ group: str(), kind: str(), name: req(str({ check: checkDns1123Subdomain })), namespace: str({ check: checkDns1123Label }) }), { maxItems: 64 }),
      options: ignored(map(str()), GATEWAY_IGNORED.tlsOptions),
      frontendValidation: ignored(any(), GATEWAY_IGNORED.frontendValidation),
    }),
    allowedRoutes: obj({
      namespaces: obj(
        { from: enumOf(['All', 'Same', 'Selector', 'None']), selector: labelSelector() },
        {
          check: (n, path, { p }) => {
            if (n['from'] === 'Selector' && !isSet(n['selector'])) p.error(`${path}.selector`, 'required field is missing (for from: Selector)');
            if (n['from'] !== 'Selector' && isSet(n['selector'])) p.error(`${path}.selector`, `must only be set for from: Selector`);
          },
        },
      ),
      kinds: ignored(arr(obj({ group: str(), kind: req(str({ nonEmpty: true })) }), { maxItems: 8 }), GATEWAY_IGNORED.kinds),
    }),
  },
  {
    check: (l, path, { p }) => {
      const protocol = l['protocol'] as string;
      if ((protocol === 'HTTPS' || protocol === 'TLS') && !isSet(l['tls'])) p.error(`${path}.tls`, `required field is missing (for protocol ${protocol})`);
      if ((protocol === 'HTTP' || protocol === 'TCP' || protocol === 'UDP' || protocol === 'HBONE') && isSet(l['tls'])) p.error(`${path}.tls`, `must not be set for protocol ${protocol}`);
      if ((protocol === 'TCP' || protocol === 'UDP') && isSet(l['hostname'])) p.error(`${path}.hostname`, `must not be set for protocol ${protocol}`);
    },
  },
);

function checkGatewaySpec(spec: Record<string, unknown>, path: string, ctx: Ctx): void {
  const s = spec as unknown as GatewaySpec;
  checkUnique(s.listeners, (l, i) => ({ value: l.name, path: `${path}.listeners[${i}].name` }), 'listener name', ctx);
  checkUnique(
    s.listeners,
    (l, i) => ({ value: `${l.port}/${l.protocol}/${l.hostname ?? ''}`, path: `${path}.listeners[${i}]`, show: `port ${l.port} ${l.protocol}${l.hostname ? ` ${l.hostname}` : ''}` }),
    'listener for',
    ctx,
  );
}

defineKind('Gateway', {
  spec: obj(
    {
      gatewayClassName: req(str({ check: checkDns1123Subdomain, ignore: (v) => (v === WAYPOINT_GATEWAY_CLASS || INGRESS_GATEWAY_CLASSES.includes(v as string) ? undefined : GATEWAY_IGNORED.className) })),
      listeners: req(arr(listener, { minItems: 1, maxItems: 64 })),
      addresses: ignored(
        arr(
          obj(
            { type: str({ nonEmpty: true }), value: req(str({ nonEmpty: true })) },
            { check: (a, path, ctx) => ((a['type'] ?? 'IPAddress') === 'IPAddress' ? checkIp(a['value'] as string, `${path}.value`, ctx) : undefined) },
          ),
          { maxItems: 16 },
        ),
        GATEWAY_IGNORED.addresses,
      ),
      infrastructure: ignored(any(), GATEWAY_IGNORED.infrastructure),
      backendTLS: ignored(any(), GATEWAY_IGNORED.backendTLS),
      allowedListeners: ignored(any(), GATEWAY_IGNORED.allowedListeners),
    },
    { check: checkGatewaySpec },
  ),
});

const CONTROLLER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/;

defineKind('GatewayClass', {
  spec: obj({
    controllerName: req(
      str({
        maxLength: 253,
        check: (v, path, { p }) => {
          if (!CONTROLLER_NAME.test(v)) p.error(path, `${JSON.stringify(v)} is not a domain-prefixed controller name (e.g. istio.io/mesh-controller)`);
        },
      }),
    ),
    description: str({ maxLength: 64 }),
    parametersRef: ignored(obj({ group: req(str()), kind: req(str({ nonEmpty: true })), name: req(str({ nonEmpty: true })), namespace: str() }), GATEWAY_IGNORED.parametersRef),
  }),
});

defineKind('ReferenceGrant', {
  spec: obj({
    from: req(arr(obj({ group: req(str()), kind: req(str({ nonEmpty: true })), namespace: req(str({ check: checkDns1123Label })) }), { minItems: 1, maxItems: 16 })),
    to: req(arr(obj({ group: req(str()), kind: req(str({ nonEmpty: true })), name: str({ check: checkDns1123Subdomain }) }), { minItems: 1, maxItems: 16 })),
  }),
});
