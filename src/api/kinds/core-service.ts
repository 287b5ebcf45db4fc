// Service: selector, ports (targetPort by number or name), cluster IP (including headless `None`) and type.
import { checkDns1123Label, checkHostname, checkIanaSvcName, checkIp, checkUnique, labelMap, port } from './checks.js';
import { PORT_PROTOCOLS, type PortProtocol } from './core-pod.js';
import { any, arr, defineKind, enumOf, ignored, intOrString, obj, req, str, strings, type Ctx } from './schema.js';

type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';

interface ServicePort {
  /** Required when the Service has more than one port; Istio also reads the protocol from a `http-`/`grpc-` prefix. */
  name?: string;
  port: number;
  /** Pod port number, or the name of a container port; defaults to `port`. */
  targetPort?: number | string;
  protocol?: PortProtocol;
  /** e.g. `http`, `http2`, `grpc`, `tcp`, `kubernetes.io/h2c`; wins over the port-name prefix. */
  appProtocol?: string;
  nodePort?: number;
}

interface ServiceSpec {
  selector?: Record<string, string>;
  ports?: ServicePort[];
  /** An IP, `None` (headless) or empty/absent (allocated by the control plane). */
  clusterIP?: string;
  clusterIPs?: string[];
  type?: ServiceType;
  externalName?: string;
  [ignoredField: string]: unknown;
}

// --- Fields Ambit stores but does not act on in its first release (shrink as features land) ---
const NO_EXTERNAL = 'Ambit implements ClusterIP services only (no node ports, load balancers or external IPs)';
const SERVICE_IGNORED: Record<string, string> = {
  externalIPs: NO_EXTERNAL,
  loadBalancerIP: NO_EXTERNAL,
  loadBalancerSourceRanges: NO_EXTERNAL,
  loadBalancerClass: NO_EXTERNAL,
  allocateLoadBalancerNodePorts: NO_EXTERNAL,
  healthCheckNodePort: NO_EXTERNAL,
  externalTrafficPolicy: NO_EXTERNAL,
  internalTrafficPolicy: 'traffic is balanced across all endpoints',
  sessionAffinity: 'ztunnel balances each connection independently (no client-IP affinity)',
  sessionAffinityConfig: 'ztunnel balances each connection independently (no client-IP affinity)',
  ipFamilies: 'the sandbox is IPv4 only',
  ipFamilyPolicy: 'the sandbox is IPv4 only',
  publishNotReadyAddresses: 'endpoints are the running pods',
  trafficDistribution: 'locality-aware routing is not implemented',
};

const servicePort = obj({
  name: str({ check: checkDns1123Label }),
  port: req(port()),
  targetPort: intOrString({
    check: (v, path, ctx) => {
      if (typeof v === 'string') checkIanaSvcName(v, path, ctx);
      else if (v < 1 || v > 65535) ctx.p.error(path, `${v} is out of range (1-65535)`);
    },
  }),
  protocol: enumOf(PORT_PROTOCOLS),
  appProtocol: str({ nonEmpty: true }),
  nodePort: ignored(port(), NO_EXTERNAL),
});

function checkServiceSpec(spec: Record<string, unknown>, path: string, ctx: Ctx): void {
  const s = spec as ServiceSpec;
  const type = s.type ?? 'ClusterIP';
  const ports = s.ports ?? [];
  const headless = s.clusterIP === 'None';
  if (type === 'ExternalName') {
    if (!s.externalName) ctx.p.error(`${path}.externalName`, 'required field is missing (for type ExternalName)');
  } else if (!headless && ports.length === 0) {
    ctx.p.error(`${path}.ports`, 'required field is missing (only a headless Service, clusterIP: None, may have no ports)');
  }
  if (ports.length > 1) {
    ports.forEach((p, i) => {
      if (!p.name) ctx.p.error(`${path}.ports[${i}].name`, 'required field is missing (every port of a multi-port Service needs a name)');
    });
  }
  checkUnique(ports, (p, i) => ({ value: p.name, path: `${path}.ports[${i}].name` }), 'port name', ctx);
  checkUnique(ports, (p, i) => ({ value: `${p.port}/${p.protocol ?? 'TCP'}`, path: `${path}.ports[${i}].port`, show: `${p.port}/${p.protocol ?? 'TCP'}` }), 'port', ctx);
  if (s.clusterIPs?.length && s.clusterIP !== undefined && s.clusterIP !== '' && s.clusterIPs[0] !== s.clusterIP) {
    ctx.p.error(`${path}.clusterIPs[0]`, `must equal spec.clusterIP (${JSON.stringify(s.clusterIP)})`);
  }
}

defineKind('Service', {
  spec: obj(
    {
      ...Object.fromEntries(Object.entries(SERVICE_IGNORED).map(([k, why]) => [k, ignored(any(), why)])),
      selector: labelMap(),
      ports: arr(servicePort),
      clusterIP: str({ check: (v, path, ctx) => (v === 'None' || v === '' ? undefined : checkIp(v, path, ctx)) }),
      clusterIPs: strings({ check: (v, path, ctx) => (v === 'None' ? undefined : checkIp(v, path, ctx)) }),
      type: enumOf(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'], {
        ignore: (v) => (v === 'NodePort' || v === 'LoadBalancer' || v === 'ExternalName' ? `type ${String(v)}: ${NO_EXTERNAL}; it behaves as ClusterIP` : undefined),
      }),
      externalName: str({ check: checkHostname }),
    },
    { check: checkServiceSpec },
  ),
});
