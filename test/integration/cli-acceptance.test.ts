// Acceptance: the real `ambit` binary runs the control plane, applies every example, survives SIGKILL with every
// object intact (same uid, resourceVersion, spec), and re-applying reports `unchanged`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAmbit, startControlPlane, exited, EXAMPLES } from './helpers/cli-harness.js';
import { parseManifests, validateObject } from '../../src/api/index.js';

const run = (dataDir: string, args: string[]) => runAmbit(dataDir, args);

test('apply examples, get them, SIGKILL and restart the control plane: every object comes back unchanged', { timeout: 120_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ambit-cli-acc-'));
  let cp: ChildProcess | undefined;
  t.after(async () => {
    if (cp && cp.exitCode === null && cp.signalCode === null) {
      cp.kill('SIGKILL');
      await exited(cp);
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
  cp = await startControlPlane(dataDir);

  // Every example applies cleanly, one kubectl-style line per object.
  const expected: string[] = [];
  const files = readdirSync(join(EXAMPLES, 'bookinfo-lite')).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
  assert.ok(files.length >= 4, 'bookinfo-lite has its manifests');
  for (const f of files) {
    const parsed = parseManifests(readFileSync(join(EXAMPLES, 'bookinfo-lite', f), 'utf8'), f);
    assert.deepEqual(parsed.errors, [], `${f} parses`);
    expected.push(...parsed.objects.map((o) => (o as { kind: string; metadata: { name: string } }).metadata.name));
  }
  const applied = await run(dataDir, ['apply', '-f', join(EXAMPLES, 'bookinfo-lite')]);
  assert.equal(applied.stderr, '');
  assert.equal(applied.code, 0);
  const lines = applied.stdout.trim().split('\n');
  assert.equal(lines[0], 'namespace/demo created');
  assert.equal(lines.length, expected.length);
  for (const l of lines) assert.match(l, /^[a-z.]+\/[a-z0-9.-]+ created$/);
  assert.ok(lines.includes('authorizationpolicy.security.istio.io/reviews-allow-productpage created'));
  assert.ok(lines.includes('peerauthentication.security.istio.io/default created'));
  assert.ok(lines.includes('pod/reviews-v1 created'));

  // get pods -A shows both pods with the NAMESPACE column.
  const pods = await run(dataDir, ['get', 'pods', '-A']);
  assert.equal(pods.code, 0);
  const podLines = pods.stdout.trim().split('\n');
  assert.match(podLines[0]!, /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
  assert.deepEqual(podLines.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join(' ')).sort(), ['demo productpage-v1', 'demo reviews-v1']);

  // Everything, as YAML, before and after a crash of the control plane.
  const kinds = 'namespaces,serviceaccounts,pods,services,authorizationpolicies,peerauthentications';
  const before = await run(dataDir, ['get', kinds, '-A', '-o', 'yaml']);
  const beforeJson = await run(dataDir, ['get', kinds, '-A', '-o', 'json']);
  assert.equal(before.code, 0);
  const list = JSON.parse(beforeJson.stdout) as { kind: string; items: Array<{ metadata: { uid?: string; resourceVersion?: string } }> };
  assert.equal(list.kind, 'List');
  assert.equal(list.items.length, expected.length);
  for (const o of list.items) assert.ok(o.metadata.uid && o.metadata.resourceVersion, 'server fields are set');

  cp.kill('SIGKILL');
  await exited(cp);
  cp = await startControlPlane(dataDir);
  const after = await run(dataDir, ['get', kinds, '-A', '-o', 'yaml']);
  assert.equal(after.code, 0);
  assert.equal(after.stdout, before.stdout, 'every object is unchanged after SIGKILL + restart');

  // Re-applying the same files changes nothing.
  const again = await run(dataDir, ['apply', '-f', join(EXAMPLES, 'bookinfo-lite')]);
  assert.equal(again.code, 0);
  assert.deepEqual(again.stdout.trim().split('\n'), lines.map((l) => l.replace(/ created$/, ' unchanged')));

  // A clean stop on SIGTERM.
  cp.kill('SIGTERM');
  await exited(cp);
  assert.equal(cp.exitCode, 0);
});

test('every manifest under examples/ parses and validates', () => {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : /\.(ya?ml|json)$/.test(e.name) ? [join(dir, e.name)] : [],
    );
  const files = walk(EXAMPLES);
  assert.ok(files.length > 0);
  for (const f of files) {
    const parsed = parseManifests(readFileSync(f, 'utf8'), f);
    assert.deepEqual(parsed.errors, [], f);
    for (const o of parsed.objects) {
      const v = validateObject(o);
      assert.ok(v.ok, `${f}: ${v.ok ? '' : v.errors.join('; ')}`);
      if (v.ok) assert.deepEqual(v.ignored, [], `${f}: examples use no ignored fields`);
    }
  }
});
