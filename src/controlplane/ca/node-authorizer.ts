// Who may hold which identity: a node may obtain a service account's certificate only while a Pod using that
// service account is scheduled on it; a workload authenticated by its mesh certificate only its own identity.
// Pure functions over the pods of one namespace, so the rule is unit-testable without a store.
import type { KubeObject } from '../../api/meta.js';
import { formatSpiffeId, type SpiffeId } from '../../lib/certs/spiffe-id.js';

/** An authenticated CA caller. */
export type CaCaller = { kind: 'node'; node: string } | { kind: 'workload'; identity: string };

type AuthorizationDecision = { allowed: true } | { allowed: false; reason: string };

/** `node/<name>` or `workload/<spiffe id>`: how callers appear in logs. */
export function describeCaller(c: CaCaller): string {
  return c.kind === 'node' ? `node/${c.node}` : `workload/${c.identity}`;
}

interface PodView {
  namespace: string;
  serviceAccount: string;
  nodeName: string | undefined;
  finished: boolean;
}

function viewPod(pod: KubeObject): PodView {
  const spec = (pod.spec ?? {}) as { serviceAccountName?: unknown; serviceAccount?: unknown; nodeName?: unknown };
  const phase = (pod.status as { phase?: unknown } | undefined)?.phase;
  const sa = typeof spec.serviceAccountName === 'string' && spec.serviceAccountName ? spec.serviceAccountName : typeof spec.serviceAccount === 'string' && spec.serviceAccount ? spec.serviceAccount : 'default';
  return {
    namespace: pod.metadata.namespace ?? 'default',
    serviceAccount: sa,
    nodeName: typeof spec.nodeName === 'string' && spec.nodeName ? spec.nodeName : undefined,
    // A pod that has terminated runs no workload that could need a certificate.
    finished: phase === 'Succeeded' || phase === 'Failed',
  };
}

/**
 * Decides whether `caller` may obtain a certificate for `requested`. `pods` are the live Pods of the requested
 * namespace (more are fine: they are filtered here).
 */
export function authorizeIdentity(caller: CaCaller, requested: SpiffeId, pods: readonly KubeObject[]): AuthorizationDecision {
  const wanted = formatSpiffeId(requested);
  if (caller.kind === 'workload') {
    if (caller.identity === wanted) return { allowed: true };
    return { allowed: false, reason: `a workload authenticated as ${caller.identity} may renew only its own identity, not ${wanted}` };
  }
  for (const pod of pods) {
    const v = viewPod(pod);
    if (v.namespace === requested.namespace && v.serviceAccount === requested.serviceAccount && v.nodeName === caller.node && !v.finished) {
      return { allowed: true };
    }
  }
  return {
    allowed: false,
    reason: `node '${caller.node}' may not obtain ${wanted}: no running Pod in namespace '${requested.namespace}' with serviceAccountName '${requested.serviceAccount}' is scheduled on node '${caller.node}'`,
  };
}
