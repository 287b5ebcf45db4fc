// Unit tests: reading manifest files — a file holding a List of 150k objects is read whole, without a stack overflow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { readManifests } from './manifest-files.js';

test('a List of 150k objects is read whole', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-manifests-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'many.json');
  const items = Array.from({ length: 150_000 }, (_, i) => `{"kind":"ServiceAccount","metadata":{"name":"s${i}"}}`);
  await writeFile(file, `{"kind":"List","items":[${items.join(',')}]}\n`);
  const set = await readManifests([file], false, Readable.from([]));
  assert.deepEqual(set.errors, []);
  assert.equal(set.objects.length, 150_000);
  assert.deepEqual(set.objects[149_999], { kind: 'ServiceAccount', metadata: { name: 's149999' } });
});
