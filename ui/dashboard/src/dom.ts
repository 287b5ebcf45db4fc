// Small DOM helpers: elements from tag + attributes + children, table bodies replaced in one step.

type Child = Node | string | number | undefined | null | false;

export function el(tag: string, attrs: Record<string, string | number | boolean | undefined> = {}, ...children: Child[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') e.className = String(v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== undefined && c !== null && c !== false) e.append(typeof c === 'number' ? String(c) : c);
  return e;
}

/** Replaces the rows of `table`'s tbody; an empty list shows `empty` in one row. */
export function fillTable(table: string, rows: HTMLElement[], empty: string): void {
  const body = document.querySelector(`#${table} tbody`)!;
  const cols = document.querySelectorAll(`#${table} thead th`).length;
  body.replaceChildren(...(rows.length ? rows : [el('tr', { class: 'empty' }, el('td', { colspan: cols }, empty))]));
}

export function rate(v: number | undefined, unit = ''): string {
  if (v === undefined) return '–';
  if (v >= 100) return `${v.toFixed(0)}${unit}`;
  if (v >= 1) return `${v.toFixed(1)}${unit}`;
  return `${v.toFixed(2)}${unit}`;
}

export function bytes(v: number | undefined): string {
  if (v === undefined) return '–';
  if (v >= 1 << 20) return `${(v / (1 << 20)).toFixed(1)} MiB/s`;
  if (v >= 1 << 10) return `${(v / (1 << 10)).toFixed(1)} KiB/s`;
  return `${v.toFixed(0)} B/s`;
}

export function duration(seconds: number): string {
  const s = Math.abs(seconds);
  const text = s >= 86400 ? `${(s / 86400).toFixed(1)} d` : s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`;
  return seconds < 0 ? `expired ${text} ago` : text;
}

const SVG = 'http://www.w3.org/2000/svg';

/** A padlock drawn inline (no emoji font or icon file needed), labelled for screen readers. */
export function lockIcon(): SVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('class', 'lock');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'locked: mutual TLS');
  const body = document.createElementNS(SVG, 'rect');
  for (const [k, v] of Object.entries({ x: '3', y: '7', width: '10', height: '8', rx: '1.5', fill: 'currentColor' })) body.setAttribute(k, v);
  const shackle = document.createElementNS(SVG, 'path');
  for (const [k, v] of Object.entries({ d: 'M5 7V5a3 3 0 0 1 6 0v2', fill: 'none', stroke: 'currentColor', 'stroke-width': '1.8' })) shackle.setAttribute(k, v);
  svg.append(body, shackle);
  return svg;
}

/** A lock for mutual TLS, a warning sign for plaintext (or a mix of both). */
export function securityBadge(security: string | undefined): HTMLElement {
  const badge = el('span', { class: security ?? '', 'data-security': security ?? '' });
  if (security === 'mtls') badge.append(lockIcon(), ' mTLS');
  else badge.append(security === 'mixed' ? '⚠ mixed' : security === 'plaintext' ? '⚠ plaintext' : '–');
  return badge;
}
