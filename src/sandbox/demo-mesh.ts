// The demo steps that need a running ztunnel on the nodes: ztunnel takes the enrolled pods, certificates per
// identity, mTLS seen in ztunnel's metrics, a DENY policy refusing the client. Each reads ztunnel's admin
// (/config_dump on localhost:15000) and Prometheus (:15020) endpoints inside the node netns (PROTOCOLS.md §9) and
// reports "not shown" — never a pass — when no ztunnel answers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kindByName, type KubeObject } from '../api/index.js';
import { isNotFound, type ApiClient } from '../controlplane/client/index.js';
import { describeError } from '../lib/errors.js';
import type { ClusterLayout } from './cluster-layout.js';
import { applyObjects, renderDemoManifest } from './demo-manifests.js';
import { StepNotShown, type StepContext } from './demo-steps.js';
import { curlArgv, retryProbe, retryUntilRefused, runInPod, type ProbeResult } from './demo-traffic.js';
import { certificateRows, fetchConfigDump, fetchMetrics, parsePrometheus, sumMetric, type ZtunnelConfigDump } from './demo-ztunnel.js';
import { REDIRECTION_ANNOTATION } from '../lib/mesh-contract.js';
import { formatSpiffeId } from '../lib/certs/spiffe-id.js';

const POD = kindByName('Pod')!;
const AUTHZ = kindByName('AuthorizationPolicy')!;
/** The tour's deny policy, relative to the repository. */
const DENY_POLICY_FILE = join('examples', 'demo', 'tour', 'deny-client.yaml');

export interface MeshDemoContext {
  api: ApiClient;
  layout: ClusterLayout;
  namespace: string;
  repoDir: string;
  nodeBinary: string;
  /** The client pod's netns. */
  clientNetns: string;
  /** The URL the client calls (the echo Service). */
  echoUrl: string;
  trustDomain: string;
}

/** What answered on each node: its config dump, or why nothing did. */
type ZtunnelScan = Map<string, { dump?: ZtunnelConfigDump; error?: string }>;

export async function scanZtunnels(layout: ClusterLayout): Promise<ZtunnelScan> {
  const out: ZtunnelScan = new Map();
  for (const node of layout.nodes) {
    try {
      out.set(node.name, { dump: await fetchConfigDump(node.netns) });
    } catch (err) {
      out.set(node.name, { error: describeError(err) });
    }
  }
  return out;
}

/** The "not shown" reason when no node's ztunnel answered, else undefined. */
function missingZtunnelReason(scan: ZtunnelScan): string | undefined {
  const up = [...scan.values()].filter((z) => z.dump).length;
  if (up > 0) return undefined;
  const first = [...scan.entries()][0];
  return `no ztunnel answers on any node (${first ? `${first[0]}: ${first[1].error}` : 'no nodes'}); ztunnel is not running in this sandbox yet`;
}

function requireZtunnel(scan: ZtunnelScan): void {
  const why = missingZtunnelReason(scan);
  if (why) throw new StepNotShown(why);
}

async function demoPods(ctx: MeshDemoContext): Promise<KubeObject[]> {
  return (await ctx.api.list(POD, { namespace: ctx.namespace })).items;
}

/**
 * Step: every enrolled pod is taken by its node's ztunnel (the node agent's annotation turns `enabled` once
 * ztunnel acknowledged it). Without ztunnel: not shown, with what a connection from the client does now.
 */
