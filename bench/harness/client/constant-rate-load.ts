// A constant-rate HTTP/1.1 load generator (wrk2-style) with coordinated-omission correction, on raw keep-alive
// sockets so the generator itself stays cheap.
//
// Why our own: Debian's `wrk` is closed-loop (fixed concurrency) and cannot hold a rate; wrk2, fortio and
// autocannon are not in Debian, and npm packages cannot be added to this repository without review.
//
// Schedule: request i is due at t0 + i/rate and goes to connection i mod C (each connection carries rate/C). A
// connection carries one request at a time (no pipelining); a due request waits for its connection.
// Latency: from the *intended* start when the request had to wait for its connection (that wait is the system's
// fault — counting from the actual send would hide it: coordinated omission), else from the actual write (so
// lateness of this process's own timer, up to ~1 ms in Node, is not charged to the system under test).
import net from 'node:net';

export interface ConstantRateOptions {
  host: string;
  port: number;
  /** Requests per second over all connections. */
  rate: number;
  connections: number;
  /** Warm-up seconds at the same rate, not recorded. */
  warmupSeconds: number;
  /** Recorded seconds. */
  seconds: number;
  /** Called once when the recorded window starts (the caller starts its resource sampling then). */
  onMeasuring?: () => void;
}

export interface LatencySummary {
  /** Recorded requests (all succeeded: any error fails the run). */
  requests: number;
  achievedRps: number;
  /** Milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

interface PendingRequest {
  intendedNs: bigint;
  recorded: boolean;
}

const REQUEST_TIMEOUT_MS = 10_000;

interface ConnectionHandlers {
  record(ms: number, recorded: boolean): void;
  fail(err: Error): void;
  connected(): void;
}

/** A keep-alive connection that runs one request at a time from its own due queue. */
class LoadConnection {
  readonly #queue: PendingRequest[] = [];
  #queueHead = 0;
  #inFlight: PendingRequest | undefined;
  #startNs = 0n;
  #buffered: Buffer = Buffer.alloc(0);
  #expectBody = -1;
  readonly #socket: net.Socket;
  #connected = false;
  readonly #request: Buffer;

  /** When the last response completed (monotonic ns): a request due before it had to wait for this connection. */
  #lastFreeNs = 0n;

  readonly #handlers: ConnectionHandlers;

  constructor(host: string, port: number, handlers: ConnectionHandlers) {
    this.#handlers = handlers;
    this.#request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: ambit-bench\r\n\r\n`);
    this.#socket = net.connect({ host, port, noDelay: true });
    this.#socket.on('connect', () => {
      this.#connected = true;
      handlers.connected();
      this.#pump();
    });
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('error', (err) => this.#handlers.fail(err));
    this.#socket.on('close', () => {
      if (this.#inFlight || this.#queue.length > this.#queueHead) this.#handlers.fail(new Error('connection closed by the server side'));
    });
    this.#socket.setTimeout(REQUEST_TIMEOUT_MS, () => this.#handlers.fail(new Error(`no response within ${REQUEST_TIMEOUT_MS} ms`)));
  }

  enqueue(req: PendingRequest): void {
    this.#queue.push(req);
    this.#pump();
  }

  close(): void {
    this.#socket.destroy();
  }

  #pump(): void {
    if (!this.#connected || this.#inFlight || this.#queueHead === this.#queue.length) return;
    const req = this.#queue[this.#queueHead++]!;
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
    this.#inFlight = req;
    const now = process.hrtime.bigint();
    // Waited for the connection (system-caused): count from the intended time; else from the actual send.
    this.#startNs = this.#lastFreeNs > req.intendedNs ? req.intendedNs : now;
    this.#socket.write(this.#request);
  }

  #onData(chunk: Buffer): void {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    for (;;) {
      if (this.#expectBody < 0) {
        const end = this.#buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = this.#buffered.subarray(0, end).toString('latin1');
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (!status || !length) {
          this.#handlers.fail(new Error(`unexpected response head: ${JSON.stringify(head.slice(0, 120))}`));
          return;
        }
        if (status[1] !== '200') this.#handlers.fail(new Error(`HTTP status ${status[1]}`));
        this.#expectBody = Number(length[1]);
        this.#buffered = this.#buffered.subarray(end + 4);
      }
      if (this.#buffered.length < this.#expectBody) return;
      this.#buffered = this.#buffered.subarray(this.#expectBody);
      this.#expectBody = -1;
      const done = process.hrtime.bigint();
      const req = this.#inFlight;
      this.#inFlight = undefined;
      this.#lastFreeNs = done;
      if (req) this.#handlers.record(Number(done - this.#startNs) / 1e6, req.recorded);
      this.#pump();
    }
  }
}

/** Runs the load and resolves with the recorded window's latency percentiles (exact, from every sample). */
export function runConstantRate(opts: ConstantRateOptions): Promise<LatencySummary> {
  const total = Math.round(opts.rate * (opts.warmupSeconds + opts.seconds));
  const warmupCount = Math.round(opts.rate * opts.warmupSeconds);
  const samples = new Float64Array(total - warmupCount);
  let recorded = 0;
  let completed = 0;
  return new Promise((resolve, reject) => {
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      for (const c of conns) c.close();
      reject(err);
    };
    const record = (ms: number, inWindow: boolean) => {
      completed++;
      if (inWindow) samples[recorded++] = ms;
      if (completed === total) finish();
    };
    // Start the schedule once every connection is up, so connection setup is not charged as latency.
    let up = 0;
    const connected = () => {
      if (++up === opts.connections) {
        t0 = process.hrtime.bigint();
        tick();
      }
    };
    const conns: LoadConnection[] = [];
    for (let i = 0; i < opts.connections; i++) conns.push(new LoadConnection(opts.host, opts.port, { record, fail, connected }));
    const intervalNs = 1e9 / opts.rate;
    let t0 = 0n;
    let measuredStartNs = 0n;
    let next = 0;
    const tick = () => {
      if (failed) return;
      const now = process.hrtime.bigint();
      while (next < total) {
        const due = t0 + BigInt(Math.round(next * intervalNs));
        if (due > now) break;
        if (next === warmupCount) {
          measuredStartNs = due;
          opts.onMeasuring?.();
        }
        conns[next % conns.length]!.enqueue({ intendedNs: due, recorded: next >= warmupCount });
        next++;
      }
      if (next < total) {
        const waitMs = Number(t0 + BigInt(Math.round(next * intervalNs)) - process.hrtime.bigint()) / 1e6;
        setTimeout(tick, Math.max(0, Math.floor(waitMs)));
      }
    };
    const finish = () => {
      const elapsed = Number(process.hrtime.bigint() - measuredStartNs) / 1e9;
      for (const c of conns) c.close();
      const sorted = samples.subarray(0, recorded).sort();
      const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
      let sum = 0;
      for (const v of sorted) sum += v;
      resolve({
        requests: recorded,
        achievedRps: recorded / elapsed,
        p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9),
        max: sorted[sorted.length - 1] ?? NaN,
        mean: sum / Math.max(1, recorded),
      });
    };
  });
}
