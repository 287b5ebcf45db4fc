// Protocol sniffing at the waypoint: what the first bytes of an undeclared port are taken for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify } from './listener.js';

const c = (s: string) => classify(Buffer.from(s, 'latin1'));

test('sniffing: HTTP/2 preface, HTTP/1.x request lines, everything else TCP at once', () => {
  assert.equal(c('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 'h2');
  assert.equal(c('PRI * HTTP/2'), undefined, 'a partial preface waits');
  assert.equal(c('GET / HTTP/1.1\r\nhost: x\r\n\r\n'), 'http1');
  assert.equal(c('POST /api HTTP/1.0\n'), 'http1');
  assert.equal(c('G'), undefined, 'a prefix of a method waits');
  assert.equal(c('GET /pa'), undefined);
  assert.equal(c('GET /path HTTP/1.'), undefined);
  assert.equal(c('x'), 'tcp', 'a byte that starts no method is TCP at once');
  assert.equal(c('hello\n'), 'tcp');
  assert.equal(c('GET /path HTTP/2.0\r\n'), 'tcp');
  assert.equal(c('PROPFIND / HTTP/1.1\r\n'), 'http1', 'a whole request line is HTTP whatever its method');
  assert.equal(c('PROPF'), 'tcp', 'but only standard methods are waited for');
  assert.equal(c('\x16\x03\x01\x02\x00'), 'tcp', 'a TLS ClientHello is TCP');
  assert.equal(c('GET ' + 'a'.repeat(9000)), 'tcp', 'no request line within 8 KiB');
});
