// The demo's edge steps. Egress: the tour's egress waypoint for api.example.test (the sandbox's outside world) —
// the app's plain HTTP leaves as TLS, POST is refused, and REGISTRY_ONLY refuses an unlisted host — then removed.
// Ingress: a gateway publishing the echo Service at https://shop.example.test, reached from this machine through
// the cluster's `--ingress-port`, with the echo's ztunnel showing the gateway's identity; left in place for the tour.
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { kindByName, type KubeObject } from '../api/index.js';
import { isNotFound } from '../controlplane/client/index.js';
import { createLocalCa } from '../lib/certs/local-ca.js';
import { formatSpiffeId } from '../lib/certs/spiffe-id.js';
import { x509 } from '../lib/certs/x509.js';
import { applyObjects, renderDemoManifest } from './demo-manifests.js';
import type { MeshDemoContext } from './demo-mesh.js';
import { StepNotShown, type StepContext } from './demo-steps.js';
import { runInPod } from './demo-traffic.js';
import { waitProgrammed } from './demo-waypoint.js';

const TOUR = join('examples', 'demo', 'tour');
/** The host's port the demo asks `cluster create` to carry to the ingress gateway's 443. */
export const DEMO_INGRESS_PORT = 8443;
const SHOP_HOST = 'shop.example.test';
/** Where the demo writes the CA of the ingress certificate (for the tour's curl --cacert). */
export const DEMO_INGRESS_CA_FILE = 'demo-ingress-ca.crt';

function tourObjects(ctx: MeshDemoContext, file: string): KubeObject[] {
  const path = join(ctx.repoDir, TOUR, file);
  return renderDemoManifest(readFileSync(path, 'utf8'), path, ctx.repoDir, ctx.nodeBinary);
}

async function deleteObjects(ctx: MeshDemoContext, objects: readonly KubeObject[]): Promise<void> {
  for (const o of [...objects].reverse()) {
    const kind = kindByName(o.kind);
    if (kind && o.kind !== 'Namespace') await ctx.api.delete(kind, o.metadata.namespace, o.metadata.name).catch((err: unknown) => { if (!isNotFound(err)) throw err; });
  }
}

