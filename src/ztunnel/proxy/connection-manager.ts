// Live connection registry: lists open connections for the admin dump and re-authorizes every inbound
// connection when policies or workloads change, closing the ones now denied (live revocation, flag DENY).
import type { Logger } from 'pino';
import { silentLogger } from '../../lib/log.js';
import type { AuthorizationDecision } from '../policy/authorization.js';
import type { ProxyState } from '../state/proxy-state.js';
import { PolicyRevokedError } from '../../hbone/proxy-errors.js';

export interface TrackedConnection {
  direction: 'inbound' | 'outbound';
  /** The pod (proxy instance) the connection belongs to. */
  podUid: string;
  src: string;
  originalDst: string;
  actualDst: string;
  protocol: 'HBONE' | 'TCP';
  /** Inbound: evaluates the connection against the current policies. */
  authorize?: () => AuthorizationDecision;
  /** Closes the connection now with `err` (recorded as its failure). */
  revoke(err: Error): void;
}

export class ConnectionManager {
  readonly #conns = new Set<TrackedConnection>();
  readonly #log: Logger;
  readonly #unsubscribe: () => void;
  #scheduled = false;

  constructor(state: ProxyState, log: Logger = silentLogger()) {
    this.#log = log;
    // Batched per event-loop turn: one xDS push with many policies costs one pass over the connections.
    this.#unsubscribe = state.onChange((c) => {
      if ((c.policiesChanged || c.workloadsChanged) && !this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.revalidate();
        });
      }
    });
  }

  /** Tracks `conn` until the returned function is called. */
  register(conn: TrackedConnection): () => void {
    this.#conns.add(conn);
    return () => this.#conns.delete(conn);
  }

  list(podUid?: string): TrackedConnection[] {
    return [...this.#conns].filter((c) => podUid === undefined || c.podUid === podUid);
  }

  get size(): number {
    return this.#conns.size;
  }

  /** Re-authorizes every inbound connection; closes and returns the number of those now denied. */
  revalidate(): number {
    let closed = 0;
    for (const c of [...this.#conns]) {
      if (!c.authorize) continue;
      const d = c.authorize();
      if (d.allowed) continue;
      closed++;
      this.#conns.delete(c);
      this.#log.info({ 'src.addr': c.src, 'dst.addr': c.actualDst, reason: d.reason }, 'closing connection denied by a policy change');
      c.revoke(new PolicyRevokedError(d.reason, d.allowed ? undefined : d.policy));
    }
    return closed;
  }

  /** Closes every tracked connection of `podUid` (or all) with `err`. */
  closeAll(err: Error, podUid?: string): void {
    for (const c of this.list(podUid)) {
      this.#conns.delete(c);
      c.revoke(err);
    }
  }

  close(): void {
    this.#unsubscribe();
  }
}
