// Workload facts derived from labels and pod state: ambient enrolment (pod beats namespace, `none` opts out),
// canonical service name/revision, workload type/name, and health (ISTIO-API.md §1.1, PROTOCOLS.md §6.2).
import type { KubeObject } from '../../api/meta.js';
import type { WorkloadStatusName, WorkloadTypeName } from '../../lib/xds/workload-records.js';
import { labelsOf, recs, specOf, statusOf, str, type Json } from './index-reader.js';

/** Telemetry name: `service.istio.io/canonical-name` > `app.kubernetes.io/name` > `app` > the workload name. */
export function canonicalName(labels: Record<string, string>, workloadName: string): string {
  return labels['service.istio.io/canonical-name'] || labels['app.kubernetes.io/name'] || labels['app'] || workloadName;
}

/** Telemetry revision: `service.istio.io/canonical-revision` > `app.kubernetes.io/version` > `version` > `latest`. */
export function canonicalRevision(labels: Record<string, string>): string {
  return labels['service.istio.io/canonical-revision'] || labels['app.kubernetes.io/version'] || labels['version'] || 'latest';
}

/**
 * The controller a pod belongs to, from its first controller ownerReference: a ReplicaSet `<deploy>-<hash>` (with
 * the pod's `pod-template-hash` label) is a Deployment, a Job `<cron>-<digits>` is a CronJob, a Job is a Job;
 * anything else (including a bare pod) is the pod itself.
 */
export function podWorkloadKind(pod: KubeObject): { type: WorkloadTypeName; name: string } {
  const refs = Array.isArray(pod.metadata['ownerReferences']) ? (pod.metadata['ownerReferences'] as Json[]) : [];
  const owner = refs.find((r) => r['controller'] === true) ?? refs[0];
  const kind = str(owner, 'kind');
  const name = str(owner, 'name');
  if (kind === 'ReplicaSet' && name) {
    const hash = labelsOf(pod)['pod-template-hash'];
    if (hash && name.endsWith(`-${hash}`)) return { type: 'DEPLOYMENT', name: name.slice(0, -(hash.length + 1)) };
    return { type: 'POD', name: pod.metadata.name };
  }
  if (kind === 'Job' && name) {
    const cron = name.match(/^(.+)-\d{8,}$/);
    return cron ? { type: 'CRONJOB', name: cron[1]! } : { type: 'JOB', name };
  }
  return { type: 'POD', name: pod.metadata.name };
}

/** HEALTHY when Running, not terminating, and not reported unready. */
export function podHealth(pod: KubeObject): WorkloadStatusName {
  const status = statusOf(pod);
  if (str(status, 'phase') !== 'Running') return 'UNHEALTHY';
  if (pod.metadata['deletionTimestamp']) return 'UNHEALTHY';
  const ready = recs(status, 'conditions').find((c) => c['type'] === 'Ready');
  return ready && ready['status'] !== 'True' ? 'UNHEALTHY' : 'HEALTHY';
}

/** The pod's IPs (status.podIPs, else status.podIP). */
export function podIps(pod: KubeObject): string[] {
  const status = statusOf(pod);
  const ips = recs(status, 'podIPs').map((p) => str(p, 'ip')).filter((x): x is string => !!x);
  if (ips.length) return ips;
  const one = str(status, 'podIP');
  return one ? [one] : [];
}

/** Container port number for a named port (TCP), or undefined. */
export function namedContainerPort(pod: KubeObject, portName: string): number | undefined {
  for (const c of recs(specOf(pod), 'containers')) {
    for (const p of recs(c, 'ports')) {
      if (p['name'] === portName && (p['protocol'] === undefined || p['protocol'] === 'TCP') && typeof p['containerPort'] === 'number') return p['containerPort'];
    }
  }
  return undefined;
}

/** Parses `region/zone/subzone` (any suffix may be missing). */
export function parseLocality(text: string | undefined): { region?: string; zone?: string; subzone?: string } | undefined {
  if (!text) return undefined;
  const [region, zone, subzone] = text.split('/');
  const out: { region?: string; zone?: string; subzone?: string } = {};
  if (region) out.region = region;
  if (zone) out.zone = zone;
  if (subzone) out.subzone = subzone;
  return out;
}
