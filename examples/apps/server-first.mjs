// Sample app: a server-speaks-first TCP service (like SMTP or MySQL): it sends a greeting line the moment a
// connection opens, before the client writes anything, then echoes lines until the client closes. A proxy that
// waits for the client's first bytes (protocol sniffing) would stall it. Environment: PORT (default 9001), POD_NAME.
import net from 'node:net';

const port = Number(process.env.PORT || 9001);
const pod = process.env.POD_NAME || 'unknown';

const server = net.createServer((socket) => {
  socket.write(`220 ${pod} ready (server speaks first)\n`);
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => socket.write(chunk));
  socket.on('end', () => socket.end());
  socket.on('error', () => socket.destroy());
});

server.listen(port, () => process.stdout.write(`server-first listening on :${port}\n`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
