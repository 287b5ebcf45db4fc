// Inbound plaintext (15006 in the destination pod): traffic that did not arrive over HBONE. Authorized with no
// peer identity — so PeerAuthentication STRICT, which the control plane sends as a DENY of identity-less peers
// (optionally port-scoped), refuses it and PERMISSIVE lets it through — then forwarded with the source IP kept.
import type net from 'node:net';
import { authorize, type ConnectionFacts } from '../policy/authorization.js';
import { canonicalIp, formatHostPort } from '../../lib/ip-address.js';
import { ConnectionResult, logEarlyFailure } from './connection-result.js';
import { PolicyDeniedError, RoutingError, UpstreamConnectError } from '../../hbone/proxy-errors.js';
import type { LocalPod, ProxyInputs } from './proxy-inputs.js';
import { ILLEGAL_PORTS, workloadIdentity } from './route.js';
import { relay } from './relay.js';

/** Handles one captured plaintext inbound connection for `pod`. Never throws. */
export async function handleInboundPlaintext(inputs: ProxyInputs, pod: LocalPod, client: net.Socket): Promise<void> {
  const { state, config } = inputs;
  client.on('error', () => undefined);
  const srcIp = canonicalIp(client.remoteAddress ?? '');
  const srcAddr = formatHostPort(srcIp, client.remotePort ?? 0);
  let dst;
  try {
    dst = await inputs.sockets.originalDestination(client);
  } catch (err) {
    logEarlyFailure(inputs.accessLog, { srcAddr, dstAddr: '-', direction: 'inbound' }, err);
    client.destroy();
    return;
  }
  const dstAddr = formatHostPort(dst.ip, dst.port);
  if (ILLEGAL_PORTS.has(dst.port)) {
    logEarlyFailure(inputs.accessLog, { srcAddr, dstAddr, direction: 'inbound' }, new RoutingError(`refusing plaintext to ${dstAddr}: a ztunnel port`));
    client.destroy();
    return;
  }
  const result = new ConnectionResult({ direction: 'inbound', srcAddr, dstAddr, metrics: inputs.metrics, accessLog: inputs.accessLog, decisions: inputs.decisions });
  const fail = (err: Error): void => {
    // A reset, as ztunnel does for refused plaintext (the client sees ECONNRESET).
    client.resetAndDestroy();
    result.close({ clientToServer: 0, serverToClient: 0 }, err);
  };
  const local = state.findLocalWorkload(pod.info, config.node);
  if (!local) return fail(new RoutingError(`unknown destination: pod ${pod.info.namespace}/${pod.info.name} is not known from xDS`));
  result.dstWorkload = local;
  result.dstIdentity = workloadIdentity(local);
  result.srcWorkload = state.workloadByAddress(config.network, srcIp);

  const facts: ConnectionFacts = { srcIp, dstIp: dst.ip, dstPort: dst.port };
  const check = () => authorize(state.policies, state.workload(local.uid) ?? local, facts);
  const decision = check();
  if (!decision.allowed) return fail(new PolicyDeniedError(decision.reason, decision.policy));

  let app: net.Socket;
  try {
    app = await inputs.sockets.connect({ host: dst.ip, port: dst.port, localAddress: srcIp, transparent: srcIp !== dst.ip, timeoutMs: config.connectTimeoutMs });
  } catch (err) {
    return fail(new UpstreamConnectError(dstAddr, { cause: err }));
  }
  result.open();
  await relay(inputs.connections, { direction: 'inbound', podUid: pod.uid, src: srcAddr, originalDst: dstAddr, actualDst: dstAddr, protocol: 'TCP', authorize: check }, result, client, app);
}
