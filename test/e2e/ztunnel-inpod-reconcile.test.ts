// e2e (root): ztunnel's in-pod workload manager with real pod netns and real listeners — a ZDS snapshot that does
// not mention a pod whose netns still exists keeps that pod's proxy (a restarted node agent may not know it yet);
// once the netns is gone the next snapshot removes it, and an explicit del always does.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { openSync } from 'node:fs';
import { connectFromNetns, createNetns, deleteNetns, netnsPath } from '../../src/platform/index.js';
import { CertificateManager } from '../../src/lib/certs/certificate-manager.js';
import { silentLogger } from '../../src/lib/log.js';
import { WorkloadManager } from '../../src/ztunnel/inpod/workload-manager.js';
import { ZtunnelMetrics } from '../../src/ztunnel/metrics.js';
import { ConnectionManager } from '../../src/ztunnel/proxy/connection-manager.js';
import { DEFAULT_PROXY_CONFIG, type ProxyInputs } from '../../src/ztunnel/proxy/proxy-inputs.js';
import { createHostnameResolver } from '../../src/ztunnel/proxy/hostname-resolver.js';
import type { SocketFactory } from '../../src/ztunnel/proxy/socket-factory.js';
import { ProxyState } from '../../src/ztunnel/state/proxy-state.js';
import { createTestCa } from '../../src/ztunnel/testing/test-ca.js';

let seq = 0;
async function scratchNetns(t: TestContext, role: string): Promise<string> {
  const name = `test-wm${++seq}-${role}-${process.pid}`;
  t.after(() => deleteNetns(name, { ignoreMissing: true }));
  await createNetns(name);
  return name;
}

/** True when something accepts TCP on 127.0.0.1:15008 inside `netns` (the pod's HBONE listener). */
async function listening(netns: string): Promise<boolean> {
  try {
    const s = await connectFromNetns(netns, { host: '127.0.0.1', port: 15008, timeoutMs: 2000 });
    s.destroy();
    return true;
  } catch {
    return false;
  }
}

test('snapshot reconcile: an unmentioned pod is kept while its netns exists, removed once it is gone or on del', { timeout: 30_000 }, async (t) => {
  // The proxies' drain timers are unref'd (they never hold a ztunnel up); here nothing else keeps the loop alive.
  const keepAlive = setInterval(() => undefined, 1000);
  const ca = await createTestCa();
  const state = new ProxyState();
  const certs = new CertificateManager({ signer: ca.signer });
  t.after(() => certs.close());
  const noSockets: SocketFactory = {
    listen: () => Promise.reject(new Error('per pod only')),
    connect: () => Promise.reject(new Error('per pod only')),
    originalDestination: () => Promise.reject(new Error('per pod only')),
  };
  const inputs: ProxyInputs = {
    config: { ...DEFAULT_PROXY_CONFIG }, state, certs, metrics: new ZtunnelMetrics(), connections: new ConnectionManager(state),
    sockets: noSockets, log: silentLogger(), accessLog: silentLogger(), resolveHostname: createHostnameResolver(),
  };
  const manager = new WorkloadManager({ inputs, metrics: inputs.metrics, log: silentLogger(), drainMs: 100 });
  // Registered before the netns cleanups, so it runs first; the loop is kept alive until the proxies are down.
  t.after(async () => {
    await manager.close(0);
    clearInterval(keepAlive);
  });
  const a = await scratchNetns(t, 'a');
  const b = await scratchNetns(t, 'b');
  const info = (name: string) => ({ name, namespace: 'demo', serviceAccount: 'sa' });
  const up = () => manager.pods().filter((p) => p.state === 'Up').map((p) => p.uid).sort();

  // First agent connection: both pods handed over.
  manager.connectionStarted();
  assert.equal(await manager.add('a', info('a'), openSync(netnsPath(a), 'r')), undefined);
  assert.equal(await manager.add('b', info('b'), openSync(netnsPath(b), 'r')), undefined);
  await manager.snapshotDone();
  assert.deepEqual(up(), ['a', 'b']);

  // A restarted agent that has not captured pod a again yet: its snapshot names only b. a's netns is alive.
  manager.connectionStarted();
  await manager.add('b', info('b'), openSync(netnsPath(b), 'r'));
  await manager.snapshotDone();
  assert.deepEqual(up(), ['a', 'b'], 'a pod missing from a snapshot keeps its proxy while its netns exists');
  assert.equal(await listening(a), true, "and its listeners still accept");

  // Pod a deleted (its netns gone; ztunnel still holds an fd to it): the next snapshot without it removes it.
  await deleteNetns(a);
  manager.connectionStarted();
  await manager.add('b', info('b'), openSync(netnsPath(b), 'r'));
  await manager.snapshotDone();
  assert.deepEqual(up(), ['b'], 'a pod whose netns is gone is removed');

  // An explicit del removes a pod whatever its netns.
  await manager.del('b');
  assert.deepEqual(up(), []);
  assert.equal(await listening(b), false, "b's listeners are closed");
});
