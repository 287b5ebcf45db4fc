// The service graph: Cytoscape.js draws it (namespaces as compound groups); the same data is also written as the
// traffic table and namespace chips, which screen readers and tests read. Updates are applied in place and the
// layout only runs again when the set of nodes changed, so a refresh does not move what the user is looking at.
import cytoscape from 'cytoscape';
import type { GraphEdge, GraphNode, MeshGraph } from './api.js';
import { bytes, el, fillTable, lockIcon, rate, securityBadge } from './dom.js';

const STYLE: cytoscape.StylesheetJson = [
  // Labels too small to read at the current zoom are not drawn at all (a 500-pod graph first shows whole).
  { selector: 'node', style: { label: 'data(label)', 'font-size': 10, 'min-zoomed-font-size': 7, 'text-valign': 'bottom', 'text-margin-y': 3, 'text-wrap': 'wrap', width: 26, height: 26, 'background-color': '#4a6fa5' } },
  { selector: 'node[?plaintext]', style: { 'border-color': '#b3261e', 'border-style': 'dashed', 'border-width': 2 } },
  { selector: 'node[kind = "service"]', style: { shape: 'triangle', 'background-color': '#2a9d8f' } },
  { selector: 'node[kind = "waypoint"]', style: { shape: 'diamond', 'background-color': '#e76f51' } },
  { selector: 'node[kind = "ztunnel"]', style: { shape: 'hexagon', 'background-color': '#6c757d' } },
  { selector: 'node[kind = "external"]', style: { shape: 'round-tag', 'background-color': '#adb5bd' } },
  { selector: 'node:selected', style: { 'border-width': 3, 'border-color': '#fca311' } },
  { selector: 'edge', style: { width: 1, 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', 'arrow-scale': 0.8, 'line-color': '#bbb', 'target-arrow-color': '#bbb' } },
  { selector: 'edge[kind != "traffic"]', style: { 'line-style': 'dotted', opacity: 0.5 } },
  { selector: 'edge[kind = "traffic"]', style: { width: 2.5, label: 'data(text)', 'font-size': 9, 'min-zoomed-font-size': 7, 'text-background-color': '#fff', 'text-background-opacity': 0.8 } },
  // Straight "haystack" edges draw several times faster than bezier ones with arrows: used for large graphs.
  { selector: 'edge[?fast]', style: { 'curve-style': 'haystack', 'haystack-radius': 0 } },
  { selector: 'edge[security = "mtls"]', style: { 'line-color': '#1f7a3a', 'target-arrow-color': '#1f7a3a' } },
  { selector: 'edge[security = "plaintext"], edge[security = "mixed"]', style: { 'line-color': '#b3261e', 'target-arrow-color': '#b3261e', 'line-style': 'dashed' } },
];

const LARGE_GRAPH = 150;

function edgeText(e: GraphEdge): string {
  const lock = e.security === 'mtls' ? 'mTLS · ' : e.security ? '⚠ plaintext · ' : '';
  if (e.requestRate !== undefined) return `${lock}${rate(e.requestRate)} rps${e.errorRate ? ` ${(e.errorRate * 100).toFixed(0)}% err` : ''}`;
  if (e.connectionRate !== undefined) return `${lock}${rate(e.connectionRate)} conn/s`;
  return lock.replace(/ · $/, '');
}

export class GraphView {
  readonly #cy: cytoscape.Core;
  #nodeIds = '';
  #graph: MeshGraph | undefined;
  #byId = new Map<string, GraphNode>();
  #zoomedIn = false;
  #laidOut = false;
  #selected: string | undefined;

  constructor(container: HTMLElement) {
    this.#cy = cytoscape({ container, style: STYLE, minZoom: 0.2, maxZoom: 3 });
    this.#cy.on('tap', 'node', (evt) => this.select(evt.target.id() as string));
    this.#cy.on('zoom', () => {
      // Only the user's zooming counts, not the layout fitting the graph into view.
      if (this.#zoomedIn || !this.#laidOut || this.#cy.zoom() < 1) return;
      this.#zoomedIn = true;
      this.#cy.batch(() => this.#cy.nodes('[kind = "workload"]').forEach((n) => void n.data('label', n.data('name'))));
    });
    // The table's node names select too (keyboard and screen-reader users cannot click a canvas).
    document.getElementById('edges')!.addEventListener('click', (evt) => {
      const id = (evt.target as HTMLElement).closest<HTMLElement>('td[data-node]')?.dataset.node;
      if (!id) return;
      this.#cy.$(':selected').unselect();
      this.#cy.getElementById(id).select();
      this.select(id);
    });
  }

  /** Applies a new graph; returns how long it took (ms). */
  update(g: MeshGraph): number {
    const started = performance.now();
    this.#graph = g;
    this.#byId = new Map(g.nodes.map((n) => [n.id, n]));
    const cy = this.#cy;
    const large = g.nodes.length > LARGE_GRAPH;
    // In a large graph the structural edges (ztunnel → workload, service → workload: two per pod) would triple the
    // drawing for little: the details panel lists them instead.
    const edges = large ? g.edges.filter((e) => e.kind === 'traffic' || e.kind === 'waypoint') : g.edges;
    const wanted = new Set([...g.nodes.filter((n) => n.kind !== 'namespace').map((n) => n.id), ...edges.map((e) => e.id)]);
    cy.batch(() => {
      cy.elements().forEach((ele) => {
        if (!wanted.has(ele.id())) ele.remove();
      });
      // Namespaces are not drawn as boxes (compound layouts tangle); the label says the namespace, the style whether
      // it is in the mesh, and the chips above the graph list every namespace.
      const nsEnrolled = new Map(g.nodes.filter((n) => n.kind === 'namespace').map((n) => [n.label, !!n.enrolled]));
      for (const n of g.nodes) {
        if (n.kind === 'namespace') continue;
        const label = n.namespace && nsEnrolled.size > 1 ? `${n.label}\n${n.namespace}` : n.label;
        const plaintext = (n.kind === 'workload' && !n.enrolled) || (n.kind === 'service' && n.namespace !== undefined && !nsEnrolled.get(n.namespace));
        // Measuring 500 workload labels is a third of a large graph's first drawing: they appear once zoomed in.
        const data = { id: n.id, label: large && n.kind === 'workload' && !this.#zoomedIn ? '' : label, name: label, kind: n.kind, plaintext };
        const existing = cy.getElementById(n.id);
        if (existing.nonempty()) existing.data(data);
        else cy.add({ group: 'nodes', data });
      }
      for (const e of edges) {
        const data = { id: e.id, source: e.source, target: e.target, kind: e.kind, security: e.security ?? '', text: edgeText(e), fast: large };
        const existing = cy.getElementById(e.id);
        if (existing.nonempty()) existing.data(data);
        else cy.add({ group: 'edges', data });
      }
    });
    const ids = g.nodes.map((n) => n.id).sort().join(',');
    if (ids !== this.#nodeIds) {
      this.#nodeIds = ids;
      // A force-directed layout reads best but costs O(n²) per step: past LARGE_GRAPH nodes (seconds of layout for
      // 500 pods) a layered one, sources first, keeps the first paint well under a second.
      cy.layout((large
        ? { name: 'breadthfirst', directed: true, animate: false, spacingFactor: 1.1, padding: 30 }
        : { name: 'cose', animate: false, nodeDimensionsIncludeLabels: true, padding: 30, randomize: false, idealEdgeLength: () => 70, nodeRepulsion: () => 12000, gravity: 1.5 }) as cytoscape.LayoutOptions).run();
      this.#laidOut = true;
    }
    this.#renderTable(g);
    this.#renderNamespaces(g.nodes.filter((n) => n.kind === 'namespace'));
    if (this.#selected) this.select(this.#selected);
    return performance.now() - started;
  }

  #label(id: string): string {
    const n = this.#byId.get(id);
    return n ? (n.namespace ? `${n.label}.${n.namespace}` : n.label) : id;
  }

  #renderTable(g: MeshGraph): void {
    const rows = g.edges.filter((e) => e.kind === 'traffic').map((e) => {
      const src = this.#byId.get(e.source);
      const dst = this.#byId.get(e.target);
      return el('tr', { 'data-source': src?.label ?? e.source, 'data-target': dst?.label ?? e.target, 'data-security': e.security ?? '', 'data-request-rate': e.requestRate ?? '', 'data-connection-rate': e.connectionRate ?? '' },
        el('td', { 'data-node': e.source, class: 'link' }, this.#label(e.source)), el('td', { 'data-node': e.target, class: 'link' }, this.#label(e.target)), el('td', {}, securityBadge(e.security)),
        el('td', {}, rate(e.requestRate)), el('td', {}, e.errorRate === undefined ? '–' : `${(e.errorRate * 100).toFixed(1)}%`),
        el('td', {}, e.p99Ms === undefined ? '–' : `${e.p99Ms.toFixed(0)} ms`), el('td', {}, rate(e.connectionRate)), el('td', {}, bytes(e.bytesRate)));
    });
    fillTable('edges', rows, g.metricsError ? `metrics unavailable: ${g.metricsError}` : `no traffic in the last ${g.rangeSeconds} s`);
  }

  #renderNamespaces(namespaces: GraphNode[]): void {
    document.getElementById('namespaces')!.replaceChildren(...namespaces.map((n) => el('span', { class: `chip ${n.enrolled ? 'mtls' : 'plaintext'}`, 'data-namespace': n.label, 'data-enrolled': String(!!n.enrolled), title: String(n.details.enrolment ?? '') },
      n.enrolled ? lockIcon() : '⚠', ` ${n.label}: ${n.enrolled ? 'ambient (mTLS)' : 'plaintext (not enrolled)'}`)));
  }

  /** Shows a node's details in the side panel. */
  select(id: string): void {
    this.#selected = id;
    const n = this.#byId.get(id);
    const panel = document.getElementById('details')!;
    if (!n) {
      panel.replaceChildren(el('p', { class: 'hint' }, 'This node is gone.'));
      return;
    }
    const dl = el('dl');
    const show = (k: string, v: unknown) => {
      if (v === undefined || (Array.isArray(v) && !v.length && k !== 'policies')) return;
      dl.append(el('dt', {}, k));
      if (Array.isArray(v) && v.length && typeof v[0] === 'object') {
        for (const item of v as Array<Record<string, unknown>>) dl.append(el('dd', {}, Object.entries(item).map(([a, b]) => `${a}: ${String(b)}`).join(' · ')));
      } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
        dl.append(el('dd', {}, Object.entries(v).map(([a, b]) => `${a}: ${typeof b === 'object' ? JSON.stringify(b) : String(b)}`).join(' · ')));
      } else dl.append(el('dd', {}, Array.isArray(v) ? (v.length ? v.join(', ') : 'none') : String(v)));
    };
    show('kind', n.kind);
    if (n.namespace) show('namespace', n.namespace);
    if (n.enrolled !== undefined) show('ambient', n.enrolled ? 'enrolled' : 'not enrolled');
    for (const [k, v] of Object.entries(n.details)) show(k, v);
    panel.replaceChildren(el('h3', { 'data-node': n.id }, n.label), dl);
  }
}
