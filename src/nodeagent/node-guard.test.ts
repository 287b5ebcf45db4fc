// Snapshot and property tests of the node guard table (the node-netns half of fail-closed capture).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderNodeGuard } from './node-guard.js';

test('the guard renders sets and the forward chain in one replacing transaction', () => {
  const text = renderNodeGuard({
    meshPods: ['10.244.2.3', '10.244.1.2', '10.244.1.2'],
    strictPods: ['10.244.1.2'],
    plaintextPorts: [['10.244.1.2', 8080]],
    strictPorts: [],
  });
  const lines = text.split('\n');
  // Declare, delete, define: applied with `nft -f` the old table is replaced atomically, never absent.
  assert.deepEqual(lines.slice(0, 5), ['table inet ambit_guard {', '}', 'delete table inet ambit_guard', 'table inet ambit_guard {', '  comment "ambit node guard v1"']);
  assert.match(text, /set mesh_pods \{\n {4}type ipv4_addr\n {4}elements = \{ 10\.244\.1\.2, 10\.244\.2\.3 \}\n {2}\}/, 'sorted, deduplicated');
  assert.match(text, /set strict_pods \{\n {4}type ipv4_addr\n {4}elements = \{ 10\.244\.1\.2 \}\n {2}\}/);
  assert.match(text, /set plaintext_ports \{\n {4}type ipv4_addr \. inet_service\n {4}elements = \{ 10\.244\.1\.2 \. 8080 \}\n {2}\}/);
  assert.match(text, /set strict_ports \{\n {4}type ipv4_addr \. inet_service\n {2}\}/, 'an empty set has no elements line');
  const chain = text.slice(text.indexOf('  chain forward {'));
  assert.equal(chain, [
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    '    meta l4proto != tcp accept',
    '    ct state established,related accept',
    '    tcp dport 15008 accept',
    '    ip saddr @mesh_pods ip daddr @mesh_pods meta l4proto tcp reject with tcp reset',
    '    ip daddr . tcp dport @strict_ports reject with tcp reset',
    '    ip daddr . tcp dport @plaintext_ports accept',
    '    ip daddr @strict_pods meta l4proto tcp reject with tcp reset',
    '  }',
    '}',
    '',
  ].join('\n'));
});

test('an empty guard still renders every set (the rules reference them) and closes every brace on its own line', () => {
  const text = renderNodeGuard({ meshPods: [], strictPods: [], plaintextPorts: [], strictPorts: [] });
  for (const set of ['mesh_pods', 'strict_pods', 'plaintext_ports', 'strict_ports']) assert.match(text, new RegExp(`set ${set} \\{`));
  assert.doesNotMatch(text, /elements/);
  assert.equal(text.split('\n').filter((l) => l.includes('}') && l.trim() !== '}' && !l.includes('{')).length, 0);
});