export async function showZtunnelTakesPods(s: StepContext, ctx: MeshDemoContext, scan: ZtunnelScan): Promise<void> {
  const why = missingZtunnelReason(scan);
  if (why) {
    // Say what the captured client sees right now: real output, so the newcomer knows the state they are in.
    const now = await runInPod(ctx.clientNetns, curlArgv(ctx.echoUrl));
    s.say(`client -> ${ctx.echoUrl} now: ${now.ok ? now.output : `refused (${now.error})`}`);
    throw new StepNotShown(`${why}. Enrolled pods are captured and fail closed: their connections are refused until ztunnel runs`);
  }
  const deadline = Date.now() + 20_000;
  for (;;) {
    const pods = await demoPods(ctx);
    const waiting = pods.filter((p) => p.metadata.annotations?.[REDIRECTION_ANNOTATION] !== 'enabled');
    if (!waiting.length) {
      for (const p of pods) s.say(`${p.metadata.name.padEnd(14)} ${REDIRECTION_ANNOTATION}=enabled  (node ${String((p.spec as { nodeName?: string }).nodeName)})`);
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`ztunnel did not take ${waiting.map((p) => `${p.metadata.name} (${p.metadata.annotations?.[REDIRECTION_ANNOTATION] ?? 'no annotation'})`).join(', ')} within 20 s`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Step: each demo pod's node ztunnel holds an Available certificate for the pod's SPIFFE identity. */
export async function showCertificates(s: StepContext, ctx: MeshDemoContext, scan: ZtunnelScan): Promise<void> {
  requireZtunnel(scan);
  const identityOf = (serviceAccount: string): string => formatSpiffeId({ trustDomain: ctx.trustDomain, namespace: ctx.namespace, serviceAccount });
  const missing: string[] = [];
  const deadline = Date.now() + 15_000;
  for (;;) {
    missing.length = 0;
    const rows: string[] = [];
    const fresh = await scanZtunnels(ctx.layout);
    for (const pod of await demoPods(ctx)) {
      const node = (pod.spec as { nodeName?: string }).nodeName ?? '';
      const identity = identityOf((pod.spec as { serviceAccountName?: string }).serviceAccountName || 'default');
      const dump = fresh.get(node)?.dump;
      const row = dump ? certificateRows(dump, (id) => id === identity)[0] : undefined;
      if (!row || row.state !== 'Available') missing.push(`${pod.metadata.name} on ${node}: ${row ? row.state : 'no certificate'} for ${identity}`);
      else rows.push(`${node.padEnd(6)} ${row.identity.padEnd(52)} ${row.state.padEnd(10)} serial ${row.serial} valid until ${row.notAfter}`);
    }
    if (!missing.length) {
      for (const r of [...new Set(rows)]) s.say(r);
      return;
    }
    if (Date.now() > deadline) throw new Error(`certificates missing: ${missing.join('; ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const OPENED = 'istio_tcp_connections_opened_total';

async function mtlsOpenedCount(ctx: MeshDemoContext, nodes: readonly string[]): Promise<number> {
  let total = 0;
  for (const n of ctx.layout.nodes.filter((x) => nodes.includes(x.name))) {
    const samples = parsePrometheus(await fetchMetrics(n.netns));
    total += sumMetric(samples, OPENED, {
      reporter: 'destination',
      source_principal: formatSpiffeId({ trustDomain: ctx.trustDomain, namespace: ctx.namespace, serviceAccount: 'client' }),
      connection_security_policy: 'mutual_tls',
    });
  }
  return total;
}

/** Step: the client's request arrives over mTLS with its identity, as the destination ztunnel's metrics count it. */
export async function showMtlsTraffic(s: StepContext, ctx: MeshDemoContext, scan: ZtunnelScan): Promise<void> {
  requireZtunnel(scan);
  const echoNodes = [...new Set((await demoPods(ctx)).filter((p) => p.metadata.labels?.['app'] === 'echo').map((p) => String((p.spec as { nodeName?: string }).nodeName)))];
  const before = await mtlsOpenedCount(ctx, echoNodes);
  const r = await retryProbe(() => runInPod(ctx.clientNetns, curlArgv(ctx.echoUrl)), 10_000);
  if (!r.ok) throw new Error(`client -> ${ctx.echoUrl} through the mesh failed: ${r.error}`);
  s.say(`client -> ${ctx.echoUrl}: ${r.output}`);
  const deadline = Date.now() + 5000;
  let after = before;
  while (after <= before && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 200));
    after = await mtlsOpenedCount(ctx, echoNodes);
  }
  if (after <= before) throw new Error(`${OPENED}{reporter="destination",connection_security_policy="mutual_tls",source_principal=".../sa/client"} did not grow on ${echoNodes.join(', ')}`);
  s.say(`${OPENED}{reporter="destination", source_principal="${formatSpiffeId({ trustDomain: ctx.trustDomain, namespace: ctx.namespace, serviceAccount: 'client' })}", connection_security_policy="mutual_tls"}: ${before} -> ${after}`);
}

/** Step: a DENY policy for the client's identity makes the request fail; removing it makes it work again. */
export async function showDenyPolicy(s: StepContext, ctx: MeshDemoContext, scan: ZtunnelScan): Promise<void> {
  requireZtunnel(scan);
  const file = join(ctx.repoDir, DENY_POLICY_FILE);
  const objects = renderDemoManifest(readFileSync(file, 'utf8'), file, ctx.repoDir, ctx.nodeBinary);
  const call = (): Promise<ProbeResult> => runInPod(ctx.clientNetns, curlArgv(ctx.echoUrl));
  try {
    for (const line of await applyObjects(ctx.api, objects)) s.say(line);
    const denied = await retryUntilRefused(call, 10_000);
    if (denied.ok) throw new Error(`the client still reached echo 10 s after the DENY policy was applied: ${denied.output}`);
    s.say(`client -> ${ctx.echoUrl}: refused (${denied.error})`);
  } finally {
    for (const o of objects) {
      await ctx.api.delete(AUTHZ, o.metadata.namespace, o.metadata.name).then(
        () => s.say(`authorizationpolicy.security.istio.io/${o.metadata.name} deleted`),
        (err) => { if (!isNotFound(err)) throw err; },
      );
    }
  }
  const back = await retryProbe(call, 10_000);
  if (!back.ok) throw new Error(`the client could not reach echo again after the policy was deleted: ${back.error}`);
  s.say(`client -> ${ctx.echoUrl} after deleting it: ${back.output}`);
}
