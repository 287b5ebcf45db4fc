// Unit tests for the ndjson splitter used by watches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NdjsonLines } from './ndjson-lines.js';

test('lines split across chunks (even inside a UTF-8 character) parse once complete', () => {
  const s = new NdjsonLines();
  const bytes = Buffer.from('{"a":"é"}\n\n{"b":2}\n{"c"');
  assert.deepEqual(s.push(bytes.subarray(0, 7)), []);
  assert.deepEqual(s.push(bytes.subarray(7)), [{ a: 'é' }, { b: 2 }]);
  assert.deepEqual(s.push(Buffer.from(':3}')), []);
  assert.deepEqual(s.end(), [{ c: 3 }]);
});

test('a malformed line throws', () => {
  assert.throws(() => new NdjsonLines().push(Buffer.from('{nope\n')), SyntaxError);
});
