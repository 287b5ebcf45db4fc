// The dashboard page: four tabs over the control plane's read-only API. The graph refreshes every 2 s, the live
// decisions every second (asking only for what is newer than the last row), the others when their tab opens.
import { getJson, type Decision, type MeshGraph, type SecurityView, type ValidationEntry } from './api.js';
import { duration, el, fillTable, securityBadge } from './dom.js';
import { GraphView } from './graph-view.js';

const GRAPH_REFRESH_MS = 2000;
const LIVE_REFRESH_MS = 1000;
const MAX_LIVE_ROWS = 500;

const graph = new GraphView(document.getElementById('graph')!);
let activeTab = 'graph';
const status = document.getElementById('status')!;

function setStatus(text: string): void {
  status.textContent = text;
}

async function refreshGraph(): Promise<void> {
  const fetched = performance.now();
  const g = await getJson<MeshGraph>('/api/graph', document.body.dataset.graphRefreshes === undefined);
  const fetchMs = performance.now() - fetched;
  const renderMs = graph.update(g);
  // Read by bench/dashboard: how long the last refresh took, fetch and render apart.
  document.body.dataset.graphFetchMs = fetchMs.toFixed(1);
  document.body.dataset.graphRenderMs = renderMs.toFixed(1);
  document.body.dataset.graphGeneratedAt = g.generatedAt;
  document.body.dataset.graphRefreshes = String(Number(document.body.dataset.graphRefreshes ?? 0) + 1);
  // Time from navigation start to the first graph on screen (the page-load figure bench/dashboard reports): two
  // animation frames after the update, so Cytoscape's first paint is counted too.
  if (document.body.dataset.firstGraphMs === undefined) {
    requestAnimationFrame(() => requestAnimationFrame(() => {
      document.body.dataset.firstGraphMs ??= performance.now().toFixed(1);
    }));
  }
  setStatus(`metrics: ${g.metricsSource} · ${new Date(g.generatedAt).toLocaleTimeString()}${g.metricsError ? ' · metrics unavailable' : ''}`);
}

async function refreshSecurity(): Promise<void> {
  const s = await getJson<SecurityView>('/api/security');
  const yes = (v: boolean) => el('span', { class: v ? 'yes' : 'no' }, v ? 'enrolled' : 'not enrolled');
  fillTable('sec-namespaces', s.namespaces.map((n) => el('tr', { 'data-namespace': n.name, 'data-enrolled': String(n.enrolled) },
    el('td', {}, n.name), el('td', {}, yes(n.enrolled)), el('td', {}, n.why))), 'no namespaces');
  fillTable('sec-pods', s.pods.map((p) => el('tr', { 'data-pod': `${p.namespace}/${p.name}`, 'data-enrolled': String(p.enrolled) },
    el('td', {}, `${p.namespace}/${p.name}`), el('td', {}, p.node), el('td', {}, yes(p.enrolled)), el('td', {}, p.why), el('td', {}, p.capture ?? '–'),
    el('td', {}, `${p.mtls.mode} (${p.mtls.from})`), el('td', {}, p.identity))), 'no pods');
  fillTable('sec-certs', s.certificates.map((c) => el('tr', { 'data-identity': c.identity, 'data-holder': c.holder },
    el('td', {}, c.holder), el('td', {}, c.identity), el('td', { 'data-not-after': c.notAfter }, new Date(c.notAfter).toLocaleString()),
    el('td', { class: c.expiresInSeconds < 3600 ? 'no' : '' }, duration(c.expiresInSeconds)))), 'no certificates issued since the control plane started');
  fillTable('sec-policies', s.authorizationPolicies.map((p) => el('tr', { 'data-policy': `${p.namespace}/${p.name}` },
    el('td', {}, `${p.namespace}/${p.name}`), el('td', {}, p.action), el('td', {}, p.target),
    el('td', {}, ...(p.conditions.length ? p.conditions.map((c) => el('div', { class: c.status === 'True' && c.type !== 'FieldsIgnored' ? 'yes' : 'no' }, `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`)) : ['no status yet'])))), 'no authorization policies');
}

