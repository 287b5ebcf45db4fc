// Reading a sandbox node's ztunnel from the outside (PROTOCOLS.md §9): admin `/config_dump` on localhost:15000 and
// Prometheus `/stats/prometheus` on :15020, both inside the node's netns; plus pure readers of what they return.
import http from 'node:http';
import { describeError, MeshError } from '../lib/errors.js';
import { PORT_PROXY_ADMIN, PORT_PROXY_STATS } from '../lib/mesh-contract.js';
import { connectFromNetns } from '../platform/index.js';

const ZTUNNEL_STATS_PORT = PORT_PROXY_STATS;
const REQUEST_TIMEOUT_MS = 3000;

/** ztunnel did not answer (not running, refused, timed out, bad reply); `message` says which and where. */
class ZtunnelUnreachableError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ZTUNNEL_UNREACHABLE', message, options);
  }
}

/** GETs `path` from 127.0.0.1:`port` inside `netns`; resolves with the body of a 200 answer. */
async function httpGetInNetns(netns: string, port: number, path: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<string> {
  const where = `127.0.0.1:${port} in netns ${netns}`;
  let socket;
  try {
    socket = await connectFromNetns(netns, { host: '127.0.0.1', port, timeoutMs });
  } catch (err) {
    throw new ZtunnelUnreachableError(`nothing answers on ${where} (${describeError(err)})`, { cause: err });
  }
  const conn = socket;
  return new Promise<string>((resolve, reject) => {
    // No agent: with `createConnection` and no agent, http uses our already connected in-netns socket.
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', createConnection: () => conn, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(body);
        else reject(new ZtunnelUnreachableError(`GET ${path} on ${where} answered ${res.statusCode}: ${body.slice(0, 200)}`));
      });
      res.on('error', (err) => reject(new ZtunnelUnreachableError(`GET ${path} on ${where}: ${describeError(err)}`, { cause: err })));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new ZtunnelUnreachableError(`GET ${path} on ${where}: ${describeError(err)}`, { cause: err })));
    req.end();
  }).finally(() => conn.destroy());
}

/** ztunnel's `/config_dump` of the node whose netns is `netns`, parsed. */
export async function fetchConfigDump(netns: string): Promise<ZtunnelConfigDump> {
  const text = await httpGetInNetns(netns, PORT_PROXY_ADMIN, '/config_dump');
  try {
    return JSON.parse(text) as ZtunnelConfigDump;
  } catch (err) {
    throw new ZtunnelUnreachableError(`/config_dump in netns ${netns} is not JSON: ${describeError(err)}`, { cause: err });
  }
}

/** ztunnel's Prometheus text of the node whose netns is `netns`. */
export function fetchMetrics(netns: string): Promise<string> {
  return httpGetInNetns(netns, ZTUNNEL_STATS_PORT, '/stats/prometheus');
}

// --- what the dump and the metrics say (pure) ---

/** The parts of `/config_dump` the demo reads (PROTOCOLS.md §9.3). */
export interface ZtunnelConfigDump {
  certificates?: Array<{
    identity: string;
    state: string;
    certChain?: Array<{ serialNumber?: string; validFrom?: string; expirationTime?: string }>;
  }>;
  workloadState?: Record<string, { state?: string; info?: { name?: string; namespace?: string; serviceAccount?: string } }>;
}

interface CertificateRow {
  identity: string;
  state: string;
  serial: string;
  notBefore: string;
  notAfter: string;
}

/** One row per identity ztunnel holds a certificate for (the leaf of each chain), optionally only those matching. */
export function certificateRows(dump: ZtunnelConfigDump, identityFilter?: (identity: string) => boolean): CertificateRow[] {
  return (dump.certificates ?? [])
    .filter((c) => !identityFilter || identityFilter(c.identity))
    .map((c) => {
      const leaf = c.certChain?.[0];
      return { identity: c.identity, state: c.state, serial: leaf?.serialNumber ?? 'NA', notBefore: leaf?.validFrom ?? 'NA', notAfter: leaf?.expirationTime ?? 'NA' };
    })
    .sort((a, b) => a.identity.localeCompare(b.identity));
}

interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition (comments skipped; label values unescaped). */
export function parsePrometheus(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (const l of (m[3] ?? '').matchAll(re)) labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include every pair of `match`. */
export function sumMetric(samples: readonly MetricSample[], name: string, match: Record<string, string>): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + (Number.isFinite(s.value) ? s.value : 0), 0);
}
