// Sample client for examples/apps/grpc-echo.mjs: `node grpc-client.mjs HOST:PORT Say|Stream MESSAGE [caller]`.
// Prints one JSON line: {code, details, messages, headers, trailers} (metadata as plain objects).
import grpc from '@grpc/grpc-js';
import { ECHO_SERVICE } from './grpc-echo.mjs';

const [target, method, message = 'hello', caller = 'grpc-client'] = process.argv.slice(2);
if (!target || (method !== 'Say' && method !== 'Stream')) {
  process.stderr.write('usage: grpc-client.mjs HOST:PORT Say|Stream MESSAGE [caller]\n');
  process.exit(2);
}
const Client = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
const client = new Client(target, grpc.credentials.createInsecure());
const md = new grpc.Metadata();
md.set('x-caller', caller);
const out = { code: 0, details: '', messages: [], headers: {}, trailers: {} };
const plain = (m) => Object.fromEntries(Object.entries(m.getMap()).map(([k, v]) => [k, String(v)]));
const done = () => {
  process.stdout.write(`${JSON.stringify(out)}\n`);
  client.close();
};
const deadline = new Date(Date.now() + 10_000);
if (method === 'Say') {
  const call = client.Say(Buffer.from(message), md, { deadline }, (err, res) => {
    if (err) {
      out.code = err.code;
      out.details = err.details;
    } else out.messages.push(res.toString());
  });
  call.on('metadata', (m) => (out.headers = plain(m)));
  call.on('status', (s) => {
    out.trailers = plain(s.metadata);
    setImmediate(done);
  });
} else {
  const call = client.Stream(Buffer.from(message), md, { deadline });
  call.on('metadata', (m) => (out.headers = plain(m)));
  call.on('data', (d) => out.messages.push(d.toString()));
  call.on('error', (err) => {
    out.code = err.code;
    out.details = err.details;
  });
  call.on('status', (s) => {
    out.code = s.code;
    out.trailers = plain(s.metadata);
    setImmediate(done);
  });
}
