// The kinds Ambit knows: group, versions, plural and short names, scope. The one table every layer looks kinds up in.

export interface KindInfo {
  kind: string;
  /** API group; '' for the core group. */
  group: string;
  /** Accepted versions; the first is preferred (used when a path or CLI names no version). */
  versions: readonly string[];
  plural: string;
  singular: string;
  shortNames: readonly string[];
  namespaced: boolean;
}

const ISTIO_VERSIONS = ['v1', 'v1beta1'] as const;

export const KINDS: readonly KindInfo[] = [
  { kind: 'Namespace', group: '', versions: ['v1'], plural: 'namespaces', singular: 'namespace', shortNames: ['ns'], namespaced: false },
  { kind: 'Node', group: '', versions: ['v1'], plural: 'nodes', singular: 'node', shortNames: ['no'], namespaced: false },
  { kind: 'Pod', group: '', versions: ['v1'], plural: 'pods', singular: 'pod', shortNames: ['po'], namespaced: true },
  { kind: 'Service', group: '', versions: ['v1'], plural: 'services', singular: 'service', shortNames: ['svc'], namespaced: true },
  { kind: 'ServiceAccount', group: '', versions: ['v1'], plural: 'serviceaccounts', singular: 'serviceaccount', shortNames: ['sa'], namespaced: true },
  { kind: 'ConfigMap', group: '', versions: ['v1'], plural: 'configmaps', singular: 'configmap', shortNames: ['cm'], namespaced: true },
  { kind: 'Secret', group: '', versions: ['v1'], plural: 'secrets', singular: 'secret', shortNames: [], namespaced: true },
  { kind: 'AuthorizationPolicy', group: 'security.istio.io', versions: ISTIO_VERSIONS, plural: 'authorizationpolicies', singular: 'authorizationpolicy', shortNames: ['ap'], namespaced: true },
  { kind: 'PeerAuthentication', group: 'security.istio.io', versions: ISTIO_VERSIONS, plural: 'peerauthentications', singular: 'peerauthentication', shortNames: ['pa'], namespaced: true },
  { kind: 'RequestAuthentication', group: 'security.istio.io', versions: ISTIO_VERSIONS, plural: 'requestauthentications', singular: 'requestauthentication', shortNames: ['ra'], namespaced: true },
  { kind: 'ServiceEntry', group: 'networking.istio.io', versions: ISTIO_VERSIONS, plural: 'serviceentries', singular: 'serviceentry', shortNames: ['se'], namespaced: true },
  { kind: 'WorkloadEntry', group: 'networking.istio.io', versions: ISTIO_VERSIONS, plural: 'workloadentries', singular: 'workloadentry', shortNames: ['we'], namespaced: true },
  { kind: 'VirtualService', group: 'networking.istio.io', versions: ISTIO_VERSIONS, plural: 'virtualservices', singular: 'virtualservice', shortNames: ['vs'], namespaced: true },
  { kind: 'DestinationRule', group: 'networking.istio.io', versions: ISTIO_VERSIONS, plural: 'destinationrules', singular: 'destinationrule', shortNames: ['dr'], namespaced: true },
  { kind: 'GatewayClass', group: 'gateway.networking.k8s.io', versions: ['v1', 'v1beta1'], plural: 'gatewayclasses', singular: 'gatewayclass', shortNames: ['gc'], namespaced: false },
  { kind: 'Gateway', group: 'gateway.networking.k8s.io', versions: ['v1', 'v1beta1'], plural: 'gateways', singular: 'gateway', shortNames: ['gtw'], namespaced: true },
  { kind: 'HTTPRoute', group: 'gateway.networking.k8s.io', versions: ['v1', 'v1beta1'], plural: 'httproutes', singular: 'httproute', shortNames: [], namespaced: true },
  { kind: 'GRPCRoute', group: 'gateway.networking.k8s.io', versions: ['v1'], plural: 'grpcroutes', singular: 'grpcroute', shortNames: [], namespaced: true },
  { kind: 'TCPRoute', group: 'gateway.networking.k8s.io', versions: ['v1alpha2'], plural: 'tcproutes', singular: 'tcproute', shortNames: [], namespaced: true },
  { kind: 'ReferenceGrant', group: 'gateway.networking.k8s.io', versions: ['v1beta1', 'v1'], plural: 'referencegrants', singular: 'referencegrant', shortNames: ['refgrant'], namespaced: true },
  { kind: 'Telemetry', group: 'telemetry.istio.io', versions: ['v1', 'v1alpha1'], plural: 'telemetries', singular: 'telemetry', shortNames: ['telemetry'], namespaced: true },
];

const byKind = new Map(KINDS.map((k) => [k.kind, k]));
const byName = new Map<string, KindInfo>();
for (const k of KINDS) {
  for (const n of [k.plural, k.singular, k.kind.toLowerCase(), ...k.shortNames]) byName.set(n, k);
  // kubectl's `plural.group` form, e.g. `gateways.gateway.networking.k8s.io`.
  if (k.group) byName.set(`${k.plural}.${k.group}`, k);
}

/** The kind registered under this exact Kind name (`Pod`, `HTTPRoute`). */
export function kindByName(kind: string): KindInfo | undefined {
  return byKind.get(kind);
}

/** The kind a user typed on the CLI: plural, singular, short name, Kind (any case) or `plural.group`. */
export function kindByResource(resource: string): KindInfo | undefined {
  return byName.get(resource.toLowerCase());
}

/** The kind served under a REST path's group and plural (the version is checked separately). */
export function kindByPath(group: string, plural: string): KindInfo | undefined {
  const k = byName.get(plural);
  return k && k.group === group && k.plural === plural ? k : undefined;
}

/** The preferred `apiVersion` string of a kind. */
export function preferredApiVersion(k: KindInfo): string {
  return k.group ? `${k.group}/${k.versions[0]}` : k.versions[0]!;
}

/** Whether `apiVersion` is one this kind is served under. */
export function acceptsApiVersion(k: KindInfo, apiVersion: string): boolean {
  return k.versions.some((v) => (k.group ? `${k.group}/${v}` : v) === apiVersion);
}
