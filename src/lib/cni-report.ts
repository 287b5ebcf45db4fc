// The contract between Ambit's chained CNI plugin (src/cni) and the node agent: after the primary plugin has built a
// new pod's network, the plugin reports the pod and its netns to the node agent over a Unix stream socket, one JSON
// line each way, and the agent captures the pod from there (as istio-cni's plugin reports to its node agent).
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

/** The node agent's answer. */
export interface CniReply {
  ok: boolean;
  error?: string;
}
