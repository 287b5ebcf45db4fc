// Pieces shared by the Istio policy kinds: workload selector vs. targetRefs, and which targets each may name.
import { checkDns1123Subdomain, checkExclusive, isSet, workloadSelector } from './checks.js';
import { arr, enumOf, obj, req, str, type Ctx, type ObjectSchema, type Schema } from './schema.js';

/** Istio's `WorkloadSelector`. */
export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

/** Istio's `PolicyTargetReference`: a Gateway (waypoint), GatewayClass, Service or ServiceEntry in the policy's namespace. */
export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** The group each target kind lives in ('' and 'core' both mean the core group). */
const TARGET_KIND_GROUPS: Record<string, readonly string[]> = {
  Gateway: ['gateway.networking.k8s.io'],
  GatewayClass: ['gateway.networking.k8s.io'],
  Service: ['', 'core'],
  ServiceEntry: ['networking.istio.io'],
};

const policyTargetRef = (): ObjectSchema =>
  obj(
    {
      group: str(),
      kind: req(enumOf(Object.keys(TARGET_KIND_GROUPS))),
      name: req(str({ check: checkDns1123Subdomain })),
      namespace: str(),
    },
    {
      check: (ref, path, { obj: o, p }) => {
        const groups = TARGET_KIND_GROUPS[ref['kind'] as string]!;
        const group = (ref['group'] as string | undefined) ?? '';
        if (!groups.includes(group)) p.error(`${path}.group`, `${JSON.stringify(group)} is not the group of kind ${String(ref['kind'])} (use ${JSON.stringify(groups[0])})`);
        const ns = ref['namespace'] as string | undefined;
        if (ns && ns !== o.metadata.namespace) p.error(`${path}.namespace`, `a policy may only target objects in its own namespace (${o.metadata.namespace})`);
      },
    },
  );

/** `selector` / `targetRef` / `targetRefs` fields of a policy spec. */
export function targetingFields(): Record<string, Schema> {
  return {
    selector: workloadSelector(),
    // The deprecated single `targetRef` is refused rather than ignored: ignoring it would silently turn a
    // waypoint-scoped policy into a namespace-wide ztunnel policy.
    targetRef: obj({}, { open: true, check: (_v, path, { p }) => p.error(path, 'the deprecated single targetRef is not supported; use targetRefs') }),
    targetRefs: arr(policyTargetRef(), { maxItems: 16 }),
  };
}

/** `selector` and `targetRefs` are exclusive. */
export function checkTargeting(spec: Record<string, unknown>, path: string, ctx: Ctx): void {
  checkExclusive(spec, path, 'selector', 'targetRefs', ctx);
}

/** Whether a policy spec is attached to waypoints (has targetRefs) rather than enforced by ztunnel. */
export function hasTargetRefs(spec: Record<string, unknown> | undefined): boolean {
  return isSet(spec?.['targetRefs']);
}
