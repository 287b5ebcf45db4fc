// e2e (root): the mesh dashboard in a real headless Chromium (Debian's, through playwright-core) against a sandbox
// running the demo apps, with assertions on the page's DOM:
// 1. the graph shows client → echo with a non-zero rate and a lock (mutual TLS); a namespace that is not enrolled
//    (`legacy`, whose pod also calls echo: a plaintext edge to the echo pod it reached) shows as plaintext, chip and edge;
// 2. the certificate view lists each enrolled identity with its expiry; the validation page lists an ignored field;
// 3. a DENY AuthorizationPolicy makes a denied row naming the policy appear in the live decisions table within 5 s;
// 4. the same graph with `ambit dashboard --prometheus` against a real Prometheus (Debian's) that the test starts in
//    the cluster's fabric netns with the scrape config `ambit dashboard --scrape-config` prints.
// The screenshots of the graph and of the live table land in docs/screenshots/ (the README shows them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { spawnIn } from '../../src/platform/index.js';
import { SandboxFixture } from '../../src/sandbox/testing/sandbox-fixture.js';
import { launchChromium } from '../../src/sandbox/testing/headless-chromium.js';
import { DEMO_NAMESPACE, loadDemoObjects, repositoryRoot } from '../../src/sandbox/demo-manifests.js';

const NS = DEMO_NAMESPACE;
const LEGACY = 'legacy';
const SCREENSHOTS = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url));
const PROMETHEUS_PORT = 19090;

/** Starts a child in its own process group (so the whole tree can be stopped) and stops it after the test. */
function background(t: { after(fn: () => void | Promise<void>): void }, child: ChildProcess): ChildProcess {
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
  });
  return child;
}

/** `ambit dashboard --port 0 --no-browser …`: resolves with the URL and what it printed before it. */
function startDashboardCli(t: { after(fn: () => void): void }, fx: SandboxFixture, extra: string[] = []): Promise<{ url: string; out: string }> {
  const child = background(t, spawn(process.execPath, [fx.mainScript, '--data-dir', fx.dataDir, 'dashboard', '--port', '0', '--no-browser', ...extra], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /Dashboard: (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, out });
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.once('exit', (code) => reject(new Error(`ambit dashboard exited (${code}): ${err}${out}`)));
    setTimeout(() => reject(new Error(`ambit dashboard printed no URL in 20 s: ${out}${err}`)), 20_000).unref();
  });
}

/** The traffic row client → echo once it is mTLS with a rate above zero; its text. */
async function waitForClientEchoEdge(page: Page, timeoutMs: number): Promise<string> {
  const row = page.locator('#edges tbody tr[data-source="client"][data-target="echo"][data-security="mtls"]');
  await row.first().waitFor({ timeout: timeoutMs });
  await page.waitForFunction(`(() => {
    const r = document.querySelector('#edges tbody tr[data-source="client"][data-target="echo"]');
    return !!r && Number(r.dataset.connectionRate || 0) + Number(r.dataset.requestRate || 0) > 0;
  })()`, undefined, { timeout: timeoutMs });
  assert.equal(await row.locator('svg.lock').count(), 1, 'the client → echo row carries the lock');
  return row.innerText();
}

