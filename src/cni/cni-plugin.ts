// Ambit's chained CNI plugin (CNI spec 1.0): after the primary plugin (ptp, bridge, a cloud's own) has built a pod's
// network, it reports the pod and its netns to the node agent (src/lib/cni-report.ts) and passes the primary
// plugin's result on unchanged. It never touches the network itself.
//
// Fail closed: an ADD for a pod outside the excluded namespaces fails (CNI error 11, "try again later") while the
// node agent cannot be reached, so the runtime retries and no pod starts that the agent has not seen; the agent
// decides whether the pod is captured. DEL always succeeds (the spec asks DEL to tolerate missing state); CHECK and
// VERSION answer without the agent.
import net from 'node:net';
import { CNI_DEFAULT_EXCLUDED_NAMESPACES, type CniReply, type CniReport } from '../lib/cni-report.js';

const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'];
const AGENT_TIMEOUT_MS = 10_000;

/** The plugin's configuration as it appears in the conflist (plus what the runtime adds: name, cniVersion, prevResult). */
interface PluginConf {
  cniVersion?: string;
  name?: string;
  type?: string;
  /** The node agent's report socket. */
  nodeAgentSocket?: string;
  excludeNamespaces?: string[];
  prevResult?: { ips?: Array<{ address?: string }>; [k: string]: unknown };
}

interface PluginIo {
  env: Readonly<Record<string, string | undefined>>;
  stdin: string;
  /** Sends one report and resolves with the agent's reply (injectable for tests; default: the Unix socket). */
  send?: (socketPath: string, report: CniReport) => Promise<CniReply>;
}

interface PluginOutcome {
  code: number;
  stdout: string;
}

/** CNI error codes (spec §Error): 4 incompatible config, 7 invalid network config, 11 try again later. */
function cniError(cniVersion: string, code: number, msg: string, details = ''): PluginOutcome {
  return { code: 1, stdout: `${JSON.stringify({ cniVersion, code, msg, ...(details ? { details } : {}) })}\n` };
}

/** `K8S_POD_NAMESPACE=a;K8S_POD_NAME=b` → map. */
function parseCniArgs(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (text ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i), part.slice(i + 1));
  }
  return out;
}

/** One JSON line to the agent, one JSON line back. */
function sendReport(socketPath: string, report: CniReport): Promise<CniReply> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => sock.destroy(new Error(`no answer within ${AGENT_TIMEOUT_MS} ms`)), AGENT_TIMEOUT_MS);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(report)}\n`));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as CniReply);
      } catch {
        reject(new Error('the node agent answered with something that is not JSON'));
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      if (!buf.includes('\n')) reject(new Error('the node agent closed the connection without an answer'));
    });
  });
}

/** Runs one plugin invocation; the caller writes `stdout` and exits with `code`. */
export async function runCniPlugin(io: PluginIo): Promise<PluginOutcome> {
  const command = io.env['CNI_COMMAND'] ?? '';
  if (command === 'VERSION') return { code: 0, stdout: `${JSON.stringify({ cniVersion: '1.0.0', supportedVersions: SUPPORTED_VERSIONS })}\n` };
  let conf: PluginConf;
  try {
    conf = JSON.parse(io.stdin) as PluginConf;
  } catch (err) {
    return cniError('1.0.0', 7, 'ambit-cni: the network configuration on stdin is not JSON', (err as Error).message);
  }
  const version = conf.cniVersion ?? '1.0.0';
  if (!SUPPORTED_VERSIONS.includes(version)) return cniError(version, 1, `ambit-cni: cniVersion ${version} is not supported (${SUPPORTED_VERSIONS.join(', ')})`);
  const args = parseCniArgs(io.env['CNI_ARGS']);
  const podNamespace = args.get('K8S_POD_NAMESPACE') ?? '';
  const podName = args.get('K8S_POD_NAME') ?? '';
  const excluded = conf.excludeNamespaces ?? CNI_DEFAULT_EXCLUDED_NAMESPACES;
  const send = io.send ?? sendReport;
  const report = (cmd: 'ADD' | 'DEL'): CniReport => ({
    command: cmd, containerId: io.env['CNI_CONTAINERID'] ?? '', netns: io.env['CNI_NETNS'] ?? '', podNamespace, podName,
    ...(args.get('K8S_POD_UID') ? { podUid: args.get('K8S_POD_UID') } : {}),
    ips: (conf.prevResult?.ips ?? []).map((i) => String(i.address ?? '')).filter(Boolean),
  });
  switch (command) {
    case 'ADD': {
      if (!conf.prevResult) return cniError(version, 7, 'ambit-cni is a chained plugin: it must follow a primary plugin in a conflist (no prevResult)');
      const result = `${JSON.stringify({ ...conf.prevResult, cniVersion: version })}\n`;
      // Not a Kubernetes pod, or an excluded namespace: nothing to report.
      if (!podName || excluded.includes(podNamespace)) return { code: 0, stdout: result };
      if (!conf.nodeAgentSocket) return cniError(version, 7, 'ambit-cni: nodeAgentSocket is not set in its conflist entry');
      try {
        const reply = await send(conf.nodeAgentSocket, report('ADD'));
        if (!reply.ok) return cniError(version, 11, `ambit-cni: the node agent refused pod ${podNamespace}/${podName}`, reply.error ?? '');
      } catch (err) {
        return cniError(version, 11, `ambit-cni: the Ambit node agent is unreachable at ${conf.nodeAgentSocket}; pod ${podNamespace}/${podName} waits for it`, (err as Error).message);
      }
      return { code: 0, stdout: result };
    }
    case 'DEL':
      if (podName && !excluded.includes(podNamespace) && conf.nodeAgentSocket) await send(conf.nodeAgentSocket, report('DEL')).catch(() => undefined);
      return { code: 0, stdout: '' };
    case 'CHECK':
    case 'GC':
    case 'STATUS':
      return { code: 0, stdout: '' };
    default:
      return cniError(version, 4, `ambit-cni: unknown CNI_COMMAND "${command}"`);
  }
}
