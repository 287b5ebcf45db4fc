// Test helper: a minimal HTTP client for the API server (Unix socket or TCP) and a collector for watch streams.
import http from 'node:http';

export type Target = { socketPath: string } | { host: string; port: number };

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // Parsed JSON (or undefined when the body is not JSON); tests index into it freely.
  body: any;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as-is instead of JSON-encoding `body`. */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  contentType?: string;
}

/** One request; resolves with status, headers and the parsed body. */
export function apiRequest(target: Target, method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (payload !== undefined) {
    headers['content-type'] = opts.contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ ...target, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path}: no response within 20 s`)));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export interface WatchLine {
  type: string;
  object: any;
}

/** An open watch stream collecting its events. */
export class WatchCollector {
  readonly events: WatchLine[] = [];
  status = 0;
  contentType = '';
  ended = false;
  #req: http.ClientRequest;
  #waiters: Array<() => void> = [];
  readonly started: Promise<void>;

  constructor(target: Target, path: string, headers: Record<string, string> = {}) {
    let started!: () => void;
    let failed!: (err: Error) => void;
    this.started = new Promise((resolve, reject) => {
      started = resolve;
      failed = reject;
    });
    this.#req = http.request({ ...target, method: 'GET', path, headers, agent: false }, (res) => {
      this.status = res.statusCode ?? 0;
      this.contentType = String(res.headers['content-type'] ?? '');
      started();
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) this.events.push(JSON.parse(line) as WatchLine);
        }
        this.#wake();
      });
      res.on('end', () => {
        this.ended = true;
        this.#wake();
      });
      res.on('error', () => {
        this.ended = true;
        this.#wake();
      });
    });
    this.#req.on('error', (err) => {
      this.ended = true;
      failed(err);
      this.#wake();
    });
    this.#req.end();
  }

  /** Resolves once `n` events arrived (or the stream ended); rejects after `timeoutMs`. */
  async waitFor(n: number, timeoutMs = 10_000): Promise<WatchLine[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < n && !this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`watch: ${this.events.length} of ${n} events after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.events;
  }

  /** Resolves when the server ends the stream; rejects after `timeoutMs`. */
  async waitEnd(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('watch stream did not end');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.#req.destroy();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}