test('dashboard in Chromium: graph with mTLS lock and plaintext namespace, certificates, live DENY within 5 s, Prometheus mode', { timeout: 420_000 }, async (t) => {
  const fx = await SandboxFixture.create(t, 2);
  const demo = loadDemoObjects(repositoryRoot(), process.execPath).map((o) =>
    o.kind === 'Namespace' && o.metadata.name === NS ? { ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, 'istio.io/dataplane-mode': 'ambient' } } } : o);
  await fx.apply([
    ...demo,
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: LEGACY } },
    // Valid but not acted on: the validation page lists it.
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'legacy-sa', namespace: LEGACY }, automountServiceAccountToken: false },
    {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'legacy-client', namespace: LEGACY, labels: { app: 'legacy-client' } },
      spec: { nodeName: 'node1', containers: [{ name: 'app', command: ['sh', '-c', `while :; do curl -s -m 2 -o /dev/null http://echo.${NS}:80/; sleep 1; done`] }] },
    },
  ]);
  for (const p of ['client', 'echo-v1', 'echo-v2']) await fx.running(NS, p);
  await fx.running(LEGACY, 'legacy-client');
  // client → echo all along (one curl every 0.3 s), as a user exploring the dashboard would have.
  background(t, spawn(process.execPath, [fx.mainScript, '--data-dir', fx.dataDir, 'exec', 'client', '-n', NS, '--',
    'sh', '-c', 'while :; do curl -s -m 2 -o /dev/null http://echo/; sleep 0.3; done'], { detached: true, stdio: 'ignore' }));

  const { url } = await startDashboardCli(t, fx);
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(url);

  // 1. The graph: client → echo, mTLS, rate > 0; legacy is plaintext (its chip and its edge into echo).
  const edgeText = await waitForClientEchoEdge(page, 60_000);
  assert.match(edgeText, /mTLS/);
  const legacyChip = page.locator('#namespaces [data-namespace="legacy"]');
  await legacyChip.waitFor({ timeout: 20_000 });
  assert.equal(await legacyChip.getAttribute('data-enrolled'), 'false');
  assert.match(await legacyChip.innerText(), /plaintext/);
  assert.equal(await page.locator(`#namespaces [data-namespace="${NS}"]`).getAttribute('data-enrolled'), 'true');
  await page.locator('#edges tbody tr[data-source="legacy-client"][data-target^="echo"][data-security="plaintext"]').first().waitFor({ timeout: 60_000 });
  // A node's details (clicking its name in the traffic table selects it, as clicking it in the graph does).
  await page.click('#edges tbody tr[data-source="client"][data-target="echo"] td[data-node]');
  const details = page.locator('#details');
  await details.locator('h3[data-node="wl:ambit-demo/client"]').waitFor({ timeout: 5000 });
  const detailText = await details.innerText();
  assert.match(detailText, /spiffe:\/\/cluster\.local\/ns\/ambit-demo\/sa\/client/);
  assert.match(detailText, /certificateExpiry\s+\d{4}-\d\d-\d\dT/);
  assert.match(detailText, /namespace ambit-demo label istio\.io\/dataplane-mode=ambient/);
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-graph.png') });

  // 2. Certificates: every enrolled demo identity with a future expiry.
  await page.click('nav button[data-tab="security"]');
  for (const sa of ['client', 'echo', 'tcp-echo', 'server-first']) {
    const row = page.locator(`#sec-certs tbody tr[data-identity="spiffe://cluster.local/ns/${NS}/sa/${sa}"]`).first();
    await row.waitFor({ timeout: 20_000 });
    const notAfter = Date.parse((await row.locator('td[data-not-after]').getAttribute('data-not-after'))!);
    assert.ok(notAfter > Date.now(), `the ${sa} certificate expires in the future (${notAfter})`);
  }
  const legacyPod = page.locator(`#sec-pods tbody tr[data-pod="${LEGACY}/legacy-client"]`);
  assert.equal(await legacyPod.getAttribute('data-enrolled'), 'false');
  assert.match(await legacyPod.innerText(), /no istio\.io\/dataplane-mode label/);

  // 3. Live decisions: a DENY policy's refusals appear, naming it, within 5 s of the apply.
  await page.click('nav button[data-tab="live"]');
  await page.locator('#decisions tbody tr[data-verdict="allowed"]').first().waitFor({ timeout: 20_000 });
  await fx.apply([{
    apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'deny-client', namespace: NS },
    spec: { selector: { matchLabels: { app: 'echo' } }, action: 'DENY', rules: [{ from: [{ source: { principals: [`cluster.local/ns/${NS}/sa/client`] } }] }] },
  }]);
  const applied = Date.now();
  await page.locator(`#decisions tbody tr[data-verdict="denied"][data-policy="${NS}/deny-client"]`).first().waitFor({ timeout: 5000 });
  const seenAfterMs = Date.now() - applied;
  assert.ok(seenAfterMs <= 5000, `denied row after ${seenAfterMs} ms`);
  t.diagnostic(`the denied row appeared ${seenAfterMs} ms after the policy was applied`);
  assert.match(await page.locator(`#decisions tbody tr[data-verdict="denied"][data-policy="${NS}/deny-client"]`).first().innerText(), /denied by ambit-demo\/deny-client/);
  // Filtering by verdict shows only denials.
  await page.selectOption('#live-filter select[name="verdict"]', 'denied');
  await page.waitForFunction(`(() => {
    const rows = [...document.querySelectorAll('#decisions tbody tr[data-verdict]')];
    return rows.length > 0 && rows.every((r) => r.dataset.verdict === 'denied');
  })()`, undefined, { timeout: 5000 });
  await page.selectOption('#live-filter select[name="verdict"]', '');
  await page.waitForTimeout(1200);
  await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-live.png') });
  await fx.cli(['delete', 'authorizationpolicy', 'deny-client', '-n', NS]);

  // Config validation: the ignored field, named with its reason.
  await page.click('nav button[data-tab="validation"]');
  const ignored = page.locator(`#validation tbody tr[data-object="ServiceAccount/${LEGACY}/legacy-sa"]`);
  await ignored.waitFor({ timeout: 10_000 });
  assert.match(await ignored.innerText(), /FieldsIgnored[\s\S]*automountServiceAccountToken: no service account token is mounted/);

  // 4. The same graph from a real Prometheus, scraping with the config `ambit dashboard --scrape-config` prints.
  const promDir = mkdtempSync(join(tmpdir(), 'ambit-prometheus-'));
  const scrapeConfig = (await fx.cli(['dashboard', '--scrape-config'])).stdout;
  writeFileSync(join(promDir, 'prometheus.yml'), scrapeConfig);
  const promLog: string[] = [];
  const prom = background(t, spawnIn(`${fx.name}.fabric`, ['prometheus', `--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`,
    `--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}`], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] }));
  prom.stderr!.setEncoding('utf8').on('data', (c: string) => promLog.push(c));
  // A second `ambit dashboard`, now with --prometheus: the control plane's source changes for every viewer.
  const switched = await startDashboardCli(t, fx, ['--prometheus', `http://127.0.0.1:${PROMETHEUS_PORT}`]);
  assert.match(switched.out, /metrics source: prometheus http:\/\/127\.0\.0\.1:19090/);
  await page.click('nav button[data-tab="graph"]');
  await page.waitForFunction(`/metrics: prometheus/.test(document.getElementById('status')?.textContent ?? '')`, undefined, { timeout: 10_000 });
  try {
    const promEdge = await waitForClientEchoEdge(page, 90_000);
    assert.match(promEdge, /mTLS/);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nprometheus log:\n${promLog.join('').slice(-3000)}`);
  }
  await page.locator('#edges tbody tr[data-source="legacy-client"][data-target^="echo"][data-security="plaintext"]').first().waitFor({ timeout: 30_000 });
  assert.deepEqual(pageErrors, [], 'the page threw no errors');
});
