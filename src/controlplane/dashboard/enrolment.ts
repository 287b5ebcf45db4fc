// Whether a pod is in the ambient mesh and why, in the words the dashboard shows (the rule itself is
// lib/mesh-contract's isAmbientEnrolled: pod label beats namespace label, `none` opts out).
import type { KubeObject } from '../../api/meta.js';
import { DATAPLANE_MODE_LABEL, REDIRECTION_ANNOTATION, WAYPOINT_MANAGED_LABEL, isAmbientEnrolled } from '../../lib/mesh-contract.js';
import { labelsOf } from './mesh-snapshot.js';

interface Enrolment {
  enrolled: boolean;
  why: string;
  /** The node agent's capture state (the redirection annotation), for enrolled pods. */
  capture?: string;
}

export function podEnrolment(pod: KubeObject, namespace: KubeObject | undefined): Enrolment {
  const labels = labelsOf(pod);
  const nsName = pod.metadata.namespace ?? 'default';
  if (labels[WAYPOINT_MANAGED_LABEL] !== undefined) return { enrolled: false, why: 'a waypoint or gateway proxy: it speaks HBONE itself and is never captured' };
  if ((pod.spec as { hostNetwork?: boolean } | undefined)?.hostNetwork) return { enrolled: false, why: 'host network: it shares the node\'s network stack, which is never captured' };
  const own = labels[DATAPLANE_MODE_LABEL];
  const nsMode = labelsOf(namespace)[DATAPLANE_MODE_LABEL];
  const enrolled = isAmbientEnrolled(labels, labelsOf(namespace));
  const why = own !== undefined
    ? `pod label ${DATAPLANE_MODE_LABEL}=${own}`
    : nsMode !== undefined
      ? `namespace ${nsName} label ${DATAPLANE_MODE_LABEL}=${nsMode}`
      : `no ${DATAPLANE_MODE_LABEL} label on the pod or namespace ${nsName}`;
  const capture = enrolled ? (pod.metadata.annotations?.[REDIRECTION_ANNOTATION] ?? 'pending (the node agent has not captured it yet)') : undefined;
  return { enrolled, why, ...(capture ? { capture } : {}) };
}

/** A namespace is shown enrolled when its label says ambient (pods may still opt out one by one). */
export function namespaceEnrolment(ns: KubeObject): Enrolment {
  const mode = labelsOf(ns)[DATAPLANE_MODE_LABEL];
  return mode === 'ambient'
    ? { enrolled: true, why: `label ${DATAPLANE_MODE_LABEL}=ambient` }
    : { enrolled: false, why: mode ? `label ${DATAPLANE_MODE_LABEL}=${mode}` : `no ${DATAPLANE_MODE_LABEL} label: its pods talk plaintext unless a pod enrols itself` };
}
