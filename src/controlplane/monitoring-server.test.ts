// The monitoring port: metrics for anyone; debug routes answer loopback callers (a port-forward lands there) and
// refuse every other peer, whatever the route would have said.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import { monitoringHandler, startMonitoringServer } from './monitoring-server.js';
import type { DebugRoute } from './xds/debug-routes.js';

const routes: DebugRoute[] = [{ method: 'GET', path: '/debug/xds/clients', handler: async () => ({ status: 200, body: { items: ['z1'] } }) }];

test('over loopback: metrics and the debug routes (JSON)', async (t) => {
  const server = await startMonitoringServer(new Registry(), { host: '127.0.0.1', port: 0 }, routes);
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const debug = await fetch(`${base}/debug/xds/clients`);
  assert.equal(debug.status, 200);
  assert.deepEqual(await debug.json(), { items: ['z1'] });
  assert.equal((await fetch(`${base}/metrics`)).status, 200);
  assert.equal((await fetch(`${base}/debug/other`)).status, 404);
});

test('from a pod IP: the debug routes are refused with 403 and the way to read them', async () => {
  const answer = await new Promise<{ status: number; body: string }>((resolve) => {
    let status = 0;
    const res = {
      writeHead(s: number) {
        status = s;
        return this;
      },
      end(body: string) {
        resolve({ status, body });
      },
    } as unknown as ServerResponse;
    monitoringHandler(new Registry(), routes)({ method: 'GET', url: '/debug/xds/clients', socket: { remoteAddress: '10.244.1.7' } } as unknown as IncomingMessage, res);
  });
  assert.equal(answer.status, 403);
  assert.match(answer.body, /^\/debug\/xds\/clients answers loopback callers only: read it through a port-forward/);
});
