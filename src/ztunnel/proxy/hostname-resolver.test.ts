// The hostname resolver's cache (TTL, clamped), shared in-flight queries, and errors that name the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHostnameResolver } from './hostname-resolver.js';

test('answers are cached for their TTL, and concurrent lookups of one name share one query', async () => {
  let clock = 0;
  const asked: string[] = [];
  const resolve = createHostnameResolver({
    now: () => clock,
    lookup: async (name) => {
      asked.push(name);
      return [{ address: `198.18.0.${asked.length}`, ttl: 30 }];
    },
  });
  assert.deepEqual(await Promise.all([resolve('API.example.test'), resolve('api.example.test')]), ['198.18.0.1', '198.18.0.1']);
  clock = 29_000;
  assert.equal(await resolve('api.example.test'), '198.18.0.1');
  clock = 30_001;
  assert.equal(await resolve('api.example.test'), '198.18.0.2');
  assert.deepEqual(asked, ['api.example.test', 'api.example.test']);
});

test('a TTL of 0 is cached for one second; failures are not cached and name the host', async () => {
  let clock = 0;
  let fail = true;
  let calls = 0;
  const resolve = createHostnameResolver({
    now: () => clock,
    lookup: async () => {
      calls++;
      if (fail) throw Object.assign(new Error('queryA ENOTFOUND'), { code: 'ENOTFOUND' });
      return [{ address: '198.18.0.9', ttl: 0 }];
    },
  });
  await assert.rejects(resolve('gone.example.test'), /cannot resolve gone\.example\.test: ENOTFOUND/);
  fail = false;
  assert.equal(await resolve('gone.example.test'), '198.18.0.9');
  clock = 999;
  assert.equal(await resolve('gone.example.test'), '198.18.0.9');
  assert.equal(calls, 2);
});
