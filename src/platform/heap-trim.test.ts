// Unit test: trimHeap (malloc_trim) gives freed heap pages back — in a child Node with --expose-gc, so the freed
// buffers are really collected before the trim.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

const CHILD = `
import { readFileSync } from 'node:fs';
import { nativeAddon } from ${JSON.stringify(new URL('./native-addon.js', import.meta.url).href)};
const anon = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
let bufs = [];
for (let i = 0; i < 2048; i++) bufs.push(Buffer.allocUnsafeSlow(32 * 1024).fill(i & 255));
// Every 64th buffer stays alive: the freed memory is in the middle of the heap, not only at its top.
bufs = bufs.filter((_, i) => i % 64 === 63);
globalThis.gc();
globalThis.gc();
const before = anon();
const released = nativeAddon().trimHeap();
console.log(JSON.stringify({ before, after: anon(), released, kept: bufs.length }));
`;

test('trimHeap returns 64 MiB of freed socket-sized buffers to the kernel', { timeout: 30_000 }, () => {
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD], { encoding: 'utf8', timeout: 25_000 });
  const r = JSON.parse(out) as { before: number; after: number; released: boolean; kept: number };
  assert.equal(r.kept, 32);
  assert.equal(r.released, true);
  assert.ok(r.before - r.after > 40, `RssAnon ${r.before.toFixed(1)} MiB before the trim, ${r.after.toFixed(1)} MiB after`);
});
