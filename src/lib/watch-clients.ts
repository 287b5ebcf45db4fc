// Who holds watches on the control plane's API: the debug path and its document, shared by the API server that
// serves it and the CLI that shows it (`ambit proxy-status` lists the node agents from it).

/** GET here lists the clients holding watches that named themselves in User-Agent. */
export const WATCH_CLIENTS_PATH = '/debug/api/watchers';

/** User-Agent prefix of node agents; the rest is the node name (`ambit-nodeagent/node1`). */
export const NODE_AGENT_USER_AGENT = 'ambit-nodeagent/';

/** One client's open watches. */
export interface WatchClientStatus {
  /** Its User-Agent, e.g. `ambit-nodeagent/node1`. */
  client: string;
  watches: number;
  resources: string[];
  /** When its newest watch opened (ISO time): the client is fully connected only from then on. */
  connectedAt: string;
}