/** One curl from the client pod: `{code, body}` (code 0 when no HTTP answer came). */
async function curlFromClient(ctx: MeshDemoContext, url: string, ...args: string[]): Promise<{ code: number; body: string }> {
  const r = await runInPod(ctx.clientNetns, ['curl', '-s', '--max-time', '5', '-w', '\n%{http_code}', ...args, url], 10_000);
  const out = r.ok ? r.output : '';
  const lines = out.split('\n');
  return { code: Number(lines.pop() ?? 0) || 0, body: lines.join('\n') };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Step: egress through an egress waypoint (TLS origination, a DENY on POST), then REGISTRY_ONLY. */
export async function showEgress(s: StepContext, ctx: MeshDemoContext): Promise<void> {
  const egress = tourObjects(ctx, 'egress.yaml');
  const registryOnly = tourObjects(ctx, 'registry-only.yaml');
  try {
    for (const line of await applyObjects(ctx.api, egress)) s.say(line);
    await waitProgrammed(ctx.api, 'egress', 'egress-waypoint', 60_000);
    s.say('waypoint egress/egress-waypoint programmed; ServiceEntry api.example.test uses it');
    const seen = await until('the outside host sees TLS from the egress waypoint', async () => {
      const r = await curlFromClient(ctx, 'http://api.example.test/hello');
      const echo = r.code === 200 && r.body.startsWith('{') ? JSON.parse(r.body) as { tls?: boolean; sni?: string; method?: string; path?: string } : undefined;
      return echo?.tls ? echo : undefined;
    }, 45_000);
    s.say(`client -> http://api.example.test/hello (plain HTTP): the outside host saw ${seen.method} ${seen.path} over TLS, SNI ${seen.sni}`);
    const post = await curlFromClient(ctx, 'http://api.example.test/orders', '-X', 'POST', '-d', 'item=1');
    if (post.code !== 403) throw new Error(`POST was not refused: HTTP ${post.code} ${post.body}`);
    s.say(`client -> POST http://api.example.test/orders: ${post.code} ${post.body} (AuthorizationPolicy api-no-post)`);
    const before = await curlFromClient(ctx, 'http://unlisted.example.test/');
    s.say(`client -> http://unlisted.example.test/ (in no ServiceEntry): HTTP ${before.code} — ALLOW_ANY lets it out`);
    for (const line of await applyObjects(ctx.api, registryOnly)) s.say(line);
    await until('REGISTRY_ONLY reaches ztunnel', async () => ((await curlFromClient(ctx, 'http://unlisted.example.test/')).code === 0 ? true : undefined), 30_000);
    s.say('client -> http://unlisted.example.test/ with outboundTrafficPolicy REGISTRY_ONLY: refused by ztunnel (no HTTP answer)');
    const listed = await curlFromClient(ctx, 'http://api.example.test/still-allowed');
    if (listed.code !== 200) throw new Error(`the listed host stopped working under REGISTRY_ONLY: HTTP ${listed.code}`);
    s.say('client -> http://api.example.test/still-allowed: 200 — the ServiceEntry keeps it reachable');
  } finally {
    await deleteObjects(ctx, registryOnly);
    await deleteObjects(ctx, egress);
    s.say('egress objects and the mesh config removed (outbound traffic policy back to ALLOW_ANY)');
  }
}

/** Step: an ingress gateway for the echo Service, called over HTTPS from this machine. */
export async function showIngress(s: StepContext, ctx: MeshDemoContext, o: { dataDir: string; hostPort?: number }): Promise<void> {
  if (o.hostPort === undefined) {
    throw new StepNotShown(`the cluster has no --ingress-port mapping for port 443 (it was created without one, or port ${DEMO_INGRESS_PORT} was busy); recreate it with ambit cluster create --ingress-port ${DEMO_INGRESS_PORT}:443`);
  }
  const ca = await createLocalCa('ambit-demo-ingress-ca');
  const serving = await ca.issue(`CN=${SHOP_HOST}`, x509.ExtendedKeyUsage.serverAuth, [{ type: 'dns', value: SHOP_HOST }]);
  const caFile = join(o.dataDir, DEMO_INGRESS_CA_FILE);
  writeFileSync(caFile, ca.certPem, { mode: 0o644 });
  const secret = {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 'shop-cert', namespace: ctx.namespace }, type: 'kubernetes.io/tls',
    stringData: { 'tls.crt': serving.certPem, 'tls.key': serving.keyPem },
  } as KubeObject;
  for (const line of await applyObjects(ctx.api, [secret, ...tourObjects(ctx, 'ingress.yaml')])) s.say(line);
  const gw = await waitProgrammed(ctx.api, ctx.namespace, 'public', 60_000);
  s.say(`Gateway ${ctx.namespace}/public programmed (${(gw.status?.conditions ?? []).find((c) => c.type === 'Programmed')?.message ?? ''})`);
  const url = `https://${SHOP_HOST}:${o.hostPort}/`;
  const body = await until(`${url} answers`, () => new Promise<string | undefined>((resolve) => {
    const req = https.request({ host: '127.0.0.1', port: o.hostPort, path: '/', servername: SHOP_HOST, headers: { host: SHOP_HOST }, ca: ca.certPem, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(res.statusCode === 200 ? text.trim() : undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  }), 45_000);
  s.say(`this machine -> ${url} (127.0.0.1:${o.hostPort}, SNI ${SHOP_HOST}): ${body.split('\n')[0]}`);
  // The echo's ztunnel took that request over HBONE from the gateway, which presented its own identity.
  const gatewayId = formatSpiffeId({ trustDomain: ctx.trustDomain, namespace: ctx.namespace, serviceAccount: 'public' });
  // ztunnel logs a connection when it closes: the gateway's idle upstream connection goes after 4 s.
  const logged = () => ctx.layout.nodes.some((n) => {
    try {
      return readFileSync(join(o.dataDir, 'logs', `ztunnel-${n.name}.log`), 'utf8').split('\n')
        .some((l) => l.includes('"direction":"inbound"') && l.includes(`"src.identity":"${gatewayId}"`));
    } catch {
      return false;
    }
  });
  await until('the echo\'s ztunnel logs the gateway\'s connection', async () => (logged() ? true : undefined), 15_000);
  s.say(`echo's ztunnel: inbound HBONE from ${gatewayId} (the gateway's own identity)`);
  s.say(`try it: curl --resolve ${SHOP_HOST}:${o.hostPort}:127.0.0.1 --cacert ${caFile} ${url}`);
}
