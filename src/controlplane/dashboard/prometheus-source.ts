// The dashboard's numbers from a real Prometheus (`--prometheus URL`): the same questions as the embedded window,
// sent as PromQL instant queries to /api/v1/query. Prometheus scrapes the proxies itself with the scrape config
// `ambit dashboard --scrape-config` prints (HTTP service discovery from this control plane's target list).
import { MeshError } from '../../lib/errors.js';
import { quantileToPromQl, rateToPromQl, type MetricsSource, type QuantileQuery, type RateQuery, type SeriesValue } from './traffic-queries.js';

const QUERY_TIMEOUT_MS = 5000;

interface PromResponse {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

export class PrometheusSource implements MetricsSource {
  readonly description: string;
  readonly #base: string;

  constructor(url: string) {
    this.#base = url.replace(/\/+$/, '');
    this.description = `prometheus ${this.#base}`;
  }

  async #query(promql: string): Promise<SeriesValue[]> {
    let body: PromResponse;
    try {
      const res = await fetch(`${this.#base}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) });
      body = (await res.json()) as PromResponse;
    } catch (err) {
      throw new MeshError('DASHBOARD_PROMETHEUS', `Prometheus at ${this.#base} did not answer: ${(err as Error).message}`, { cause: err });
    }
    if (body.status !== 'success' || body.data?.resultType !== 'vector') {
      throw new MeshError('DASHBOARD_PROMETHEUS', `Prometheus at ${this.#base} refused the query ${promql}: ${body.error ?? body.status}`);
    }
    return body.data.result
      .map((r) => ({ labels: r.metric, value: Number(r.value[1]) }))
      .filter((r) => Number.isFinite(r.value));
  }

  rate(q: RateQuery, rangeSeconds: number): Promise<SeriesValue[]> {
    return this.#query(rateToPromQl(q, rangeSeconds));
  }

  quantile(q: QuantileQuery, rangeSeconds: number): Promise<SeriesValue[]> {
    return this.#query(quantileToPromQl(q, rangeSeconds));
  }
}
