// Outbound (listener 15001 in the source pod): original destination → route → HBONE via the pool (or plain TCP
// for passthrough / NONE workloads) → byte copy; one ConnectionResult per connection (PROTOCOLS.md §3).
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { ConnectionResult, logEarlyFailure } from './connection-result.js';
import { connectHbone } from '../../hbone/hbone-client.js';
import { formatForwarded, newTraceparent } from '../../hbone/hbone-protocol.js';
import { HbonePool, type PoolKey } from '../../hbone/pool.js';
import { HboneConnectTimeoutError, IdentityError, RegistryOnlyError, RoutingError, UpstreamConnectError } from '../../hbone/proxy-errors.js';
import type { LocalPod, ProxyInputs } from './proxy-inputs.js';
import { ILLEGAL_PORTS, routeOutbound, workloadIdentity, type Target } from './route.js';
import { canonicalIp, formatHostPort, isLoopbackIp } from '../../lib/ip-address.js';
import { baggageOf, relay } from './relay.js';

/** A pool whose connections are dialled from the pod (source IP = the pod's) and present the pod's certificate. */
export function createPodPool(inputs: ProxyInputs, opts: { idleTimeoutMs?: number; maxStreamsPerConnection?: number } = {}): HbonePool {
  return new HbonePool({
    ...opts,
    log: inputs.log,
    connect: async (key: PoolKey) => {
      let cert;
      try {
        cert = await inputs.certs.fetch(key.srcIdentity);
      } catch (err) {
        throw new IdentityError(key.srcIdentity, { cause: err });
      }
      const colon = key.dst.lastIndexOf(':');
      const host = key.dst.slice(0, colon).replace(/^\[|\]$/g, '');
      const port = Number(key.dst.slice(colon + 1));
      let socket: net.Socket;
      try {
        socket = await inputs.sockets.connect({ host, port, localAddress: key.srcIp, timeoutMs: inputs.config.connectTimeoutMs });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw new HboneConnectTimeoutError(key.dst);
        throw new UpstreamConnectError(key.dst, { cause: err });
      }
      // TLS inherits half-open from the raw socket, and a half-open TLS socket under HTTP/2 hides the server's close
      // (a dead peer would keep the pooled session until the keepalive timeout): half-close lives in the streams.
      socket.allowHalfOpen = false;
      return connectHbone({ socket, certificate: cert, expectedIdentities: key.expectedIdentities, target: key.dst, handshakeTimeoutMs: inputs.config.connectTimeoutMs });
    },
  });
}

async function connectPlain(inputs: ProxyInputs, target: Target): Promise<net.Socket> {
  try {
    return await inputs.sockets.connect({ host: target.ip, port: target.port, timeoutMs: inputs.config.connectTimeoutMs });
  } catch (err) {
    throw new UpstreamConnectError(formatHostPort(target.ip, target.port), { cause: err });
  }
}

/** Handles one captured outbound connection of `pod`. Never throws. */
export async function handleOutbound(inputs: ProxyInputs, pod: LocalPod, pool: HbonePool, app: net.Socket): Promise<void> {
  app.on('error', () => undefined); // reported through the copy outcome
  const srcIp = canonicalIp(app.remoteAddress ?? '');
  const srcPort = app.remotePort ?? 0;
  const srcAddr = formatHostPort(srcIp, srcPort);
  let dst;
  try {
    dst = await inputs.sockets.originalDestination(app);
  } catch (err) {
    logEarlyFailure(inputs.accessLog, { srcAddr, dstAddr: '-', direction: 'outbound' }, err);
    app.destroy();
    return;
  }
  const dstAddr = formatHostPort(dst.ip, dst.port);
  if (isLoopbackIp(dst.ip) && ILLEGAL_PORTS.has(dst.port)) {
    logEarlyFailure(inputs.accessLog, { srcAddr, dstAddr, direction: 'outbound' }, new RoutingError(`refusing to proxy to ${dstAddr}: a ztunnel port`));
    app.destroy();
    return;
  }
  const result = new ConnectionResult({ direction: 'outbound', srcAddr, dstAddr, metrics: inputs.metrics, accessLog: inputs.accessLog, decisions: inputs.decisions });
  let upstream: Duplex;
  let protocol: 'HBONE' | 'TCP' = 'TCP';
  try {
    const source = await inputs.state.waitForLocalWorkload(pod.info, inputs.config.workloadWaitMs, inputs.config.node);
    if (!source) throw new RoutingError(`unknown source: pod ${pod.info.namespace}/${pod.info.name} is not (yet) known from xDS`);
    result.srcWorkload = source;
    const route = routeOutbound({ state: inputs.state, source, sourceIp: srcIp, network: inputs.config.network, hbonePort: inputs.config.hbonePort }, dst);
    if (route.kind === 'hbone') {
      protocol = 'HBONE';
      const srcIdentity = workloadIdentity(source);
      result.srcIdentity = srcIdentity;
      result.dstIdentity = workloadIdentity(route.dstWorkload);
      result.dstWorkload = route.dstWorkload;
      result.dstService = route.dstService;
      result.mutualTls = true;
      result.hboneAddr = route.authority;
      const hboneAddr = formatHostPort(route.hboneAddr.ip, route.hboneAddr.port);
      result.dstAddr = hboneAddr;
      result.open();
      upstream = await pool.openStream(
        { srcIdentity, expectedIdentities: route.expectedIdentities, dst: hboneAddr, srcIp },
        route.authority,
        {
          baggage: baggageOf(source),
          forwarded: formatForwarded(srcIp, srcPort, route.dstService?.hostname),
          traceparent: newTraceparent(),
        },
      );
    } else {
      if (route.kind === 'tcp') result.dstWorkload = route.dstWorkload;
      result.dstService = route.dstService;
      const target = route.kind === 'tcp' && route.resolveHostname ? { ip: await inputs.resolveHostname(route.resolveHostname), port: route.target.port } : route.target;
      result.dstAddr = formatHostPort(target.ip, target.port);
      result.open();
      upstream = await connectPlain(inputs, target);
    }
  } catch (err) {
    app.destroy();
    if (err instanceof RegistryOnlyError) result.blackHole = true;
    result.close({ clientToServer: 0, serverToClient: 0 }, err);
    return;
  }
  await relay(inputs.connections, { direction: 'outbound', podUid: pod.uid, src: srcAddr, originalDst: dstAddr, actualDst: result.dstAddr, protocol }, result, app, upstream);
}
