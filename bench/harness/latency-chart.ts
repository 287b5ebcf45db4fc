// The latency chart: an SVG of grouped bars, one group per percentile (p50, p90, p99, p99.9), one bar per path, on
// a log scale (medians under a millisecond and tails of tens of milliseconds share one chart), written by hand (no
// plotting dependency). Paths without latency figures are named in the caption instead.
import type { PathResult } from './figures.js';

const PERCENTILES = [['p50', 'p50'], ['p90', 'p90'], ['p99', 'p99'], ['p999', 'p99.9']] as const;
const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function latencyChartSvg(paths: PathResult[], subtitle: string): string {
  const value = (p: PathResult, id: string) => {
    const f = p.figures[id as 'p50'];
    return f && 'value' in f ? f.value : undefined;
  };
  const shown = paths.filter((p) => PERCENTILES.every(([id]) => value(p, id) !== undefined));
  const missing = paths.filter((p) => !shown.includes(p));
  const width = 760;
  const height = 420;
  const left = 60;
  const right = 20;
  const top = 56;
  const bottom = 90;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const all = shown.flatMap((p) => PERCENTILES.map(([id]) => value(p, id)!)).filter((v) => v > 0);
  // Decades that enclose every value (log10 of the axis ends).
  const lo = Math.floor(Math.log10(all.length ? Math.min(...all) : 0.1));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(all.length ? Math.max(...all) : 1)));
  const y = (v: number) => top + plotH - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">Request latency per path (ms, log scale, lower is better)</text>`);
  out.push(`<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${esc(subtitle)}</text>`);
  for (let d = lo; d <= hi; d++) {
    for (const m of d < hi ? [1, 2, 5] : [1]) {
      const v = m * 10 ** d;
      out.push(`<line x1="${left}" x2="${width - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${m === 1 ? '#bbb' : '#eee'}"/>`);
      out.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="${m === 1 ? '#333' : '#999'}">${+v.toPrecision(2)}</text>`);
    }
  }
  const groupW = plotW / PERCENTILES.length;
  const barW = shown.length ? Math.min(36, (groupW * 0.8) / shown.length) : 0;
  PERCENTILES.forEach(([id, label], g) => {
    const gx = left + g * groupW + (groupW - barW * shown.length) / 2;
    shown.forEach((p, i) => {
      const v = value(p, id)!;
      const x = gx + i * barW;
      out.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - y(v)).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${esc(p.title)} ${label}: ${v} ms</title></rect>`);
      out.push(`<text x="${(x + (barW - 2) / 2).toFixed(1)}" y="${(y(v) - 3).toFixed(1)}" text-anchor="middle" font-size="9" fill="#333">${+v.toPrecision(2)}</text>`);
    });
    out.push(`<text x="${(left + g * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" font-weight="bold">${label}</text>`);
  });
  out.push(`<line x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  shown.forEach((p, i) => {
    const lx = left + (i % 3) * 230;
    const ly = top + plotH + 36 + Math.floor(i / 3) * 16;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="${lx + 18}" y="${ly}">${esc(p.title)}</text>`);
  });
  if (missing.length) {
    const text = `no latency figures: ${missing.map((p) => `${p.title} (${p.notAvailable ? 'not available' : 'failed'})`).join('; ')}`;
    out.push(`<text x="${left}" y="${height - 10}" fill="#a00" font-size="11">${esc(text)}</text>`);
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
