// The guided tour `ambit demo` prints at the end: the exact commands to try next (every one exists and works as
// printed), grouped by what they show.
import { dirname, relative } from 'node:path';
import { PORT_DASHBOARD } from '../lib/mesh-contract.js';

interface TourFacts {
  /** How to invoke ambit here (`ambit`, or `ambit --data-dir D` when the demo ran with a non-default data dir). */
  ambit: string;
  cluster: string;
  nodeNetns: readonly string[];
  namespace: string;
  repoDir: string;
  /** The Node binary the pods run; shown as `node` when it is on the pods' default PATH. */
  nodeBinary: string;
  /** The current directory, so repository paths print relative when the user is inside the repository. */
  cwd: string;
  /** Whether the mesh steps (ztunnel) ran. */
  ztunnelRunning: boolean;
  /** The host port carried to the ingress gateway's 443, when the cluster has one. */
  ingressPort?: number;
  /** The CA of the demo's ingress certificate. */
  ingressCaFile: string;
}

const POD_PATH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function renderTour(f: TourFacts): string {
  const a = f.ambit;
  const ns = f.namespace;
  const node = POD_PATH_DIRS.includes(dirname(f.nodeBinary)) ? 'node' : f.nodeBinary;
  const rel = relative(f.cwd, f.repoDir);
  const inRepo = rel === '' || (!rel.startsWith('..') && !rel.startsWith('/'));
  const repoPath = (p: string) => (inRepo ? (rel ? `${rel}/${p}` : p) : `${f.repoDir}/${p}`);
  // Paths inside a pod are absolute: the pod's working directory is /.
  const tcpClient = `${node} ${f.repoDir}/examples/apps/tcp-client.mjs`;
  const node2 = f.nodeNetns[1] ?? f.nodeNetns[0] ?? `${f.cluster}.node1`;
  // A command with its comment aligned at one column.
  const c = (cmd: string, comment: string) => `${cmd.padEnd(46)} # ${comment}`;
  const lines = [
    `Your mesh: sandbox cluster "${f.cluster}" (${f.nodeNetns.length} nodes), namespace ${ns} enrolled with istio.io/dataplane-mode=ambient.`,
    ...(f.ztunnelRunning ? [] : ['(ztunnel is not running in this sandbox yet: enrolled pods fail closed, so un-enroll first to send traffic.)']),
    '',
    'Look around:',
    `  ${a} get pods,svc -n ${ns} -o wide`,
    `  ${a} cluster info`,
    c(`  ${a} x describe pod echo-v1 -n ${ns}`, 'enrolment and why, identity, certificate, policies, waypoint, hints'),
    c(`  ${a} proxy-status`, 'ztunnels and waypoints connected to the control plane'),
    `  ${a} waypoint list -n ${ns}`,
    '',
    'See it: the dashboard (service graph with mTLS locks, security, live allow/deny decisions, config warnings):',
    c(`  ${a} dashboard`, `http://127.0.0.1:${PORT_DASHBOARD}/ (opens your browser if it can; Ctrl-C stops)`),
    '',
    'Send traffic from the client pod:',
    `  ${a} exec client -n ${ns} -- curl -s http://echo/`,
    `  ${a} exec client -n ${ns} -- ${tcpClient} tcp-echo 9000 hello`,
    `  ${a} exec client -n ${ns} -- ${tcpClient} server-first 9001`,
    '',
    "Workloads, certificates and live connections as each node's ztunnel sees them, and its metrics:",
    `  ${a} ztunnel-config workloads`,
    `  ${a} ztunnel-config certificates`,
    `  ${a} ztunnel-config connections`,
    `  ip netns exec ${node2} curl -s localhost:15020/stats/prometheus | grep istio_tcp_connections_opened_total`,
    '',
    'Apply a deny policy and see the client refused, then remove it:',
    `  ${a} apply -f ${repoPath('examples/demo/tour/deny-client.yaml')}`,
    `  ${a} exec client -n ${ns} -- curl -sS --max-time 3 http://echo/`,
    `  ${a} x describe pod echo-v1 -n ${ns}`,
    `  ${a} delete -f ${repoPath('examples/demo/tour/deny-client.yaml')}`,
    '',
    'Add L7 with a waypoint (a 90/10 canary, retries on /flaky), then remove it:',
    `  ${a} waypoint apply -n ${ns} --enroll-namespace --wait`,
    `  ${a} apply -f ${repoPath('examples/demo/tour/canary.yaml')}`,
    c(`  ${a} exec client -n ${ns} -- curl -s http://echo/flaky`, 'echo fails every other one; the waypoint retries'),
    `  ${a} waypoint status -n ${ns}`,
    `  ${a} delete -f ${repoPath('examples/demo/tour/canary.yaml')}`,
    c(`  ${a} waypoint delete waypoint -n ${ns}`, 'unbinds the namespace: L4 only again'),
    '',
    'Egress: the outside world\'s api.example.test through an egress waypoint (TLS originated, POST refused):',
    `  ${a} apply -f ${repoPath('examples/demo/tour/egress.yaml')}`,
    c(`  ${a} exec client -n ${ns} -- curl -s http://api.example.test/hello`, '"tls":true: the waypoint spoke TLS outside'),
    c(`  ${a} exec client -n ${ns} -- curl -s -X POST http://api.example.test/x`, 'RBAC: access denied'),
    c(`  ${a} apply -f ${repoPath('examples/demo/tour/registry-only.yaml')}`, 'outboundTrafficPolicy REGISTRY_ONLY'),
    c(`  ${a} exec client -n ${ns} -- curl -sS -m 3 http://unlisted.example.test/`, 'refused by ztunnel'),
    `  ${a} delete -f ${repoPath('examples/demo/tour/registry-only.yaml')}`,
    `  ${a} delete -f ${repoPath('examples/demo/tour/egress.yaml')}`,
    '',
    ...(f.ingressPort
      ? [
        `Ingress: the echo Service published at https://shop.example.test through this machine's port ${f.ingressPort}:`,
        `  curl --resolve shop.example.test:${f.ingressPort}:127.0.0.1 --cacert ${f.ingressCaFile} https://shop.example.test:${f.ingressPort}/`,
        c(`  ${a} get gateway,httproute -n ${ns}`, 'status: addresses, attached routes'),
        '',
      ]
      : []),
    'Un-enroll (no pod restarts; traffic is plain TCP again), and enroll again:',
    `  ${a} label namespace ${ns} istio.io/dataplane-mode-`,
    `  ${a} exec client -n ${ns} -- curl -s http://echo/`,
    `  ${a} label namespace ${ns} istio.io/dataplane-mode=ambient`,
    '',
    'Logs and clean-up:',
    `  ${a} logs echo-v1 -n ${ns}`,
    c(`  ${a} demo --down`, 'removes the demo (and its cluster, if the demo created it)'),
  ];
  return `${lines.join('\n')}\n`;
}
