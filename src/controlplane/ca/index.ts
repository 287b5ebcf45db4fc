// The certificate authority's public surface for the control plane runner.
export { startCaServer, DEFAULT_CA_PORT, DEFAULT_MAX_TTL_SECONDS, type CaServer, type CaServerOptions, type CaStatus } from './ca-server.js';
export { caRoutes, type CaRoute } from './ca-routes.js';
export { CaError, type CaErrorCode } from './ca-error.js';
export type { RotationResult, RetireResult, CaInfo, RootInfo } from './ca-material.js';
export { ensureNodeToken, readNodeToken, nodeTokenPath } from '../../lib/certs/node-token.js';
