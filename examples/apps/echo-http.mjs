// Sample app: an HTTP service that answers every request with who it is (pod, version, node) and who called it
// (the caller's address and any identity headers a proxy added). Run by the sandbox as a pod command.
// Environment: PORT (default 8080), VERSION (default v1), POD_NAME, POD_NAMESPACE, POD_IP, NODE_NAME (set by the
// sandbox). `GET /healthz` answers "ok". `?format=json` (or `Accept: application/json`) answers JSON (with the
// request headers it received). Behaviour for resilience demos and tests, per request:
//   `x-echo-status: 503`        answer with that status
//   `x-echo-delay-ms: 500`      answer after that delay
//   path `/flaky…`              every other request to this pod fails with 503 (a 50%-failing backend)
//   `x-echo-response-headers: {"name":"value"}`  add these response headers
import http from 'node:http';

const port = Number(process.env.PORT || 8080);
const version = process.env.VERSION || 'v1';
const pod = process.env.POD_NAME || 'unknown';
// Headers through which a proxy (a waypoint) passes the caller's mesh identity.
const IDENTITY_HEADERS = ['x-forwarded-client-cert', 'x-client-identity', 'x-forwarded-for'];

let flaky = 0;

function extraHeaders(req) {
  try {
    const h = JSON.parse(String(req.headers['x-echo-response-headers'] || '{}'));
    return typeof h === 'object' && h ? h : {};
  } catch {
    return {};
  }
}

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  const delay = Math.min(Number(req.headers['x-echo-delay-ms'] || 0) || 0, 60_000);
  if (delay > 0) {
    const t = setTimeout(() => answer(req, res), delay);
    res.on('close', () => clearTimeout(t));
    return;
  }
  answer(req, res);
});

function answer(req, res) {
  const forced = Number(req.headers['x-echo-status'] || 0);
  const failFlaky = (req.url || '').startsWith('/flaky') && flaky++ % 2 === 0;
  const status = failFlaky ? 503 : forced >= 200 && forced <= 599 ? forced : 200;
  const extra = extraHeaders(req);
  const reply = {
    service: 'echo',
    version,
    pod,
    namespace: process.env.POD_NAMESPACE || 'unknown',
    node: process.env.NODE_NAME || 'unknown',
    podIP: process.env.POD_IP || 'unknown',
    method: req.method,
    path: req.url,
    caller: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
    identity: Object.fromEntries(IDENTITY_HEADERS.filter((h) => req.headers[h]).map((h) => [h, String(req.headers[h])])),
    host: req.headers.host,
    headers: req.headers,
    status,
  };
  const wantsJson = (req.url || '').includes('format=json') || String(req.headers.accept || '').includes('application/json');
  if (wantsJson) {
    res.writeHead(status, { ...extra, 'content-type': 'application/json' });
    res.end(`${JSON.stringify(reply)}\n`);
    return;
  }
  const ids = Object.entries(reply.identity).map(([k, v]) => ` ${k}=${v}`).join('');
  res.writeHead(status, { ...extra, 'content-type': 'text/plain' });
  res.end(`echo ${version} pod=${pod} node=${reply.node} caller=${reply.caller}${ids}${status !== 200 ? ` status=${status}` : ''}\n`);
}

server.listen(port, () => process.stdout.write(`echo ${version} listening on :${port}\n`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
