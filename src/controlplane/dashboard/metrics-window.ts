// The embedded metrics source: the control plane scrapes every connected ztunnel and waypoint (their xDS peer
// address, stats port 15020, /stats/prometheus) every few seconds and keeps a bounded window of snapshots, enough
// to answer the dashboard's rate and quantile questions without a Prometheus. Only the istio_* families are kept.
// It scrapes only while the dashboard is in use (asked within the last 10 minutes): a mesh nobody looks at pays
// nothing. The first use scrapes at once and again a second later, so rates show within about a second.
import { describeError } from '../../lib/errors.js';
import { SCRAPE_INTERVAL_SECONDS } from '../../lib/dashboard-contract.js';
import type { Logger } from '../../lib/log.js';
import { parsePrometheusText, type Sample } from './prometheus-text.js';
import { bucketQuantile, type MetricsSource, type QuantileQuery, type RateQuery, type SeriesValue } from './traffic-queries.js';

export interface ScrapeTarget {
  /** `host:port`. */
  address: string;
  /** Labels Prometheus would add (the proxy kind and name). */
  labels: Record<string, string>;
}

interface Snapshot {
  t: number;
  series: Map<string, Sample>;
}

interface WindowOptions {
  targets: () => ScrapeTarget[];
  log: Logger;
  intervalMs?: number;
  /** How much history is kept (default 5 min). */
  keepMs?: number;
  /** GET `http://<address>/stats/prometheus` (tests replace it). */
  fetchText?: (address: string) => Promise<string>;
}

const SCRAPE_TIMEOUT_MS = 3000;
/** Scraping stops this long after the dashboard was last asked for metrics. */
const IDLE_STOP_MS = 10 * 60_000;

function seriesKey(s: Sample): string {
  return `${s.name}${JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
}

function matches(labels: Record<string, string>, match: Readonly<Record<string, string>> | undefined): boolean {
  for (const [k, re] of Object.entries(match ?? {})) if (!new RegExp(`^(?:${re})$`).test(labels[k] ?? '')) return false;
  return true;
}

function groupKey(labels: Record<string, string>, by: readonly string[]): string {
  return by.map((l) => labels[l] ?? '').join('\u0000');
}

async function defaultFetch(address: string): Promise<string> {
  const res = await fetch(`http://${address}/stats/prometheus`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
}

export class MetricsWindow implements MetricsSource {
  readonly description = 'embedded';
  readonly #o: WindowOptions;
  readonly #byTarget = new Map<string, Snapshot[]>();
  readonly #lastError = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #lastUse = 0;
  #running: Promise<void> | undefined;

  constructor(o: WindowOptions) {
    this.#o = o;
  }

