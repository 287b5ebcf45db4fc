// Node bootstrap token files: modes, idempotence, race-free creation, removal, path safety.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNodeToken, hashNodeToken, nodeTokenPath, readNodeToken, removeNodeToken, tokenHashesEqual } from './node-token.js';

test('tokens are created once (0600 in a 0700 dir), shared by concurrent creators, and removed on revocation', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-token-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tokens = await Promise.all(Array.from({ length: 8 }, () => ensureNodeToken(dir, 'node-a')));
  assert.equal(new Set(tokens).size, 1, 'every concurrent creator gets the same token');
  assert.match(tokens[0]!, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  assert.equal(await ensureNodeToken(dir, 'node-a'), tokens[0]);
  assert.equal((await stat(nodeTokenPath(dir, 'node-a'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'nodes', 'node-a'))).mode & 0o777, 0o700);
  assert.notEqual(await ensureNodeToken(dir, 'node-b'), tokens[0]);
  assert.ok(tokenHashesEqual(hashNodeToken(tokens[0]!), hashNodeToken(tokens[0]!)));
  assert.ok(!tokenHashesEqual(hashNodeToken(tokens[0]!), hashNodeToken('x')));
  await removeNodeToken(dir, 'node-a');
  assert.equal(await readNodeToken(dir, 'node-a'), undefined);
  assert.equal(existsSync(join(dir, 'nodes', 'node-a')), false);
  await removeNodeToken(dir, 'node-a'); // idempotent
  assert.throws(() => nodeTokenPath(dir, '../etc'), /not a valid DNS subdomain/);
});
