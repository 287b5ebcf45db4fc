// The certificate authority's public surface for the control plane runner.
export { startCaServer, type CaServer } from './ca-server.js';
export { caRoutes } from './ca-routes.js';
export { saveCaSecretSoon, syncCaDirWithSecret, type CaSecretRef } from './ca-secret.js';
