// HPACK: the RFC 7541 Appendix C.4 request sequence (Huffman strings, dynamic table carried across blocks),
// eviction under a table size update, integer continuation, and the encoder's output read back by the decoder.
import assert from 'node:assert/strict';
import test from 'node:test';
import { HpackDecoder, HpackError, encodeHeaders } from './hpack.js';
import { huffmanDecode } from './huffman.js';

test('RFC 7541 C.4: three requests with Huffman strings share one dynamic table', () => {
  const d = new HpackDecoder(16_384);
  const host: [string, string][] = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']];
  assert.deepEqual(d.decode(Buffer.from('828684418cf1e3c2e5f23a6ba0ab90f4ff', 'hex')), host);
  assert.deepEqual(d.decode(Buffer.from('828684be5886a8eb10649cbf', 'hex')), [...host, ['cache-control', 'no-cache']]);
  assert.deepEqual(d.decode(Buffer.from('828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf', 'hex')), [
    [':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value'],
  ]);
});

test('Huffman: every byte value survives, EOS and bad padding are refused', () => {
  assert.equal(huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f4ff', 'hex')).toString(), 'www.example.com');
  assert.throws(() => huffmanDecode(Buffer.from('ffffffff', 'hex')), /EOS/);
  assert.throws(() => huffmanDecode(Buffer.from('00', 'hex')), /padding/);
  assert.equal(huffmanDecode(Buffer.alloc(0)).length, 0);
});

/** A literal with incremental indexing and a new name, strings raw. */
function indexed(name: string, value: string): number[] {
  return [0x40, name.length, ...Buffer.from(name), value.length, ...Buffer.from(value)];
}

test('dynamic table: newest entry is index 62, a size update evicts the oldest, an oversized entry empties the table', () => {
  const d = new HpackDecoder(16_384);
  d.decode(Buffer.from([...indexed('a', '1'), ...indexed('b', '2')]));
  assert.deepEqual(d.decode(Buffer.from([0x80 | 62, 0x80 | 63])), [['b', '2'], ['a', '1']]);
  // Size 34 + 34 = 68 > 40: only the newest fits after the update.
  d.decode(Buffer.from([0x20 | 31, 9])); // 31 + 9 = 40
  assert.deepEqual(d.decode(Buffer.from([0x80 | 62])), [['b', '2']]);
  assert.throws(() => d.decode(Buffer.from([0x80 | 63])), HpackError);
  d.decode(Buffer.from(indexed('long-name-here', 'x'.repeat(40))));
  assert.throws(() => d.decode(Buffer.from([0x80 | 62])), HpackError);
});

test('decoder limits: header list size, table size updates after a field, truncated integers', () => {
  const d = new HpackDecoder(100);
  assert.throws(() => d.decode(encodeHeaders([['x', 'y'.repeat(80)]])), /larger than 100/);
  assert.throws(() => new HpackDecoder(1000).decode(Buffer.from([0x82, 0x20])), /after a header field/);
  assert.throws(() => new HpackDecoder(1000).decode(Buffer.from([0xff])), /truncated integer/);
});

test('encoder output decodes back: static matches indexed, long values with multi-byte lengths, table size update first', () => {
  const headers: [string, string][] = [[':status', '200'], [':method', 'CONNECT'], [':authority', '10.0.0.1:8080'], ['baggage', 'k='.padEnd(300, 'v')], ['x-new', '']];
  const block = encodeHeaders(headers, true);
  assert.equal(block[0], 0x20, 'size update to 0 first');
  assert.equal(block[1], 0x88, ':status 200 is static index 8');
  assert.deepEqual(new HpackDecoder(16_384).decode(block), headers);
});
