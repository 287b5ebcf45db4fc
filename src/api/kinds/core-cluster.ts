// Cluster-level core kinds: Namespace (ambient enrolment labels), ServiceAccount (identity only), ConfigMap (the mesh
// config, Istio's `istio` ConfigMap), Secret (ingress certificates) and Node (pod CIDR, addresses).
import { MESH_CONFIG_KEY, MESH_CONFIG_NAME, parseMeshConfig } from '../mesh-config.js';
import { ROOT_NAMESPACE } from '../../lib/mesh-contract.js';
import { checkCidr } from './checks.js';
import { secretValue, TLS_SECRET_TYPE, tlsSecretProblem } from '../tls-secret.js';
import { any, arr, bool, defineKind, enumOf, ignored, map, obj, req, statusSchema, str, strings } from './schema.js';

defineKind('Namespace', {
  spec: obj({ finalizers: ignored(strings(), 'Ambit has no namespace finalizers') }),
  specOptional: true,
});

defineKind('ServiceAccount', {
  topLevel: {
    secrets: ignored(arr(any()), 'Ambit issues no service account token secrets'),
    imagePullSecrets: ignored(arr(any()), 'the sandbox pulls no images'),
    automountServiceAccountToken: ignored(bool(), 'no service account token is mounted'),
  },
});

// Any ConfigMap may be stored; the mesh config (`istio` in the root namespace, key `mesh`) is checked as a MeshConfig.
defineKind('ConfigMap', {
  topLevel: {
    data: map(str()),
    binaryData: ignored(map(str()), 'Ambit reads no binary ConfigMap data'),
    immutable: bool(),
  },
  check: (o, { p }) => {
    if (o.metadata.name !== MESH_CONFIG_NAME || o.metadata.namespace !== ROOT_NAMESPACE) return;
    const text = (o as { data?: Record<string, string> }).data?.[MESH_CONFIG_KEY];
    if (text === undefined) return;
    for (const problem of parseMeshConfig(text).problems) p.error(`data.${MESH_CONFIG_KEY}: ${problem.split(':')[0]}`, problem.slice(problem.indexOf(':') + 1).trim());
  },
});

// Secrets: stored as given; a `kubernetes.io/tls` Secret (an ingress Gateway's certificate) must carry a PEM
// certificate chain and private key that parse and belong together, so a bad one is refused at apply, not at the
// gateway's first handshake.
defineKind('Secret', {
  topLevel: {
    type: str(),
    data: map(str({ check: (v, path, { p }) => (/^[A-Za-z0-9+/]*={0,2}$/.test(v.replace(/\s+/g, '')) ? undefined : p.error(path, 'not base64')) })),
    stringData: map(str()),
    immutable: bool(),
  },
  check: (o, { p }) => {
    const s = o as { type?: string; data?: Record<string, string>; stringData?: Record<string, string> };
    if (s.type !== TLS_SECRET_TYPE) return;
    const problem = tlsSecretProblem(secretValue(s, 'tls.crt'), secretValue(s, 'tls.key'));
    if (problem) p.error(problem.field, problem.reason);
  },
});

// --- Node ---

interface NodeSpec {
  /** The node's pod range (sandbox: 10.244.N.0/24). */
  podCIDR?: string;
  podCIDRs?: string[];
  providerID?: string;
  unschedulable?: boolean;
  taints?: Array<{ key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'; timeAdded?: string }>;
}

defineKind('Node', {
  spec: obj(
    {
      podCIDR: str({ check: checkCidr }),
      podCIDRs: strings({ check: checkCidr }),
      providerID: str(),
      unschedulable: ignored(bool(), 'Ambit does not schedule pods: spec.nodeName places them'),
      taints: ignored(
        arr(obj({ key: req(str({ nonEmpty: true })), value: str(), effect: req(enumOf(['NoSchedule', 'PreferNoSchedule', 'NoExecute'])), timeAdded: str() })),
        'Ambit does not schedule pods: spec.nodeName places them',
      ),
      externalID: ignored(str(), 'deprecated Kubernetes field'),
      configSource: ignored(any(), 'deprecated Kubernetes field'),
    },
    {
      check: (spec, path, ctx) => {
        const s = spec as NodeSpec;
        if (s.podCIDR && s.podCIDRs?.length && s.podCIDRs[0] !== s.podCIDR) ctx.p.error(`${path}.podCIDRs[0]`, `must equal spec.podCIDR (${JSON.stringify(s.podCIDR)})`);
      },
    },
  ),
  specOptional: true,
  status: statusSchema({
    addresses: arr(obj({ type: req(enumOf(['InternalIP', 'ExternalIP', 'Hostname', 'InternalDNS', 'ExternalDNS'])), address: req(str({ nonEmpty: true })) })),
  }),
});
