// New-connection rate: parallel loops of connect, write 1 byte, read the 1-byte echo, close — counted for a while.
import net from 'node:net';

export interface ConnectionRateOptions {
  host: string;
  port: number;
  /** Loops running at once (each holds at most one connection). */
  concurrency: number;
  seconds: number;
}

export interface ConnectionRateSummary {
  connections: number;
  perSecond: number;
  /** Mean milliseconds from connect() to the echo's arrival. */
  meanMs: number;
}

const ONE_BYTE = Buffer.from('x');
const STEP_TIMEOUT_MS = 10_000;

/** One iteration; resolves with its duration in ms once the socket is fully closed. */
function oneConnection(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    let echoed = false;
    let elapsed = 0;
    const socket = net.connect({ host, port, noDelay: true });
    socket.setTimeout(STEP_TIMEOUT_MS, () => socket.destroy(new Error(`no echo within ${STEP_TIMEOUT_MS} ms`)));
    socket.on('connect', () => socket.write(ONE_BYTE));
    socket.on('data', () => {
      if (echoed) return;
      echoed = true;
      elapsed = Number(process.hrtime.bigint() - start) / 1e6;
      socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => (echoed ? resolve(elapsed) : reject(new Error('closed before the echo arrived'))));
  });
}

export async function runConnectionRate(opts: ConnectionRateOptions): Promise<ConnectionRateSummary> {
  const start = process.hrtime.bigint();
  const endAt = start + BigInt(Math.round(opts.seconds * 1e9));
  let connections = 0;
  let totalMs = 0;
  const loop = async () => {
    while (process.hrtime.bigint() < endAt) {
      totalMs += await oneConnection(opts.host, opts.port);
      connections++;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  return { connections, perSecond: connections / elapsed, meanMs: totalMs / Math.max(1, connections) };
}
