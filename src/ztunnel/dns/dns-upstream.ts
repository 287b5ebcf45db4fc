// Forwarding of names the mesh does not know to the pod's upstream nameservers: UDP first (a fresh socket and a
// fresh random id per exchange, so a spoofed or late reply cannot be mistaken for ours), TCP when the reply is
// truncated; nameservers are tried in resolv.conf order, each within its own deadline. Sockets come from a
// DnsSockets implementation (in-pod: created inside the pod's netns with ztunnel's mark, so they are not
// redirected back to the proxy). Also: a resolv.conf reader.
import { randomInt } from 'node:crypto';
import type dgram from 'node:dgram';
import { isIP } from 'node:net';
import type net from 'node:net';
import { MeshError, describeError } from '../../lib/errors.js';
import { DNS_HEADER_BYTES, parseDnsMessage, type DnsMessage } from '../../lib/dns/dns-message.js';

export interface Nameserver {
  ip: string;
  port: number;
}

/** Where the proxy's sockets come from (in-pod: the pod's netns, marked; tests: plain loopback sockets). */
export interface DnsSockets {
  /** The proxy's own UDP listener. */
  bindUdp(host: string, port: number): Promise<dgram.Socket>;
  /** The proxy's own TCP listener. */
  listenTcp(host: string, port: number, onConnection: (socket: net.Socket) => void): Promise<net.Server>;
  /** An unbound-port UDP socket of the given family, for one upstream exchange. */
  upstreamUdp(family: 4 | 6): Promise<dgram.Socket>;
  /** A TCP connection to an upstream nameserver. */
  upstreamTcp(server: Nameserver, timeoutMs: number): Promise<net.Socket>;
}

export class DnsUpstreamError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DNS_UPSTREAM', message, options);
  }
}

/** Largest DNS message over TCP (the 2-byte length prefix). */
export const DNS_TCP_MAX = 0xffff;
/** Largest UDP reply we accept from an upstream (EDNS payloads beyond this are not requested by sane clients). */
const UPSTREAM_UDP_MAX = 65_507;

/** Nameservers and search domains of a resolv.conf (port 53; unknown lines ignored, bad addresses skipped). */
export function parseResolvConf(text: string): { nameservers: Nameserver[]; search: string[] } {
  const nameservers: Nameserver[] = [];
  let search: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...values] = line.split(/\s+/);
    if (key === 'nameserver' && values[0]) {
      // A zone index (fe80::1%eth0) cannot be used from another netns' point of view: skipped with the rest.
      if (isIP(values[0]) && nameservers.length < 3) nameservers.push({ ip: values[0], port: 53 });
    } else if ((key === 'search' || key === 'domain') && values.length) {
      search = values.map((v) => v.replace(/\.$/, ''));
    }
  }
  return { nameservers, search };
}

interface ForwardResult {
  /** The upstream's reply with the client's id restored. */
  message: DnsMessage;
  bytes: Buffer;
  server: Nameserver;
  /** Whether TCP was used (after a truncated UDP reply). */
  tcp: boolean;
}

interface DnsForwarderOptions {
  sockets: DnsSockets;
  nameservers: () => Nameserver[];
  /** Deadline per nameserver (UDP + TCP fallback together), ms. */
  timeoutMs: number;
}

/** Same question (case-insensitive name; a 0x20-randomising upstream echoes the case it was sent). */
function sameQuestion(a: DnsMessage, b: DnsMessage): boolean {
  if (a.questions.length !== b.questions.length) return false;
  return a.questions.every((q, i) => {
    const o = b.questions[i]!;
    return q.type === o.type && q.class === o.class && q.name.toLowerCase() === o.name.toLowerCase();
  });
}

export class DnsForwarder {
  readonly #opts: DnsForwarderOptions;

  constructor(opts: DnsForwarderOptions) {
    this.#opts = opts;
  }

  /** Sends `raw` (the client's query, parsed as `query`) upstream; rejects with DnsUpstreamError when no server answers. */
  async forward(query: DnsMessage, raw: Buffer): Promise<ForwardResult> {
    const servers = this.#opts.nameservers();
    if (servers.length === 0) throw new DnsUpstreamError('no upstream nameserver is configured');
    const problems: string[] = [];
    for (const server of servers) {
      const id = randomInt(0, 0x10000);
      const request = Buffer.from(raw);
      request.writeUInt16BE(id, 0);
      const deadline = Date.now() + this.#opts.timeoutMs;
      try {
        let tcp = false;
        let bytes = await this.#udpExchange(server, request, query, id, deadline);
        let message = parseDnsMessage(bytes);
        if (message.flags.tc) {
          tcp = true;
          bytes = await this.#tcpExchange(server, request, query, id, deadline);
          message = parseDnsMessage(bytes);
        }
        bytes = Buffer.from(bytes);
        bytes.writeUInt16BE(query.id, 0);
        return { message: { ...message, id: query.id }, bytes, server, tcp };
      } catch (err) {
        problems.push(`${server.ip}:${server.port}: ${describeError(err)}`);
      }
    }
    throw new DnsUpstreamError(`no upstream nameserver answered (${problems.join('; ')})`);
  }

