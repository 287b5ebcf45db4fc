// The sandbox's outside world (`ambit cluster outside-world`, run by the supervisor in netns `C.outside`): the
// cluster's nameserver and the external hosts beyond the cluster, so ingress/egress features are tested without
// leaving the machine.
//
// - Nameserver on the cluster DNS address, UDP port 53 (what every pod's resolv.conf names): A records for the
//   outside hosts, an empty answer for their other types, NXDOMAIN at once for every other name (an unserved
//   nameserver made lookups of unknown names wait out the resolver's timeout). UDP only: its answers are tiny.
// - Every outside host serves HTTP on port 80 and HTTPS on port 443 (certificate from a local CA, SANs = every
//   host name). Each answer is a JSON echo of what the host saw — host, method, path, whether TLS was used and
//   with which SNI, headers — so a test can tell what reached the outside.
//
// The CA certificate is `<data dir>/outside/ca.crt`; the sandbox gives it to every pod as NODE_EXTRA_CA_CERTS, as a
// public root would be trusted on a real machine. The CA and serving keys stay in this process's files (0600).
import dgram from 'node:dgram';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { x509 } from '../lib/certs/x509.js';
import { formErrFor, Opcode, parseDnsMessage, Rcode, RecordClass, RecordType, responseTo, serializeDnsMessage, udpPayloadLimit, type DnsMessage } from '../lib/dns/dns-message.js';
import { writeFileDurableSync } from '../lib/durable-file.js';
import type { Logger } from '../lib/log.js';
import type { ClusterLayout } from './cluster-layout.js';
import { createLocalCa } from '../lib/certs/local-ca.js';

/** Seconds resolvers may cache an outside host's address. */
const OUTSIDE_TTL_SECONDS = 30;

/** `<data dir>/outside`: the outside world's CA certificate (public) and its serving certificate and key. */
function outsideDir(dataDir: string): string {
  return join(dataDir, 'outside');
}

/** The CA certificate pods trust for the outside hosts (written before any pod starts). */
export function outsideCaPath(dataDir: string): string {
  return join(outsideDir(dataDir), 'ca.crt');
}

interface ServingMaterial {
  certPem: string;
  keyPem: string;
}

/** Creates the CA and the serving certificate on the cluster's first start; later starts reuse them. */
export async function ensureOutsideCertificates(dataDir: string, layout: ClusterLayout): Promise<ServingMaterial> {
  const dir = outsideDir(dataDir);
  const certPath = join(dir, 'tls.crt');
  const keyPath = join(dir, 'tls.key');
  if (existsSync(certPath) && existsSync(keyPath) && existsSync(outsideCaPath(dataDir))) {
    return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = await createLocalCa(`ambit-sandbox-outside-ca-${layout.name}`);
  const serving = await ca.issue('CN=outside.example.test', x509.ExtendedKeyUsage.serverAuth, layout.outside.hosts.map((h) => ({ type: 'dns' as const, value: h.name })));
  writeFileDurableSync(keyPath, serving.keyPem, 0o600);
  writeFileDurableSync(certPath, serving.certPem, 0o644);
  // Last: its presence says the set is complete.
  writeFileDurableSync(outsideCaPath(dataDir), ca.certPem, 0o644);
  return serving;
}

/** The nameserver's answer to one query (pure). */
export function answerQuery(layout: ClusterLayout, query: DnsMessage): DnsMessage {
  const q = query.questions[0];
  if (query.flags.opcode !== Opcode.QUERY || !q || query.questions.length !== 1) return responseTo(query, Rcode.NOTIMP);
  const name = q.name.toLowerCase();
  const host = layout.outside.hosts.find((h) => h.name === name);
  const answers = host && q.type === RecordType.A && q.class === RecordClass.IN
    ? [{ name: q.name, type: RecordType.A, class: RecordClass.IN, ttl: OUTSIDE_TTL_SECONDS, data: { kind: 'a' as const, address: host.ip } }]
    : [];
  // Authoritative either way: this nameserver owns every name the sandbox knows.
  const res = responseTo(query, host ? Rcode.NOERROR : Rcode.NXDOMAIN, answers);
  res.flags.aa = true;
  return res;
}

/** What an outside host saw of one request (its response body). */
interface RequestEcho {
  host: string | undefined;
  /** The outside host whose address took the connection. */
  server: string | undefined;
  method: string | undefined;
  path: string | undefined;
  tls: boolean;
  sni?: string;
  headers: http.IncomingHttpHeaders;
}

interface OutsideWorldOptions {
  layout: ClusterLayout;
  dataDir: string;
  log: Logger;
}

interface OutsideWorld {
  close(): Promise<void>;
}

/** Starts the nameserver and the HTTP/HTTPS hosts; resolves once every socket listens. */
export async function startOutsideWorld(opts: OutsideWorldOptions): Promise<OutsideWorld> {
  const { layout, log } = opts;
  const serving = await ensureOutsideCertificates(opts.dataDir, layout);
  const dns = dgram.createSocket('udp4');
  dns.on('message', (buf, peer) => {
    let reply: Buffer | undefined;
    try {
      const query = parseDnsMessage(buf);
      if (query.flags.qr) return;
      reply = serializeDnsMessage(answerQuery(layout, query), { maxBytes: udpPayloadLimit(query) });
    } catch {
      reply = formErrFor(buf);
    }
    if (reply) dns.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    dns.once('error', reject);
    dns.bind(53, layout.dnsIp, () => resolve());
  });
  const serverNameOf = (address: string | undefined) => layout.outside.hosts.find((h) => address?.endsWith(h.ip))?.name;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket as TLSSocket;
    const echo: RequestEcho = {
      host: req.headers.host,
      server: serverNameOf(socket.localAddress),
      method: req.method,
      path: req.url,
      tls: socket.encrypted === true,
      ...(socket.encrypted && typeof socket.servername === 'string' ? { sni: socket.servername } : {}),
      headers: req.headers,
    };
    req.resume();
    req.on('end', () => {
      const body = `${JSON.stringify(echo)}\n`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      log.info({ ...echo, headers: undefined, from: socket.remoteAddress }, 'outside request');
    });
  };
  const plain = http.createServer(handler);
  const secure = https.createServer({ cert: serving.certPem, key: serving.keyPem }, handler);
  await Promise.all([listen(plain, 80), listen(secure, 443)]);
  log.info({ nameserver: layout.dnsIp, hosts: layout.outside.hosts }, 'outside world serving');
  return {
    async close() {
      dns.close();
      plain.closeAllConnections();
      secure.closeAllConnections();
      await Promise.all([new Promise((r) => plain.close(r)), new Promise((r) => secure.close(r))]);
    },
  };
}

function listen(server: http.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve());
  });
}
