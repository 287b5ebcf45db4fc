// The server under test, run as the server pod's app: HTTP/1.1 with 1 KiB responses and a TCP echo (1-byte echo
// for the connection-rate figure). Usage: node server/main.js <httpPort> <echoPort>
import http from 'node:http';
import net from 'node:net';

const httpPort = Number(process.argv[2] ?? 8080);
const echoPort = Number(process.argv[3] ?? 9000);
const BODY = Buffer.alloc(1024, 'a');

const server = http.createServer((req, res) => {
  // Drain any request body; the benchmark sends none. Content-Length keeps the response un-chunked.
  req.resume();
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY.length });
  res.end(BODY);
});
// Keep-alive connections live for the whole run (a load phase can pause between requests for seconds).
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;

const echo = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});

let listening = 0;
const ready = () => {
  if (++listening === 2) process.stdout.write(`bench server ready: http ${httpPort}, echo ${echoPort}\n`);
};
server.listen({ port: httpPort, host: '0.0.0.0', backlog: 4096 }, ready);
echo.listen({ port: echoPort, host: '0.0.0.0', backlog: 4096 }, ready);
process.on('SIGTERM', () => process.exit(0));
