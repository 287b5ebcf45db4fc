// Telemetry metrics overrides at the waypoint: disabled Istio metrics are not reported, and come back from zero.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WaypointMetrics } from './metrics.js';

test('disabled metrics leave the Prometheus output and come back reset', async () => {
  const m = new WaypointMetrics('test');
  const tcp = { reporter: 'waypoint' } as never;
  m.tcpOpened.inc(tcp);
  m.requests.inc({ reporter: 'waypoint' } as never);
  const names = async () => [...(await m.render()).body.matchAll(/^# TYPE (\S+)/gm)].map((x) => x[1]);
  m.setDisabled(['REQUEST_COUNT']);
  assert.ok(!(await names()).includes('istio_requests_total'));
  assert.ok((await names()).includes('istio_request_duration_milliseconds'));
  m.setDisabled(['ALL_METRICS']);
  assert.deepEqual((await names()).filter((n) => n!.startsWith('istio_') && n !== 'istio_build'), []);
  m.setDisabled([]);
  assert.ok((await names()).includes('istio_requests_total'));
  assert.ok(!(await m.render()).body.includes('istio_tcp_connections_opened_total{'), 'enabled again from zero');
});
