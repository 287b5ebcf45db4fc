// Unit tests of the readers of ztunnel's admin dump and Prometheus text used by the demo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { certificateRows, parsePrometheus, sumMetric } from './demo-ztunnel.js';

test('parsePrometheus reads names, labels (with escapes) and values; sumMetric matches label subsets', () => {
  const text = [
    '# HELP istio_tcp_connections_opened_total opened',
    '# TYPE istio_tcp_connections_opened_total counter',
    'istio_tcp_connections_opened_total{reporter="destination",source_principal="spiffe://cluster.local/ns/d/sa/client",connection_security_policy="mutual_tls"} 3',
    'istio_tcp_connections_opened_total{reporter="source",source_principal="spiffe://cluster.local/ns/d/sa/client",connection_security_policy="unknown"} 5',
    'istio_tcp_connections_opened_total{reporter="destination",source_principal="spiffe://cluster.local/ns/d/sa/other",connection_security_policy="mutual_tls"} 7',
    'weird{msg="a \\"quoted\\" \\\\ value"} 1',
    'istio_build 1',
  ].join('\n');
  const samples = parsePrometheus(text);
  assert.equal(samples.length, 5);
  assert.equal(samples[3]!.labels['msg'], 'a "quoted" \\ value');
  assert.deepEqual(samples[4], { name: 'istio_build', labels: {}, value: 1 });
  assert.equal(sumMetric(samples, 'istio_tcp_connections_opened_total', { reporter: 'destination', connection_security_policy: 'mutual_tls' }), 10);
  assert.equal(sumMetric(samples, 'istio_tcp_connections_opened_total', { source_principal: 'spiffe://cluster.local/ns/d/sa/client', reporter: 'destination' }), 3);
  assert.equal(sumMetric(samples, 'absent', {}), 0);
});

test('certificateRows: the leaf of each chain, NA when missing, filtered and sorted by identity', () => {
  const rows = certificateRows({
    certificates: [
      { identity: 'spiffe://cluster.local/ns/d/sa/z', state: 'Available', certChain: [{ serialNumber: 'ab', validFrom: 'f', expirationTime: 'e' }, { serialNumber: 'root' }] },
      { identity: 'spiffe://cluster.local/ns/d/sa/a', state: 'Initializing', certChain: [] },
      { identity: 'spiffe://cluster.local/ns/x/sa/a', state: 'Available' },
    ],
  }, (id) => id.includes('/ns/d/'));
  assert.deepEqual(rows, [
    { identity: 'spiffe://cluster.local/ns/d/sa/a', state: 'Initializing', serial: 'NA', notBefore: 'NA', notAfter: 'NA' },
    { identity: 'spiffe://cluster.local/ns/d/sa/z', state: 'Available', serial: 'ab', notBefore: 'f', notAfter: 'e' },
  ]);
});
