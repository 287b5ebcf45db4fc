// The Prometheus text reader: escapes in label values, +Inf, comments, families not asked for, malformed lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrometheusText } from './prometheus-text.js';

test('parsePrometheusText: labels with escapes, +Inf buckets, comments, only kept families', () => {
  const text = [
    '# HELP istio_requests_total Total requests.',
    '# TYPE istio_requests_total counter',
    'istio_requests_total{reporter="waypoint",path="a\\"b\\\\c",x="1\\n2"} 7',
    'istio_request_duration_milliseconds_bucket{le="+Inf",reporter="waypoint"} 3 1700000000000',
    'process_cpu_seconds_total 12.5',
    'istio_tcp_sent_bytes_total 42',
  ].join('\n');
  const { samples, malformed } = parsePrometheusText(text, (n) => n.startsWith('istio_'));
  assert.equal(malformed, 0);
  assert.deepEqual(samples, [
    { name: 'istio_requests_total', labels: { reporter: 'waypoint', path: 'a"b\\c', x: '1\n2' }, value: 7 },
    { name: 'istio_request_duration_milliseconds_bucket', labels: { le: '+Inf', reporter: 'waypoint' }, value: 3 },
    { name: 'istio_tcp_sent_bytes_total', labels: {}, value: 42 },
  ]);
});

test('parsePrometheusText: a malformed line is counted and skipped, the rest still read', () => {
  const { samples, malformed } = parsePrometheusText('istio_a{x="1"} nope\nistio_b{x="unterminated} 1\nistio_c 2\n', () => true);
  assert.equal(malformed, 2);
  assert.deepEqual(samples, [{ name: 'istio_c', labels: {}, value: 2 }]);
});
