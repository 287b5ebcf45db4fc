// The ClientHello reader against real ClientHellos from Node's TLS client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { parseClientHello } from './client-hello.js';

/** The first bytes a real TLS client sends, with or without SNI. */
async function helloBytes(servername: string | undefined): Promise<Buffer> {
  return new Promise((resolve) => {
    const server = net.createServer((s) => {
      s.once('data', (d) => {
        resolve(d);
        s.destroy();
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const c = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, ...(servername ? { servername } : {}), rejectUnauthorized: false });
      c.on('error', () => undefined);
    });
  });
}

test('the server name of a real ClientHello; none without SNI; incomplete and non-TLS input', async () => {
  const hello = await helloBytes('shop.example.test');
  assert.deepEqual(parseClientHello(hello), { kind: 'hello', serverName: 'shop.example.test' });
  assert.deepEqual(parseClientHello(hello.subarray(0, 3)), { kind: 'incomplete' });
  assert.deepEqual(parseClientHello(hello.subarray(0, hello.length - 1)), { kind: 'incomplete' });
  assert.deepEqual(parseClientHello(await helloBytes(undefined)), { kind: 'hello' });
  assert.deepEqual(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')), { kind: 'not-tls' });
});
