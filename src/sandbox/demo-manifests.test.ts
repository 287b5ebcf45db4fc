// Unit tests of the demo manifests: every file in examples/demo (and its tour/) parses and validates once rendered,
// placeholders are filled, and `node` commands use the given Node binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateObject } from '../api/index.js';
import { DEMO_NAMESPACE, demoManifestFiles, loadDemoObjects, renderDemoManifest, repositoryRoot } from './demo-manifests.js';

test('the demo objects render, validate, and point at this repository and Node', () => {
  const repo = repositoryRoot();
  const objects = loadDemoObjects(repo, '/opt/node/bin/node');
  assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`), [
    'Namespace/ambit-demo', 'ServiceAccount/client', 'ServiceAccount/echo', 'ServiceAccount/tcp-echo', 'ServiceAccount/server-first',
    'Pod/client', 'Pod/echo-v1', 'Pod/echo-v2', 'Pod/tcp-echo', 'Pod/server-first', 'Service/echo', 'Service/tcp-echo', 'Service/server-first',
  ]);
  assert.ok(objects.every((o) => o.kind === 'Namespace' || o.metadata.namespace === DEMO_NAMESPACE));
  const echo = objects.find((o) => o.metadata.name === 'echo-v2')!;
  assert.deepEqual((echo.spec as { containers: Array<{ command: string[] }> }).containers[0]!.command, ['/opt/node/bin/node', `${repo}/examples/apps/echo-http.mjs`]);
  assert.ok(!JSON.stringify(objects).includes('${AMBIT_REPO}'));
  // The namespace starts un-enrolled: the demo proves plain traffic first.
  assert.equal(objects[0]!.metadata.labels, undefined);
  assert.ok(demoManifestFiles(repo).every((f) => !f.includes('/tour/')));
});

test('the tour manifests validate, with no field stored but ignored', () => {
  for (const name of readdirSync(join(repositoryRoot(), 'examples', 'demo', 'tour'))) {
    const file = join(repositoryRoot(), 'examples', 'demo', 'tour', name);
    const objs = renderDemoManifest(readFileSync(file, 'utf8'), file, '/r', 'node');
    assert.ok(objs.length > 0, name);
    for (const o of objs) {
      const v = validateObject(o);
      assert.ok(v.ok, `${name}: ${JSON.stringify(v)}`);
    }
  }
});

test('a broken manifest names the source and the problem', () => {
  assert.throws(() => renderDemoManifest('kind: [', 'x.yaml', '/r', 'node'), /x\.yaml/);
});
