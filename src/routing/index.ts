// The waypoint's L7 decision engine (pure, no I/O): compile attached routes once, then decide per request.
//
// Usage (see types.ts for every shape):
//   const table = compileRoutes(config, { virtualServices, destinationRules });  // on every config push
//   table.problems                       // config the waypoint cannot enforce/resolve → status conditions, logs
//   decideHttp(table, { serviceKey, port }, { method, authority, path, headers }, rand?)
//     → { action: 'forward', backend, requestHeaders, responseHeaders, rewritePath?, rewriteHost, mirrors,
//         timeouts, retry, faultDelayMs?, upstream? }  |  { action: 'redirect', status, location }
//       |  { action: 'respond', status, body, flag: NR | FI | NC | DR, grpcStatus? }
//   decideGrpc(table, target, { service, method, authority, headers }, rand?)  // = POST /service/method
//   decideTcp(table, target, rand?) → { action: 'forward', backend } | { action: 'reject', flag, reason }
//   applyHeaderEdits(headers, decision.requestHeaders); rewritePath(path, matchedPrefix, modifier)
//
// Semantics: Gateway API HTTPRoute/GRPCRoute/TCPRoute attached to Services (GAMMA) or the waypoint Gateway,
// Istio VirtualService (first match wins, in namespace/name then declaration order) and DestinationRule.
// The control plane passes only the Gateway API routes today; VirtualServices and DestinationRules come in
// through `extras` until it passes them in `config.routes` (both places are read).
export { compileRoutes, RouteTable } from './table.js';
export { decideGrpc, decideHttp, decideTcp } from './decide.js';
export { applyHeaderEdits, redirectLocation, rewritePath } from './edits.js';
export type * from './types.js';
