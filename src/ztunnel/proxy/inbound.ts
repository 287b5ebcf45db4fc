// Inbound HBONE (15008 in the destination pod): per CONNECT stream — authority/IP-match checks, L4 authorization,
// connect to the app with the client's source IP, then 200 + byte copy; 400/401/503 exactly as PROTOCOLS.md §2.3.
// Each open connection is registered so a later policy change that denies it closes it (flag DENY).
import type net from 'node:net';
import { authorize, type ConnectionFacts } from '../policy/authorization.js';
import { formatHostPort } from '../../lib/ip-address.js';
import { serviceKey, type GatewayAddress, type Service, type Workload } from '../state/types.js';
import type { ProxyState } from '../state/proxy-state.js';
import { ConnectionResult } from './connection-result.js';
import { forwardedHost } from '../../hbone/hbone-protocol.js';
import { respondStatus, type HboneStreamRequest } from '../../hbone/hbone-server.js';
import { PolicyDeniedError, RoutingError, UpstreamConnectError } from '../../hbone/proxy-errors.js';
import type { LocalPod, ProxyInputs } from './proxy-inputs.js';
import { ILLEGAL_PORTS, targetPort, workloadIdentity } from './route.js';
import { baggageOf, relay } from './relay.js';

/** Whether `gw` (a waypoint reference) designates `local`. */
function gatewayIs(state: ProxyState, gw: GatewayAddress | undefined, local: Workload): boolean {
  if (!gw) return false;
  if (gw.address) {
    if (local.addresses.includes(gw.address.address)) return true;
    const svc = state.serviceByVip(gw.address.network, gw.address.address);
    return svc !== undefined && serviceKey(svc) in local.services;
  }
  if (gw.hostname) return `${gw.hostname.namespace}/${gw.hostname.hostname}` in local.services;
  return false;
}

/**
 * The IP-match exemption: the authority names a service or workload whose waypoint is this pod (traffic a
 * client sent to its waypoint with the original VIP:port as authority).
 */
function targetUsesUsAsWaypoint(state: ProxyState, network: string, ip: string, local: Workload): boolean {
  const svc = state.serviceByVip(network, ip);
  if (svc && gatewayIs(state, svc.waypoint, local)) return true;
  const w = state.workloadByAddress(network, ip);
  return w !== undefined && gatewayIs(state, w.waypoint, local);
}

/** The destination service label: the Forwarded host hint if it is one of the pod's services, else the first with a matching target port. */
function destinationService(state: ProxyState, local: Workload, port: number, hint: string | undefined): Service | undefined {
  const mine = Object.keys(local.services).map((k) => state.service(k)).filter((s): s is Service => s !== undefined);
  if (hint) {
    const byHint = mine.find((s) => s.hostname === hint);
    if (byHint) return byHint;
  }
  return mine.find((s) => s.ports.some((p) => targetPort(s, local, p.servicePort) === port));
}

/** Handles one CONNECT stream for `pod`. Responds on every path; never throws. */
export async function handleInboundStream(inputs: ProxyInputs, pod: LocalPod, req: HboneStreamRequest): Promise<void> {
  const { state, config } = inputs;
  const { stream, peerAddress, localAddress } = req;
  const result = new ConnectionResult({
    direction: 'inbound',
    srcAddr: formatHostPort(peerAddress.ip, peerAddress.port),
    dstAddr: formatHostPort(localAddress.ip, localAddress.port),
    metrics: inputs.metrics,
    accessLog: inputs.accessLog,
    decisions: inputs.decisions,
  });
  result.hboneAddr = req.authority.text;
  result.mutualTls = true;
  result.srcIdentity = req.peerIdentity;
  const fail = (status: number, err: Error): void => {
    respondStatus(stream, status);
    result.close({ clientToServer: 0, serverToClient: 0 }, err);
  };

  const local = state.findLocalWorkload(pod.info, config.node);
  if (!local) return fail(503, new RoutingError(`unknown destination: pod ${pod.info.namespace}/${pod.info.name} is not known from xDS`));
  result.dstWorkload = local;
  result.dstIdentity = workloadIdentity(local);
  result.srcWorkload = state.workloadByAddress(config.network, peerAddress.ip);

  const targetIp = localAddress.ip;
  let port: number;
  if (req.authority.isIp) {
    if (req.authority.host !== targetIp && !targetUsesUsAsWaypoint(state, config.network, req.authority.host, local)) {
      return fail(400, new RoutingError(`ip mismatch: ${req.authority.host} != ${targetIp}`));
    }
    port = req.authority.port;
  } else {
    const svc = state.servicesByHostname(req.authority.host, local.namespace).find((s) => serviceKey(s) in local.services);
    const resolved = svc ? targetPort(svc, local, req.authority.port) : undefined;
    if (!svc || resolved === undefined) return fail(503, new RoutingError(`no target port for ${req.authority.text}`));
    port = resolved;
  }
  if (ILLEGAL_PORTS.has(port)) return fail(503, new RoutingError(`target port ${port} is reserved for ztunnel`));
  result.dstService = destinationService(state, local, port, forwardedHost(req.headers.forwarded as string | undefined));
  result.dstAddr = formatHostPort(targetIp, port);

  const facts: ConnectionFacts = { srcIp: peerAddress.ip, srcIdentity: req.peerIdentity, dstIp: targetIp, dstPort: port };
  // Re-read the workload at evaluation time: its selector-policy list can change while the connection lives.
  const check = () => authorize(state.policies, state.workload(local.uid) ?? local, facts);
  const decision = check();
  if (!decision.allowed) return fail(401, new PolicyDeniedError(decision.reason, decision.policy));

  let app: net.Socket;
  try {
    app = await inputs.sockets.connect({
      host: targetIp, port, localAddress: peerAddress.ip, transparent: peerAddress.ip !== targetIp, timeoutMs: config.connectTimeoutMs,
    });
  } catch (err) {
    return fail(503, new UpstreamConnectError(formatHostPort(targetIp, port), { cause: err }));
  }
  app.on('error', () => undefined);
  if (stream.destroyed) {
    app.destroy();
    result.close({ clientToServer: 0, serverToClient: 0 }, new UpstreamConnectError('client', { cause: new Error('stream closed while connecting') }));
    return;
  }
  stream.respond({ ':status': 200, baggage: baggageOf(local) });
  result.open();
  await relay(inputs.connections, {
    direction: 'inbound', podUid: pod.uid, src: formatHostPort(peerAddress.ip, peerAddress.port),
    originalDst: req.authority.text, actualDst: formatHostPort(targetIp, port), protocol: 'HBONE', authorize: check,
  }, result, stream, app);
}
