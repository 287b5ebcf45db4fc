// Which pods on a node the agent captures: ambient enrolment by label (pod wins over namespace), minus exemptions.
import { type KubeObject } from '../api/index.js';
import { POD_NETNS_ANNOTATION, REDIRECTION_ANNOTATION, isCaptureCandidate } from '../lib/mesh-contract.js';

export type RedirectionState = 'enabled' | 'pending';

/** The facts the agent acts on for one pod of its node, or why it is left alone. */
export interface PodView {
  uid: string;
  namespace: string;
  name: string;
  serviceAccount: string;
  /** Named netns, or undefined when the pod has none yet. */
  netns: string | undefined;
  enrolled: boolean;
  /** Current value of the redirection annotation. */
  redirection: string | undefined;
}

/**
 * Enrolment as Istio decides it: the pod's `istio.io/dataplane-mode` label if set (`ambient` or `none`),
 * else its namespace's; waypoint pods and pods that are finished, terminating or without an IP are not captured.
 */
export function isEnrolled(pod: KubeObject, namespace: KubeObject | undefined): boolean {
  if (pod.metadata.deletionTimestamp) return false;
  const status = (pod.status ?? {}) as { phase?: string; podIP?: string };
  if (status.phase === 'Succeeded' || status.phase === 'Failed' || !status.podIP) return false;
  return isCaptureCandidate(pod.metadata.labels ?? {}, namespace?.metadata.labels);
}

/** The agent's view of a pod scheduled on `nodeName`, or undefined when it runs elsewhere or has no uid. */
export function viewPod(pod: KubeObject, namespace: KubeObject | undefined, nodeName: string): PodView | undefined {
  const spec = (pod.spec ?? {}) as { nodeName?: string; serviceAccountName?: string };
  if (spec.nodeName !== nodeName || !pod.metadata.uid) return undefined;
  const annotations = pod.metadata.annotations ?? {};
  return {
    uid: pod.metadata.uid,
    namespace: pod.metadata.namespace ?? 'default',
    name: pod.metadata.name,
    serviceAccount: spec.serviceAccountName || 'default',
    netns: annotations[POD_NETNS_ANNOTATION] || undefined,
    enrolled: isEnrolled(pod, namespace),
    redirection: annotations[REDIRECTION_ANNOTATION],
  };
}
