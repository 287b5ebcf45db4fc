// The demo's L7 step: a waypoint for the demo namespace (what `ambit waypoint apply --enroll-namespace --wait` does),
// the tour's canary HTTPRoute (90/10 between echo's versions, retries on /flaky), real requests showing the split
// and the retries, the waypoint's own request metrics, then the waypoint removed again so the rest of the tour is L4.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kindByName, type KubeObject } from '../api/index.js';
import { isNotFound, type ApiClient } from '../controlplane/client/index.js';
import { GATEWAY_NAME_LABEL, PORT_HBONE, USE_WAYPOINT_LABEL, WAYPOINT_GATEWAY_CLASS } from '../lib/mesh-contract.js';
import { applyObjects, renderDemoManifest } from './demo-manifests.js';
import type { MeshDemoContext } from './demo-mesh.js';
import type { StepContext } from './demo-steps.js';
import { podNetnsOf, runInPod } from './demo-traffic.js';

const GATEWAY = kindByName('Gateway')!;
const NAMESPACE = kindByName('Namespace')!;
const POD = kindByName('Pod')!;
const WAYPOINT = 'waypoint';
/** The tour's canary route, relative to the repository. */
const CANARY_FILE = join('examples', 'demo', 'tour', 'canary.yaml');
const REQUESTS = 100;

/** A bash loop of curl calls inside the client pod: one line per answer (the echo's first words, or the HTTP code). */
function curlLoop(url: string, n: number): string[] {
  return ['bash', '-c', `for i in $(seq ${n}); do curl -s --max-time 3 -o /tmp/.ambit-demo-body -w '%{http_code} ' "$0"; head -c 8 /tmp/.ambit-demo-body; echo; done`, url];
}

/** Waits until Gateway `namespace/name` (a waypoint or an ingress gateway) is Programmed. */
export async function waitProgrammed(api: ApiClient, namespace: string, name: string, timeoutMs: number): Promise<KubeObject> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const gw = await api.get(GATEWAY, namespace, name);
    const programmed = (gw.status?.conditions ?? []).find((c) => c.type === 'Programmed');
    if (programmed?.status === 'True') return gw;
    if (Date.now() > deadline) throw new Error(`Gateway ${namespace}/${name} not programmed after ${timeoutMs / 1000} s: ${programmed ? `${programmed.reason}: ${programmed.message}` : 'no status yet'}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Step: deploy a waypoint, split traffic 90/10, retry a failing path, show the waypoint's metrics, remove it. */
export async function showWaypoint(s: StepContext, ctx: MeshDemoContext): Promise<void> {
  const { api, namespace } = ctx;
  await api.create({
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: WAYPOINT, namespace },
    spec: { gatewayClassName: WAYPOINT_GATEWAY_CLASS, listeners: [{ name: 'mesh', port: PORT_HBONE, protocol: 'HBONE' }] },
  });
  s.say(`waypoint ${namespace}/${WAYPOINT} applied`);
  const canaryFile = join(ctx.repoDir, CANARY_FILE);
  const canary = renderDemoManifest(readFileSync(canaryFile, 'utf8'), canaryFile, ctx.repoDir, ctx.nodeBinary);
  try {
    await waitProgrammed(api, namespace, WAYPOINT, 60_000);
    // Bound only once ready: a bound waypoint that is not ready refuses traffic.
    await api.patch(NAMESPACE, undefined, namespace, { metadata: { labels: { [USE_WAYPOINT_LABEL]: WAYPOINT } } });
    s.say(`namespace ${namespace} labeled with "${USE_WAYPOINT_LABEL}: ${WAYPOINT}"`);
    const wpPod = (await api.list(POD, { namespace })).items.find((p) => p.metadata.labels?.[GATEWAY_NAME_LABEL] === WAYPOINT);
    if (!wpPod) throw new Error('the waypoint is programmed but its pod is not listed');
    s.say(`pod/${wpPod.metadata.name} runs the waypoint (Programmed=True)`);
    for (const line of await applyObjects(api, canary)) s.say(line);
    // Wait until the route is in force: a response from v2 shows the split (10% of requests).
    const tally = async (): Promise<Map<string, number>> => {
      const r = await runInPod(ctx.clientNetns, curlLoop(ctx.echoUrl, REQUESTS), 60_000);
      if (!r.ok) throw new Error(`requests from the client failed: ${r.error}`);
      const counts = new Map<string, number>();
      for (const line of r.output.split('\n')) {
        const key = /^200 echo (v\d)/.exec(line)?.[1] ?? line.split(' ')[0] ?? '?';
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      return counts;
    };
    let counts = await tally();
    for (let i = 0; i < 10 && !((counts.get('v1') ?? 0) > (counts.get('v2') ?? 0) * 3); i++) counts = await tally();
    const v1 = counts.get('v1') ?? 0;
    const v2 = counts.get('v2') ?? 0;
    if (v1 + v2 !== REQUESTS) throw new Error(`not every request was answered: ${JSON.stringify(Object.fromEntries(counts))}`);
    if (v2 === 0 || v1 < v2 * 3) throw new Error(`the 90/10 route is not in force: v1 ${v1}, v2 ${v2}`);
    s.say(`${REQUESTS} requests to ${ctx.echoUrl}: v1 answered ${v1}, v2 answered ${v2} (route weights 90/10)`);
    const flaky = await runInPod(ctx.clientNetns, curlLoop(`${ctx.echoUrl.replace(/\/$/, '')}/flaky`, 20), 30_000);
    if (!flaky.ok) throw new Error(`requests to /flaky failed: ${flaky.error}`);
    const ok = flaky.output.split('\n').filter((l) => l.startsWith('200 ')).length;
    if (ok !== 20) throw new Error(`only ${ok} of 20 requests to /flaky succeeded: the retries did not hide the failures`);
    s.say(`20 requests to /flaky (echo fails every other one there): 20 answered 200 — the waypoint retried the 503s`);
    const metrics = await runInPod(await podNetnsOf(api, namespace, wpPod.metadata.name), ['curl', '-s', '--max-time', '3', 'localhost:15020/stats/prometheus'], 10_000);
    if (metrics.ok) {
      const total = metrics.output.split('\n')
        .filter((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="200"') && l.includes('/sa/client"'))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
      s.say(`istio_requests_total{reporter="waypoint", source_principal=".../sa/client", response_code="200"}: ${total}`);
    }
  } finally {
    for (const o of [...canary].reverse()) {
      const kind = kindByName(o.kind);
      if (kind) await api.delete(kind, o.metadata.namespace, o.metadata.name).catch((err: unknown) => { if (!isNotFound(err)) throw err; });
    }
    await api.patch(NAMESPACE, undefined, namespace, { metadata: { labels: { [USE_WAYPOINT_LABEL]: null } } });
    await api.delete(GATEWAY, namespace, WAYPOINT).catch((err: unknown) => { if (!isNotFound(err)) throw err; });
    s.say(`canary route and waypoint removed (ambit waypoint delete ${WAYPOINT} -n ${namespace}): the namespace is L4 only again`);
  }
}
