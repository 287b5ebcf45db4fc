// Path 5, the L7 peer, shaped like Ambit's waypoint path (ztunnel ⇒ waypoint ⇒ ztunnel): client pod → stunnel
// (node1) ⇒ mTLS ⇒ HAProxy in a "waypoint" pod (terminates TLS, parses HTTP, originates TLS) ⇒ mTLS ⇒ stunnel
// (node2) → server. HTTP goes through HAProxy's `mode http`; iperf3 and echo through `mode tcp` (a waypoint passes
// non-HTTP ports as TCP too).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchPath } from '../bench-path.js';
import { listenerPort, type Endpoint, type PathTargets } from '../bench-cluster.js';
import { BASELINE_NAMESPACE } from './direct.js';
import { STUNNEL_SERVER_PORTS, startStunnel, stunnelServerSide } from './stunnel.js';

/** Listener ports: in LISTENER_PORTS, clear of every ephemeral range. */
const HAPROXY_PORTS = { http: 63443, iperf: 63521, echo: 63900 } as const;
const STUNNEL_L7_CLIENT_PORTS = { http: 64080, iperf: 64201, echo: 64900 } as const;

interface Frontend {
  name: string;
  mode: 'http' | 'tcp';
  port: number;
  upstream: Endpoint;
}

/** HAProxy configuration: TLS 1.3 mutual verification on both sides, long idle timeouts, no logging. */
export function haproxyConfig(opts: { crt: string; ca: string; frontends: Frontend[] }): string {
  const tls = `ssl crt ${opts.crt} ca-file ${opts.ca} verify required`;
  const lines = [
    // No global maxconn: HAProxy derives it from the descriptor limit (raised to the hard limit by startProcess).
    'global',
    '  ssl-default-bind-options ssl-min-ver TLSv1.3',
    '  ssl-default-server-options ssl-min-ver TLSv1.3',
    'defaults',
    '  timeout connect 5s',
    '  timeout client 120s',
    '  timeout server 120s',
    '  timeout http-keep-alive 120s',
    '  maxconn 5000',
    '',
  ];
  for (const f of opts.frontends) {
    lines.push(`frontend fe_${f.name}`, `  mode ${f.mode}`, `  bind 0.0.0.0:${listenerPort(f.port)} ${tls}`, `  default_backend be_${f.name}`,
      `backend be_${f.name}`, `  mode ${f.mode}`, `  server upstream ${f.upstream.host}:${f.upstream.port} ${tls}`, '');
  }
  return lines.join('\n');
}

export const haproxyPath: BenchPath = {
  id: 'haproxy',
  title: 'HAProxy L7 with TLS both sides',
  layer: 'L7',
  async prepare(env) {
    const { cluster, pki } = env;
    const pair = await cluster.deployPair(BASELINE_NAMESPACE);
    const node1 = cluster.node('node1');
    const node2 = cluster.node('node2');
    const server = await stunnelServerSide(env);
    // The waypoint stands on the server's node, as the sandbox's scheduler would place it with two busy nodes.
    const waypoint = await cluster.deployHostPod(BASELINE_NAMESPACE, 'bench-waypoint', 'node2');
    const leaf = await pki.leaf('haproxy-waypoint');
    const file = join(cluster.workDir, 'haproxy.cfg');
    const remote = (port: number): Endpoint => ({ host: node2.ip, port });
    writeFileSync(file, haproxyConfig({ crt: leaf.combined, ca: pki.caCert, frontends: [
      { name: 'http', mode: 'http', port: HAPROXY_PORTS.http, upstream: remote(STUNNEL_SERVER_PORTS.http) },
      { name: 'iperf', mode: 'tcp', port: HAPROXY_PORTS.iperf, upstream: remote(STUNNEL_SERVER_PORTS.iperf) },
      { name: 'echo', mode: 'tcp', port: HAPROXY_PORTS.echo, upstream: remote(STUNNEL_SERVER_PORTS.echo) },
    ] }));
    // -db: stay in the foreground, no master process (the pid we hold is the proxy itself).
    const haproxy = cluster.startProcess('haproxy', waypoint.netns, ['haproxy', '-db', '-f', file]);
    await cluster.waitListening(waypoint.netns, Object.values(HAPROXY_PORTS));
    const toWaypoint = (port: number): Endpoint => ({ host: waypoint.ip, port });
    await cluster.tuneNetns(node1.netns);
    const client = await startStunnel(env, 'stunnel-node1-l7', node1.netns, true, [
      { name: 'http', accept: STUNNEL_L7_CLIENT_PORTS.http, connect: toWaypoint(HAPROXY_PORTS.http) },
      { name: 'iperf', accept: STUNNEL_L7_CLIENT_PORTS.iperf, connect: toWaypoint(HAPROXY_PORTS.iperf) },
      { name: 'echo', accept: STUNNEL_L7_CLIENT_PORTS.echo, connect: toWaypoint(HAPROXY_PORTS.echo) },
    ]);
    const at = (port: number): Endpoint => ({ host: node1.podGateway, port });
    const targets: PathTargets = { http: at(STUNNEL_L7_CLIENT_PORTS.http), iperf: at(STUNNEL_L7_CLIENT_PORTS.iperf), echo: at(STUNNEL_L7_CLIENT_PORTS.echo) };
    return {
      clientNetns: pair.clientNetns,
      targets,
      proxies: [client, haproxy, server],
      description: [
        `client pod → ${node1.podGateway} (stunnel4, ${node1.netns}) ⇒ mTLS ⇒ HAProxy in pod ${waypoint.ip} (node2; ` +
          `mode http for HTTP, mode tcp for iperf3/echo; TLS terminated and re-originated) ⇒ mTLS ⇒ ${node2.ip} (stunnel4, ${node2.netns}) → server pod`,
        'proxy cost = both stunnels + HAProxy (the same three hops as ztunnel ⇒ waypoint ⇒ ztunnel); HAProxy defaults: one thread per CPU',
      ],
      close: async () => undefined,
    };
  },
};
