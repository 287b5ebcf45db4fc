// The benchmark client, run inside the client pod's netns by the harness. One JSON line per event on stdout:
//   latency  <host> <port> <rate> <connections> <warmupSeconds> <seconds>  → {"event":"measuring"}, then the summary
//   connrate <host> <port> <concurrency> <seconds>                          → the summary
//   idle     <host> <port> <count>  → {"event":"ready"} once every connection is echoed; holds them until stdin ends
import { runConstantRate } from './constant-rate-load.js';
import { runConnectionRate } from './connection-rate.js';
import { openIdleConnections } from './idle-connections.js';

const emit = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const [mode, host, portText, ...rest] = process.argv.slice(2);
const port = Number(portText);
const num = (i: number, what: string): number => {
  const n = Number(rest[i]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${mode}: ${what} must be a positive number, got ${JSON.stringify(rest[i])}`);
  return n;
};

async function main(): Promise<void> {
  if (!host || !Number.isInteger(port) || port <= 0) throw new Error('usage: main.js latency|connrate|idle <host> <port> …');
  switch (mode) {
    case 'latency': {
      const summary = await runConstantRate({
        host, port, rate: num(0, 'rate'), connections: num(1, 'connections'), warmupSeconds: Number(rest[2] ?? 0), seconds: num(3, 'seconds'),
        onMeasuring: () => emit({ event: 'measuring' }),
      });
      emit({ event: 'result', ...summary });
      return;
    }
    case 'connrate':
      emit({ event: 'result', ...(await runConnectionRate({ host, port, concurrency: num(0, 'concurrency'), seconds: num(1, 'seconds') })) });
      return;
    case 'idle': {
      const sockets = await openIdleConnections(host, port, num(0, 'count'));
      emit({ event: 'ready', connections: sockets.length });
      process.stdin.resume();
      await new Promise((resolve) => process.stdin.once('end', resolve));
      for (const s of sockets) s.destroy();
      return;
    }
    default:
      throw new Error(`unknown mode ${JSON.stringify(mode)} (latency, connrate, idle)`);
  }
}

main().then(() => process.exit(0), (err: Error) => {
  process.stderr.write(`bench client: ${err.message}\n`);
  process.exit(1);
});
