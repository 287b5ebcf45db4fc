// Sample app: a TCP echo service. Every line a client sends comes back prefixed with the pod's name, so a caller
// can see which endpoint answered. The client speaks first. Environment: PORT (default 9000), POD_NAME.
import net from 'node:net';

const port = Number(process.env.PORT || 9000);
const pod = process.env.POD_NAME || 'unknown';

const server = net.createServer((socket) => {
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      socket.write(`${pod}: ${pending.slice(0, nl)}\n`);
      pending = pending.slice(nl + 1);
    }
  });
  // Half-close: answer a last unterminated line, then close our side too.
  socket.on('end', () => socket.end(pending ? `${pod}: ${pending}\n` : undefined));
  socket.on('error', () => socket.destroy());
});

server.listen(port, () => process.stdout.write(`tcp-echo listening on :${port}\n`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
