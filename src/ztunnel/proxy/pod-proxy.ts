// One proxy instance per enrolled pod: its outbound (15001), inbound plaintext (15006) and HBONE (15008)
// listeners, its HBONE server (presenting the pod's certificate) and its outbound connection pool; `stop()` drains.
import type net from 'node:net';
import { MeshError, describeError } from '../../lib/errors.js';
import { HboneServer } from '../../hbone/hbone-server.js';
import { handleInboundStream } from './inbound.js';
import { handleInboundPlaintext } from './inbound-plaintext.js';
import { createPodPool, handleOutbound } from './outbound.js';
import type { HbonePool } from '../../hbone/pool.js';
import type { LocalPod, ProxyInputs } from './proxy-inputs.js';
import { workloadIdentity } from './route.js';
import { PORT_HBONE, PORT_INBOUND_PLAINTEXT, PORT_OUTBOUND } from '../../lib/mesh-contract.js';

interface PodListenPorts {
  outbound: number;
  inboundPlaintext: number;
  hbone: number;
}

const DEFAULT_POD_PORTS: PodListenPorts = { outbound: PORT_OUTBOUND, inboundPlaintext: PORT_INBOUND_PLAINTEXT, hbone: PORT_HBONE };

interface PodProxyOptions {
  /** Address the listeners bind (in-pod: `0.0.0.0`; loopback tests: the pod's 127.x IP). */
  bindIp: string;
  ports?: Partial<PodListenPorts>;
  /** Pool idle release, ms (default 5 min). */
  poolIdleTimeoutMs?: number;
}

/** The SPIFFE identity a pod proxies as: from xDS when known, else from the node agent's info + default trust domain. */
function podIdentity(inputs: ProxyInputs, pod: LocalPod): string {
  const w = inputs.state.findLocalWorkload(pod.info, inputs.config.node);
  return w ? workloadIdentity(w) : workloadIdentity({ trustDomain: inputs.config.defaultTrustDomain, namespace: pod.info.namespace, serviceAccount: pod.info.serviceAccount });
}

class PodProxyStartError extends MeshError {
  constructor(pod: LocalPod, options?: { cause?: unknown }) {
    super('ZT_POD_PROXY_START', `cannot start the proxy of pod ${pod.info.namespace}/${pod.info.name}${options?.cause ? `: ${describeError(options.cause)}` : ''}`, options);
  }
}

export class PodProxy {
  readonly pod: LocalPod;
  readonly identity: string;
  readonly pool: HbonePool;
  readonly hbone: HboneServer;
  /** Bound addresses, once started. */
  readonly addresses: { outbound: net.AddressInfo; inboundPlaintext: net.AddressInfo; hbone: net.AddressInfo };
  readonly #servers: net.Server[];
  readonly #inputs: ProxyInputs;
  readonly #unsubscribe: (() => void) | undefined;
  #stopped = false;

  private constructor(inputs: ProxyInputs, pod: LocalPod, identity: string, pool: HbonePool, hbone: HboneServer, servers: net.Server[], unsubscribe: (() => void) | undefined) {
    this.#inputs = inputs;
    this.pod = pod;
    this.identity = identity;
    this.pool = pool;
    this.hbone = hbone;
    this.#servers = servers;
    this.#unsubscribe = unsubscribe;
    const [o, p, h] = servers.map((s) => s.address() as net.AddressInfo);
    this.addresses = { outbound: o!, inboundPlaintext: p!, hbone: h! };
  }

  /** Fetches the pod's certificate and opens its listeners. Rejects with PodProxyStartError (nothing left open). */
  static async start(inputs: ProxyInputs, pod: LocalPod, opts: PodProxyOptions): Promise<PodProxy> {
    const ports = { ...DEFAULT_POD_PORTS, ...opts.ports };
    const identity = podIdentity(inputs, pod);
    const servers: net.Server[] = [];
    let pool: HbonePool | undefined;
    let hbone: HboneServer | undefined;
    let unsubscribe: (() => void) | undefined;
    try {
      const cert = await inputs.certs.fetch(identity);
      const podLog = inputs.log.child({ pod: `${pod.info.namespace}/${pod.info.name}` });
      const ctx = { inputs, pod };
      hbone = new HboneServer({
        certificate: cert, log: podLog, handler: (req) => handleInboundStream(ctx.inputs, ctx.pod, req),
        onHandshakeFailure: (reason) => ctx.inputs.metrics.tlsHandshakeFailures.inc({ reason }),
      });
      unsubscribe = inputs.certs.onUpdate?.((id, next) => {
        if (id === identity && next) hbone!.updateCertificate(next);
      });
      pool = createPodPool(inputs, opts.poolIdleTimeoutMs === undefined ? {} : { idleTimeoutMs: opts.poolIdleTimeoutMs });
      const p = pool;
      const h = hbone;
      servers.push(await inputs.sockets.listen(opts.bindIp, ports.outbound, (s) => void handleOutbound(inputs, pod, p, s)));
      servers.push(await inputs.sockets.listen(opts.bindIp, ports.inboundPlaintext, (s) => void handleInboundPlaintext(inputs, pod, s)));
      servers.push(await inputs.sockets.listen(opts.bindIp, ports.hbone, (s) => h.handleConnection(s)));
    } catch (err) {
      for (const s of servers) s.close();
      pool?.destroy();
      hbone?.destroy();
      unsubscribe?.();
      throw new PodProxyStartError(pod, { cause: err });
    }
    inputs.metrics.proxiesStarted.inc();
    return new PodProxy(inputs, pod, identity, pool, hbone, servers, unsubscribe);
  }

  /**
   * Drain: stop accepting, GOAWAY on HBONE sessions, pooled connections close after their streams, and whatever
   * is still open at `graceMs` is closed.
   */
  async stop(graceMs = 5000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe?.();
    for (const s of this.#servers) s.close();
    this.pool.close();
    const drained = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (this.#inputs.connections.list(this.pod.uid).length === 0) {
          clearInterval(check);
          resolve();
        }
      }, 20);
      check.unref();
      setTimeout(() => {
        clearInterval(check);
        resolve();
      }, graceMs).unref();
    });
    await Promise.all([this.hbone.close(graceMs), drained]);
    this.#inputs.connections.closeAll(new DrainDeadlineError(), this.pod.uid);
    this.pool.destroy();
    this.#inputs.metrics.proxiesStopped.inc();
  }
}

/** Connections still open at the drain deadline are closed with this. */
class DrainDeadlineError extends MeshError {
  constructor() {
    super('ZT_DRAINED', 'connection closed: proxy drained');
  }
}
