// The dashboard's metric questions: PromQL as sent to Prometheus, and histogram_quantile's interpolation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_QUERY, TRAFFIC_QUERIES, bucketQuantile, quantileToPromQl, rateToPromQl } from './traffic-queries.js';

test('rate and quantile questions as PromQL', () => {
  assert.equal(rateToPromQl({ metric: 'm_total', by: ['a', 'b'] }, 60), 'sum by (a,b) (rate(m_total[60s]))');
  assert.equal(rateToPromQl(TRAFFIC_QUERIES.errors, 30).includes('istio_requests_total{response_code=~"5..|0"}[30s]'), true);
  assert.match(quantileToPromQl(LATENCY_QUERY, 60), /^histogram_quantile\(0\.99, sum by \(le,reporter,source_workload,.*\) \(rate\(istio_request_duration_milliseconds_bucket\[60s\]\)\)\)$/);
});

test('bucketQuantile interpolates inside the bucket holding the rank, as Prometheus does', () => {
  // 100 observations: 50 ≤ 10 ms, 90 ≤ 50 ms, 100 ≤ 100 ms.
  const b = [{ le: 10, value: 50 }, { le: 50, value: 90 }, { le: 100, value: 100 }, { le: Infinity, value: 100 }];
  assert.equal(bucketQuantile(0.5, b), 10);
  assert.equal(bucketQuantile(0.7, b), 30);
  assert.equal(bucketQuantile(0.99, b), 95);
  // Ranks in the first bucket interpolate from 0; in +Inf answer the largest finite bound.
  assert.equal(bucketQuantile(0.25, b), 5);
  assert.equal(bucketQuantile(0.99, [{ le: 10, value: 1 }, { le: Infinity, value: 100 }]), 10);
  assert.ok(Number.isNaN(bucketQuantile(0.99, [{ le: 10, value: 0 }, { le: Infinity, value: 0 }])), 'nothing observed: NaN');
  assert.ok(Number.isNaN(bucketQuantile(0.99, [{ le: 10, value: 3 }])), 'no +Inf bucket: NaN');
});