  /** One UDP exchange on a connected socket; replies with another id or question are ignored (keep waiting). */
  async #udpExchange(server: Nameserver, request: Buffer, query: DnsMessage, id: number, deadline: number): Promise<Buffer> {
    const socket = await this.#opts.sockets.upstreamUdp(server.ip.includes(':') ? 6 : 4);
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => reject(new DnsUpstreamError(`timed out after ${this.#opts.timeoutMs} ms`)), Math.max(1, deadline - Date.now()));
        const finish = (fn: () => void) => {
          clearTimeout(timer);
          fn();
        };
        // Connected: ICMP port/host unreachable surfaces as an error at once instead of a timeout.
        socket.on('error', (err) => finish(() => reject(err)));
        socket.on('message', (msg) => {
          if (msg.length < DNS_HEADER_BYTES || msg.length > UPSTREAM_UDP_MAX || msg.readUInt16BE(0) !== id) return;
          let reply: DnsMessage;
          try {
            reply = parseDnsMessage(msg);
          } catch {
            return;
          }
          if (!reply.flags.qr || !sameQuestion(reply, query)) return;
          finish(() => resolve(Buffer.from(msg)));
        });
        socket.connect(server.port, server.ip, () => {
          socket.send(request, (err) => {
            if (err) finish(() => reject(err));
          });
        });
      });
    } finally {
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
  }

  async #tcpExchange(server: Nameserver, request: Buffer, query: DnsMessage, id: number, deadline: number): Promise<Buffer> {
    const socket = await this.#opts.sockets.upstreamTcp(server, Math.max(1, deadline - Date.now()));
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => reject(new DnsUpstreamError(`TCP exchange timed out after ${this.#opts.timeoutMs} ms`)), Math.max(1, deadline - Date.now()));
        const finish = (fn: () => void) => {
          clearTimeout(timer);
          fn();
        };
        const frames = new TcpFrameReader(DNS_TCP_MAX);
        socket.on('error', (err) => finish(() => reject(err)));
        socket.on('end', () => finish(() => reject(new DnsUpstreamError('the upstream closed the TCP connection without a reply'))));
        socket.on('data', (chunk: Buffer) => {
          let msgs: Buffer[];
          try {
            msgs = frames.push(chunk);
          } catch (err) {
            finish(() => reject(err));
            return;
          }
          for (const msg of msgs) {
            if (msg.length < DNS_HEADER_BYTES || msg.readUInt16BE(0) !== id) continue;
            let reply: DnsMessage;
            try {
              reply = parseDnsMessage(msg);
            } catch {
              continue;
            }
            if (reply.flags.qr && sameQuestion(reply, query)) {
              finish(() => resolve(msg));
              return;
            }
          }
        });
        socket.write(frameTcp(request));
      });
    } finally {
      socket.destroy();
    }
  }
}

/** A message with its 2-byte big-endian length prefix (RFC 1035 §4.2.2). */
export function frameTcp(message: Buffer): Buffer {
  if (message.length > DNS_TCP_MAX) throw new DnsUpstreamError(`a ${message.length}-byte DNS message does not fit a TCP frame`);
  const out = Buffer.alloc(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  message.copy(out, 2);
  return out;
}

/** Splits a TCP byte stream into length-prefixed DNS messages. */
export class TcpFrameReader {
  #buffer: Buffer = Buffer.alloc(0);
  constructor(readonly maxMessage: number) {}

  /** Appends `chunk`; returns every complete message. */
  push(chunk: Buffer): Buffer[] {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.#buffer.length >= 2) {
      const len = this.#buffer.readUInt16BE(0);
      if (len > this.maxMessage) throw new DnsUpstreamError(`a TCP DNS frame of ${len} bytes exceeds ${this.maxMessage}`);
      if (this.#buffer.length < 2 + len) break;
      out.push(Buffer.from(this.#buffer.subarray(2, 2 + len)));
      this.#buffer = this.#buffer.subarray(2 + len);
    }
    return out;
  }

  /** Bytes buffered of an incomplete frame. */
  get pending(): number {
    return this.#buffer.length;
  }
}
