// Test support (imported only by tests): builders for workloads, services and policies with sensible defaults.
import { parseIpPrefix } from '../../lib/ip-address.js';
import { emptyMatch, type Authorization, type Match, type Service, type Workload } from '../state/types.js';

export function workload(fields: Partial<Workload> & { name: string; addresses: string[] }): Workload {
  const namespace = fields.namespace ?? 'default';
  return {
    uid: `Kubernetes//Pod/${namespace}/${fields.name}`,
    namespace,
    network: '',
    tunnelProtocol: 'HBONE',
    trustDomain: 'cluster.local',
    serviceAccount: 'default',
    node: 'node-a',
    canonicalName: fields.name,
    canonicalRevision: 'latest',
    workloadType: 'pod',
    workloadName: fields.name,
    services: {},
    authorizationPolicies: [],
    healthy: true,
    clusterId: 'Kubernetes',
    locality: { region: '', zone: '', subzone: '' },
    hostNetwork: false,
    capacity: 1,
    ...fields,
  };
}

export function service(fields: Partial<Omit<Service, 'vips'>> & { name: string; vips: string[] }): Service {
  const namespace = fields.namespace ?? 'default';
  const { vips, ...rest } = fields;
  return {
    namespace,
    hostname: `${fields.name}.${namespace}.svc.cluster.local`,
    ports: [],
    subjectAltNames: [],
    canonical: true,
    namespaceOnly: false,
    ...rest,
    vips: vips.map((v) => {
      const [address, len] = v.split('/');
      return len === undefined ? { network: '', address: address! } : { network: '', address: address!, length: Number(len) };
    }),
  };
}

export function match(fields: Partial<Omit<Match, 'sourceIps' | 'notSourceIps' | 'destinationIps' | 'notDestinationIps'>> & {
  sourceIps?: string[]; notSourceIps?: string[]; destinationIps?: string[]; notDestinationIps?: string[];
}): Match {
  const ips = (l: string[] | undefined) => (l ?? []).map((t) => parseIpPrefix(t)!);
  return {
    ...emptyMatch(),
    ...fields,
    sourceIps: ips(fields.sourceIps),
    notSourceIps: ips(fields.notSourceIps),
    destinationIps: ips(fields.destinationIps),
    notDestinationIps: ips(fields.notDestinationIps),
  };
}

/** A policy with a single rule made of one clause per given Match list. */
export function policy(fields: Partial<Authorization> & { name: string; namespace: string }, clauses: Match[][] = []): Authorization {
  return { scope: 'NAMESPACE', action: 'ALLOW', dryRun: false, ...fields, rules: fields.rules ?? [{ clauses: clauses.map((matches) => ({ matches })) }] };
}
