// What Ambit's chained CNI plugin (CNI spec 1.0) does with one invocation, decided in the node agent: the plugin's
// executable (native/ambit_cni.c, static, installed on the node) forwards the invocation here and relays the answer.
// After the primary plugin (ptp, bridge, a cloud's own) has built a pod's network, the pod and its netns are
// reported (src/lib/cni-report.ts) and the primary plugin's result is passed on unchanged; the network itself is
// never touched. A report the agent refuses fails the ADD with CNI error 11 ("try again later"). DEL always
// succeeds (the spec asks DEL to tolerate missing state). While the agent is unreachable the executable decides
// alone in the same way (fail closed except excluded namespaces).
import { CNI_DEFAULT_EXCLUDED_NAMESPACES, type CniReply, type CniReport } from '../lib/cni-report.js';

const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'];

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
  /** Records one report in the node agent and says whether it is accepted. */
  report: (report: CniReport) => CniReply;
}

export interface PluginOutcome {
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

/** Decides one plugin invocation; the executable writes `stdout` and exits with `code`. */
export function runCniPlugin(io: PluginIo): PluginOutcome {
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
      const reply = io.report(report('ADD'));
      if (!reply.ok) return cniError(version, 11, `ambit-cni: the node agent refused pod ${podNamespace}/${podName}`, reply.error ?? '');
      return { code: 0, stdout: result };
    }
    case 'DEL':
      if (podName && !excluded.includes(podNamespace)) io.report(report('DEL'));
      return { code: 0, stdout: '' };
    case 'CHECK':
    case 'GC':
    case 'STATUS':
      return { code: 0, stdout: '' };
    default:
      return cniError(version, 4, `ambit-cni: unknown CNI_COMMAND "${command}"`);
  }
}
