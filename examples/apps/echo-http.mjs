// Sample app: an HTTP service that answers every request with who it is (pod, version, node) and who called it
// (the caller's address and any identity headers a proxy added). Run by the sandbox as a pod command.
// Environment: PORT (default 8080), VERSION (default v1), POD_NAME, POD_NAMESPACE, POD_IP, NODE_NAME (set by the
// sandbox). `GET /healthz` answers "ok". `?format=json` (or `Accept: application/json`) answers JSON.
import http from 'node:http';

const port = Number(process.env.PORT || 8080);
const version = process.env.VERSION || 'v1';
const pod = process.env.POD_NAME || 'unknown';
// Headers through which a proxy (a waypoint) passes the caller's mesh identity.
const IDENTITY_HEADERS = ['x-forwarded-client-cert', 'x-client-identity', 'x-forwarded-for'];

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
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
  };
  const wantsJson = (req.url || '').includes('format=json') || String(req.headers.accept || '').includes('application/json');
  if (wantsJson) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(reply)}\n`);
    return;
  }
  const ids = Object.entries(reply.identity).map(([k, v]) => ` ${k}=${v}`).join('');
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`echo ${version} pod=${pod} node=${reply.node} caller=${reply.caller}${ids}\n`);
});

server.listen(port, () => process.stdout.write(`echo ${version} listening on :${port}\n`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
