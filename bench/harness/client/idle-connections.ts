// Idle tunnelled connections: opens N connections to the echo server, proves each carries bytes end to end
// (1-byte echo), then holds them open and idle until released.
import net from 'node:net';

const OPEN_BATCH = 50;
const STEP_TIMEOUT_MS = 15_000;

function openEchoed(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true });
    const timer = setTimeout(() => socket.destroy(new Error(`no echo within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
    socket.once('connect', () => socket.write('x'));
    socket.once('data', () => {
      clearTimeout(timer);
      socket.removeListener('error', reject);
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Opens `count` echoed connections, in batches so the proxies see a realistic arrival rather than a SYN flood. */
export async function openIdleConnections(host: string, port: number, count: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  try {
    while (sockets.length < count) {
      const n = Math.min(OPEN_BATCH, count - sockets.length);
      sockets.push(...(await Promise.all(Array.from({ length: n }, () => openEchoed(host, port)))));
    }
  } catch (err) {
    for (const s of sockets) s.destroy();
    throw err;
  }
  return sockets;
}
