// Unit: the informer's retry loop after an outage of its source: back within the capped, jittered backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from './log.js';
import { ObjectInformer, type ObjectLike, type ObjectSource, type ObjectWatch } from './object-informer.js';

const PODS = { group: '', versions: ['v1'], plural: 'pods', namespaced: true };

/** An in-memory collection that refuses every call until `upAt` (performance.now() ms), like a stopped API server. */
function sourceDownUntil(upAt: () => number): ObjectSource & { listCalls: number } {
  const src = {
    listCalls: 0,
    async list() {
      src.listCalls++;
      if (performance.now() < upAt()) throw new Error('connect ECONNREFUSED');
      return { metadata: { resourceVersion: '1' }, items: [{ metadata: { name: 'p', namespace: 'default' } }] as ObjectLike[] };
    },
    watch(): ObjectWatch<ObjectLike> {
      let close: () => void = () => undefined;
      const closed = new Promise<void>((resolve) => (close = resolve));
      return {
        close,
        async *[Symbol.asyncIterator]() {
          await closed;
        },
      };
    },
  };
  return src;
}

test('informer: after an 8 s outage of its source it lists again within 2.5 s of the source returning', { timeout: 30_000 }, async () => {
  const upAt = performance.now() + 8000;
  const src = sourceDownUntil(() => upAt);
  const informer = new ObjectInformer(src, PODS, { log: silentLogger(), onChange: () => undefined });
  try {
    while (!informer.synced && performance.now() < upAt + 15_000) await new Promise((r) => setTimeout(r, 20));
    const late = performance.now() - upAt;
    assert.equal(informer.synced, true);
    assert.ok(late < 2500, `synced ${Math.round(late)} ms after the source came back (the old 5 s cap allowed up to 5 s)`);
    assert.ok(src.listCalls >= 5, 'it kept retrying during the outage');
  } finally {
    await informer.stop();
  }
});
