// ServiceEntry (hosts outside the Kubernetes registry, egress) and WorkloadEntry (non-pod workloads).
import { checkDns1123Label, checkIpOrCidr, checkUnique, checkWildcardHostname, hostnameError, ipOrCidrError, isSet, labelMap, port } from './checks.js';
import { arr, defineKind, enumOf, ignored, int, map, obj, req, str, strings, type Check, type Ctx } from './schema.js';

interface WorkloadEntrySpec {
  /** IP address (or a DNS name for DNS-resolved ServiceEntries). */
  address?: string;
  /** Port name → port number (overrides the ServiceEntry port number for this endpoint). */
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}

type ServiceEntryProtocol = 'HTTP' | 'HTTPS' | 'GRPC' | 'HTTP2' | 'MONGO' | 'TCP' | 'TLS' | 'UDP';
const SERVICE_ENTRY_PROTOCOLS: readonly ServiceEntryProtocol[] = ['HTTP', 'HTTPS', 'GRPC', 'HTTP2', 'MONGO', 'TCP', 'TLS', 'UDP'];
type ServiceEntryResolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';

interface ServiceEntryPort {
  number: number;
  protocol?: ServiceEntryProtocol;
  name: string;
  targetPort?: number;
}

interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports?: ServiceEntryPort[];
  location?: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  resolution?: ServiceEntryResolution;
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: { labels?: Record<string, string> };
  exportTo?: string[];
  subjectAltNames?: string[];
}

// --- Fields Ambit stores but does not act on in its first release (shrink as features land) ---
const ENTRY_IGNORED = {
  network: 'multi-network meshes are not implemented',
  locality: 'locality-aware routing is not implemented',
  weight: 'endpoint weights are not implemented (ztunnel balances evenly)',
  exportTo: 'visibility scoping is not implemented: every ServiceEntry is visible mesh-wide',
  subjectAltNames: 'verifying upstream SANs is not implemented',
};

const checkEndpointAddress: Check<string> = (v, path, { p }) => {
  if (v.startsWith('unix://')) return p.error(path, 'Unix domain socket endpoints are not supported');
  if (ipOrCidrError(v, false) && hostnameError(v, false)) p.error(path, `${JSON.stringify(v)} is not an IP address or hostname`);
};

const WORKLOAD_ENTRY_SPEC = obj({
  address: str({ check: checkEndpointAddress }),
  ports: map(port(), { keyCheck: checkDns1123Label }),
  labels: labelMap(),
  network: ignored(str(), ENTRY_IGNORED.network),
  locality: ignored(str(), ENTRY_IGNORED.locality),
  weight: ignored(int({ min: 0, max: 4294967295 }), ENTRY_IGNORED.weight),
  serviceAccount: str({ check: checkDns1123Label }),
});

defineKind('WorkloadEntry', {
  spec: obj(WORKLOAD_ENTRY_SPEC.fields, {
    check: (spec, path, { p }) => {
      if (!isSet(spec['address']) && !isSet(spec['network'])) p.error(`${path}.address`, 'required field is missing');
    },
  }),
});

function checkServiceEntry(spec: Record<string, unknown>, path: string, ctx: Ctx): void {
  const s = spec as unknown as ServiceEntrySpec;
  const resolution = s.resolution ?? 'NONE';
  const ports = s.ports ?? [];
  checkUnique(ports, (pt, i) => ({ value: pt.number, path: `${path}.ports[${i}].number` }), 'port', ctx);
  checkUnique(ports, (pt, i) => ({ value: pt.name, path: `${path}.ports[${i}].name` }), 'port name', ctx);
  checkUnique(s.hosts, (h, i) => ({ value: h, path: `${path}.hosts[${i}]` }), 'host', ctx);
  if (isSet(s.endpoints) && isSet(s.workloadSelector)) {
    ctx.p.error(`${path}.workloadSelector`, `must not be set together with ${path}.endpoints (they are mutually exclusive)`);
  }
  if (resolution === 'NONE' && isSet(s.endpoints)) ctx.p.error(`${path}.endpoints`, 'must be empty for resolution NONE');
  if (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') {
    s.hosts.forEach((h, i) => {
      if (h.startsWith('*')) ctx.p.error(`${path}.hosts[${i}]`, `wildcard host ${JSON.stringify(h)} needs resolution NONE (${resolution} cannot resolve a wildcard)`);
    });
    (s.addresses ?? []).forEach((a, i) => {
      if (a.includes('/') && !/\/(32|128)$/.test(a)) ctx.p.error(`${path}.addresses[${i}]`, `a CIDR range needs resolution NONE or STATIC, not ${resolution}`);
    });
  }
  if (resolution === 'STATIC') {
    (s.endpoints ?? []).forEach((e, i) => {
      if (e.address && ipOrCidrError(e.address, false)) ctx.p.error(`${path}.endpoints[${i}].address`, `must be an IP address for resolution STATIC, got ${JSON.stringify(e.address)}`);
    });
  }
  const portNames = new Set(ports.map((pt) => pt.name));
  (s.endpoints ?? []).forEach((e, i) => {
    for (const name of Object.keys(e.ports ?? {})) {
      if (!portNames.has(name)) ctx.p.error(`${path}.endpoints[${i}].ports.${name}`, `no port named ${JSON.stringify(name)} in ${path}.ports`);
    }
  });
}

defineKind('ServiceEntry', {
  spec: obj(
    {
      hosts: req(strings({ check: checkWildcardHostname }, { minItems: 1 })),
      addresses: strings({ check: checkIpOrCidr }),
      ports: arr(
        obj({
          number: req(port()),
          protocol: enumOf(SERVICE_ENTRY_PROTOCOLS),
          name: req(str({ check: checkDns1123Label })),
          targetPort: port(),
        }),
      ),
      location: enumOf(['MESH_EXTERNAL', 'MESH_INTERNAL']),
      resolution: enumOf(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN']),
      endpoints: arr(WORKLOAD_ENTRY_SPEC),
      workloadSelector: obj({ labels: labelMap() }),
      exportTo: ignored(strings(), ENTRY_IGNORED.exportTo),
      subjectAltNames: ignored(strings(), ENTRY_IGNORED.subjectAltNames),
    },
    { check: checkServiceEntry },
  ),
});
