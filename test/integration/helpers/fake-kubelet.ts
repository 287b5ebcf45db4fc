// Stand-in for the sandbox's pod runner in loopback tests (no network namespaces there): marks the waypoint pod of a
// Gateway Running and gives its Service a ClusterIP, as the sandbox does, so the waypoint controller can program it.
import type { ApiClient } from '../../../src/controlplane/client/index.js';
import { kindByName, type KubeObject } from '../../../src/api/index.js';

const POD = kindByName('Pod')!;
const SERVICE = kindByName('Service')!;

/** Waits (bounded) for the controller's Pod and Service of waypoint `ns/name`, then plays the pod runner. */
export async function fakeRunWaypoint(api: ApiClient, ns: string, name: string, clusterIP: string, timeoutMs = 10_000): Promise<KubeObject> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pod = (await api.list(POD, { namespace: ns })).items.find((p) => p.metadata.labels?.['gateway.networking.k8s.io/gateway-name'] === name);
    const svc = await api.get(SERVICE, ns, name).catch(() => undefined);
    if (pod && svc) {
      await api.updateStatus({ ...pod, status: { phase: 'Running', podIP: '10.244.1.9', conditions: [{ type: 'Ready', status: 'True', reason: 'Started', message: '' }] } });
      await api.update({ ...svc, spec: { ...(svc.spec as object), clusterIP } });
      return pod;
    }
    if (Date.now() > deadline) throw new Error(`the waypoint controller made no Pod/Service for ${ns}/${name} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
