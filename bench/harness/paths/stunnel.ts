// Path 3, the L4 peer: a plain mutual-TLS tunnel between the nodes with Debian's stunnel4, one process in each
// node's netns (where ztunnel runs): client pod → stunnel (node1) ⇒ TLS 1.3, ECDSA P-256 mTLS ⇒ stunnel (node2) → server.
// The client addresses the node1 stunnel explicitly (pod gateway address): stunnel has no transparent capture.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchPath, PathEnvironment } from '../bench-path.js';
import { listenerPort, type BenchCluster, type Endpoint, type PathTargets } from '../bench-cluster.js';
import type { ProxyProcess } from '../proc-stats.js';
import { BASELINE_NAMESPACE } from './direct.js';

/** The node2 stunnel's TLS listeners, one per server app (it forwards them in plaintext to the server pod). */
/** Listener ports: in LISTENER_PORTS, clear of every ephemeral range. */
export const STUNNEL_SERVER_PORTS = { http: 62080, iperf: 62201, echo: 62900 } as const;
const STUNNEL_CLIENT_PORTS = { http: 61080, iperf: 61201, echo: 61900 } as const;

type Service = { name: string; accept: number; connect: Endpoint };

/** The stunnel configuration (man stunnel4): foreground, quiet logging, TLS 1.3 only, mutual verification. */
export function stunnelConfig(opts: { client: boolean; cert: string; key: string; ca: string; services: Service[] }): string {
  const lines = [
    'foreground = yes',
    'pid =',
    // 3 = errors only: per-connection notices would cost more than the tunnelling in the connection-rate phase.
    'debug = 3',
    'syslog = no',
    'socket = l:TCP_NODELAY=1',
    'socket = r:TCP_NODELAY=1',
    '',
  ];
  for (const s of opts.services) {
    lines.push(`[${s.name}]`, `accept = 0.0.0.0:${listenerPort(s.accept)}`, `connect = ${s.connect.host}:${s.connect.port}`,
      `client = ${opts.client ? 'yes' : 'no'}`, `cert = ${opts.cert}`, `key = ${opts.key}`, `CAfile = ${opts.ca}`,
      'verifyChain = yes', 'requireCert = yes', 'sslVersionMin = TLSv1.3', '');
  }
  return lines.join('\n');
}

/** Starts one stunnel4 process in `netns` and waits until its listeners are up. */
export async function startStunnel(env: PathEnvironment, name: string, netns: string, client: boolean, services: Service[]): Promise<ProxyProcess> {
  const leaf = await env.pki.leaf(name);
  const file = join(env.cluster.workDir, `${name}.conf`);
  writeFileSync(file, stunnelConfig({ client, cert: leaf.cert, key: leaf.key, ca: env.pki.caCert, services }));
  const proc = env.cluster.startProcess(name, netns, ['stunnel4', file]);
  await env.cluster.waitListening(netns, services.map((s) => s.accept));
  return proc;
}

const serverSides = new WeakMap<BenchCluster, Promise<ProxyProcess>>();

/** The node2 stunnel in server mode, shared by the stunnel and HAProxy paths (started once per cluster). */
export function stunnelServerSide(env: PathEnvironment): Promise<ProxyProcess> {
  let started = serverSides.get(env.cluster);
  if (!started) {
    started = (async () => {
      const pair = await env.cluster.deployPair(BASELINE_NAMESPACE);
      const node2 = env.cluster.node('node2');
      await env.cluster.tuneNetns(node2.netns);
      return startStunnel(env, 'stunnel-node2', node2.netns, false, [
        { name: 'http', accept: STUNNEL_SERVER_PORTS.http, connect: pair.direct.http },
        { name: 'iperf', accept: STUNNEL_SERVER_PORTS.iperf, connect: pair.direct.iperf },
        { name: 'echo', accept: STUNNEL_SERVER_PORTS.echo, connect: pair.direct.echo },
      ]);
    })();
    serverSides.set(env.cluster, started);
  }
  return started;
}

export const stunnelPath: BenchPath = {
  id: 'stunnel',
  title: 'stunnel mTLS two-hop',
  layer: 'L4',
  async prepare(env) {
    const pair = await env.cluster.deployPair(BASELINE_NAMESPACE);
    const node1 = env.cluster.node('node1');
    const node2 = env.cluster.node('node2');
    const server = await stunnelServerSide(env);
    await env.cluster.tuneNetns(node1.netns);
    const remote = (port: number): Endpoint => ({ host: node2.ip, port });
    const client = await startStunnel(env, 'stunnel-node1', node1.netns, true, [
      { name: 'http', accept: STUNNEL_CLIENT_PORTS.http, connect: remote(STUNNEL_SERVER_PORTS.http) },
      { name: 'iperf', accept: STUNNEL_CLIENT_PORTS.iperf, connect: remote(STUNNEL_SERVER_PORTS.iperf) },
      { name: 'echo', accept: STUNNEL_CLIENT_PORTS.echo, connect: remote(STUNNEL_SERVER_PORTS.echo) },
    ]);
    const at = (port: number): Endpoint => ({ host: node1.podGateway, port });
    const targets: PathTargets = { http: at(STUNNEL_CLIENT_PORTS.http), iperf: at(STUNNEL_CLIENT_PORTS.iperf), echo: at(STUNNEL_CLIENT_PORTS.echo) };
    return {
      clientNetns: pair.clientNetns,
      targets,
      proxies: [client, server],
      description: [
        `client pod → ${node1.podGateway} (stunnel4 in ${node1.netns}, client mode) ⇒ TLS 1.3 mTLS, ECDSA P-256 ⇒ ` +
          `${node2.ip} (stunnel4 in ${node2.netns}) → server pod ${pair.serverIp}`,
        'stunnel defaults otherwise (one thread per connection, TLS session resumption on), TCP_NODELAY both sides',
      ],
      close: async () => undefined,
    };
  },
};
