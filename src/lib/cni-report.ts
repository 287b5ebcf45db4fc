// The contract between Ambit's chained CNI plugin and the node agent. The plugin's executable (native/ambit_cni.c, a
// static program, since a node's host has no Node.js) forwards each invocation over the agent's Unix stream socket
// as one JSON line, a CniInvocation; the agent decides (src/nodeagent/cni-plugin.ts), records the pod's netns
// (a CniReport) and answers `<exit code>\n<stdout bytes>`, then closes. The agent captures the pod from there, as
// istio-cni's plugin reports to its node agent.
//
// Why a report and not the agent discovering netns on its own: on a real node the netns is created by the container
// runtime under a name nobody else knows (/var/run/netns/cni-<uuid>); the CNI ADD is the one moment it is named.

/** The plugin's `type` in a conflist, and the name of its executable in the CNI bin dir. */
export const CNI_PLUGIN_TYPE = 'ambit-cni';

/** Namespaces whose pods the plugin never reports (never captured, and never blocked by a missing node agent). */
export const CNI_DEFAULT_EXCLUDED_NAMESPACES: readonly string[] = ['kube-system'];

/** One pod network event, plugin → node agent. */
export interface CniReport {
  command: 'ADD' | 'DEL';
  /** CNI_CONTAINERID: the pod sandbox's id. */
  containerId: string;
  /** CNI_NETNS: path of the pod's netns (empty on some DELs). */
  netns: string;
  podNamespace: string;
  podName: string;
  /** From CNI_ARGS' K8S_POD_UID when the runtime passes it. */
  podUid?: string;
  /** The pod's addresses from the primary plugin's result (CIDR form). */
  ips: string[];
}

/** What the executable sends: its CNI_* environment and the network config it read on stdin. */
export interface CniInvocation {
  invoke: { env: Record<string, string>; stdin: string };
}

/** Whether the agent accepts a report (a refusal fails the ADD with the reason). */
export interface CniReply {
  ok: boolean;
  error?: string;
}
