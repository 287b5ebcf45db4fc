// The end every proxied connection shares (outbound, inbound HBONE, inbound plaintext): copy bytes both ways while
// the connection is tracked (so a policy change can revoke it), then report it once with its byte counts.
import type { Duplex } from 'node:stream';
import { BidirectionalCopy } from '../../hbone/copy.js';
import { formatBaggage } from '../../hbone/hbone-protocol.js';
import { ProxyError } from '../../hbone/proxy-errors.js';
import type { ConnectionManager, TrackedConnection } from './connection-manager.js';
import type { ConnectionResult } from './connection-result.js';
import type { Workload } from '../state/types.js';

/** Relays `client` ⇄ `server` until both directions end; `result` must be open. Never throws. */
export async function relay(connections: ConnectionManager, conn: Omit<TrackedConnection, 'revoke'>, result: ConnectionResult, client: Duplex, server: Duplex): Promise<void> {
  const copy = new BidirectionalCopy(client, server);
  const unregister = connections.register({ ...conn, revoke: (err) => copy.abort(err) });
  const outcome = await copy.done;
  unregister();
  // Resets by either end are ordinary TCP endings; only our own decisions (revocation, drain) are failures.
  result.close({ clientToServer: outcome.aToB, serverToClient: outcome.bToA }, outcome.error instanceof ProxyError ? outcome.error : undefined);
}

/** The `baggage` header describing workload `w` (sent on CONNECT by the source, on the 200 by the destination). */
export function baggageOf(w: Workload): string {
  return formatBaggage({
    clusterId: w.clusterId, namespace: w.namespace, workloadType: w.workloadType, workloadName: w.workloadName,
    canonicalName: w.canonicalName, canonicalRevision: w.canonicalRevision, region: w.locality.region, zone: w.locality.zone,
  });
}
