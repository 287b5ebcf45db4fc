// Sample client for the TCP services: `node tcp-client.mjs HOST PORT [MESSAGE]` connects, sends MESSAGE (if any)
// as one line, half-closes, and prints everything the server sends. Without MESSAGE it waits up to 1 s for a
// server greeting instead. Exit 0 on a clean exchange; 1 with the reason (refused, reset, timeout) on stderr.
import net from 'node:net';

const [host, portText, message] = process.argv.slice(2);
const port = Number(portText);
if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('usage: node tcp-client.mjs HOST PORT [MESSAGE]\n');
  process.exit(2);
}

const socket = net.connect({ host, port });
const deadline = setTimeout(() => fail('timed out after 5 s'), 5000);
let received = '';
let greetingTimer;

function fail(reason) {
  process.stderr.write(`tcp-client: ${host}:${port}: ${reason}\n`);
  process.exit(1);
}

socket.setEncoding('utf8');
socket.on('connect', () => {
  if (message !== undefined) socket.end(`${message}\n`);
  else greetingTimer = setTimeout(() => socket.end(), 1000);
});
socket.on('data', (chunk) => {
  received += chunk;
  // A greeting arrived: we have what a server-first check needs; close our side.
  if (message === undefined && received.includes('\n')) {
    clearTimeout(greetingTimer);
    socket.end();
  }
});
socket.on('error', (err) => fail(err.code || err.message));
socket.on('close', (hadError) => {
  if (hadError) return;
  clearTimeout(deadline);
  process.stdout.write(received);
  process.exit(0);
});
