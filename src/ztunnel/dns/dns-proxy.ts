// One pod's DNS proxy (PROTOCOLS.md §10): UDP and TCP listeners on 127.0.0.1:15053 (in-pod: inside the pod's
// netns, where the pod's nft rules redirect its port-53 traffic). Each query is answered from the mesh state when
// it asks A/AAAA for a mesh service name as this pod sees it, otherwise forwarded to the upstream nameservers;
// SERVFAIL when no upstream answers or the requesting pod is unknown. Malformed queries get FORMERR (or are
// dropped when not even a header is there); UDP replies larger than the client's limit are truncated (TC);
// TCP uses the 2-byte length prefix and may carry several queries per connection.
import type dgram from 'node:dgram';
import type net from 'node:net';
import { describeError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { ProxyState } from '../state/proxy-state.js';
import {
  DnsFormatError, Opcode, Rcode, RecordType, formErrFor, parseDnsMessage, queryTypeName, responseTo, serializeDnsMessage,
  udpPayloadLimit, type DnsMessage,
} from '../../lib/dns/dns-message.js';
import type { DnsMetricLabels, DnsMetrics } from './dns-metrics.js';
import { resolveLocally, type DnsClientView } from './dns-resolver.js';
import { DNS_TCP_MAX, DnsForwarder, DnsUpstreamError, TcpFrameReader, frameTcp, type DnsSockets, type Nameserver } from './dns-upstream.js';
import { PORT_DNS } from '../../lib/mesh-contract.js';

/** The UDP payload size we advertise in our own OPT record (the common "no fragmentation" value). */
const OUR_EDNS_PAYLOAD = 1232;

/** The pod asking, as far as xDS describes it (canonical labels feed the metrics). */
export interface DnsRequester extends DnsClientView {
  canonicalService: string;
  canonicalRevision: string;
}

interface DnsProxyOptions {
  state: ProxyState;
  /** The pod this proxy serves; undefined (unknown pod) ⇒ SERVFAIL. */
  requester: () => DnsRequester | undefined;
  sockets: DnsSockets;
  nameservers: () => Nameserver[];
  clusterDomain: string;
  /** Answer AAAA with IPv6 addresses (default false: the sandbox's pods are IPv4-only). */
  ipv6?: boolean;
  bindHost?: string;
  /** 0 = an ephemeral port (tests). */
  port?: number;
  /** Deadline per upstream nameserver, ms (default 2000). */
  upstreamTimeoutMs?: number;
  /** A TCP connection with no query for this long is closed, ms (default 10 000). */
  tcpIdleMs?: number;
  /** Queries being answered at once per pod; more UDP queries are dropped (default 256). */
  maxInFlight?: number;
  metrics?: DnsMetrics;
  log: Logger;
  random?: () => number;
}

type DnsTransport = 'udp' | 'tcp';

export class DnsProxy {
  readonly #opts: DnsProxyOptions;
  readonly #forwarder: DnsForwarder;
  readonly #udp: dgram.Socket;
  readonly #tcp: net.Server;
  readonly #connections = new Set<net.Socket>();
  #inFlight = 0;
  #stopped = false;

  private constructor(opts: DnsProxyOptions, udp: dgram.Socket, tcp: net.Server) {
    this.#opts = opts;
    this.#udp = udp;
    this.#tcp = tcp;
    // Once stopped, no new upstream socket may be made: in-pod, the netns fd behind them is closed right after.
    const closed = () => Promise.reject(new DnsUpstreamError('the DNS proxy is stopped'));
    const sockets: DnsSockets = {
      bindUdp: (h, p) => opts.sockets.bindUdp(h, p),
      listenTcp: (h, p, c) => opts.sockets.listenTcp(h, p, c),
      upstreamUdp: (family) => (this.#stopped ? closed() : opts.sockets.upstreamUdp(family)),
      upstreamTcp: (server, ms) => (this.#stopped ? closed() : opts.sockets.upstreamTcp(server, ms)),
    };
    this.#forwarder = new DnsForwarder({ sockets, nameservers: opts.nameservers, timeoutMs: opts.upstreamTimeoutMs ?? 2000 });
  }

  /** Opens both listeners (nothing stays open when either fails). */
  static async start(opts: DnsProxyOptions): Promise<DnsProxy> {
    const host = opts.bindHost ?? '127.0.0.1';
    const port = opts.port ?? PORT_DNS;
    let proxy: DnsProxy | undefined;
    let udp: dgram.Socket;
    let tcp: net.Server;
    // With port 0 the TCP listener takes the UDP one's port, so one number serves both as on 15053; that number may
    // already be taken for TCP, so an ephemeral pick is retried a few times.
    for (let attempt = 1; ; attempt++) {
      udp = await opts.sockets.bindUdp(host, port);
      try {
        tcp = await opts.sockets.listenTcp(host, udp.address().port, (s) => (proxy ? proxy.#serveTcp(s) : s.destroy()));
        break;
      } catch (err) {
        udp.close();
        if (port !== 0 || attempt >= 5 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
    proxy = new DnsProxy(opts, udp, tcp);
    udp.on('message', (msg, rinfo) => proxy!.#serveUdp(msg, rinfo));
    udp.on('error', (err) => opts.log.warn({ err: describeError(err) }, 'DNS UDP listener error'));
    return proxy;
  }

  get udpAddress(): { address: string; port: number } {
    return this.#udp.address();
  }

  get tcpAddress(): net.AddressInfo {
    return this.#tcp.address() as net.AddressInfo;
  }

  /** Closes the listeners and every open TCP connection. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const s of this.#connections) s.destroy();
    await Promise.all([
      new Promise<void>((resolve) => this.#tcp.close(() => resolve())),
      new Promise<void>((resolve) => {
        try {
          this.#udp.close(() => resolve());
        } catch {
          resolve();
        }
      }),
    ]);
  }

  /** The reply to one query as bytes, or undefined to send nothing. Never rejects. */
  async answer(raw: Buffer, transport: DnsTransport): Promise<Buffer | undefined> {
    let query: DnsMessage;
    try {
      query = parseDnsMessage(raw);
    } catch (err) {
      if (!(err instanceof DnsFormatError)) this.#opts.log.warn({ err: describeError(err) }, 'unexpected DNS parse failure');
      this.#opts.log.debug({ err: describeError(err), transport }, 'malformed DNS query');
      return formErrFor(raw);
    }
    try {
      return await this.#answerParsed(query, raw, transport);
    } catch (err) {
      // A bug here must not take the proxy down: the client gets SERVFAIL and the log says why.
      this.#opts.log.warn({ err: describeError(err), transport }, 'DNS query failed');
      return safeSerialize(responseTo(query, Rcode.SERVFAIL), transport === 'udp' ? 512 : DNS_TCP_MAX);
    }
  }

  async #answerParsed(query: DnsMessage, raw: Buffer, transport: DnsTransport): Promise<Buffer | undefined> {
    if (query.flags.qr) return undefined; // a response sent to us: never answer it
    const limit = transport === 'udp' ? udpPayloadLimit(query) : DNS_TCP_MAX;
    if (query.flags.opcode !== Opcode.QUERY) return serializeDnsMessage(responseTo(query, Rcode.NOTIMP), { maxBytes: limit });
    if (query.questions.length !== 1) return serializeDnsMessage(responseTo(query, Rcode.FORMERR), { maxBytes: limit });
    const question = query.questions[0]!;
    const requester = this.#opts.requester();
    const labels: DnsMetricLabels = {
      request_query_type: queryTypeName(question.type),
      request_protocol: transport,
      source_canonical_service: requester?.canonicalService || 'unknown',
      source_canonical_revision: requester?.canonicalRevision || 'unknown',
    };
    this.#opts.metrics?.requests.inc(labels);
    if (!requester) return serializeDnsMessage(responseTo(query, Rcode.SERVFAIL), { maxBytes: limit });

    const local = resolveLocally(this.#opts.state, question, requester, {
      clusterDomain: this.#opts.clusterDomain,
      ipv6: this.#opts.ipv6 ?? false,
      ...(this.#opts.random ? { random: this.#opts.random } : {}),
    });
    if (local.kind === 'answer') {
      const reply = responseTo(query, Rcode.NOERROR, local.records);
      reply.flags.aa = true;
      if (query.additionals.some((r) => r.type === RecordType.OPT)) {
        reply.additionals.push({ name: '', type: RecordType.OPT, class: OUR_EDNS_PAYLOAD, ttl: 0, data: { kind: 'raw', bytes: Buffer.alloc(0) } });
      }
      return serializeDnsMessage(reply, { maxBytes: limit });
    }

    const metrics = this.#opts.metrics;
    metrics?.upstreamRequests.inc(labels);
    const started = process.hrtime.bigint();
    try {
      const result = await this.#forwarder.forward(query, raw);
      metrics?.upstreamDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      if (result.bytes.length <= limit) return result.bytes;
      return serializeDnsMessage({ ...result.message, flags: { ...result.message.flags } }, { maxBytes: limit });
    } catch (err) {
      metrics?.upstreamDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      metrics?.upstreamFailures.inc(labels);
      this.#opts.log.debug({ name: question.name, err: describeError(err) }, 'DNS upstream failed');
      return serializeDnsMessage(responseTo(query, Rcode.SERVFAIL), { maxBytes: limit });
    }
  }

  #serveUdp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#stopped) return;
    const max = this.#opts.maxInFlight ?? 256;
    if (this.#inFlight >= max) return; // overloaded: dropping lets the client retry instead of queueing forever
    this.#inFlight++;
    void this.answer(msg, 'udp').then((reply) => {
      this.#inFlight--;
      if (!reply || this.#stopped) return;
      this.#udp.send(reply, rinfo.port, rinfo.address, (err) => {
        if (err) this.#opts.log.debug({ err: describeError(err) }, 'cannot send a DNS reply');
      });
    });
  }

  #serveTcp(socket: net.Socket): void {
    if (this.#stopped) {
      socket.destroy();
      return;
    }
    this.#connections.add(socket);
    const frames = new TcpFrameReader(DNS_TCP_MAX);
    let pending = 0;
    let ended = false;
    socket.setTimeout(this.#opts.tcpIdleMs ?? 10_000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#connections.delete(socket));
    socket.on('end', () => {
      ended = true;
      if (pending === 0) socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = frames.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const msg of messages) {
        if (this.#inFlight >= (this.#opts.maxInFlight ?? 256)) {
          socket.destroy();
          return;
        }
        pending++;
        this.#inFlight++;
        void this.answer(msg, 'tcp').then((reply) => {
          pending--;
          this.#inFlight--;
          if (reply && !socket.destroyed) socket.write(frameTcp(reply));
          if (ended && pending === 0 && !socket.destroyed) socket.end();
        });
      }
    });
  }
}

function safeSerialize(msg: DnsMessage, maxBytes: number): Buffer | undefined {
  try {
    return serializeDnsMessage(msg, { maxBytes });
  } catch {
    return undefined;
  }
}
