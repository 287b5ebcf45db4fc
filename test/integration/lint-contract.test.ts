// The lint keeps the mesh contract in one place and the house tidy: run on a copy of the tree, it fails on a module
// that declares a contract value again (a label, a port, a mark, a hand-built spiffe:// id), on the `private`
// keyword, and on an export nobody imports; on the real tree it passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(new URL('../../..', import.meta.url).pathname);

function run(script: string, cwd: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'scripts', script)], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A copy of src/, test/ and bench/ in a temp dir, removed after the test. */
function copyTree(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-lint-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const d of ['src', 'test', 'bench']) cpSync(join(REPO, d), join(dir, d), { recursive: true });
  return dir;
}

test('the real tree passes both lints', { timeout: 120_000 }, () => {
  const lint = run('lint.mjs', REPO);
  assert.equal(lint.code, 0, lint.out);
  const unused = run('unused-exports.mjs', REPO);
  assert.equal(unused.code, 0, unused.out);
});

test('a component that re-declares contract values, or uses the private keyword, fails the lint with file, line and the constant to import', { timeout: 120_000 }, (t) => {
  const dir = copyTree(t);
  writeFileSync(join(dir, 'src', 'ztunnel', 'own-contract.ts'), [
    '// A module that keeps its own copy of the contract.',
    "const LABEL = 'istio.io/dataplane-mode';",
    'const MARK = 0x539;',
    'const HBONE = 15008;',
    "const id = (ns: string, sa: string) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;",
    'class Holder { private x = 1; get y() { return this.x; } }',
    'export const used = [LABEL, MARK, HBONE, id, Holder];',
    '',
  ].join('\n'));
  const r = run('lint.mjs', dir);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /src\/ztunnel\/own-contract\.ts:2: 'istio\.io\/dataplane-mode' is a mesh contract value: import DATAPLANE_MODE_LABEL from src\/lib\/mesh-contract\.ts/);
  assert.match(r.out, /own-contract\.ts:3: 0x539 is a mesh contract value: import ZTUNNEL_MARK/);
  assert.match(r.out, /own-contract\.ts:4: 15008 is a mesh contract value: import PORT_HBONE/);
  assert.match(r.out, /own-contract\.ts:5: `spiffe:\/\/cluster\.local\/ns\/\$\{ is a mesh contract value: import SPIFFE_SCHEME from src\/lib\/certs\/spiffe-id\.ts/);
  assert.match(r.out, /own-contract\.ts:6: use a #private member instead of the 'private' keyword/);
  // Tests may spell the values out.
  writeFileSync(join(dir, 'src', 'ztunnel', 'own-contract.ts'), '// clean again\nexport const used = 1;\n');
  writeFileSync(join(dir, 'src', 'ztunnel', 'spelled.test.ts'), "// a test\nexport const expected = ['istio.io/dataplane-mode', 15008];\n");
  assert.equal(run('lint.mjs', dir).code, 0);
});

test('an export no other module imports fails the unused-exports check, naming it', { timeout: 120_000 }, (t) => {
  const dir = copyTree(t);
  writeFileSync(join(dir, 'src', 'lib', 'forgotten.ts'), '// Nobody imports this.\nexport function forgotten(): number {\n  return 1;\n}\n');
  const r = run('unused-exports.mjs', dir);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /src\/lib\/forgotten\.ts:2: forgotten/);
});
