// The ambient-mode labels (ARCHITECTURE.md §3, ISTIO-API.md §1): their accepted values, and which kinds they act on.
import type { KubeObject } from '../meta.js';
import { dns1123LabelError, dns1123SubdomainError } from '../validate.js';
import type { Ctx } from './schema.js';
import { DATAPLANE_MODE_AMBIENT, DATAPLANE_MODE_LABEL, DATAPLANE_MODE_NONE, INGRESS_USE_WAYPOINT_LABEL, USE_WAYPOINT_LABEL, USE_WAYPOINT_NAMESPACE_LABEL, WAYPOINT_FOR_LABEL } from '../../lib/mesh-contract.js';

const DATAPLANE_MODES = [DATAPLANE_MODE_AMBIENT, DATAPLANE_MODE_NONE] as const;
const WAYPOINT_TRAFFIC_TYPES = ['service', 'workload', 'all', 'none'] as const;

// Which kinds each label means something on; elsewhere it is stored and reported as ignored.
const ACTS_ON: Record<string, readonly string[]> = {
  [DATAPLANE_MODE_LABEL]: ['Namespace', 'Pod'],
  [USE_WAYPOINT_LABEL]: ['Namespace', 'Service', 'ServiceEntry', 'Pod', 'WorkloadEntry'],
  [USE_WAYPOINT_NAMESPACE_LABEL]: ['Namespace', 'Service', 'ServiceEntry', 'Pod', 'WorkloadEntry'],
  [WAYPOINT_FOR_LABEL]: ['Gateway', 'GatewayClass'],
  [INGRESS_USE_WAYPOINT_LABEL]: ['Namespace', 'Service', 'ServiceEntry'],
};

/** Checks the ambient labels of any object: values where they act, "ignored" where they do not. */
export function checkAmbientLabels(obj: KubeObject, { p }: Ctx): void {
  const labels = obj.metadata.labels ?? {};
  for (const [key, kinds] of Object.entries(ACTS_ON)) {
    const value = labels[key];
    if (value === undefined) continue;
    const path = `metadata.labels.${key}`;
    if (!kinds.includes(obj.kind)) {
      p.ignore(path, `this label has no effect on a ${obj.kind} (it applies to ${kinds.join(', ')})`);
      continue;
    }
    switch (key) {
      case DATAPLANE_MODE_LABEL:
        if (!(DATAPLANE_MODES as readonly string[]).includes(value)) {
          p.error(path, `unknown value ${JSON.stringify(value)} (accepted: ${DATAPLANE_MODES.join(', ')})`);
        }
        break;
      case USE_WAYPOINT_LABEL:
        if (value !== 'none' && dns1123SubdomainError(value)) {
          p.error(path, `${JSON.stringify(value)} is not a waypoint Gateway name (a DNS-1123 subdomain) or "none"`);
        }
        break;
      case USE_WAYPOINT_NAMESPACE_LABEL:
        if (dns1123LabelError(value)) p.error(path, `${JSON.stringify(value)} is not a namespace name (a DNS-1123 label)`);
        else if (labels[USE_WAYPOINT_LABEL] === undefined) p.ignore(path, `has no effect without the ${USE_WAYPOINT_LABEL} label`);
        break;
      case WAYPOINT_FOR_LABEL:
        if (!(WAYPOINT_TRAFFIC_TYPES as readonly string[]).includes(value)) {
          p.error(path, `unknown value ${JSON.stringify(value)} (accepted: ${WAYPOINT_TRAFFIC_TYPES.join(', ')})`);
        }
        break;
      case INGRESS_USE_WAYPOINT_LABEL:
        p.ignore(path, 'Ambit has no ingress gateway yet');
        break;
    }
  }
}