  /** Marks the window in use, starting the scrapes if they were stopped. */
  touch(): void {
    this.#lastUse = Date.now();
    if (this.#timer) return;
    void this.scrapeNow();
    setTimeout(() => void this.scrapeNow(), 1000).unref();
    this.#timer = setInterval(() => {
      if (Date.now() - this.#lastUse > IDLE_STOP_MS) this.stop();
      else void this.scrapeNow();
    }, this.#o.intervalMs ?? SCRAPE_INTERVAL_SECONDS * 1000);
    this.#timer.unref();
  }

  /** Stops scraping and forgets the history (it would be stale when scraping resumes). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#byTarget.clear();
    this.#lastError.clear();
  }

  /** Per target: when it was last scraped and the last error, for the page's footer. */
  targetHealth(): Array<{ address: string; labels: Record<string, string>; lastScrape?: string; error?: string }> {
    return this.#o.targets().map((t) => {
      const last = this.#byTarget.get(t.address)?.at(-1);
      return { ...t, ...(last ? { lastScrape: new Date(last.t).toISOString() } : {}), ...(this.#lastError.has(t.address) ? { error: this.#lastError.get(t.address) } : {}) };
    });
  }

  /** One scrape of every target (concurrently); a failing target keeps its history. */
  scrapeNow(): Promise<void> {
    this.#running ??= this.#scrapeAll().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #scrapeAll(): Promise<void> {
    const targets = this.#o.targets();
    const live = new Set(targets.map((t) => t.address));
    for (const a of [...this.#byTarget.keys()]) if (!live.has(a)) this.#byTarget.delete(a);
    const fetchText = this.#o.fetchText ?? defaultFetch;
    await Promise.all(targets.map(async (t) => {
      try {
        const { samples } = parsePrometheusText(await fetchText(t.address), (n) => n.startsWith('istio_'));
        const now = Date.now();
        const snaps = this.#byTarget.get(t.address) ?? [];
        snaps.push({ t: now, series: new Map(samples.map((s) => [seriesKey(s), s])) });
        const keep = this.#o.keepMs ?? 300_000;
        while (snaps.length > 2 && snaps[0]!.t < now - keep) snaps.shift();
        this.#byTarget.set(t.address, snaps);
        this.#lastError.delete(t.address);
      } catch (err) {
        this.#lastError.set(t.address, describeError(err));
        this.#o.log.debug({ target: t.address, error: describeError(err) }, 'metrics scrape failed');
      }
    }));
  }

  /** Per-series increase rates over the range (first and last snapshot in it), for `metric` and `match`. */
  #seriesRates(metric: string, match: Readonly<Record<string, string>> | undefined, rangeSeconds: number): Array<{ labels: Record<string, string>; rate: number }> {
    const out: Array<{ labels: Record<string, string>; rate: number }> = [];
    for (const snaps of this.#byTarget.values()) {
      const last = snaps.at(-1);
      if (!last || snaps.length < 2) continue;
      const first = snaps.find((s) => s.t >= last.t - rangeSeconds * 1000 && s !== last) ?? snaps.at(-2)!;
      const dt = (last.t - first.t) / 1000;
      if (dt <= 0) continue;
      for (const [key, s] of last.series) {
        if (s.name !== metric || !matches(s.labels, match)) continue;
        // A series born inside the window started from zero; a counter that went down was reset.
        const before = first.series.get(key)?.value ?? 0;
        const increase = s.value >= before ? s.value - before : s.value;
        out.push({ labels: s.labels, rate: increase / dt });
      }
    }
    return out;
  }

  async rate(q: RateQuery, rangeSeconds: number): Promise<SeriesValue[]> {
    const groups = new Map<string, SeriesValue>();
    for (const { labels, rate } of this.#seriesRates(q.metric, q.match, rangeSeconds)) {
      const k = groupKey(labels, q.by);
      const g = groups.get(k) ?? { labels: Object.fromEntries(q.by.map((l) => [l, labels[l] ?? ''])), value: 0 };
      g.value += rate;
      groups.set(k, g);
    }
    return [...groups.values()];
  }

  async quantile(q: QuantileQuery, rangeSeconds: number): Promise<SeriesValue[]> {
    const groups = new Map<string, { labels: Record<string, string>; buckets: Map<number, number> }>();
    for (const { labels, rate } of this.#seriesRates(`${q.histogram}_bucket`, q.match, rangeSeconds)) {
      const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
      if (Number.isNaN(le)) continue;
      const k = groupKey(labels, q.by);
      const g = groups.get(k) ?? { labels: Object.fromEntries(q.by.map((l) => [l, labels[l] ?? ''])), buckets: new Map() };
      g.buckets.set(le, (g.buckets.get(le) ?? 0) + rate);
      groups.set(k, g);
    }
    const out: SeriesValue[] = [];
    for (const g of groups.values()) {
      const v = bucketQuantile(q.quantile, [...g.buckets].map(([le, value]) => ({ le, value })));
      if (!Number.isNaN(v)) out.push({ labels: g.labels, value: v });
    }
    return out;
  }
}