async function refreshValidation(): Promise<void> {
  const v = await getJson<{ items: ValidationEntry[] }>('/api/validation');
  fillTable('validation', v.items.map((i) => el('tr', { 'data-object': `${i.kind}/${i.namespace}/${i.name}`, class: i.severity },
    el('td', {}, `${i.kind} ${i.namespace ? `${i.namespace}/` : ''}${i.name}`), el('td', {}, i.type), el('td', {}, i.reason), el('td', {}, i.message))), 'every object is valid and fully enforced');
}

// ---- live decisions ----
let lastSeq = 0;
let paused = false;
const liveRows: HTMLElement[] = [];
const filterForm = document.getElementById('live-filter') as HTMLFormElement;

function peerText(p: Decision['source'], service?: string): string {
  const name = service ?? (p.workload ? `${p.workload}${p.namespace ? `.${p.namespace}` : ''}` : p.address);
  return p.identity ? `${name} (${p.identity.replace(/^spiffe:\/\/[^/]+\//, '')})` : name;
}

function decisionRow(d: Decision): HTMLElement {
  const detail = [d.method && d.path ? `${d.method} ${d.path}` : '', d.policy ? `policy ${d.policy}` : '', d.reason ?? ''].filter(Boolean).join(' · ');
  return el('tr', { 'data-verdict': d.verdict, 'data-policy': d.policy ?? '', 'data-source-workload': d.source.workload ?? '', 'data-destination-workload': d.destination.workload ?? '' },
    el('td', {}, new Date(d.timeMs).toLocaleTimeString()), el('td', {}, `${d.reporter} (${d.protocol})`),
    el('td', {}, peerText(d.source)), el('td', {}, peerText(d.destination, d.destination.service)), el('td', {}, securityBadge(d.mutualTls ? 'mtls' : 'plaintext')),
    el('td', { class: d.verdict }, d.verdict === 'denied' && d.policy ? `denied by ${d.policy}` : d.verdict),
    el('td', {}, d.responseCode ? String(d.responseCode) : '–'), el('td', {}, `${d.durationMs} ms`), el('td', {}, detail));
}

async function refreshLive(): Promise<void> {
  if (paused) return;
  const q = new URLSearchParams({ after: String(lastSeq) });
  for (const [k, v] of new FormData(filterForm)) if (v) q.set(k, String(v));
  const r = await getJson<{ items: Decision[]; last: number }>(`/api/decisions?${q}`);
  lastSeq = r.last;
  for (const d of r.items) liveRows.unshift(decisionRow(d));
  liveRows.splice(MAX_LIVE_ROWS);
  fillTable('decisions', [...liveRows], 'no connections or requests yet (matching the filter)');
}

filterForm.addEventListener('input', () => {
  lastSeq = 0;
  liveRows.length = 0;
  void refreshLive().catch(showError);
});
document.getElementById('live-pause')!.addEventListener('click', (e) => {
  paused = !paused;
  (e.target as HTMLButtonElement).textContent = paused ? 'Resume' : 'Pause';
});

// ---- tabs and timers ----
const loaders: Record<string, () => Promise<void>> = { graph: refreshGraph, security: refreshSecurity, live: refreshLive, validation: refreshValidation };

function showError(err: unknown): void {
  setStatus(`refresh failed: ${(err as Error).message}`);
}

function openTab(name: string): void {
  activeTab = name;
  for (const b of document.querySelectorAll<HTMLButtonElement>('nav button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of document.querySelectorAll<HTMLElement>('.tab')) s.classList.toggle('active', s.id === `tab-${name}`);
  history.replaceState(null, '', `#${name}`);
  void loaders[name]!().catch(showError);
}

for (const b of document.querySelectorAll<HTMLButtonElement>('nav button')) b.addEventListener('click', () => openTab(b.dataset.tab!));
openTab(location.hash.slice(1) in loaders ? location.hash.slice(1) : 'graph');
setInterval(() => {
  if (activeTab === 'graph') void refreshGraph().catch(showError);
  else if (activeTab === 'security') void refreshSecurity().catch(showError);
}, GRAPH_REFRESH_MS);
// The live table keeps collecting in the background so nothing is missed while another tab is open.
setInterval(() => void refreshLive().catch(showError), LIVE_REFRESH_MS);
