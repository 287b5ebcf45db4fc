// HTTP debug endpoints of the xDS server, for the API server's `addRoute` and the monitoring port: `/debug/ambient`
// (the computed index as JSON) and `/debug/xds/clients` (connected clients, what `ambit proxy-status` prints).
import type { IncomingMessage } from 'node:http';
import type { XdsServer } from './xds-server.js';

export interface DebugRoute {
  method: string;
  path: string;
  handler: (req: IncomingMessage, body: Buffer) => Promise<{ status: number; body: unknown }>;
}

const DEBUG_AMBIENT_PATH = '/debug/ambient';
const DEBUG_XDS_CLIENTS_PATH = '/debug/xds/clients';

/** Register each with `apiServer.addRoute(route.method, route.path, route.handler)`. */
export function xdsDebugRoutes(xds: XdsServer): DebugRoute[] {
  return [
    { method: 'GET', path: DEBUG_AMBIENT_PATH, handler: async () => ({ status: 200, body: xds.index.debugSnapshot() }) },
    { method: 'GET', path: DEBUG_XDS_CLIENTS_PATH, handler: async () => ({ status: 200, body: { kind: 'XdsClientList', items: xds.clients() } }) },
  ];
}
