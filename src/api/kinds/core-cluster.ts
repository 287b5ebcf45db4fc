// Cluster-level core kinds: Namespace (ambient enrolment labels), ServiceAccount (identity only) and Node (pod CIDR, addresses).
import { checkCidr } from './checks.js';
import { any, arr, bool, defineKind, enumOf, ignored, obj, req, statusSchema, str, strings } from './schema.js';

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
